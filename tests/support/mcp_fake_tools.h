// FakeTools: the MCP tool set the message-layer and transport tests serve. One tool, "echo",
// returns its arguments as structured content; with an argument "fail" it answers a tool error
// (isError). Every other name is unknown (nullopt).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "mcp/jsonrpc.h"

namespace aha::testing {

class FakeTools : public mcp::Tools {
 public:
  nlohmann::json List() const override {
    return nlohmann::json::array({{{"name", "echo"},
                                   {"title", "Echo"},
                                   {"inputSchema", {{"type", "object"}}},
                                   {"outputSchema", {{"type", "object"}}}}});
  }
  std::optional<mcp::ToolResult> Call(const std::string& name,
                                      const nlohmann::json& args) override {
    if (name != "echo") return std::nullopt;
    if (args.contains("fail")) return mcp::ToolResult{nlohmann::json::object(), "refused", true};
    return mcp::ToolResult{{{"args", args}}, "echoed", false};
  }
};

}  // namespace aha::testing
