#include "net/curl.h"

#include <mutex>

namespace aha::net {

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

EasyHandle NewEasy() {
  CurlGlobalInit();
  return EasyHandle(curl_easy_init());
}

void AppendHeader(HeaderList& list, const std::string& line) {
  curl_slist* next = curl_slist_append(list.get(), line.c_str());
  if (next != nullptr) {
    (void)list.release();
    list.reset(next);
  }
}

namespace {

void SetBlob(CURL* h, CURLoption opt, const std::string& pem) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(h, opt, &blob);
}

void ApplyTls(CURL* h, const Tls& tls) {
  if (!tls.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, tls.cert_file.c_str());
  if (!tls.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, tls.key_file.c_str());
  if (!tls.ca_pem.empty()) SetBlob(h, CURLOPT_CAINFO_BLOB, tls.ca_pem);
  if (!tls.cert_pem.empty()) {
    SetBlob(h, CURLOPT_SSLCERT_BLOB, tls.cert_pem);
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!tls.key_pem.empty()) {
    SetBlob(h, CURLOPT_SSLKEY_BLOB, tls.key_pem);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (tls.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

}  // namespace

void ApplyOptions(CURL* h, const EasyOptions& o) {
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  const std::string ua = o.user_agent.empty() ? "agency-ha/" AHA_VERSION : o.user_agent;
  curl_easy_setopt(h, CURLOPT_USERAGENT, ua.c_str());  // libcurl copies option strings
  if (o.connect_timeout.count() > 0) {
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  }
  if (o.timeout.count() > 0) {
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout.count()));
  }
  if (o.no_proxy) curl_easy_setopt(h, CURLOPT_PROXY, "");
  ApplyTls(h, o.tls);
}

bool ParseHeaderLine(std::string_view line, std::string* name, std::string* value) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  name->assign(line.substr(0, colon));
  for (auto& c : *name)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view v = line.substr(colon + 1);
  const size_t b = v.find_first_not_of(" \t\r\n");
  const size_t e = v.find_last_not_of(" \t\r\n");
  value->assign(b == std::string_view::npos ? std::string_view() : v.substr(b, e - b + 1));
  return true;
}

bool RetryableStatus(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

bool RetryableTransport(CURLcode c) {
  return c == CURLE_COULDNT_CONNECT || c == CURLE_OPERATION_TIMEDOUT || c == CURLE_GOT_NOTHING ||
         c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR || c == CURLE_COULDNT_RESOLVE_HOST ||
         c == CURLE_PARTIAL_FILE || c == CURLE_SSL_CONNECT_ERROR;
}

}  // namespace aha::net
