// `agency-ha controller`: loads and validates the config, then runs the loop until SIGTERM.
#pragma once

#include <string>

namespace aha::controller {

// Exit codes: 0 clean stop (or valid config with check_only), 2 invalid config or unusable state
// directory (nothing written), 1 runtime failure (e.g. cannot bind the listen address).
int RunCommand(const std::string& config_path, bool check_only);

}  // namespace aha::controller
