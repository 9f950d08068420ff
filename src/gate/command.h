// `agency-ha gate`: the readiness gate sidecar, and `agency-ha gate check` for exec probes.
#pragma once

#include <string>

namespace aha::gate {

// Serves /health, /ready, /v1/status, /metrics, /healthz until SIGTERM. Exit 2 on bad config.
int RunCommand(const std::string& config_path, bool check_only);
// Asks the running gate (at its listen address) for /ready: exit 0 ready, 1 not ready or
// unreachable, 2 bad config.
int CheckCommand(const std::string& config_path);

}  // namespace aha::gate
