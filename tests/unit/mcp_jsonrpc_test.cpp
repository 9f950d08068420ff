// The MCP message layer: JSON-RPC framing, lifecycle and tools/call shaping, with a fake tool set.
#include <gtest/gtest.h>

#include "config/controller_config.h"
#include "mcp/jsonrpc.h"
#include "support/mcp_fake_tools.h"

namespace aha::mcp {
namespace {

using nlohmann::json;

using aha::testing::FakeTools;

class JsonRpcTest : public ::testing::Test {
 protected:
  FakeTools tools;
  Dispatcher d{tools, ServerInfo{"srv", "Srv", "1.0", ""}};
  Session s;
  json Send(const std::string& text) {
    auto out = d.HandleText(text, s);
    return out ? *out : json(nullptr);
  }
  void Init(const std::string& version = "2025-11-25") {
    json r = Send(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":")" +
                  version + R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
    ASSERT_TRUE(r.contains("result")) << r.dump();
  }
};

TEST_F(JsonRpcTest, InitializeNegotiatesEverySupportedVersion) {
  for (const auto& v : SupportedProtocolVersions()) {
    Session fresh;
    auto r = d.HandleText(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{)"
                          R"("protocolVersion":")" +
                              v + R"(","capabilities":{}}})",
                          fresh);
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["result"]["protocolVersion"], v);
    EXPECT_EQ((*r)["result"]["capabilities"]["tools"]["listChanged"], false);
    EXPECT_EQ((*r)["result"]["serverInfo"]["name"], "srv");
    EXPECT_EQ(fresh.protocol_version, v);
  }
}

TEST_F(JsonRpcTest, UnknownVersionIsRefusedWithTheSupportedList) {
  json r = Send(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{)"
                R"("protocolVersion":"2026-07-28","capabilities":{}}})");
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["error"]["code"], kInvalidParams);
  EXPECT_EQ(r["error"]["message"], "Unsupported protocol version");
  EXPECT_EQ(r["error"]["data"]["requested"], "2026-07-28");
  EXPECT_EQ(r["error"]["data"]["supported"],
            json({"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}));
  EXPECT_FALSE(s.initialized);
}

TEST_F(JsonRpcTest, ProtocolFaults) {
  EXPECT_EQ(Send("{not json")["error"]["code"], kParseError);
  EXPECT_TRUE(Send("{not json")["id"].is_null());
  EXPECT_EQ(Send(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])")["error"]["code"],
            kInvalidRequest);
  EXPECT_EQ(Send(R"("hello")")["error"]["code"], kInvalidRequest);
  EXPECT_EQ(Send(R"({"id":1,"method":"ping"})")["error"]["code"], kInvalidRequest);
  EXPECT_EQ(Send(R"({"jsonrpc":"1.0","id":1,"method":"ping"})")["id"], 1);
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":null,"method":"ping"})")["error"]["code"],
            kInvalidRequest);
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})")["error"]["code"],
            kInvalidRequest);
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":1,"method":7})")["error"]["code"], kInvalidRequest);
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":"a","method":"ping","params":[1]})")["error"]["code"],
            kInvalidParams);
  // ping works before initialize; other methods do not.
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":"p","method":"ping"})")["result"], json::object());
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})")["error"]["code"],
            kInvalidRequest);
  Init();
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":3,"method":"resources/list"})")["error"]["code"],
            kMethodNotFound);
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":4,"method":"initialize","params":{}})")["error"]["code"],
            kInvalidRequest);
  // Notifications and responses get no answer.
  EXPECT_TRUE(Send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").is_null());
  EXPECT_TRUE(s.client_initialized);
  EXPECT_TRUE(Send(R"({"jsonrpc":"2.0","method":"notifications/whatever"})").is_null());
  EXPECT_TRUE(Send(R"({"jsonrpc":"2.0","id":9,"result":{}})").is_null());
}

TEST_F(JsonRpcTest, ToolsListAndCall) {
  Init();
  json l = Send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  ASSERT_EQ(l["result"]["tools"].size(), 1u);
  EXPECT_TRUE(l["result"]["tools"][0].contains("outputSchema"));

  json ok = Send(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo",)"
                 R"("arguments":{"x":1}}})");
  EXPECT_EQ(ok["result"]["isError"], false);
  EXPECT_EQ(ok["result"]["structuredContent"]["args"]["x"], 1);
  EXPECT_EQ(ok["result"]["content"][0]["type"], "text");
  EXPECT_EQ(ok["result"]["content"][0]["text"], "echoed");

  json err = Send(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo",)"
                  R"("arguments":{"fail":true}}})");
  EXPECT_EQ(err["result"]["isError"], true);
  EXPECT_FALSE(err["result"].contains("structuredContent"));
  EXPECT_EQ(err["result"]["content"][0]["text"], "refused");

  EXPECT_EQ(
      Send(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nope"}})")["error"]
                                                                                        ["code"],
      kInvalidParams);
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{}})")["error"]["code"],
            kInvalidParams);
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo",)"
                 R"("arguments":[1]}})")["error"]["code"],
            kInvalidParams);
}

TEST_F(JsonRpcTest, OlderRevisionsGetNoStructuredContent) {
  Init("2025-03-26");
  json l = Send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  EXPECT_FALSE(l["result"]["tools"][0].contains("outputSchema"));
  EXPECT_FALSE(l["result"]["tools"][0].contains("title"));
  json ok = Send(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}})");
  EXPECT_FALSE(ok["result"].contains("structuredContent"));
  EXPECT_EQ(ok["result"]["content"][0]["text"], "echoed");
}

// The mcp: section of the controller config.
std::string Base(const std::string& mcp) {
  return "regions:\n  - {name: a, endpoint: \"http://127.0.0.1:1/health\"}\n"
         "state: {file: /tmp/x}\n" +
         mcp;
}

// Deep nesting is refused before parsing: nlohmann::json copies and serializes recursively, and a
// 1 MiB line of '[' crashed the server with a stack overflow.
TEST_F(JsonRpcTest, DeepNestingIsRefusedNotACrash) {
  const size_t n = 500000;
  std::string deep = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":)" +
                     std::string(n, '[') + std::string(n, ']') + "}}";
  json r = Send(deep);
  EXPECT_EQ(r["error"]["code"], kInvalidRequest) << r.dump().substr(0, 200);
  EXPECT_TRUE(r["id"].is_null());
  // At the limit: accepted. Brackets inside strings do not count.
  std::string ok = R"({"jsonrpc":"2.0","id":2,"method":"ping","params":{"s":"[[[[{{{{","a":)";
  const size_t inner = kMaxNestingDepth - 2;  // the message object and params take two levels
  ok += std::string(inner, '[') + std::string(inner, ']') + "}}";
  r = Send(ok);
  EXPECT_TRUE(r.contains("result")) << r.dump();
  std::string over = R"({"jsonrpc":"2.0","id":3,"method":"ping","params":{"a":)" +
                     std::string(inner + 1, '[') + std::string(inner + 1, ']') + "}}";
  EXPECT_EQ(Send(over)["error"]["code"], kInvalidRequest);
  // An escaped quote does not end a string.
  r = Send(R"({"jsonrpc":"2.0","id":4,"method":"ping","params":{"s":"\"[[[[[[[[[[[["}})");
  EXPECT_TRUE(r.contains("result")) << r.dump();
}

// MCP 2026-07-28: stateless requests with per-request _meta, server/discover, resultType.
std::string Meta(const std::string& version, bool caps = true) {
  return std::string(R"("_meta":{"io.modelcontextprotocol/protocolVersion":")") + version + "\"" +
         (caps ? R"(,"io.modelcontextprotocol/clientCapabilities":{})" : "") +
         R"(,"io.modelcontextprotocol/clientInfo":{"name":"new","version":"2"}})";
}

TEST_F(JsonRpcTest, StatelessDiscover) {
  json r = Send(R"({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{)" +
                Meta("2026-07-28") + "}}");
  ASSERT_TRUE(r.contains("result")) << r.dump();
  const json& res = r["result"];
  EXPECT_EQ(res["supportedVersions"],
            json({"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}));
  EXPECT_EQ(res["capabilities"]["tools"]["listChanged"], false);
  EXPECT_EQ(res["resultType"], "complete");
  EXPECT_EQ(res["ttlMs"], kCacheTtlMs);
  EXPECT_EQ(res["cacheScope"], "private");
  EXPECT_EQ(res["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "srv");
  EXPECT_EQ(res["_meta"]["io.modelcontextprotocol/serverInfo"]["version"], "1.0");
  EXPECT_FALSE(s.initialized) << "no session is created";
  // Discovery answers a legacy revision too (that is how a client learns the list).
  r = Send(R"({"jsonrpc":"2.0","id":2,"method":"server/discover","params":{)" + Meta("2025-11-25") +
           "}}");
  EXPECT_EQ(r["result"]["resultType"], "complete") << r.dump();
}

TEST_F(JsonRpcTest, StatelessToolsWithoutInitialize) {
  json r = Send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{)" + Meta("2026-07-28") +
                "}}");
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_EQ(r["result"]["tools"][0]["name"], "echo");
  EXPECT_TRUE(r["result"]["tools"][0].contains("outputSchema"));
  EXPECT_EQ(r["result"]["resultType"], "complete");
  EXPECT_EQ(r["result"]["ttlMs"], kCacheTtlMs);
  EXPECT_EQ(r["result"]["cacheScope"], "private");
  r = Send(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo",)"
           R"("arguments":{"x":1},)" +
           Meta("2026-07-28") + "}}");
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_EQ(r["result"]["structuredContent"]["args"]["x"], 1);
  EXPECT_EQ(r["result"]["isError"], false);
  EXPECT_EQ(r["result"]["resultType"], "complete");
  EXPECT_EQ(r["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "srv");
  EXPECT_FALSE(r["result"].contains("ttlMs"));
  // Errors stay JSON-RPC errors.
  r = Send(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nope",)" +
           Meta("2026-07-28") + "}}");
  EXPECT_EQ(r["error"]["code"], kInvalidParams);
  // ping was removed in 2026-07-28; initialize never is stateless.
  r = Send(R"({"jsonrpc":"2.0","id":4,"method":"ping","params":{)" + Meta("2026-07-28") + "}}");
  EXPECT_EQ(r["error"]["code"], kMethodNotFound);
  EXPECT_FALSE(s.initialized);
  // A legacy session is unaffected and can be used alongside.
  Init();
  r = Send(R"({"jsonrpc":"2.0","id":5,"method":"tools/list"})");
  EXPECT_FALSE(r["result"].contains("resultType")) << r.dump();
}

TEST_F(JsonRpcTest, StatelessVersionAndMetaErrors) {
  json r = Send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{)" + Meta("2031-01-01") +
                "}}");
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["error"]["code"], kUnsupportedProtocolVersion);
  EXPECT_EQ(r["error"]["code"], -32022);
  EXPECT_EQ(r["error"]["message"], "Unsupported protocol version");
  EXPECT_EQ(r["error"]["data"]["supported"], json(AllProtocolVersions()));
  EXPECT_EQ(r["error"]["data"]["requested"], "2031-01-01");
  r = Send(R"({"jsonrpc":"2.0","id":2,"method":"server/discover","params":{)" + Meta("1900-01-01") +
           "}}");
  EXPECT_EQ(r["error"]["code"], kUnsupportedProtocolVersion);
  // clientCapabilities is required.
  r = Send(R"({"jsonrpc":"2.0","id":3,"method":"tools/list","params":{)" +
           Meta("2026-07-28", false) + "}}");
  EXPECT_EQ(r["error"]["code"], kInvalidParams);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("clientCapabilities"), std::string::npos);
  // server/discover without a declared version; a non-string version.
  EXPECT_EQ(Send(R"({"jsonrpc":"2.0","id":4,"method":"server/discover"})")["error"]["code"],
            kInvalidParams);
  r = Send(R"({"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"_meta":)"
           R"({"io.modelcontextprotocol/protocolVersion":20260728}}})");
  EXPECT_EQ(r["error"]["code"], kInvalidParams);
  // A legacy revision in _meta follows the legacy rules: not initialized.
  r = Send(R"({"jsonrpc":"2.0","id":6,"method":"tools/list","params":{)" + Meta("2025-11-25") +
           "}}");
  EXPECT_EQ(r["error"]["code"], kInvalidRequest);
}

TEST(McpConfigTest, DefaultsAndValues) {
  auto c = config::ParseControllerConfig(Base(""), "t");
  ASSERT_TRUE(c) << c.message();
  EXPECT_EQ(c->mcp.default_duration_seconds, 300);
  EXPECT_EQ(c->mcp.max_duration_seconds, 3600);
  c = config::ParseControllerConfig(
      Base("mcp: {minDurationSeconds: 1, defaultDurationSeconds: 5, maxDurationSeconds: 60,\n"
           "  auditLog: /tmp/a.jsonl, httpToken: s3cret, allowedOrigins: [\"https://x.example\"],"
           "\n  maxRequestBytes: 4096}\n"),
      "t");
  ASSERT_TRUE(c) << c.message();
  EXPECT_EQ(c->mcp.min_duration_seconds, 1);
  EXPECT_EQ(c->mcp.default_duration_seconds, 5);
  EXPECT_EQ(c->mcp.audit_log, "/tmp/a.jsonl");
  EXPECT_EQ(c->mcp.http_token, "s3cret");
  EXPECT_EQ(c->mcp.allowed_origins, std::vector<std::string>{"https://x.example"});
  EXPECT_EQ(c->mcp.max_request_bytes, 4096);
}

TEST(McpConfigTest, ErrorsNameTheKey) {
  auto err = [](const std::string& mcp) {
    auto c = config::ParseControllerConfig(Base(mcp), "t");
    return c ? std::string("ok") : c.message();
  };
  EXPECT_NE(err("mcp: {maxDurationSeconds: 5}\n").find("mcp.maxDurationSeconds: must be"),
            std::string::npos);
  EXPECT_NE(err("mcp: {defaultDurationSeconds: 1}\n").find("mcp.defaultDurationSeconds:"),
            std::string::npos);
  EXPECT_NE(err("mcp: {maxDurationSecs: 5}\n").find("mcp.maxDurationSecs"), std::string::npos);
  EXPECT_NE(err("mcp: {httpToken: a, httpTokenFile: b}\n").find("mcp.httpTokenFile:"),
            std::string::npos);
  EXPECT_NE(err("mcp: {allowedOrigins: [\"evil\"]}\n").find("mcp.allowedOrigins[0]:"),
            std::string::npos);
  EXPECT_NE(err("mcp: {maxRequestBytes: 10}\n").find("mcp.maxRequestBytes:"), std::string::npos);
}

}  // namespace
}  // namespace aha::mcp
