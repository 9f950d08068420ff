// MCP message handling: JSON-RPC 2.0 framing and the MCP lifecycle, with no I/O.
//
// Transports (stdio, Streamable HTTP) hand every received message to Dispatcher::Handle together
// with the connection's Session and send back what it returns. Contract:
// - Legacy revisions (initialize handshake): 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05.
//   `initialize` with any other protocolVersion is refused with -32602 "Unsupported protocol
//   version" and data {supported: [the legacy revisions], requested}.
// - The stateless 2026-07-28 revision (dual-era server, as its versioning page allows): a request
//   whose params._meta carries "io.modelcontextprotocol/protocolVersion", or any server/discover
//   request, is served without a session: server/discover, tools/list and tools/call. Its
//   _meta must also carry "io.modelcontextprotocol/clientCapabilities" (an object), else -32602.
//   A version this server does not know gets -32022 "Unsupported protocol version" with data
//   {supported: AllProtocolVersions(), requested} (UnsupportedProtocolVersionError). A legacy
//   revision named in _meta is served by the legacy rules (server/discover answers it anyway).
//   Results carry resultType "complete" and _meta "io.modelcontextprotocol/serverInfo";
//   server/discover and tools/list also carry ttlMs and cacheScope "private" (CacheableResult).
//   ping (removed in 2026-07-28) and other methods get -32601. initialize always means legacy.
//   The HTTP transport applies 2026-07-28's header rules (no session, MCP-Protocol-Version,
//   Mcp-Method and Mcp-Name mirroring the body, HeaderMismatch -32020; see http.h). Not
//   implemented: subscriptions/listen.
// - Methods: initialize, ping, tools/list, tools/call; notifications/initialized and
//   notifications/cancelled are accepted; other notifications are ignored; other methods get
//   -32601. Requests other than initialize and ping before initialize get -32600.
// - Faults: unparsable JSON -32700 (id null); not a JSON-RPC 2.0 request/notification/response,
//   bad id, non-object params, or a batch (an array; batching was removed in 2025-06-18 and is not
//   supported for older revisions either) -32600; JSON nested deeper than kMaxNestingDepth
//   -32600 (before parsing: deep nesting would overflow the stack); wrong params -32602 (including
//   an unknown tool name). A tool's own failure (bad argument value, unknown region, refused drill)
//   is a result with isError: true, as the spec requires, so the model can see and correct it.
// - Revisions before 2025-06-18 have no outputSchema, tool title or structuredContent: those are
//   stripped from what is sent to such clients.
// Thread-safety: Handle() may be called from several threads for different sessions; Tools must be
// thread-safe. One Session must not be used by two threads at once.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aha::mcp {

inline constexpr const char* kLatestProtocolVersion = "2025-11-25";  // latest legacy revision
inline constexpr const char* kStatelessProtocolVersion = "2026-07-28";
// The legacy (initialize) revisions, newest first.
const std::vector<std::string>& SupportedProtocolVersions();
bool IsSupportedProtocolVersion(const std::string& v);
// Every revision served: 2026-07-28 first, then the legacy ones.
const std::vector<std::string>& AllProtocolVersions();

// 2026-07-28 request _meta keys and result fields.
inline constexpr const char* kMetaProtocolVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr const char* kMetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr const char* kMetaClientInfo = "io.modelcontextprotocol/clientInfo";
inline constexpr const char* kMetaServerInfo = "io.modelcontextprotocol/serverInfo";
// ttlMs of server/discover and tools/list: the tool list is fixed while the process runs (it is
// built from the configuration loaded at start); 5 minutes bounds staleness across a restart.
inline constexpr int kCacheTtlMs = 300000;

// Deepest array/object nesting accepted in a message (deeper: -32600, checked before parsing).
inline constexpr size_t kMaxNestingDepth = 64;

// JSON-RPC error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// MCP 2026-07-28 (UnsupportedProtocolVersionError).
inline constexpr int kUnsupportedProtocolVersion = -32022;
// MCP 2026-07-28 Streamable HTTP: headers missing or not matching the body (HeaderMismatch).
inline constexpr int kHeaderMismatch = -32020;

// What a tool call produced: structured content plus the text block that mirrors it.
struct ToolResult {
  nlohmann::json structured = nlohmann::json::object();
  std::string text;
  bool is_error = false;
};

// The tools a server offers.
class Tools {
 public:
  virtual ~Tools() = default;
  // Tool definitions (name, title, description, inputSchema, outputSchema, annotations).
  virtual nlohmann::json List() const = 0;
  // nullopt when no tool has this name.
  virtual std::optional<ToolResult> Call(const std::string& name,
                                         const nlohmann::json& arguments) = 0;
};

struct Session {
  bool initialized = false;         // initialize answered
  bool client_initialized = false;  // notifications/initialized received
  std::string protocol_version;     // negotiated
  nlohmann::json client_info;
};

// One received message, classified.
struct Message {
  enum class Kind { kRequest, kNotification, kResponse, kInvalid };
  Kind kind = Kind::kInvalid;
  nlohmann::json id;  // requests (and invalid messages whose id could be read); else null
  std::string method;
  nlohmann::json params;  // object, or null when absent
  // kInvalid: the error response to send (parse error, invalid request, batch).
  nlohmann::json error_response;
};

// Parses one message (one stdio line, one HTTP body).
Message Parse(std::string_view text);

nlohmann::json MakeError(const nlohmann::json& id, int code, const std::string& message,
                         const nlohmann::json& data = nullptr);
nlohmann::json MakeResult(const nlohmann::json& id, nlohmann::json result);

struct ServerInfo {
  std::string name = "agency-ha-mcp";
  std::string title = "agency-ha Security Monitor";
  std::string version;
  std::string instructions;
};

class Dispatcher {
 public:
  Dispatcher(Tools& tools, ServerInfo info) : tools_(tools), info_(std::move(info)) {}
  // The response to send, or nullopt (notifications and responses get none).
  std::optional<nlohmann::json> Handle(const Message& m, Session& s);
  // Parse + Handle.
  std::optional<nlohmann::json> HandleText(std::string_view text, Session& s);

 private:
  nlohmann::json Initialize(const Message& m, Session& s);
  nlohmann::json CallTool(const Message& m, const std::string& version);
  nlohmann::json ListTools(const std::string& version);
  // A 2026-07-28 request (per-request _meta), or nullopt when `m` is not one.
  std::optional<nlohmann::json> HandleStateless(const Message& m);
  nlohmann::json ServerInfoJson(const std::string& version) const;
  Tools& tools_;
  ServerInfo info_;
};

}  // namespace aha::mcp
