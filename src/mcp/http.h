// Streamable HTTP transport for the MCP server (one endpoint, /mcp).
//
// Contract (MCP 2025-11-25 "Streamable HTTP", also what 2025-06-18/2025-03-26 clients expect):
// - POST /mcp: one JSON-RPC message. Requires Content-Type application/json (else 415) and an
//   Accept listing application/json and text/event-stream (else 406). Requests are answered with
//   application/json (no SSE: this server never sends requests or notifications of its own);
//   notifications and responses get 202 with no body. Unparsable or invalid messages and batches
//   get 400 with a JSON-RPC error body.
// - Sessions: a successful initialize returns MCP-Session-Id (128 random bits, hex); every other
//   POST must carry it (missing: 400, unknown or deleted: 404). DELETE /mcp ends a session.
//   At most max_sessions (1000). When the table is full, a new initialize evicts (1) the least
//   recently used session that never made a request after its initialize, else (2) the least
//   recently used session idle for kIdleEvictAfter (measured on the injected Clock), else it is
//   refused with 503. Why: without a token anyone on loopback can initialize; a flood of
//   initialize calls then only displaces other never-used sessions and cannot evict a client that
//   is actually working.
// - MCP-Protocol-Version on non-initialize requests: an unsupported value is 400; absent means
//   the client predates the header (2025-03-26) and is accepted.
// - The 2026-07-28 revision (sessionless): a POST without MCP-Session-Id whose header
//   MCP-Protocol-Version is 2026-07-28, or whose body carries _meta
//   "io.modelcontextprotocol/protocolVersion", or that is server/discover, is served without a
//   session. It must carry MCP-Protocol-Version equal to the body's _meta version, Mcp-Method
//   equal to the body's method and, for tools/call, Mcp-Name equal to params.name; otherwise 400
//   with JSON-RPC error -32020 (HeaderMismatch). A version this server does not know: 400 with
//   -32022 and data {supported, requested}. Notifications: 202.
// - GET /mcp: 405 (the spec lets a server not offer a standalone SSE stream).
// - Security: binds loopback unless told otherwise (the command refuses a non-loopback bind without
//   a token; "loopback" is httpd::IsLoopbackHost: localhost, 127.0.0.0/8 dotted quads, ::1). With a
//   token every request needs `Authorization: Bearer <token>` (scheme in any case; 401 otherwise,
//   compared in constant time). Origin, when present, must be a configured allowed origin or,
//   while bound to loopback, a loopback origin (403 otherwise: DNS-rebinding protection); while
//   bound to loopback the Host header must name a loopback host too. Bodies larger than
//   max_request_bytes get 413, chunked or not.
// - Served by httpd::BoundedServer (src/httpd/bounded.h): Origin, Host and token are checked
//   on the request head before any body byte is read; connection cap (max_connections),
//   absolute header/body/write deadlines and a shared in-flight body budget
//   (16 x max_request_bytes) bound what hostile clients can hold.
// - GET /metrics: Prometheus text from `metrics` (same auth and Origin rules).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "httpd/bounded.h"
#include "mcp/jsonrpc.h"

namespace aha::mcp {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;       // 0 picks a free port
  std::string token;  // empty = no authentication (loopback only; enforced by the command)
  std::vector<std::string> allowed_origins;
  size_t max_request_bytes = 1 << 20;
  size_t max_connections = 256;
  size_t max_sessions = 1000;  // the session table's cap (tests lower it)
};

class HttpTransport {
 public:
  static constexpr std::chrono::minutes kIdleEvictAfter{60};

  // Session idle times are measured on `clock` (tests pass a FakeClock).
  HttpTransport(Dispatcher& dispatcher, HttpOptions opts, std::function<std::string()> metrics,
                const Clock& clock = SystemClock::instance());
  ~HttpTransport();
  Status Start();
  int port() const { return port_; }
  void Stop();

 private:
  struct Entry {
    std::mutex mu;
    Session session;
    uint64_t last_used = 0;  // LRU tick, guarded by HttpTransport::mu_
    MonoTime last_used_at;
    bool used = false;  // a request after initialize carried this session's id
  };
  static httpd::ServerOptions ServerOptionsFor(const HttpOptions& o);
  // nullopt when admitted; otherwise the refusal (403 Origin/Host, 401 token). Head only.
  std::optional<httpd::Response> Admit(const httpd::Request& req) const;
  // False when the table is full of sessions that may not be evicted (see above).
  bool AddSession(const std::string& id, std::shared_ptr<Entry> e);
  httpd::Response Post(const httpd::Request& req);
  httpd::Response PostStateless(const httpd::Request& req, const Message& m);
  httpd::Response Delete(const httpd::Request& req);

  Dispatcher& dispatcher_;
  HttpOptions opts_;
  const Clock& clock_;
  std::function<std::string()> metrics_;
  bool loopback_ = true;
  httpd::BoundedServer server_;
  int port_ = 0;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> sessions_;
  uint64_t tick_ = 0;
};

}  // namespace aha::mcp
