// Prober: one libcurl multi handle drives every probe of a round; see prober.h for the contract.
//
// A round (ProbeAll) works against a single deadline = start + timeout:
// - IP-literal targets are probed immediately; host names are resolved on helper threads, all at
//   once, and each target's probes start as soon as its own name is resolved, so a slow name
//   delays only its own region. Resolver threads wake curl_multi_poll() with curl_multi_wakeup().
// - Every address gets its own easy handle with CURLOPT_RESOLVE pinning host:port to it. Each
//   handle has a private DNS cache (a CURLSH sharing only DNS) because CURLOPT_RESOLVE entries
//   otherwise land in the multi handle's shared cache (and stay there for good), where probes of
//   the same host:port to different addresses could overwrite each other's pin.
// - CURLOPT_TIMEOUT_MS is the time left to the deadline when the probe starts.
// - Connections are never reused (FRESH_CONNECT, FORBID_REUSE, "Connection: close") and no
//   proxy is used, whatever the environment says: the probe must talk to the address itself.
#include "probe/prober.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "common/url.h"
#include "net/curl.h"
#include "replication/position.h"

#ifndef AHA_VERSION
#define AHA_VERSION "dev"
#endif

namespace aha::probe {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A health body is read (and discarded) up to this size; a 2xx response with a larger body is
// healthy, and the rest of it is not downloaded.
constexpr size_t kMaxBodyBytes = 64 * 1024;
// How long the loop waits past the deadline for stragglers (a resolver or libcurl reporting its
// own timeout a little late) before it gives up on them. Normally unused.
constexpr milliseconds kGrace{250};

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

double MillisBetween(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

bool Is2xx(long code) {
  return code >= 200 && code < 300;
}

// One easy handle: one address of one target.
struct Probe {
  size_t target = 0;
  std::string address;
  CURLM* multi = nullptr;  // set while the handle is added to the multi handle
  CURL* easy = nullptr;
  CURLSH* share = nullptr;
  curl_slist* resolve = nullptr;
  double start_offset_ms = 0.0;  // when the probe started, relative to the round's start
  size_t body_bytes = 0;
  bool stopped_early = false;  // we ended the transfer on purpose (non-2xx status, body cap)
  bool finished = false;
  std::string data;  // X-Agency-Data of the final response
  char errbuf[CURL_ERROR_SIZE] = {};
  EndpointResult result;

  Probe() = default;
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;
  ~Probe() {
    if (multi != nullptr) curl_multi_remove_handle(multi, easy);
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (share != nullptr) curl_share_cleanup(share);
    curl_slist_free_all(resolve);
  }
};

size_t OnBody(char* /*data*/, size_t size, size_t nmemb, void* user) {
  auto* p = static_cast<Probe*>(user);
  p->body_bytes += size * nmemb;
  if (p->body_bytes > kMaxBodyBytes) {
    p->stopped_early = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  return size * nmemb;
}

// Ends the transfer as soon as a final non-2xx status is known: the verdict cannot change and
// the status is a better reason than a timeout while the error body trickles in.
size_t OnHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* p = static_cast<Probe*>(user);
  size_t n = size * nmemb;
  if (net::IsStatusLine(std::string_view(data, n))) p->data.clear();  // a new response
  std::string name, value;
  if (n < 640 && net::ParseHeaderLine(std::string_view(data, n), &name, &value) &&
      name == "x-agency-data" && value.size() <= 512) {
    p->data = std::move(value);
  }
  bool end_of_headers =
      (n == 2 && data[0] == '\r' && data[1] == '\n') || (n == 1 && data[0] == '\n');
  if (end_of_headers) {
    long code = 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && !Is2xx(code)) {
      p->stopped_early = true;
      return 0;
    }
  }
  return n;
}

std::string TimeoutText(long long timeout_ms) {
  return "timeout after " + std::to_string(timeout_ms) + " ms";
}

// Short human text for a failed transfer.
// `tls_established`: a TLS handshake completed before the failure.
std::string DescribeFailure(CURLcode rc, long os_errno, const char* errbuf, bool tls_established,
                            long long timeout_ms) {
  std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' '))
    detail.pop_back();
  auto mentions_tls = [&] {
    return detail.find("SSL") != std::string::npos || detail.find("TLS") != std::string::npos;
  };
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return TimeoutText(timeout_ms);
    case CURLE_COULDNT_CONNECT:
      switch (os_errno) {
        case ECONNREFUSED:
          return "connection refused";
        case ENETUNREACH:
          return "network unreachable";
        case EHOSTUNREACH:
          return "host unreachable";
        default:
          return "connect failed: " + detail;
      }
    case CURLE_COULDNT_RESOLVE_HOST:
      return "resolve failed: " + detail;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
      return "TLS: " + detail;
    case CURLE_GOT_NOTHING:
      return "empty reply from server";
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      // With TLS 1.3 a server that rejects the client certificate says so only after the client
      // considers the handshake done: the alert surfaces as a receive error, or, when the server
      // has already closed the connection, as a send error (EPIPE) that never shows the alert.
      if (mentions_tls()) return "TLS: " + detail;
      if (os_errno == EPIPE || os_errno == ECONNRESET) {
        if (tls_established) {
          return "TLS: connection closed by server after handshake (client certificate "
                 "rejected?)";
        }
        return os_errno == EPIPE ? "connection closed by server" : "connection reset";
      }
      return detail;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "invalid HTTP response: " + detail;
    default:
      return detail;
  }
}

struct TargetState {
  std::optional<Url> url;
  std::string error;  // parse or resolve error; the region is down with this detail
  bool resolved = false;
  double resolve_ms = 0.0;
  std::vector<Probe*> probes;  // in address order
};

// Lookup of one distinct host name, filled in by a resolver thread.
struct HostLookup {
  std::string host;
  std::vector<size_t> targets;
  std::optional<Result<std::vector<std::string>>> result;
  bool handled = false;
};

// The state of one ProbeAll round, shared by its steps (the Prober::Impl members below).
struct Round {
  SteadyClock::time_point start, deadline;
  std::vector<TargetState> states;  // one per target
  std::vector<std::unique_ptr<Probe>> probes;
  std::vector<HostLookup> hosts;
  size_t active = 0;         // probes started and not finished
  size_t hosts_pending = 0;  // lookups not handled yet
  std::mutex mu;             // guards hosts[i].result, written by the resolver threads
};

RegionResult Summarize(const Target& target, const TargetState& st) {
  RegionResult r;
  int need = std::max(1, target.min_healthy);
  if (!st.error.empty()) {
    r.detail = st.error;
    r.latency_ms = st.resolve_ms;
    return r;
  }
  for (const Probe* p : st.probes) {
    r.endpoints.push_back(p->result);
  }
  r.total = static_cast<int>(r.endpoints.size());
  double fastest_ok = -1.0;
  double slowest = 0.0;
  for (const EndpointResult& e : r.endpoints) {
    if (e.ok) {
      ++r.healthy;
      if (fastest_ok < 0 || e.latency_ms < fastest_ok) fastest_ok = e.latency_ms;
    }
    slowest = std::max(slowest, e.latency_ms);
  }
  r.ok = r.healthy >= need;
  bool all_caught_up = true;
  for (const EndpointResult& e : r.endpoints) {
    if (!e.ok || e.data.empty()) continue;
    r.data_reported = true;
    all_caught_up = all_caught_up && replication::ParseDataHeader(e.data).caught_up;
  }
  r.data_caught_up = r.data_reported && all_caught_up;
  r.latency_ms = r.ok ? fastest_ok : slowest;
  if (r.total == 1 && need == 1) {
    const EndpointResult& e = r.endpoints.front();
    r.detail = e.ok ? "HTTP " + std::to_string(e.http_status) : e.error;
  } else {
    r.detail = std::to_string(r.healthy) + "/" + std::to_string(r.total) + " endpoints healthy";
    if (!r.ok) r.detail += " (need " + std::to_string(need) + ")";
  }
  return r;
}

}  // namespace

struct Prober::Impl {
  Options opts;
  std::shared_ptr<Resolver> resolver;
  CURLM* multi = nullptr;
  curl_slist* headers = nullptr;
  std::string user_agent = "agency-ha-probe/" AHA_VERSION;

  ~Impl() {
    if (multi != nullptr) curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
  }

  long long TimeoutMs() const {
    return std::max(1LL, static_cast<long long>(std::llround(opts.timeout_seconds * 1000.0)));
  }

  // Creates and adds the easy handle for one address; on failure the probe is finished at once.
  void Start(Probe* p, const Url& url, SteadyClock::time_point start,
             SteadyClock::time_point deadline) {
    SteadyClock::time_point now = SteadyClock::now();
    p->start_offset_ms = MillisBetween(start, now);
    p->result.address = p->address;
    auto fail = [&](std::string error) {
      p->finished = true;
      p->result.error = std::move(error);
      p->result.latency_ms = p->start_offset_ms;
    };
    long long left_ms = std::chrono::duration_cast<milliseconds>(deadline - now).count();
    if (left_ms < 1) return fail(TimeoutText(TimeoutMs()));

    p->easy = curl_easy_init();
    p->share = curl_share_init();
    if (p->easy == nullptr || p->share == nullptr) return fail("internal error: out of memory");
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);

    std::string request_url = url.scheme + "://" + url.host_for_url();
    if (url.explicit_port) request_url += ":" + std::to_string(url.port);
    request_url += url.path;
    if (!url.ipv6_literal && !IsIpLiteral(url.host)) {
      bool v6 = p->address.find(':') != std::string::npos;
      std::string pin = url.host + ":" + std::to_string(url.port) + ":" +
                        (v6 ? "[" + p->address + "]" : p->address);
      p->resolve = curl_slist_append(nullptr, pin.c_str());
      if (p->resolve == nullptr) return fail("internal error: out of memory");
    }

    CURL* e = p->easy;
    curl_easy_setopt(e, CURLOPT_URL, request_url.c_str());
    curl_easy_setopt(e, CURLOPT_SHARE, p->share);
    if (p->resolve != nullptr) curl_easy_setopt(e, CURLOPT_RESOLVE, p->resolve);
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
    net::EasyOptions o;  // the probe must talk to the address itself: no proxy
    o.user_agent = user_agent;
    o.timeout = o.connect_timeout = milliseconds(left_ms);
    o.no_proxy = true;
    o.tls = opts.tls;
    net::ApplyOptions(e, o);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
    if (curl_multi_add_handle(multi, e) != CURLM_OK) {
      return fail("internal error: cannot add probe");
    }
    p->multi = multi;
  }

  void Finish(Probe* p, CURLcode rc) {
    p->finished = true;
    long code = 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
    long os_errno = 0;
    curl_easy_getinfo(p->easy, CURLINFO_OS_ERRNO, &os_errno);
    curl_off_t total_us = 0;
    curl_easy_getinfo(p->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    curl_off_t appconnect_us = 0;
    curl_easy_getinfo(p->easy, CURLINFO_APPCONNECT_TIME_T, &appconnect_us);
    curl_multi_remove_handle(multi, p->easy);
    p->multi = nullptr;

    EndpointResult& r = p->result;
    r.http_status = static_cast<int>(code);
    r.data = p->data;
    r.latency_ms = p->start_offset_ms + static_cast<double>(total_us) / 1000.0;
    if (rc == CURLE_WRITE_ERROR && p->stopped_early) rc = CURLE_OK;
    if (code >= 200 && !Is2xx(code)) {
      r.error = "HTTP " + std::to_string(code);
    } else if (rc != CURLE_OK) {
      r.error = DescribeFailure(rc, os_errno, p->errbuf, appconnect_us > 0, TimeoutMs());
    } else if (!Is2xx(code)) {
      r.error = "invalid HTTP response: status " + std::to_string(code);
    } else {
      r.ok = true;
    }
  }
  void StartProbes(Round& rd, size_t ti, const std::vector<std::string>& addresses) {
    for (const std::string& addr : addresses) {
      rd.probes.push_back(std::make_unique<Probe>());
      Probe* p = rd.probes.back().get();
      p->target = ti;
      p->address = addr;
      rd.states[ti].probes.push_back(p);
      Start(p, *rd.states[ti].url, rd.start, rd.deadline);
      if (!p->finished) ++rd.active;
    }
  }

  // Parses every target's URL: IP literals are probed at once, host names are collected in
  // rd.hosts (once per distinct name) for the resolvers.
  void PlanTargets(Round& rd, const std::vector<Target>& targets) {
    for (size_t i = 0; i < targets.size(); ++i) {
      TargetState& st = rd.states[i];
      Result<Url> url = ParseTargetUrl(targets[i].url);
      if (!url.ok()) {
        st.error = url.message();
        continue;
      }
      st.url = std::move(url).value();
      if (st.url->ipv6_literal || IsIpLiteral(st.url->host)) {
        st.resolved = true;
        StartProbes(rd, i, {st.url->host});
        continue;
      }
      auto it = std::find_if(rd.hosts.begin(), rd.hosts.end(),
                             [&](const HostLookup& h) { return h.host == st.url->host; });
      if (it == rd.hosts.end()) {
        rd.hosts.push_back(HostLookup{st.url->host, {}, std::nullopt, false});
        it = std::prev(rd.hosts.end());
      }
      it->targets.push_back(i);
    }
  }

  // One thread per host name: each writes into `hosts[i].result` under `rd.mu`, then wakes the
  // poll loop. The caller keeps the threads in a variable declared after `rd`, so they are
  // joined before what they touch goes away.
  std::vector<std::jthread> StartResolvers(Round& rd) {
    std::vector<std::jthread> resolvers;
    resolvers.reserve(rd.hosts.size());
    for (HostLookup& h : rd.hosts) {
      auto left = std::chrono::duration_cast<milliseconds>(rd.deadline - SteadyClock::now());
      try {
        resolvers.emplace_back([&mu = rd.mu, &h, multi = multi, left, resolver = resolver] {
          Result<std::vector<std::string>> r = resolver->Resolve(h.host, left);
          {
            std::lock_guard lock(mu);
            h.result.emplace(std::move(r));
          }
          curl_multi_wakeup(multi);
        });
      } catch (const std::system_error&) {
        std::lock_guard lock(rd.mu);
        h.result.emplace(Err("cannot start a resolver thread"));
      }
    }
    rd.hosts_pending = rd.hosts.size();
    return resolvers;
  }

  // Starts the probes of every target whose name has been resolved since the last call.
  void TakeResolved(Round& rd) {
    if (rd.hosts_pending == 0) return;
    std::lock_guard lock(rd.mu);
    for (HostLookup& h : rd.hosts) {
      if (h.handled || !h.result.has_value()) continue;
      h.handled = true;
      --rd.hosts_pending;
      double ms = MillisBetween(rd.start, SteadyClock::now());
      for (size_t ti : h.targets) {
        TargetState& st = rd.states[ti];
        st.resolved = true;
        st.resolve_ms = ms;
        if (!h.result->ok()) {
          st.error = "resolve failed: " + h.result->message();
        } else if (h.result->value().empty()) {
          st.error = "resolve failed: no addresses";
        } else {
          StartProbes(rd, ti, h.result->value());
        }
      }
    }
  }

  // Drives the transfers and finishes every probe libcurl reports done.
  void TakeFinished(Round& rd) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Probe* p = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
      CURLcode rc = msg->data.result;  // `msg` is invalid once the handle is removed
      if (p == nullptr || p->finished) continue;
      Finish(p, rc);
      --rd.active;
    }
  }

  // Waits for the next event; false when the round is over (all done, or past the grace).
  bool WaitForMore(const Round& rd) {
    if (rd.hosts_pending == 0 && rd.active == 0) return false;
    SteadyClock::time_point now = SteadyClock::now();
    if (now >= rd.deadline + kGrace) return false;
    auto wait = std::chrono::duration_cast<milliseconds>(rd.deadline + kGrace - now).count() + 1;
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(std::min<long long>(wait, 1000)), nullptr);
    return true;
  }

  // Stragglers past the grace period (should not happen: libcurl and the resolver both honour
  // the deadline) are reported as timeouts.
  void TimeOutStragglers(Round& rd) {
    for (auto& p : rd.probes) {
      if (p->finished) continue;
      p->finished = true;
      p->result.error = TimeoutText(TimeoutMs());
      p->result.latency_ms = MillisBetween(rd.start, SteadyClock::now());
    }
    for (TargetState& st : rd.states) {
      if (st.error.empty() && !st.resolved) {
        st.error = "resolve failed: timed out after " + std::to_string(TimeoutMs()) + " ms";
        st.resolve_ms = MillisBetween(rd.start, SteadyClock::now());
      }
    }
  }
};

Prober::Prober(Options opts, std::shared_ptr<Resolver> resolver) : impl_(std::make_unique<Impl>()) {
  net::CurlGlobalInit();
  impl_->opts = std::move(opts);
  impl_->resolver = resolver ? std::move(resolver) : SystemResolver();
  impl_->multi = curl_multi_init();
  impl_->headers = curl_slist_append(nullptr, "Connection: close");
}

Prober::~Prober() = default;

Result<Url> ParseTargetUrl(const std::string& text) {
  Result<Url> url = ParseUrl(text);
  if (!url.ok()) return Err("invalid URL: " + url.message());
  if (url->scheme != "http" && url->scheme != "https") {
    return Err("invalid URL: scheme must be http or https");
  }
  return url;
}

std::map<std::string, RegionResult> Prober::ProbeAll(const std::vector<Target>& targets) {
  Impl& im = *impl_;
  std::map<std::string, RegionResult> out;
  if (targets.empty()) return out;
  Round rd;
  rd.start = SteadyClock::now();
  rd.deadline = rd.start + milliseconds(im.TimeoutMs());
  if (im.multi == nullptr || im.headers == nullptr) {
    for (const Target& t : targets) {
      out[t.region].detail = "internal error: libcurl unavailable";
    }
    return out;
  }
  rd.states.resize(targets.size());
  im.PlanTargets(rd, targets);
  // Declared after `rd`: joined first on every path.
  std::vector<std::jthread> resolvers = im.StartResolvers(rd);
  do {
    im.TakeResolved(rd);
    im.TakeFinished(rd);
  } while (im.WaitForMore(rd));
  im.TimeOutStragglers(rd);
  for (size_t i = 0; i < targets.size(); ++i) {
    out[targets[i].region] = Summarize(targets[i], rd.states[i]);
  }
  resolvers.clear();  // joins; every Resolve() returns within its timeout
  rd.probes.clear();  // removes and frees the easy handles while the multi handle is alive
  return out;
}

}  // namespace aha::probe
