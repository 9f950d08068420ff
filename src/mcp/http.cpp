#include "mcp/http.h"

#include <algorithm>
#include <cstdio>

#include "common/json_get.h"
#include "common/log.h"
#include "httpd/auth.h"
#include "net/secret.h"

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

httpd::Response Reply(int status, const json& body) {
  return httpd::Response{status, "application/json", jsonget::Dump(body), {}};
}

httpd::Response HttpError(int status, const std::string& msg) {
  return Reply(status, MakeError(nullptr, -32000, msg));
}

}  // namespace

HttpTransport::HttpTransport(Dispatcher& dispatcher, HttpOptions opts,
                             std::function<std::string()> metrics, const Clock& clock)
    : dispatcher_(dispatcher),
      opts_(std::move(opts)),
      clock_(clock),
      metrics_(std::move(metrics)),
      loopback_(IsLoopbackHost(opts_.host)),
      server_(ServerOptionsFor(opts_)) {}

httpd::ServerOptions HttpTransport::ServerOptionsFor(const HttpOptions& o) {
  httpd::ServerOptions s;
  s.max_connections = o.max_connections;
  s.workers = 8;  // tool calls can take seconds (they talk to the state store)
  s.max_head_bytes = 16 * 1024;
  s.max_body_bytes = o.max_request_bytes;
  s.body_budget_bytes = 16 * o.max_request_bytes;
  return s;
}

HttpTransport::~HttpTransport() {
  Stop();
}

std::optional<httpd::Response> HttpTransport::Admit(const httpd::Request& req) const {
  if (req.HasHeader("Origin")) {
    const std::string& origin = req.Header("Origin");
    const bool listed = std::find(opts_.allowed_origins.begin(), opts_.allowed_origins.end(),
                                  origin) != opts_.allowed_origins.end();
    if (!listed && !(loopback_ && IsLoopbackHost(OriginHost(origin)))) {
      log::Warn("mcp http: rejected Origin", {{"origin", origin}});
      return HttpError(403, "Forbidden: Origin not allowed");
    }
  }
  if (loopback_) {
    const std::string host = httpd::HostHeaderHost(req.Header("Host"));
    bool listed = false;
    for (const auto& o : opts_.allowed_origins)
      listed = listed || (!host.empty() && OriginHost(o) == host);
    if (!IsLoopbackHost(host) && !listed) {
      return HttpError(403, "Forbidden: Host header does not name this loopback server");
    }
  }
  if (!opts_.token.empty() && !httpd::BearerMatches(req.Header("Authorization"), opts_.token)) {
    httpd::Response r = HttpError(401, "Unauthorized: a valid bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"agency-ha-mcp\"");
    return r;
  }
  return std::nullopt;
}

bool HttpTransport::AddSession(const std::string& id, std::shared_ptr<Entry> e) {
  std::lock_guard l(mu_);
  if (sessions_.size() >= opts_.max_sessions) {
    auto victim = sessions_.end();
    // 1. The least recently used session that was never used after its initialize.
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (!it->second->used &&
          (victim == sessions_.end() || it->second->last_used < victim->second->last_used)) {
        victim = it;
      }
    }
    // 2. Otherwise the least recently used session idle for longer than kIdleEvictAfter.
    if (victim == sessions_.end()) {
      const auto now = clock_.mono();
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
        if (now - it->second->last_used_at >= kIdleEvictAfter &&
            (victim == sessions_.end() || it->second->last_used < victim->second->last_used)) {
          victim = it;
        }
      }
    }
    if (victim == sessions_.end()) return false;
    sessions_.erase(victim);
  }
  e->last_used = ++tick_;
  e->last_used_at = clock_.mono();
  sessions_[id] = std::move(e);
  return true;
}

httpd::Response HttpTransport::Post(const httpd::Request& req) {
  const std::string& ctype = req.Header("Content-Type");
  if (ctype.rfind("application/json", 0) != 0) {
    return HttpError(415, "Unsupported Media Type: Content-Type must be application/json");
  }
  const std::string& accept = req.Header("Accept");
  if (accept.find("application/json") == std::string::npos ||
      accept.find("text/event-stream") == std::string::npos) {
    return HttpError(
        406, "Not Acceptable: Accept must list both application/json and text/event-stream");
  }
  Message m = Parse(req.body);
  if (m.kind == Message::Kind::kInvalid && m.error_response["error"]["code"] != kInvalidParams) {
    return Reply(400, m.error_response);
  }
  if ((m.kind == Message::Kind::kRequest || m.kind == Message::Kind::kNotification) &&
      !req.HasHeader("MCP-Session-Id")) {
    const bool declares = m.params.is_object() && m.params.contains("_meta") &&
                          m.params["_meta"].is_object() &&
                          m.params["_meta"].contains(kMetaProtocolVersion);
    if (declares || m.method == "server/discover" ||
        req.Header("MCP-Protocol-Version") == kStatelessProtocolVersion) {
      return PostStateless(req, m);
    }
  }
  if (m.kind == Message::Kind::kRequest && m.method == "initialize") {
    auto e = std::make_shared<Entry>();
    std::optional<json> out = dispatcher_.Handle(m, e->session);
    httpd::Response r = Reply(200, *out);
    if (e->session.initialized) {
      const std::string id = net::RandomHex(16);  // 128 bits from OpenSSL's CSPRNG
      const std::string version = e->session.protocol_version;
      if (!AddSession(id, std::move(e))) {
        log::Warn("mcp http: session table full of active sessions, initialize refused",
                  {{"sessions", opts_.max_sessions}});
        httpd::Response busy = HttpError(503, "Service Unavailable: too many active sessions");
        busy.headers.emplace_back("Retry-After", "60");
        return busy;
      }
      r.headers.emplace_back("MCP-Session-Id", id);
      log::Info("mcp session started",
                {{"session", id.substr(0, 8)}, {"protocolVersion", version}});
    }
    return r;
  }
  const std::string& sid = req.Header("MCP-Session-Id");
  if (sid.empty()) {
    return HttpError(400, "Bad Request: MCP-Session-Id header is required (initialize first)");
  }
  std::shared_ptr<Entry> e;
  {
    std::lock_guard l(mu_);
    auto it = sessions_.find(sid);
    if (it != sessions_.end()) {
      e = it->second;
      e->last_used = ++tick_;
      e->last_used_at = clock_.mono();
      e->used = true;
    }
  }
  if (!e) return HttpError(404, "Session not found");
  if (req.HasHeader("MCP-Protocol-Version")) {
    const std::string& v = req.Header("MCP-Protocol-Version");
    if (!IsSupportedProtocolVersion(v)) {
      return HttpError(400,
                       "Bad Request: unsupported MCP-Protocol-Version " + jsonget::Dump(json(v)));
    }
  }
  std::optional<json> out;
  {
    std::lock_guard l(e->mu);
    out = dispatcher_.Handle(m, e->session);
  }
  if (!out) return httpd::Response{202, "", "", {}};
  return Reply(200, *out);
}

httpd::Response HttpTransport::PostStateless(const httpd::Request& req, const Message& m) {
  auto mismatch = [&](const std::string& why) {
    return Reply(400, MakeError(m.id, kHeaderMismatch, "Header mismatch: " + why));
  };
  const std::string& hv = req.Header("MCP-Protocol-Version");
  if (hv.empty()) return mismatch("the MCP-Protocol-Version header is required");
  const auto& all = AllProtocolVersions();
  if (std::find(all.begin(), all.end(), hv) == all.end()) {
    return Reply(400, MakeError(m.id, kUnsupportedProtocolVersion, "Unsupported protocol version",
                                {{"supported", all}, {"requested", hv}}));
  }
  json mv = nullptr;
  if (m.params.is_object() && m.params.contains("_meta") && m.params["_meta"].is_object()) {
    if (const json* v = jsonget::Find(m.params["_meta"], kMetaProtocolVersion)) mv = *v;
  }
  if (!mv.is_string() || mv.get<std::string>() != hv) {
    return mismatch("MCP-Protocol-Version " + jsonget::Dump(json(hv)) + " does not match _meta \"" +
                    kMetaProtocolVersion + "\" " + jsonget::Dump(mv));
  }
  if (!req.HasHeader("Mcp-Method")) return mismatch("the Mcp-Method header is required");
  if (req.Header("Mcp-Method") != m.method) {
    return mismatch("Mcp-Method " + jsonget::Dump(json(req.Header("Mcp-Method"))) +
                    " does not match the method " + jsonget::Dump(json(m.method)));
  }
  if (m.method == "tools/call") {
    const json* found = jsonget::Find(m.params, "name");  // params may be null
    const json name = found ? *found : json(nullptr);
    if (!req.HasHeader("Mcp-Name")) return mismatch("the Mcp-Name header is required");
    if (!name.is_string() || req.Header("Mcp-Name") != name.get<std::string>()) {
      return mismatch("Mcp-Name " + jsonget::Dump(json(req.Header("Mcp-Name"))) +
                      " does not match params.name " + jsonget::Dump(name));
    }
  }
  Session none;  // sessionless: nothing carries over between requests
  std::optional<json> out = dispatcher_.Handle(m, none);
  if (!out) return httpd::Response{202, "", "", {}};
  return Reply(200, *out);
}

httpd::Response HttpTransport::Delete(const httpd::Request& req) {
  const std::string& sid = req.Header("MCP-Session-Id");
  if (sid.empty()) return HttpError(400, "Bad Request: MCP-Session-Id header is required");
  std::lock_guard l(mu_);
  if (sessions_.erase(sid) == 0) return HttpError(404, "Session not found");
  return httpd::Response{200, "", "", {}};
}

Status HttpTransport::Start() {
  // Origin, Host and token are checked on the head, before any body byte is read.
  server_.SetAdmission([this](const httpd::Request& q) { return Admit(q); });
  server_.Route(
      "POST", "/mcp", [this](const httpd::Request& q) { return Post(q); },
      /*accepts_body=*/true);
  server_.Route("DELETE", "/mcp", [this](const httpd::Request& q) { return Delete(q); });
  server_.Route("GET", "/mcp", [](const httpd::Request&) {
    httpd::Response r = HttpError(405, "Method Not Allowed: this server offers no SSE stream");
    r.headers.emplace_back("Allow", "POST, DELETE");
    return r;
  });
  server_.Route("GET", "/metrics", [this](const httpd::Request&) {
    return httpd::Response{
        200, "text/plain; version=0.0.4; charset=utf-8", metrics_ ? metrics_() : "", {}};
  });
  if (Status s = server_.Start(opts_.host, opts_.port); !s) {
    return Err("cannot bind " + opts_.host + ":" + std::to_string(opts_.port) + ": " + s.message());
  }
  port_ = server_.port();
  return Status::Ok();
}

void HttpTransport::Stop() {
  server_.Stop();
}

}  // namespace aha::mcp
