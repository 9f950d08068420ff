// The replication subcommands: `replicate`, `snapshots`, `restore`.
// Exit codes: 0 success; 1 a remote failed, refused (lineage) or restore failed; 2 bad usage or
// invalid config (the key named). Command output (JSON or a table) goes to stdout, logs to stderr.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "objectstore/store.h"
#include "replication/config.h"

namespace aha::replication {

// file:///path → FileObjectStore; s3://bucket/prefix → S3ObjectStore (AWS env for anything the
// remote config leaves empty).
Result<std::unique_ptr<objectstore::ObjectStore>> OpenRemote(const RemoteConfig& rc,
                                                             int parallelism);

int ReplicateCommand(const std::string& config_path, bool once, bool check);

struct RemoteArgs {
  std::vector<std::string> remotes;
  std::string region, endpoint;
};
int SnapshotsCommand(const RemoteArgs& args, bool json);
int RestoreCommand(const RemoteArgs& args, const std::string& to, const std::string& snapshot,
                   bool force);

}  // namespace aha::replication
