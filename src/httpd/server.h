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

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  void Get(const std::string& path, Handler h);
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
