// The one place libcurl is set up: the process-wide global init, owning handle types (one
// deleter each), the options every client in the binary sets the same way, and the response
// header line parser. Clients keep what is theirs (callbacks, deadlines, retries, multi handles).
//
// Why one place: libcurl's curl_global_init is not thread-safe and must run before the first
// handle; seven call sites each doing it (some under std::call_once, some not) raced when two
// roles started clients on different threads. TLS and proxy options were copied between the
// prober and the quorum poller; a fix in one (say, a CA bundle) must reach both.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "net/tls.h"

namespace aha::net {

// curl_global_init(CURL_GLOBAL_DEFAULT) exactly once per process (std::call_once), thread-safe.
// NewEasy() calls it; code that creates multi or share handles directly calls it first.
void CurlGlobalInit();

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

// A new easy handle after CurlGlobalInit(); null only when libcurl is out of memory.
EasyHandle NewEasy();

// Appends one header line ("Name: value") to `list`. The list stays valid (and owned) when
// libcurl cannot allocate: the line is then dropped.
void AppendHeader(HeaderList& list, const std::string& line);

// What a client sets the same way on every easy handle.
struct EasyOptions {
  std::string user_agent;                        // empty: "agency-ha/<version>"
  std::chrono::milliseconds connect_timeout{0};  // 0: libcurl's default
  std::chrono::milliseconds timeout{0};          // the whole transfer; 0: not set here
  bool no_proxy = false;  // ignore http_proxy & co. (probes, peers, link-local metadata)
  Tls tls;
};

// Sets on `h`: no signals (clients run on threads), http and https only, redirects never
// followed (credentials must not follow a Location, and a probe judges the first answer), the
// user agent, the timeouts, the proxy rule and the TLS material of `o`.
void ApplyOptions(CURL* h, const EasyOptions& o);

// One response header line as libcurl hands it to CURLOPT_HEADERFUNCTION ("Name: value\r\n"):
// the name lowercased, the value without surrounding spaces, tabs, CR and LF. False for lines
// without a colon (the status line, the blank end of the headers).
bool ParseHeaderLine(std::string_view line, std::string* name, std::string* value);

// True for a status line ("HTTP/1.1 200 OK"): a new response begins (after 100 Continue or a
// redirect), so headers collected so far belong to an earlier one.
inline bool IsStatusLine(std::string_view line) {
  return line.starts_with("HTTP/");
}

// HTTP statuses worth another attempt: 429 and the 5xx a proxy or an overloaded server sends
// (500, 502, 503, 504). Shared by the S3 store and the Kubernetes client.
bool RetryableStatus(long status);

// Transport failures worth another attempt on any HTTP/1.1 client: refused or timed-out
// connects, resets, empty or cut replies, failed name resolution, a TLS handshake cut short
// (CURLE_SSL_CONNECT_ERROR: a server restarting under the client; a certificate that fails
// verification is CURLE_PEER_FAILED_VERIFICATION and is never retried). Clients add their own
// (HTTP/2 stream resets) where they know them to be transient.
bool RetryableTransport(CURLcode c);

}  // namespace aha::net
