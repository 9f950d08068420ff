#include <curl/curl.h>

#include "common/url.h"
#include "mcp/controller_status.h"

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
  curl_global_init(CURL_GLOBAL_DEFAULT);  // reference counted
}

Result<LiveStatus> ControllerClient::Fetch(const Clock& clock) const {
  if (base_.empty()) return Err("no controller URL configured (mcp.controllerUrl)");
  CURL* e = curl_easy_init();
  if (!e) return Err("curl_easy_init failed");
  std::string body;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(e, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "agency-ha/" AHA_VERSION " (mcp)");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(e);
  long code = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(e);
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
