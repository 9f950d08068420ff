// Replication sidecar config (`agency-ha replicate --config FILE`), loaded strictly: unknown keys
// are errors and every message names the key path (`remotes[1].url: ...`), like the controller's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/state_config.h"

namespace aha::config {

struct RemoteConfig {
  std::string url;               // s3://bucket[/prefix] or file:///abs/path
  std::string region, endpoint;  // S3 only; empty = AWS environment / defaults
  std::optional<bool> path_style;
};

struct RetentionConfig {
  // A snapshot is kept when it is among the newest keepLast OR younger than keepWithinSeconds.
  // The latest snapshot is always kept. 0/0 keeps everything.
  long long keep_last = 48;
  double keep_within_seconds = 86400;
};

// `handoff.events:` — Kubernetes Events about the sidecar's own Pod (WriterFenced,
// DivergentTailPreserved; src/replication/pod_events.h). Only with a ConfigMap state source (the
// sidecar then has a Kubernetes connection). Each empty pod field is read from the environment the
// chart sets by the downward API (POD_NAMESPACE, POD_NAME, POD_UID).
struct SidecarEventsConfig {
  bool enabled = true;  // false: no Events even with a ConfigMap state source
  std::string pod_namespace, pod_name, pod_uid;
};

// `handoff:` — only `agency-ha sidecar` reads it (docs/WRITER.md): the sidecar's role (writer or
// follower of which lineage) follows the failover state.
struct HandoffConfig {
  bool configured = false;    // the key is present
  bool active = true;         // this region owns the lineage named `region`
  std::string follow_region;  // passive regions: the lineage followed while not promoted
  // For a second volume of a region (the brain): its lineages are `<region><suffix>`. `region`
  // then ends with the suffix, and the failover state is matched on the region name without it.
  std::string lineage_suffix;
  StateSourceConfig state;
  std::string kubeconfig;
  SidecarEventsConfig events;
  std::string position_file;           // default <stateDir>/position.json
  double timeout_seconds = 30;         // planned handoff: wait this long for `released`
  double follow_interval_seconds = 1;  // follower rounds
};

struct ReplicationConfig {
  std::string source;     // directory to replicate (absolute)
  std::string region;     // lineage name on the remotes (DNS-1123 label)
  std::string state_dir;  // local index/lineage; default <source>/.agency-ha (never replicated)
  std::vector<RemoteConfig> remotes;
  double sync_interval_seconds = 60;
  long long debounce_milliseconds = 200;  // quiet time before an inotify-triggered snapshot
  int parallelism = 4;
  RetentionConfig retention;
  std::string listen = "127.0.0.1:9091";  // "" disables /healthz and /metrics
  HandoffConfig handoff;
};

Result<ReplicationConfig> ParseReplicationConfig(const std::string& yaml_text,
                                                 const std::string& source);
Result<ReplicationConfig> LoadReplicationConfig(const std::string& path);

// Validates a remote URL (scheme s3 or file, file paths absolute); empty when fine.
std::string ValidateRemoteUrl(const std::string& url);

}  // namespace aha::config
