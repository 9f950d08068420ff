// The Security Monitor's tool definitions (tools/list): name, title, description, inputSchema,
// outputSchema and annotations of each tool SecurityMonitor::Call answers (tools.h describes
// what they do). Declarative: a function of the configured region names and the drill duration
// bounds only, so the schemas can be read (and diffed) apart from the tools' logic.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/mcp_config.h"

namespace aha::mcp {

// The tools, in the order tools/list reports them: simulate_regional_outage, end_regional_outage,
// get_failover_status, get_drill_report, list_regions, get_replication_status. `regions` (the
// configured names, in configuration order) is the enum of every `region` argument; `m` bounds
// and defaults duration_seconds.
nlohmann::json ToolDefinitions(const std::vector<std::string>& regions, const config::McpConfig& m);

}  // namespace aha::mcp
