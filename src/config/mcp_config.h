// The Security Monitor MCP server's section of the controller config (`mcp:`).
//
// The MCP server reads the controller's own file (regions, state source) plus this section:
//   mcp:
//     defaultDurationSeconds: 300   # drill length when the caller gives none
//     minDurationSeconds: 10        # bounds for duration_seconds (1 <= min <= default <= max)
//     maxDurationSeconds: 3600      # at most 86400
//     auditLog: /var/log/agency-ha/drills.jsonl   # JSON lines, appended; "" = audit lines go to
//                                                 # the stderr log only (msg "drill audit")
//     httpToken: ""                 # bearer token for --http; required when --http binds to a
//     httpTokenFile: ""             #   non-loopback address (set at most one of the two)
//     allowedOrigins: []            # extra Origin values accepted by --http
//     (scheme://host[:port]);
//                                   #   loopback origins are accepted while bound to loopback
//     maxRequestBytes: 1048576      # largest JSON-RPC message accepted (1 KiB .. 64 MiB)
//     controllerUrl: http://simple-agency-controller:9090   # the controller's HTTP listener;
//                                   #   its GET /v1/status gives the tools live observations.
//                                   #   Absent: derived from the config's `listen` (a wildcard
//                                   #   host reads as 127.0.0.1); "" disables (state only)
//     replication:                  # optional: get_replication_status reads these remotes
//       remotes:                    #   same format as the replication config's `remotes`
//         - {url: "s3://bucket/prefix", region: us-east-1}   # (parsed by its own parser)
//         - {url: "file:///mnt/replica"}
//     faults:                       # optional: real-fault drills (failure_type pod, network)
//       namespace: agency           #   the agent pods' namespace ("" = the kubeconfig's)
//       podLabels:                  #   labels every agent pod carries (the chart's selector
//         app.kubernetes.io/name: simple-cli          #   labels and component: agent)
//         app.kubernetes.io/instance: simple
//         app.kubernetes.io/component: agent
//       regionLabel: agency-ha/region   # the label naming a pod's region (default)
//       types: [pod, network]       #   the failure types allowed (default both); the chart
//                                   #   lists those whose RBAC it grants
//     Without `faults` (or with empty podLabels) pod and network drills are refused.
// Every error names the key path ("mcp.maxDurationSeconds: ...").
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/replication_config.h"

namespace aha::config {

class MapReader;  // config/yaml_reader.h, not included: see state_config.h

// Where a region's agent pods are, for real-fault drills (mcp/faults.h).
struct FaultsConfig {
  std::string ns;                                 // "" = the kubeconfig's namespace
  std::map<std::string, std::string> pod_labels;  // empty: real-fault drills disabled
  std::string region_label = "agency-ha/region";
  std::vector<std::string> types = {"pod", "network"};
  bool enabled() const { return !pod_labels.empty(); }
  bool allows(const std::string& type) const {
    for (const auto& t : types) {
      if (t == type) return true;
    }
    return false;
  }
};

struct McpConfig {
  int default_duration_seconds = 300;
  int min_duration_seconds = 10;
  int max_duration_seconds = 3600;
  std::string audit_log;
  std::string http_token;
  std::string http_token_file;
  std::vector<std::string> allowed_origins;
  long long max_request_bytes = 1 << 20;
  // Base URL of the controller's listener (http/https, no path), "" = do not ask it. Set by
  // ReadMcpSection when `controllerUrl` is given; otherwise `controller_url_set` stays false and
  // the MCP command derives it from `listen`.
  std::string controller_url;
  bool controller_url_set = false;
  // Remotes get_replication_status reads (empty: the tool reports that none are configured).
  std::vector<RemoteConfig> replication_remotes;
  FaultsConfig faults;
};

// Reads the optional `mcp` section of `root` into *out; the first error goes to *err.
void ReadMcpSection(MapReader& root, McpConfig* out, std::string* err);

}  // namespace aha::config
