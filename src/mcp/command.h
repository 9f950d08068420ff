// `agency-ha mcp --config FILE [--http HOST:PORT] [--check]`: the Security Monitor MCP server.
//
// FILE is the controller's config (regions, state source) with its optional `mcp:` section
// (src/config/mcp_config.h). Without --http the server speaks newline-delimited JSON-RPC on
// stdin/stdout (logs on stderr only) and exits 0 at end of input; with --http it serves
// Streamable HTTP on HOST:PORT (src/mcp/http.h) until SIGTERM/SIGINT. An empty HOST binds
// 127.0.0.1; a non-loopback HOST requires mcp.httpToken or mcp.httpTokenFile.
// Exit codes: 0 ok, 2 invalid config or arguments, 1 runtime failure (cannot bind, open the audit
// log...). --check validates as for the controller (plus --http and the token rule) and exits.
#pragma once

#include <string>

#include "config/mcp_config.h"

namespace aha::mcp {

// The controller's /v1/status base URL for live observations: mcp.controllerUrl when set (also
// set empty: none), else http://<host>:<port> of the controller config's `listen` (a wildcard or
// empty host reads as 127.0.0.1; an IPv6 host is bracketed), else "" (none).
std::string ControllerUrlFor(const config::McpConfig& mc, const std::string& listen);

int RunCommand(const std::string& config_path, bool check_only, const std::string& http_listen);

}  // namespace aha::mcp
