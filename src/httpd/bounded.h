// BoundedServer: the HTTP/1.1 server every listener of the binary runs on (the role servers via
// httpd::HttpServer, and MCP's Streamable HTTP transport).
//
// Why not cpp-httplib (Debian's 0.11): its read timeout is per recv(), so a client sending one
// byte per second holds a worker forever; its thread pool is fixed and every accepted connection
// queues for it, so 200 such clients stall /healthz; payload_max_length does not apply to chunked
// bodies (a 100 MB chunked POST was buffered whole), and bodies are read before any handler can
// look at the headers (an unauthenticated 300 MB body was buffered before its 401).
//
// Contract:
// - One I/O thread owns every socket (non-blocking, poll). Requests are read and responses are
//   written there; only complete, admitted requests reach the worker pool (`workers` threads)
//   that runs handlers. A slow or stalled client therefore only costs a connection slot and a
//   bounded buffer, never a worker.
// - Connection cap: at most `max_connections` open connections. At the cap, a new connection
//   makes room by closing the oldest idle one (no byte of a request yet), else the one whose
//   request has been read for the longest (a well-behaved client sends its request in
//   milliseconds, so that is the slowest, likely a slow-loris); only when every connection is
//   being served or answered does the new connection get a 503 and is closed.
// - Absolute deadlines (not per recv): a new or kept-alive connection must start a request within
//   `idle_timeout`; from its first byte, a request's head must be complete within
//   `header_timeout` and its body within `request_timeout`; a response must be written within
//   `write_timeout`. Missing a read deadline answers 408 (best effort) and closes.
// - Bounded reading (see request.h): head <= max_head_bytes, <= max_headers fields. A route that
//   does not accept a body refuses any announced body (Content-Length > 0 or chunked) with 413 as
//   soon as the head is parsed, without reading it; a route that does accepts up to
//   `max_body_bytes`, chunked or not (413 beyond, before the excess is read). On top of that,
//   the bodies being read at one time share `body_budget_bytes` (503 beyond), so memory stays
//   bounded by about body_budget_bytes + max_connections x (max_head_bytes + 16 KiB).
// - Admission, after the head is parsed and before any body byte is read, in this order: the
//   path is looked up (404); a body announced for a path none of whose routes accepts one is
//   refused (413, whatever the method); the method is looked up (405 with Allow); the body limit
//   is applied (413); then the admission hook (if set) may refuse the request (e.g. 401/403).
//   So the body limit is enforced before authentication, and authentication never waits for a
//   body.
// - A request refused before its body was read is answered with `Connection: close`, then the
//   connection is half-closed and its input drained for at most `linger_timeout` (so the client
//   sees the answer instead of a reset) and closed.
// - HEAD is served by a GET route without the body. `Expect: 100-continue` is answered only once
//   the request is admitted. Keep-alive follows HTTP/1.1 (HTTP/1.0: only on request); pipelined
//   requests are served in order, one at a time.
// - Handlers run on worker threads, concurrently with each other; they must not throw (an
//   exception escaping one is answered with 500).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.h"
#include "httpd/request.h"

namespace aha::httpd {

// An answer. `headers` are extra fields (Content-Type, Content-Length and Connection are set by
// the server).
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ServerOptions {
  size_t max_connections = 256;
  size_t workers = 4;
  size_t max_head_bytes = 16 * 1024;
  size_t max_headers = 64;
  size_t max_body_bytes = 0;     // for routes that accept a body
  size_t body_budget_bytes = 0;  // 0: 8 x max_body_bytes
  // An idle keep-alive connection is closed after idle_timeout, but answers advertise the
  // shorter `Keep-Alive: timeout=` below so that clients retire a connection before the server
  // does (a client reusing a connection the server is closing sees a reset). Idle connections
  // are also the first to go when the connection cap is reached, so a long idle_timeout is cheap.
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::seconds keep_alive_advertised{5};
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  std::chrono::milliseconds linger_timeout{2000};
};

using RouteHandler = std::function<Response(const Request&)>;
// Runs on the I/O thread with the parsed head (no body yet); must be fast and must not block.
// Returning a Response refuses the request with it.
using Admission = std::function<std::optional<Response>(const Request&)>;

class BoundedServer {
 public:
  explicit BoundedServer(ServerOptions opts = {});
  ~BoundedServer();
  BoundedServer(const BoundedServer&) = delete;
  BoundedServer& operator=(const BoundedServer&) = delete;

  // Registers a handler for `method` on the exact `path` (query ignored). Before Start().
  void Route(const std::string& method, const std::string& path, RouteHandler h,
             bool accepts_body = false);
  void SetAdmission(Admission a) { admission_ = std::move(a); }

  // Binds host:port ("" host: all IPv4 addresses; port 0 picks a free port), starts the I/O
  // thread and the workers.
  Status Start(const std::string& host, int port);
  int port() const { return port_; }
  // Closes the listener and every connection, waits for running handlers. Idempotent.
  void Stop();

 private:
  struct Conn;
  struct Job {
    uint64_t conn;
    Request req;
    bool keep_alive;
  };
  struct Done {
    uint64_t conn;
    std::string bytes;
    bool keep_alive;
  };

  void Loop();
  void Accept();
  void OnReadable(Conn& c);
  void OnBytes(Conn& c, std::string_view data);
  void OnHead(Conn& c);
  void Dispatch(Conn& c);
  void Refuse(Conn& c, Response r, bool keep_alive);
  void StartWrite(Conn& c, std::string bytes, bool keep_alive);
  void OnWritable(Conn& c);
  void FinishWrite(Conn& c);
  void Close(uint64_t id);
  void ReleaseBudget(Conn& c);
  void Worker();
  Response Handle(const Request& req);
  std::string Serialize(const Response& r, bool keep_alive, bool head_only) const;

  struct RouteEntry {
    RouteHandler handler;
    bool accepts_body;
  };

  ServerOptions opts_;
  std::map<std::string, std::map<std::string, RouteEntry>> routes_;  // path -> method -> route
  Admission admission_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: workers and Stop() wake the I/O thread
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread io_;
  std::vector<std::thread> workers_;

  // I/O thread only.
  std::map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_id_ = 1;
  size_t budget_used_ = 0;
  std::chrono::steady_clock::time_point accept_paused_until_{};

  std::mutex mu_;  // guards jobs_, done_
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<Done> done_;
};

}  // namespace aha::httpd
