// The replication subcommands: `replicate`, `snapshots`, `restore`, `follow`.
// Exit codes: 0 success; 1 a remote failed, refused (lineage) or restore failed; 2 bad usage or
// invalid config (the key named). Command output (JSON or a table) goes to stdout, logs to stderr.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/replication_config.h"
#include "objectstore/store.h"

namespace aha::replication {

int ReplicateCommand(const std::string& config_path, bool once, bool check);

// Where `snapshots`, `restore` and `follow` read from. With `config` (a replication config), its
// remotes (each with its endpoint/region/pathStyle) and its region are the defaults; --remote
// replaces the remote list and --region the region. --endpoint, --s3-region and --path-style
// apply to every s3:// remote and win over the config. Anything still unset comes from the AWS
// environment like the AWS CLI: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL; AWS_REGION, then
// AWS_DEFAULT_REGION (objectstore::S3ConfigFromUrlAndEnv).
struct RemoteArgs {
  std::vector<std::string> remotes;
  std::string region, endpoint, s3_region, config;
  std::optional<bool> path_style;
};
int SnapshotsCommand(const RemoteArgs& args, bool json);
int RestoreCommand(const RemoteArgs& args, const std::string& to, const std::string& snapshot,
                   bool force, bool quiet = false, bool if_empty = false);

struct FollowArgs {
  std::string to;
  double interval_seconds = 10;
  std::string listen;  // "" = no /healthz, /metrics
  bool once = false;
};
// `follow`: exit 0 after SIGTERM/SIGINT (or, with --once, after a successful round); 1 when a
// --once round fails or the lock is held; 2 on bad usage.
int FollowCommand(const RemoteArgs& args, const FollowArgs& f);

}  // namespace aha::replication
