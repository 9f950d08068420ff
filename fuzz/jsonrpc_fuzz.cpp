// libFuzzer target for the MCP JSON-RPC message layer (src/mcp/jsonrpc.h): arbitrary bytes, split
// into newline-delimited messages as the stdio transport does, go through Dispatcher::HandleText
// with one Session, so the lifecycle (initialize, then tools/*) is reachable. No I/O.
// Invariants checked: Handle never throws; every reply is a JSON-RPC 2.0 object with exactly one
// of result/error and serializes (dump() throws on invalid UTF-8); notifications and responses get
// no reply. The same input is also read as the simulatedOutages and drills state keys
// (CheckStateKeys). Build and run: scripts/fuzz.sh.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "failover/outages.h"
#include "mcp/jsonrpc.h"
#include "mcp/report.h"

namespace {

using nlohmann::json;

// A small tool set: one tool that echoes its arguments' size, one that always fails.
class FuzzTools final : public aha::mcp::Tools {
 public:
  json List() const override {
    return json::array({{{"name", "echo"},
                         {"title", "Echo"},
                         {"inputSchema", {{"type", "object"}}},
                         {"outputSchema", {{"type", "object"}}}},
                        {{"name", "fail"}, {"inputSchema", {{"type", "object"}}}}});
  }
  std::optional<aha::mcp::ToolResult> Call(const std::string& name, const json& args) override {
    if (name == "echo") return aha::mcp::ToolResult{{{"n", args.size()}}, "ok", false};
    if (name == "fail") return aha::mcp::ToolResult{json::object(), "failed", true};
    return std::nullopt;
  }
};

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckReply(const json& r) {
  Check(r.is_object());
  Check(r.contains("jsonrpc") && r["jsonrpc"] == "2.0");
  Check(r.contains("id"));
  Check(r.contains("result") != r.contains("error"));
  if (r.contains("error")) {
    Check(r["error"].is_object() && r["error"]["code"].is_number_integer() &&
          r["error"]["message"].is_string());
  } else {
    Check(r["result"].is_object());
  }
  (void)r.dump();  // what the transports send; throws on invalid UTF-8
}

// The MCP server's state keys (anyone with access to the state can edit them, and every gate
// parses simulatedOutages): parsing never crashes, and what parses survives a round trip.
void CheckStateKeys(const std::string& text) {
  if (auto o = aha::failover::ParseOutages(text); o.ok()) {
    auto again = aha::failover::ParseOutages(aha::failover::OutagesToJson(*o));
    Check(again.ok() && again->size() == o->size());
  }
  if (auto d = aha::mcp::ParseDrills(text); d.ok()) {
    auto again = aha::mcp::ParseDrills(aha::mcp::DrillsToJson(*d));
    Check(again.ok() && again->size() == std::min(d->size(), aha::mcp::kMaxStoredDrills));
    (void)aha::mcp::BuildDrillReport(
        d->empty() ? aha::mcp::Drill{} : d->back(), {},
        d->empty() ? std::vector<aha::mcp::Observation>{} : d->back().observations, aha::WallTime{})
        .dump();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FuzzTools tools;
  aha::mcp::Dispatcher disp(tools, aha::mcp::ServerInfo{"fuzz", "Fuzz", "0", "instructions"});
  aha::mcp::Session session;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    const size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    const aha::mcp::Message m = aha::mcp::Parse(line);
    std::optional<json> reply = disp.Handle(m, session);
    const bool silent = m.kind == aha::mcp::Message::Kind::kNotification ||
                        m.kind == aha::mcp::Message::Kind::kResponse;
    Check(silent != reply.has_value());
    if (reply) CheckReply(*reply);
  }
  CheckStateKeys(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
