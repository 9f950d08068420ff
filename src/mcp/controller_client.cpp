#include <curl/curl.h>

#include <chrono>

#include "common/url.h"
#include "mcp/controller_status.h"
#include "net/curl.h"

namespace aha::mcp {

namespace {

constexpr size_t kMaxBody = 4 << 20;

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * nmemb;
  if (body->size() + n > kMaxBody) return 0;  // aborts the transfer
  body->append(data, n);
  return n;
}

}  // namespace

ControllerClient::ControllerClient(std::string base_url, double timeout_seconds)
    : base_(std::move(base_url)), timeout_ms_(static_cast<long>(timeout_seconds * 1000)) {
  while (!base_.empty() && base_.back() == '/')
    base_.pop_back();
  if (!base_.empty()) url_ = base_ + "/v1/status";
  net::CurlGlobalInit();
}

Result<LiveStatus> ControllerClient::Fetch(const Clock& clock) const {
  if (base_.empty()) return Err("no controller URL configured (mcp.controllerUrl)");
  net::EasyHandle e = net::NewEasy();
  if (!e) return Err("curl_easy_init failed");
  std::string body;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(e.get(), CURLOPT_URL, url_.c_str());
  net::EasyOptions opts;  // the controller is local or in-cluster: never through a proxy
  opts.user_agent = "agency-ha/" AHA_VERSION " (mcp)";
  opts.timeout = opts.connect_timeout = std::chrono::milliseconds(timeout_ms_);
  opts.no_proxy = true;
  net::ApplyOptions(e.get(), opts);
  curl_easy_setopt(e.get(), CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e.get(), CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(e.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(e.get(), CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(e.get());
  long code = 0;
  curl_easy_getinfo(e.get(), CURLINFO_RESPONSE_CODE, &code);
  e.reset();
  const std::string shown = RedactUrl(url_);
  if (rc != CURLE_OK) {
    if (rc == CURLE_WRITE_ERROR) return Err(shown + ": answer larger than 4 MiB");
    return Err(shown + ": " + RedactUrl(errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  if (code != 200) return Err(shown + ": HTTP " + std::to_string(code));
  auto st = ParseControllerStatus(body);
  if (!st) return Err(shown + ": " + st.message());
  st->url = url_;
  st->fetched_at = clock.wall();
  return st;
}

}  // namespace aha::mcp
