#include "httpd/server.h"

#include "common/url.h"

namespace aha::httpd {

ServerOptions AdminServerOptions() {
  ServerOptions o;
  o.max_connections = 256;
  o.workers = 4;
  o.max_head_bytes = 16 * 1024;
  o.max_body_bytes = 0;  // GET only
  return o;
}

HttpServer::HttpServer(ServerOptions opts) : server_(std::move(opts)) {}

HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::Get(const std::string& path, Handler h) {
  server_.Route("GET", path, [h = std::move(h)](const Request&) { return h(); });
}

void HttpServer::GetWithAuthorization(const std::string& path, AuthorizedHandler h) {
  server_.Route("GET", path, [h = std::move(h)](const Request& req) {
    Response r = h(req.Header("authorization"));
    if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  });
}

void HttpServer::PostWithAuthorization(const std::string& path, Authorizer authorized,
                                       BodyHandler h) {
  if (guards_.empty()) {
    server_.SetAdmission([this](const Request& req) -> std::optional<Response> {
      if (req.method != "POST") return std::nullopt;
      for (const Guard& g : guards_) {
        if (g.path == req.path && !g.authorized(req.Header("authorization"))) {
          return Response{401,
                          "application/json",
                          "{\"error\": \"a valid bearer token is required\"}\n",
                          {{"WWW-Authenticate", "Bearer"}}};
        }
      }
      return std::nullopt;
    });
  }
  guards_.push_back(Guard{path, std::move(authorized)});
  server_.Route(
      "POST", path, [h = std::move(h)](const Request& req) { return h(req.body); }, true);
}

Status HttpServer::Start(const std::string& listen) {
  auto hp = ParseHostPort(listen);
  if (!hp) return Err("listen " + listen + ": " + hp.message());
  std::string host = hp->host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return server_.Start(host, hp->port);
}

void HttpServer::Stop() {
  server_.Stop();
}

}  // namespace aha::httpd
