#include "mcp/jsonrpc.h"

#include <algorithm>

#include "common/json_get.h"

namespace aha::mcp {

using nlohmann::json;

const std::vector<std::string>& SupportedProtocolVersions() {
  static const std::vector<std::string> v = {"2025-11-25", "2025-06-18", "2025-03-26",
                                             "2024-11-05"};
  return v;
}

const std::vector<std::string>& AllProtocolVersions() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> all = {kStatelessProtocolVersion};
    for (const auto& x : SupportedProtocolVersions())
      all.push_back(x);
    return all;
  }();
  return v;
}

bool IsSupportedProtocolVersion(const std::string& v) {
  const auto& s = SupportedProtocolVersions();
  return std::find(s.begin(), s.end(), v) != s.end();
}

json MakeError(const json& id, int code, const std::string& message, const json& data) {
  json err = {{"code", code}, {"message", message}};
  if (!data.is_null()) err["data"] = data;
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", err}};
}

json MakeResult(const json& id, json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

namespace {

// MCP ids are strings or integers (never null); JSON-RPC also allows numbers with fractions, which
// nlohmann reads as floats: refused like MCP's schema does.
bool ValidId(const json& id) {
  return id.is_string() || id.is_number_integer();
}

Message Invalid(json id, int code, const std::string& msg) {
  Message m;
  m.kind = Message::Kind::kInvalid;
  m.id = id;
  m.error_response = MakeError(id, code, msg);
  return m;
}

// Revisions that know outputSchema, tool titles and structuredContent.
bool HasStructuredContent(const std::string& version) {
  return version == kStatelessProtocolVersion || version == "2025-11-25" || version == "2025-06-18";
}

// 2026-07-28: every result says what it is; this server only ever completes.
json Stamp(json result, const json& server_info) {
  result["resultType"] = "complete";
  result["_meta"] = {{kMetaServerInfo, server_info}};
  return result;
}

}  // namespace

Message Parse(std::string_view text) {
  // nlohmann::json parses iteratively, but copies, compares and serializes recursively: a 1 MiB
  // line of '[' nests 500k deep and overflows the stack (found by a stack-overflow crash). No MCP
  // message needs anything near the limit.
  if (jsonget::NestingDepth(text, kMaxNestingDepth) > kMaxNestingDepth) {
    return Invalid(
        nullptr, kInvalidRequest,
        "Invalid Request: JSON nested deeper than " + std::to_string(kMaxNestingDepth) + " levels");
  }
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) return Invalid(nullptr, kParseError, "Parse error: not valid JSON");
  if (doc.is_array()) {
    return Invalid(nullptr, kInvalidRequest,
                   "Invalid Request: JSON-RPC batches are not supported; send one message at a "
                   "time");
  }
  if (!doc.is_object()) {
    return Invalid(nullptr, kInvalidRequest, "Invalid Request: expected a JSON-RPC 2.0 object");
  }
  json id = nullptr;
  const bool has_id = doc.contains("id");
  if (has_id && ValidId(doc["id"])) id = doc["id"];
  auto jv = doc.find("jsonrpc");
  if (jv == doc.end() || !jv->is_string() || *jv != "2.0") {
    return Invalid(id, kInvalidRequest, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
  }
  if (has_id && !ValidId(doc["id"])) {
    return Invalid(nullptr, kInvalidRequest,
                   "Invalid Request: \"id\" must be a string or an integer");
  }
  auto method = doc.find("method");
  if (method == doc.end()) {
    if (has_id && (doc.contains("result") || doc.contains("error"))) {
      Message m;
      m.kind = Message::Kind::kResponse;
      m.id = id;
      return m;
    }
    return Invalid(id, kInvalidRequest, "Invalid Request: missing \"method\"");
  }
  if (!method->is_string()) {
    return Invalid(id, kInvalidRequest, "Invalid Request: \"method\" must be a string");
  }
  Message m;
  m.kind = has_id ? Message::Kind::kRequest : Message::Kind::kNotification;
  m.id = id;
  m.method = method->get<std::string>();
  if (auto p = doc.find("params"); p != doc.end() && !p->is_null()) {
    if (!p->is_object()) {
      if (!has_id) return Invalid(nullptr, kInvalidRequest, "Invalid Request: bad params");
      m.kind = Message::Kind::kInvalid;
      m.error_response = MakeError(id, kInvalidParams, "Invalid params: must be an object");
      return m;
    }
    m.params = *p;
  }
  return m;
}

std::optional<json> Dispatcher::HandleText(std::string_view text, Session& s) {
  return Handle(Parse(text), s);
}

std::optional<json> Dispatcher::Handle(const Message& m, Session& s) {
  switch (m.kind) {
    case Message::Kind::kInvalid:
      return m.error_response;
    case Message::Kind::kResponse:
      return std::nullopt;  // this server sends no requests; stray responses are ignored
    case Message::Kind::kNotification:
      if (m.method == "notifications/initialized") s.client_initialized = true;
      return std::nullopt;  // notifications/cancelled: calls are answered synchronously
    case Message::Kind::kRequest:
      break;
  }
  if (m.method == "initialize") return Initialize(m, s);
  if (auto r = HandleStateless(m)) return r;
  if (m.method == "ping") return MakeResult(m.id, json::object());
  if (m.method == "tools/list" || m.method == "tools/call") {
    if (!s.initialized) {
      return MakeError(m.id, kInvalidRequest,
                       "Invalid Request: the session is not initialized; send initialize first");
    }
    if (m.method == "tools/call") return CallTool(m, s.protocol_version);
    return MakeResult(m.id, ListTools(s.protocol_version));
  }
  return MakeError(m.id, kMethodNotFound, "Method not found: " + m.method);
}

json Dispatcher::ServerInfoJson(const std::string& version) const {
  json info = {{"name", info_.name}, {"version", info_.version}};
  if (HasStructuredContent(version)) info["title"] = info_.title;
  return info;
}

json Dispatcher::ListTools(const std::string& version) {
  json tools = tools_.List();
  if (!HasStructuredContent(version)) {
    for (auto& t : tools) {
      t.erase("outputSchema");
      t.erase("title");
    }
  }
  return {{"tools", tools}};
}

std::optional<json> Dispatcher::HandleStateless(const Message& m) {
  const json* meta = nullptr;
  if (m.params.is_object()) {
    if (auto it = m.params.find("_meta"); it != m.params.end() && it->is_object()) meta = &*it;
  }
  const bool declares = meta && meta->contains(kMetaProtocolVersion);
  if (!declares && m.method != "server/discover") return std::nullopt;
  if (!declares) {
    return MakeError(
        m.id, kInvalidParams,
        std::string("Invalid params: _meta \"") + kMetaProtocolVersion + "\" is required");
  }
  const json& v = (*meta)[kMetaProtocolVersion];
  if (!v.is_string()) {
    return MakeError(
        m.id, kInvalidParams,
        std::string("Invalid params: _meta \"") + kMetaProtocolVersion + "\" must be a string");
  }
  const std::string version = v.get<std::string>();
  if (version != kStatelessProtocolVersion) {
    if (!IsSupportedProtocolVersion(version)) {
      return MakeError(m.id, kUnsupportedProtocolVersion, "Unsupported protocol version",
                       {{"supported", AllProtocolVersions()}, {"requested", version}});
    }
    // A legacy revision: its requests follow the session rules; discovery answers anyway.
    if (m.method != "server/discover") return std::nullopt;
  }
  auto caps = meta->find(kMetaClientCapabilities);
  if (caps == meta->end() || !caps->is_object()) {
    return MakeError(m.id, kInvalidParams,
                     std::string("Invalid params: _meta \"") + kMetaClientCapabilities +
                         "\" is required (an object)");
  }
  const json server_info = ServerInfoJson(kStatelessProtocolVersion);
  if (m.method == "server/discover") {
    json r = {{"supportedVersions", AllProtocolVersions()},
              {"capabilities", {{"tools", {{"listChanged", false}}}}},
              {"ttlMs", kCacheTtlMs},
              {"cacheScope", "private"}};
    if (!info_.instructions.empty()) r["instructions"] = info_.instructions;
    return MakeResult(m.id, Stamp(r, server_info));
  }
  if (m.method == "tools/list") {
    json r = ListTools(kStatelessProtocolVersion);
    r["ttlMs"] = kCacheTtlMs;
    // Region names come from this deployment's configuration: not for shared caches.
    r["cacheScope"] = "private";
    return MakeResult(m.id, Stamp(r, server_info));
  }
  if (m.method == "tools/call") {
    json r = CallTool(m, kStatelessProtocolVersion);
    if (r.contains("result")) r["result"] = Stamp(r["result"], server_info);
    return r;
  }
  return MakeError(m.id, kMethodNotFound,
                   "Method not found: " + m.method + " (protocol version " + version + ")");
}

json Dispatcher::Initialize(const Message& m, Session& s) {
  if (s.initialized) {
    return MakeError(m.id, kInvalidRequest, "Invalid Request: the session is already initialized");
  }
  if (m.params.is_null()) return MakeError(m.id, kInvalidParams, "Invalid params: missing params");
  auto pv = m.params.find("protocolVersion");
  if (pv == m.params.end() || !pv->is_string()) {
    return MakeError(m.id, kInvalidParams, "Invalid params: \"protocolVersion\" must be a string");
  }
  const std::string requested = pv->get<std::string>();
  if (!IsSupportedProtocolVersion(requested)) {
    return MakeError(m.id, kInvalidParams, "Unsupported protocol version",
                     {{"supported", SupportedProtocolVersions()}, {"requested", requested}});
  }
  if (auto c = m.params.find("capabilities"); c != m.params.end() && !c->is_object()) {
    return MakeError(m.id, kInvalidParams, "Invalid params: \"capabilities\" must be an object");
  }
  s.initialized = true;
  s.protocol_version = requested;
  s.client_info = m.params.value("clientInfo", json::object());
  json result = {{"protocolVersion", requested},
                 {"capabilities", {{"tools", {{"listChanged", false}}}}},
                 {"serverInfo", ServerInfoJson(requested)}};
  if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
  return MakeResult(m.id, result);
}

json Dispatcher::CallTool(const Message& m, const std::string& version) {
  if (m.params.is_null()) return MakeError(m.id, kInvalidParams, "Invalid params: missing params");
  auto name = m.params.find("name");
  if (name == m.params.end() || !name->is_string()) {
    return MakeError(m.id, kInvalidParams, "Invalid params: \"name\" must be a string");
  }
  json args = json::object();
  if (auto a = m.params.find("arguments"); a != m.params.end() && !a->is_null()) {
    if (!a->is_object()) {
      return MakeError(m.id, kInvalidParams, "Invalid params: \"arguments\" must be an object");
    }
    args = *a;
  }
  std::optional<ToolResult> r = tools_.Call(name->get<std::string>(), args);
  if (!r) return MakeError(m.id, kInvalidParams, "Unknown tool: " + name->get<std::string>());
  json result = {{"content", json::array({{{"type", "text"}, {"text", r->text}}})},
                 {"isError", r->is_error}};
  // Errors carry no structuredContent: it would have to match the tool's outputSchema.
  if (!r->is_error && HasStructuredContent(version)) {
    result["structuredContent"] = r->structured;
  }
  return MakeResult(m.id, result);
}

}  // namespace aha::mcp
