#include "demo/mcp_client.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aha::demo {

using json = nlohmann::json;

Status McpClient::Send(const json& msg) {
  std::string line = msg.dump() + "\n";
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(out_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(std::string("MCP server stdin: ") + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<std::string> McpClient::ReadLine(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (auto i = buf_.find('\n'); i != std::string::npos) {
      std::string line = buf_.substr(0, i);
      buf_.erase(0, i + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Err("MCP server: no answer in time");
    pollfd p{in_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Err(std::string("MCP server stdout: ") + std::strerror(errno));
    if (r == 0) continue;
    char chunk[8192];
    ssize_t n = ::read(in_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Err("MCP server closed its stdout");
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

Result<json> McpClient::Request(const std::string& method, const json& params,
                                std::chrono::milliseconds timeout) {
  const long long id = next_id_++;
  if (Status s = Send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
      !s) {
    return s.error();
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto line = ReadLine(deadline);
    if (!line) return line.error();
    json msg = json::parse(*line, nullptr, false);
    if (!msg.is_object()) return Err("MCP server sent a line that is not JSON: " + *line);
    if (!msg.contains("id") || msg["id"] != id) continue;  // notifications, other ids
    if (msg.contains("error")) {
      return Err(method + ": JSON-RPC error " + msg["error"].value("message", msg.dump()));
    }
    if (!msg.contains("result")) return Err(method + ": response without result");
    return msg["result"];
  }
}

Result<json> McpClient::Initialize(std::chrono::milliseconds timeout) {
  auto r = Request("initialize",
                   {{"protocolVersion", "2025-11-25"},
                    {"capabilities", json::object()},
                    {"clientInfo", {{"name", "agency-ha-demo"}, {"version", AHA_VERSION}}}},
                   timeout);
  if (!r) return r;
  if (Status s = Send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}); !s) {
    return s.error();
  }
  return r;
}

Result<json> McpClient::CallTool(const std::string& name, const json& args,
                                 std::chrono::milliseconds timeout) {
  auto r = Request("tools/call", {{"name", name}, {"arguments", args}}, timeout);
  if (!r) return r;
  if (r->value("isError", false)) {
    std::string text;
    for (const auto& c : (*r)["content"])
      text += c.value("text", "");
    return Err(name + " refused: " + text);
  }
  return r;
}

}  // namespace aha::demo
