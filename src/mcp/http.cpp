#include "mcp/http.h"

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "common/log.h"
#include "httpd/auth.h"

namespace aha::mcp {

using nlohmann::json;

namespace {

using httpd::IsLoopbackHost;

// Host part of an Origin ("http://host[:port]"); empty when malformed.
std::string OriginHost(const std::string& origin) {
  auto p = origin.find("://");
  if (p == std::string::npos) return "";
  std::string rest = origin.substr(p + 3);
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  return httpd::HostHeaderHost(rest);
}

std::string NewSessionId() {
  unsigned char buf[16];
  bool ok = false;
  if (FILE* f = std::fopen("/dev/urandom", "rb")) {
    ok = std::fread(buf, 1, sizeof buf, f) == sizeof buf;
    std::fclose(f);
  }
  if (!ok) {
    std::random_device rd;
    for (auto& b : buf)
      b = static_cast<unsigned char>(rd());
  }
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (unsigned char b : buf) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void HttpError(httplib::Response& res, int status, const std::string& msg) {
  Reply(res, status, MakeError(nullptr, -32000, msg));
}

}  // namespace

HttpTransport::HttpTransport(Dispatcher& dispatcher, HttpOptions opts,
                             std::function<std::string()> metrics)
    : dispatcher_(dispatcher),
      opts_(std::move(opts)),
      metrics_(std::move(metrics)),
      loopback_(IsLoopbackHost(opts_.host)),
      server_(std::make_unique<httplib::Server>()) {
  server_->set_tcp_nodelay(true);  // see src/httpd/server.cpp: avoids a 40 ms Nagle stall
}

HttpTransport::~HttpTransport() {
  Stop();
}

bool HttpTransport::Admit(const httplib::Request& req, httplib::Response& res) const {
  if (req.has_header("Origin")) {
    const std::string origin = req.get_header_value("Origin");
    const bool listed = std::find(opts_.allowed_origins.begin(), opts_.allowed_origins.end(),
                                  origin) != opts_.allowed_origins.end();
    if (!listed && !(loopback_ && IsLoopbackHost(OriginHost(origin)))) {
      log::Warn("mcp http: rejected Origin", {{"origin", origin}});
      HttpError(res, 403, "Forbidden: Origin not allowed");
      return false;
    }
  }
  if (loopback_) {
    const std::string host = httpd::HostHeaderHost(req.get_header_value("Host"));
    bool listed = false;
    for (const auto& o : opts_.allowed_origins)
      listed = listed || (!host.empty() && OriginHost(o) == host);
    if (!IsLoopbackHost(host) && !listed) {
      HttpError(res, 403, "Forbidden: Host header does not name this loopback server");
      return false;
    }
  }
  if (!opts_.token.empty()) {
    const std::string auth = req.get_header_value("Authorization");
    if (!httpd::BearerMatches(auth, opts_.token)) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"agency-ha-mcp\"");
      HttpError(res, 401, "Unauthorized: a valid bearer token is required");
      return false;
    }
  }
  return true;
}

void HttpTransport::Post(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  const std::string ctype = req.get_header_value("Content-Type");
  if (ctype.rfind("application/json", 0) != 0) {
    HttpError(res, 415, "Unsupported Media Type: Content-Type must be application/json");
    return;
  }
  const std::string accept = req.get_header_value("Accept");
  if (accept.find("application/json") == std::string::npos ||
      accept.find("text/event-stream") == std::string::npos) {
    HttpError(res, 406,
              "Not Acceptable: Accept must list both application/json and text/event-stream");
    return;
  }
  Message m = Parse(req.body);
  if (m.kind == Message::Kind::kInvalid && m.error_response["error"]["code"] != kInvalidParams) {
    Reply(res, 400, m.error_response);
    return;
  }
  if ((m.kind == Message::Kind::kRequest || m.kind == Message::Kind::kNotification) &&
      !req.has_header("MCP-Session-Id")) {
    const bool declares = m.params.is_object() && m.params.contains("_meta") &&
                          m.params["_meta"].is_object() &&
                          m.params["_meta"].contains(kMetaProtocolVersion);
    if (declares || m.method == "server/discover" ||
        req.get_header_value("MCP-Protocol-Version") == kStatelessProtocolVersion) {
      PostStateless(req, m, res);
      return;
    }
  }
  if (m.kind == Message::Kind::kRequest && m.method == "initialize") {
    auto e = std::make_shared<Entry>();
    std::optional<json> out = dispatcher_.Handle(m, e->session);
    if (e->session.initialized) {
      const std::string id = NewSessionId();
      {
        std::lock_guard l(mu_);
        if (sessions_.size() >= kMaxSessions) {
          auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
            return a.second->last_used < b.second->last_used;
          });
          sessions_.erase(oldest);
        }
        e->last_used = ++tick_;
        sessions_[id] = e;
      }
      res.set_header("MCP-Session-Id", id);
      log::Info("mcp session started",
                {{"session", id.substr(0, 8)}, {"protocolVersion", e->session.protocol_version}});
    }
    Reply(res, 200, *out);
    return;
  }
  const std::string sid = req.get_header_value("MCP-Session-Id");
  if (sid.empty()) {
    HttpError(res, 400, "Bad Request: MCP-Session-Id header is required (initialize first)");
    return;
  }
  std::shared_ptr<Entry> e;
  {
    std::lock_guard l(mu_);
    auto it = sessions_.find(sid);
    if (it != sessions_.end()) {
      e = it->second;
      e->last_used = ++tick_;
    }
  }
  if (!e) {
    HttpError(res, 404, "Session not found");
    return;
  }
  if (req.has_header("MCP-Protocol-Version")) {
    const std::string v = req.get_header_value("MCP-Protocol-Version");
    if (!IsSupportedProtocolVersion(v)) {
      HttpError(res, 400, "Bad Request: unsupported MCP-Protocol-Version " + json(v).dump());
      return;
    }
  }
  std::optional<json> out;
  {
    std::lock_guard l(e->mu);
    out = dispatcher_.Handle(m, e->session);
  }
  if (!out) {
    res.status = 202;
    return;
  }
  Reply(res, 200, *out);
}

void HttpTransport::PostStateless(const httplib::Request& req, const Message& m,
                                  httplib::Response& res) {
  auto mismatch = [&](const std::string& why) {
    Reply(res, 400, MakeError(m.id, kHeaderMismatch, "Header mismatch: " + why));
  };
  const std::string hv = req.get_header_value("MCP-Protocol-Version");
  if (hv.empty()) return mismatch("the MCP-Protocol-Version header is required");
  const auto& all = AllProtocolVersions();
  if (std::find(all.begin(), all.end(), hv) == all.end()) {
    Reply(res, 400,
          MakeError(m.id, kUnsupportedProtocolVersion, "Unsupported protocol version",
                    {{"supported", all}, {"requested", hv}}));
    return;
  }
  json mv = nullptr;
  if (m.params.is_object() && m.params.contains("_meta") && m.params["_meta"].is_object()) {
    mv = m.params["_meta"].value(kMetaProtocolVersion, json(nullptr));
  }
  if (!mv.is_string() || mv.get<std::string>() != hv) {
    return mismatch("MCP-Protocol-Version " + json(hv).dump() + " does not match _meta \"" +
                    kMetaProtocolVersion + "\" " + mv.dump());
  }
  if (!req.has_header("Mcp-Method")) return mismatch("the Mcp-Method header is required");
  if (req.get_header_value("Mcp-Method") != m.method) {
    return mismatch("Mcp-Method " + json(req.get_header_value("Mcp-Method")).dump() +
                    " does not match the method " + json(m.method).dump());
  }
  if (m.method == "tools/call") {
    const json name = m.params.value("name", json(nullptr));
    if (!req.has_header("Mcp-Name")) return mismatch("the Mcp-Name header is required");
    if (!name.is_string() || req.get_header_value("Mcp-Name") != name.get<std::string>()) {
      return mismatch("Mcp-Name " + json(req.get_header_value("Mcp-Name")).dump() +
                      " does not match params.name " + name.dump());
    }
  }
  Session none;  // sessionless: nothing carries over between requests
  std::optional<json> out = dispatcher_.Handle(m, none);
  if (!out) {
    res.status = 202;
    return;
  }
  Reply(res, 200, *out);
}

void HttpTransport::Delete(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  const std::string sid = req.get_header_value("MCP-Session-Id");
  if (sid.empty()) {
    HttpError(res, 400, "Bad Request: MCP-Session-Id header is required");
    return;
  }
  std::lock_guard l(mu_);
  if (sessions_.erase(sid) == 0) {
    HttpError(res, 404, "Session not found");
    return;
  }
  res.status = 200;
}

Status HttpTransport::Start() {
  server_->set_payload_max_length(opts_.max_request_bytes);
  server_->Post("/mcp", [this](const httplib::Request& q, httplib::Response& r) { Post(q, r); });
  server_->Delete("/mcp",
                  [this](const httplib::Request& q, httplib::Response& r) { Delete(q, r); });
  server_->Get("/mcp", [this](const httplib::Request& q, httplib::Response& r) {
    if (!Admit(q, r)) return;
    r.set_header("Allow", "POST, DELETE");
    HttpError(r, 405, "Method Not Allowed: this server offers no SSE stream");
  });
  server_->Get("/metrics", [this](const httplib::Request& q, httplib::Response& r) {
    if (!Admit(q, r)) return;
    r.set_content(metrics_ ? metrics_() : "", "text/plain; version=0.0.4; charset=utf-8");
  });
  if (opts_.port == 0) {
    port_ = server_->bind_to_any_port(opts_.host);
    if (port_ <= 0) return Err("cannot bind " + opts_.host);
  } else {
    if (!server_->bind_to_port(opts_.host, opts_.port)) {
      return Err("cannot bind " + opts_.host + ":" + std::to_string(opts_.port) +
                 " (address in use or not local)");
    }
    port_ = opts_.port;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void HttpTransport::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace aha::mcp
