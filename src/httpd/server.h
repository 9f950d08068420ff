// HttpServer: the small admin/API server each role runs (/metrics, /healthz, /readyz, ...).
// A thin owner of an httplib::Server running on its own thread: Start() binds (and reports a bind
// error as a Result instead of failing later), Stop() shuts it down and joins.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace httplib {
class Server;
}

namespace aha::httpd {

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Handler = std::function<Response()>;
// For routes that authenticate: receives the request's Authorization header ("" when absent).
// A 401 answer carries `WWW-Authenticate: Bearer` (RFC 6750).
using AuthorizedHandler = std::function<Response(const std::string& authorization)>;

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  void Get(const std::string& path, Handler h);
  void GetWithAuthorization(const std::string& path, AuthorizedHandler h);
  // Binds `listen` ("host:port"; port 0 picks a free port) and starts serving.
  Status Start(const std::string& listen);
  int port() const { return port_; }
  void Stop();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace aha::httpd
