// HttpServer: the small admin/API server each role runs (/metrics, /healthz, /readyz, ...).
// GET-only routes on a BoundedServer (bounded.h): every listener gets the same connection cap,
// absolute header/write deadlines and body refusal (a GET route answers any announced request
// body with 413 without reading it), so a hostile client on the network cannot exhaust the
// memory of a small pod or stall its probes. Start() binds (and reports a bind error as a Result
// instead of failing later), Stop() shuts it down and joins.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "httpd/bounded.h"

namespace aha::httpd {

using Handler = std::function<Response()>;
// For routes that authenticate: receives the request's Authorization header ("" when absent).
// A 401 answer carries `WWW-Authenticate: Bearer` (RFC 6750).
using AuthorizedHandler = std::function<Response(const std::string& authorization)>;

// The limits of a role's admin server: probes and scrapers send small GETs, a few at a time.
ServerOptions AdminServerOptions();

class HttpServer {
 public:
  explicit HttpServer(ServerOptions opts = AdminServerOptions());
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  void Get(const std::string& path, Handler h);
  void GetWithAuthorization(const std::string& path, AuthorizedHandler h);
  // A POST route with a body (at most the options' max_body_bytes; 413 beyond, before it is
  // read). `authorized` sees the Authorization header as soon as the head is parsed, before any
  // body byte is read: false answers 401 (with WWW-Authenticate: Bearer) and the body is never
  // read. It runs on the I/O thread: it must be fast (a constant-time token compare).
  using Authorizer = std::function<bool(const std::string& authorization)>;
  using BodyHandler = std::function<Response(const std::string& body)>;
  void PostWithAuthorization(const std::string& path, Authorizer authorized, BodyHandler h);
  // Binds `listen` ("host:port"; empty host: all IPv4 addresses; port 0 picks a free port) and
  // starts serving.
  Status Start(const std::string& listen);
  int port() const { return server_.port(); }
  void Stop();

 private:
  struct Guard {
    std::string path;
    Authorizer authorized;
  };
  BoundedServer server_;
  std::vector<Guard> guards_;  // POST routes' authorizers, read by the admission hook
};

}  // namespace aha::httpd
