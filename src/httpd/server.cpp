#include "httpd/server.h"

#include <httplib.h>

#include "common/url.h"

namespace aha::httpd {

HttpServer::HttpServer() : server_(std::make_unique<httplib::Server>()) {
  // httplib writes headers and body separately: without TCP_NODELAY, Nagle plus the client's
  // delayed ACK add ~40 ms to every answer on a kept-alive connection (measured by
  // bench/propagation_bench). Scrapers and health checkers keep connections alive.
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(1000);
}
HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::Get(const std::string& path, Handler h) {
  server_->Get(path, [h](const httplib::Request&, httplib::Response& res) {
    Response r = h();
    res.status = r.status;
    res.set_content(r.body, r.content_type.c_str());
  });
}

void HttpServer::GetWithAuthorization(const std::string& path, AuthorizedHandler h) {
  server_->Get(path, [h](const httplib::Request& req, httplib::Response& res) {
    Response r = h(req.get_header_value("Authorization"));
    res.status = r.status;
    if (r.status == 401) res.set_header("WWW-Authenticate", "Bearer");
    res.set_content(r.body, r.content_type.c_str());
  });
}

Status HttpServer::Start(const std::string& listen) {
  auto hp = ParseHostPort(listen);
  if (!hp) return Err("listen " + listen + ": " + hp.message());
  std::string host = hp->host.empty() ? "0.0.0.0" : hp->host;
  if (hp->port == 0) {
    port_ = server_->bind_to_any_port(host);
    if (port_ <= 0) return Err("listen " + listen + ": cannot bind");
  } else {
    if (!server_->bind_to_port(host, hp->port)) {
      return Err("listen " + listen + ": cannot bind (address in use or not local)");
    }
    port_ = hp->port;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace aha::httpd
