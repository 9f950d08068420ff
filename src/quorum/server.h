// AdminServer: the controller's HTTP server. The same contract as httpd::HttpServer (which it
// mirrors: TCP_NODELAY, keep-alive), plus routes whose handler sees the request's Authorization
// header, which httpd::Handler does not expose. GET /v1/observations needs it.
// (Once src/httpd offers request access this class can go; see the quorum section of
// docs/ARCHITECTURE.md.)
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "httpd/server.h"

namespace httplib {
class Server;
}

namespace aha::quorum {

using AuthorizedHandler = std::function<httpd::Response(const std::string& authorization)>;

class AdminServer {
 public:
  AdminServer();
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  void Get(const std::string& path, httpd::Handler h);
  // The handler receives the Authorization header ("" when absent).
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

}  // namespace aha::quorum
