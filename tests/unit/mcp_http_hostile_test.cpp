// The MCP Streamable HTTP transport (mcp/http.h) against hostile headers and bodies on loopback:
// header values that are not UTF-8 (Mcp-Method, Mcp-Name, MCP-Protocol-Version) and the
// sessionless 2026-07-28 checks fed wrong-typed JSON (_meta version a number, params.name a
// number or an object, params null). Each must be a 400 with a JSON-RPC error that names the
// header, never the 500 "internal error" that BoundedServer answers when a handler throws, and
// the server must go on answering.
// Why these: the header values are quoted into the error message through JSON; nlohmann's dump()
// throws on invalid UTF-8, which is how commit 3750b1c's predecessor answered 500 here.
// Also the session table against an initialize flood: a full table evicts a working session only
// once it has been idle for kIdleEvictAfter, measured on the transport's (here fake) clock.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "mcp/http.h"
#include "mcp/jsonrpc.h"
#include "support/mcp_fake_tools.h"

namespace aha::mcp {
namespace {

using nlohmann::json;

struct Reply {
  int status = 0;
  std::string head;
  json body;  // null when the body is not JSON
};

// One request on its own connection (Connection: close); the answer is read to EOF. Header
// values are sent as raw bytes.
Reply Post(int port, const std::vector<std::pair<std::string, std::string>>& headers,
           const std::string& body) {
  std::string req = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nContent-Type: application/json\r\n"
                    "Accept: application/json, text/event-stream\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers)
    req += k + ": " + v + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};  // a safety net against hangs, not a threshold
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string raw;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char b[4096];
    for (ssize_t n; (n = recv(fd, b, sizeof b, 0)) > 0;)
      raw.append(b, static_cast<size_t>(n));
  }
  close(fd);
  Reply r;
  const size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  r.head = raw.substr(0, end);
  r.body = json::parse(raw.substr(end + 4), nullptr, /*allow_exceptions=*/false);
  if (r.body.is_discarded()) r.body = nullptr;
  return r;
}

constexpr const char* kBadUtf8 = "\xff\xfe\xc3";  // not UTF-8 (and a truncated sequence)

class McpHttpHostile : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(http.Start().ok()); }
  void TearDown() override { http.Stop(); }

  // A sessionless 2026-07-28 request; `params` as given (may be wrong-typed).
  static std::string Stateless(const std::string& method, const json& params) {
    return json{{"jsonrpc", "2.0"}, {"id", 7}, {"method", method}, {"params", params}}.dump();
  }
  static json Meta(const json& version) {
    return {{kMetaProtocolVersion, version}, {kMetaClientCapabilities, json::object()}};
  }
  static std::vector<std::pair<std::string, std::string>> Headers(const std::string& method,
                                                                  const std::string& name = "") {
    std::vector<std::pair<std::string, std::string>> h = {
        {"MCP-Protocol-Version", kStatelessProtocolVersion}, {"Mcp-Method", method}};
    if (!name.empty()) h.emplace_back("Mcp-Name", name);
    return h;
  }
  // 400 with a JSON-RPC error `code` whose message contains `want`: the handler did not throw.
  static void ExpectError(const Reply& r, int code, const std::string& want) {
    ASSERT_EQ(r.status, 400) << r.head << "\n" << r.body.dump();
    ASSERT_TRUE(r.body.is_object()) << r.head;
    EXPECT_EQ(r.body["jsonrpc"], "2.0");
    ASSERT_TRUE(r.body["error"].is_object()) << r.body.dump();
    EXPECT_EQ(r.body["error"]["code"], code) << r.body.dump();
    ASSERT_TRUE(r.body["error"]["message"].is_string()) << r.body.dump();
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find(want), std::string::npos)
        << r.body.dump();
  }
  // The server still serves a well-formed sessionless call after the hostile one.
  void ExpectStillServing() {
    json params = {
        {"name", "echo"}, {"arguments", {{"a", 1}}}, {"_meta", Meta(kStatelessProtocolVersion)}};
    Reply r = Post(http.port(), Headers("tools/call", "echo"), Stateless("tools/call", params));
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.body["result"]["structuredContent"]["args"]["a"], 1) << r.body.dump();
  }

  aha::testing::FakeTools tools;
  Dispatcher dispatcher{tools, ServerInfo{"srv", "Srv", "1.0", ""}};
  HttpTransport http{dispatcher, HttpOptions{}, nullptr};
};

TEST_F(McpHttpHostile, WellFormedStatelessCallIsServed) {
  ExpectStillServing();
}

// The header is quoted in the error with U+FFFD for the bytes that are not UTF-8, never raw.
TEST_F(McpHttpHostile, InvalidUtf8InMcpMethodOrMcpNameIsAHeaderMismatch) {
  struct Case {
    std::string method_header, name_header, want;
  };
  const Case cases[] = {
      {std::string("tools/") + kBadUtf8, "echo",
       "Mcp-Method \"tools/\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\" does not match the method "
       "\"tools/call\""},
      {"tools/call", std::string("echo") + kBadUtf8,
       "Mcp-Name \"echo\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\" does not match params.name "
       "\"echo\""},
  };
  json params = {{"name", "echo"}, {"_meta", Meta(kStatelessProtocolVersion)}};
  for (const Case& k : cases) {
    Reply r =
        Post(http.port(), Headers(k.method_header, k.name_header), Stateless("tools/call", params));
    ExpectError(r, kHeaderMismatch, k.want);
  }
  ExpectStillServing();
}

TEST_F(McpHttpHostile, InvalidUtf8ProtocolVersionIsRefusedWithAndWithoutASession) {
  // Sessionless (the body declares 2026-07-28): the header names an unknown revision.
  json params = {{"name", "echo"}, {"_meta", Meta(kStatelessProtocolVersion)}};
  Reply r = Post(http.port(),
                 {{"MCP-Protocol-Version", std::string("2026-07-28") + kBadUtf8},
                  {"Mcp-Method", "tools/call"},
                  {"Mcp-Name", "echo"}},
                 Stateless("tools/call", params));
  ExpectError(r, kUnsupportedProtocolVersion, "Unsupported protocol version");

  // In a session: initialize, then a request with the bad header.
  Reply init = Post(http.port(), {},
                    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{)"
                    R"("protocolVersion":"2025-11-25","capabilities":{}}})");
  ASSERT_EQ(init.status, 200) << init.head;
  const size_t at = init.head.find("MCP-Session-Id: ");
  ASSERT_NE(at, std::string::npos) << init.head;
  const std::string sid = init.head.substr(at + 16, 32);
  r = Post(http.port(),
           {{"MCP-Session-Id", sid}, {"MCP-Protocol-Version", std::string("2025") + kBadUtf8}},
           R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})");
  ExpectError(r, -32000, "unsupported MCP-Protocol-Version \"2025\xEF\xBF\xBD");
  ExpectStillServing();
}

TEST_F(McpHttpHostile, WrongTypedMetaVersionIsAHeaderMismatch) {
  for (const json& v : {json(5), json::array({kStatelessProtocolVersion}), json::object(),
                        json(nullptr), json(true)}) {
    json params = {{"name", "echo"}, {"_meta", Meta(v)}};
    Reply r = Post(http.port(), Headers("tools/call", "echo"), Stateless("tools/call", params));
    ExpectError(r, kHeaderMismatch,
                std::string("does not match _meta \"") + kMetaProtocolVersion + "\" " + v.dump());
  }
  ExpectStillServing();
}

TEST_F(McpHttpHostile, WrongTypedParamsNameIsAHeaderMismatch) {
  for (const json& name : {json(5), json(nullptr), json::array({"echo"}), json{{"echo", 1}}}) {
    json params = {{"name", name}, {"_meta", Meta(kStatelessProtocolVersion)}};
    Reply r = Post(http.port(), Headers("tools/call", "echo"), Stateless("tools/call", params));
    ExpectError(r, kHeaderMismatch, "Mcp-Name \"echo\" does not match params.name " + name.dump());
  }
  // No name at all.
  json params = {{"_meta", Meta(kStatelessProtocolVersion)}};
  Reply r = Post(http.port(), Headers("tools/call", "echo"), Stateless("tools/call", params));
  ExpectError(r, kHeaderMismatch, "does not match params.name null");
  ExpectStillServing();
}

TEST_F(McpHttpHostile, NullOrNonObjectParamsAreHeaderMismatchesOrInvalid) {
  // params null (read as absent): no _meta to match the header.
  Reply r = Post(http.port(), Headers("tools/call", "echo"), Stateless("tools/call", nullptr));
  ExpectError(r, kHeaderMismatch, "does not match _meta");
  // params of another type: refused, never thrown on.
  for (const json& params : {json(5), json("tools/call"), json::array({1, 2})}) {
    r = Post(http.port(), Headers("tools/call", "echo"), Stateless("tools/call", params));
    ASSERT_EQ(r.status, 400) << params.dump() << "\n" << r.head;
    ASSERT_TRUE(r.body.is_object() && r.body["error"].is_object()) << r.body.dump();
    EXPECT_TRUE(r.body["error"]["code"].is_number_integer()) << r.body.dump();
  }
  ExpectStillServing();
}

// The session id of a successful initialize; "" (and the status in *status) otherwise.
std::string Initialize(int port, int* status) {
  Reply r = Post(port, {},
                 R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{)"
                 R"("protocolVersion":"2025-11-25","capabilities":{}}})");
  *status = r.status;
  const size_t at = r.head.find("MCP-Session-Id: ");
  return r.status == 200 && at != std::string::npos ? r.head.substr(at + 16, 32) : "";
}

int Ping(int port, const std::string& sid) {
  return Post(port, {{"MCP-Session-Id", sid}}, R"({"jsonrpc":"2.0","id":2,"method":"ping"})")
      .status;
}

// A full table of working sessions refuses a new initialize (503) until one of them has been idle
// for kIdleEvictAfter on the transport's clock; then the least recently used idle one is evicted
// (404 from then on) and the others keep working. FakeClock: no real waiting.
TEST(McpHttpSessions, AWorkingSessionIsEvictedOnlyAfterTheIdleLimitOnTheInjectedClock) {
  aha::testing::FakeTools tools;
  Dispatcher dispatcher{tools, ServerInfo{"srv", "Srv", "1.0", ""}};
  FakeClock clock;
  HttpOptions opts;
  opts.max_sessions = 2;
  HttpTransport http{dispatcher, opts, nullptr, clock};
  ASSERT_TRUE(http.Start().ok());
  int status = 0;
  const std::string a = Initialize(http.port(), &status);
  ASSERT_FALSE(a.empty()) << status;
  EXPECT_EQ(Ping(http.port(), a), 200);  // a request after initialize: a working session
  const std::string b = Initialize(http.port(), &status);
  ASSERT_FALSE(b.empty()) << status;
  EXPECT_EQ(Ping(http.port(), b), 200);

  EXPECT_EQ(Initialize(http.port(), &status), "");
  EXPECT_EQ(status, 503) << "table full of working sessions";

  clock.advance(HttpTransport::kIdleEvictAfter - std::chrono::minutes(1));
  EXPECT_EQ(Ping(http.port(), b), 200);  // b is busy; a has been idle 59 min
  EXPECT_EQ(Initialize(http.port(), &status), "");
  EXPECT_EQ(status, 503) << "a minute short of the idle limit: nobody may be evicted";

  clock.advance(std::chrono::minutes(1));  // a idle for exactly kIdleEvictAfter, b for 1 min
  const std::string c = Initialize(http.port(), &status);
  EXPECT_FALSE(c.empty()) << status;
  EXPECT_EQ(Ping(http.port(), a), 404) << "the idle session was evicted";
  EXPECT_EQ(Ping(http.port(), b), 200);
  EXPECT_EQ(Ping(http.port(), c), 200);
  http.Stop();
}

}  // namespace
}  // namespace aha::mcp
