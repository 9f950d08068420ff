// A minimal MCP client over stdio, as a real client speaks to `agency-ha mcp`: newline-delimited
// JSON-RPC 2.0 on the child's stdin/stdout; `initialize`, then `notifications/initialized`, then
// `tools/call`. Responses are matched by id; server notifications in between are skipped.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace aha::demo {

class McpClient {
 public:
  McpClient(int to_server_fd, int from_server_fd) : out_(to_server_fd), in_(from_server_fd) {}
  // Handshake; returns the server's initialize result.
  Result<nlohmann::json> Initialize(std::chrono::milliseconds timeout);
  // tools/call; returns the CallToolResult. A result with isError is an Error carrying its text.
  Result<nlohmann::json> CallTool(const std::string& name, const nlohmann::json& args,
                                  std::chrono::milliseconds timeout);

 private:
  Result<nlohmann::json> Request(const std::string& method, const nlohmann::json& params,
                                 std::chrono::milliseconds timeout);
  Status Send(const nlohmann::json& msg);
  Result<std::string> ReadLine(std::chrono::steady_clock::time_point deadline);

  int out_, in_;
  long long next_id_ = 1;
  std::string buf_;
};

}  // namespace aha::demo
