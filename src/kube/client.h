// A Kubernetes API client over libcurl, for the verbs this project uses.
//
// Contract
// - Every call returns a Result; an API failure carries CodeFromHttp(status) in Error::code and
//   the status in Error::http_status (0 and kUnavailable for transport failures; kBadResponse
//   for a reply that is not the JSON asked for) and a message naming the verb, the resource and the
//   server's Status message. 403 messages spell out the RBAC rule that is missing; 401 says the
//   credentials were rejected. Tokens never appear in messages or logs.
// - HTTP/2 when the server offers it by ALPN (libcurl's default for https), else HTTP/1.1.
// - 429, 5xx and transport failures (connect, timeout, connection or HTTP/2 stream reset) are
//   retried with exponential backoff and full jitter, honouring Retry-After, up to
//   RetryPolicy::max_attempts. 409 Conflict is returned to the caller, who owns the
//   re-read-and-retry loop (only it knows how to re-apply its change).
// - A token file (service-account projected token) is re-read whenever its mtime changes, so
//   rotated tokens are picked up without a restart.
// - Watch() streams one event per line from a chunked response; it returns when the server ends
//   the stream, on error, when the callback returns false, or within ~1 s of `stop`. An expired
//   resourceVersion is reported as Code::kGone, http_status 410 (whether the server says so with a
//   410 response or with an ERROR event), so the caller relists.
// Thread-safe: calls from several threads are serialised per request handle.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "common/stopper.h"
#include "kube/kubeconfig.h"

struct curl_slist;  // libcurl's header list (kept out of this header)

namespace aha::kube {

struct Resource {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;
  std::string kind;
  // /api/v1/namespaces/ns/configmaps[/name] or /apis/group/version/namespaces/ns/leases[/name]
  std::string Path(const std::string& ns, const std::string& name = "") const;
};

inline const Resource kConfigMaps{"", "v1", "configmaps", "ConfigMap"};
inline const Resource kEvents{"", "v1", "events", "Event"};
inline const Resource kLeases{"coordination.k8s.io", "v1", "leases", "Lease"};
inline const Resource kPods{"", "v1", "pods", "Pod"};
inline const Resource kNetworkPolicies{"networking.k8s.io", "v1", "networkpolicies",
                                       "NetworkPolicy"};

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds base{200};
  std::chrono::milliseconds max{5000};
  std::chrono::milliseconds request_timeout{10000};
};

enum class PatchType { kMerge, kStrategicMerge, kJson };

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK
  nlohmann::json object;
};

struct WatchOptions {
  std::string field_selector;
  std::string resource_version;
  bool bookmarks = true;
  int timeout_seconds = 300;  // server-side end of the stream; the caller re-watches
};

using WatchCallback = std::function<bool(const WatchEvent&)>;

class Client {
 public:
  // Retry waits and Retry-After dates run on `clock` (tests pass a FakeClock).
  explicit Client(Connection conn, RetryPolicy retry = {},
                  const Clock& clock = SystemClock::instance());
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<nlohmann::json> Get(const Resource& r, const std::string& ns, const std::string& name);
  Result<nlohmann::json> List(const Resource& r, const std::string& ns,
                              const std::string& field_selector = "",
                              const std::string& label_selector = "");
  Result<nlohmann::json> Create(const Resource& r, const std::string& ns,
                                const nlohmann::json& obj);
  // Replaces the object; set metadata.resourceVersion in `obj` for optimistic concurrency.
  Result<nlohmann::json> Update(const Resource& r, const std::string& ns, const std::string& name,
                                const nlohmann::json& obj);
  Result<nlohmann::json> Patch(const Resource& r, const std::string& ns, const std::string& name,
                               PatchType type, const nlohmann::json& patch);
  Status Delete(const Resource& r, const std::string& ns, const std::string& name);
  Status Watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
               const WatchCallback& on_event, const Stopper* stop);

  const Connection& connection() const { return conn_; }
  const Clock& clock() const { return clock_; }
  // API requests sent (each retry counts), for tests and benchmarks.
  uint64_t requests() const { return requests_.load(); }

 private:
  struct Call;
  Result<nlohmann::json> Do(const std::string& verb, const Resource& r, const std::string& ns,
                            const std::string& name, const std::string& method,
                            const std::string& path, const std::string& content_type,
                            const std::string& body);
  std::string Token();
  void* NewHandle(const std::string& url);  // CURL*, configured for TLS and auth
  // Accept, optional Content-Type and the bearer token (re-read when rotated).
  ::curl_slist* RequestHeaders(const std::string& content_type);

  Connection conn_;
  RetryPolicy retry_;
  const Clock& clock_;
  std::atomic<uint64_t> requests_{0};
  std::mutex token_mu_;
  std::string cached_token_;
  long long token_mtime_ns_ = -1;
};

// "verb resource/name in namespace ns" for messages.
std::string Describe(const std::string& verb, const Resource& r, const std::string& ns,
                     const std::string& name);
// The RBAC rule a 403 is missing, as YAML flow text.
std::string RbacRule(const std::string& verb, const Resource& r, const std::string& name);

// metadata.resourceVersion of an object the API server sent ("" when absent). A wrong type is an
// error naming the field (API responses are outside input: common/json_get.h). Never throws.
Result<std::string> ResourceVersionOf(const nlohmann::json& obj);

}  // namespace aha::kube
