// OpenRemote: the store a remote config names (replication config `remotes`, the MCP server's
// `mcp.replication.remotes`, the demo's --remote). Shared by the replication commands, the
// sidecar, the MCP server and the demo, so it lives here rather than in one command.
#pragma once

#include <memory>

#include "common/result.h"
#include "config/replication_config.h"
#include "objectstore/store.h"

namespace aha::objectstore {

// file:///path → FileObjectStore; s3://bucket/prefix → S3ObjectStore (AWS env for anything the
// remote config leaves empty). An invalid URL is an error naming it (config::ValidateRemoteUrl).
Result<std::unique_ptr<ObjectStore>> OpenRemote(const config::RemoteConfig& rc, int parallelism);

}  // namespace aha::objectstore
