#include "objectstore/aws_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>

namespace aha::objectstore::aws {

namespace {

std::once_flag g_curl_init;

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

struct Sink {
  HttpResponse* resp;
  bool too_big = false;
  bool headers_too_big = false;
  size_t header_bytes = 0;
};

size_t WriteBody(char* p, size_t size, size_t n, void* ud) {
  auto* s = static_cast<Sink*>(ud);
  const size_t len = size * n;
  if (s->resp->body.empty()) {  // a declared length past the cap fails before any byte is kept
    auto it = s->resp->headers.find("content-length");
    if (it != s->resp->headers.end() &&
        std::strtoull(it->second.c_str(), nullptr, 10) > kMaxResponseBytes) {
      s->too_big = true;
      return 0;
    }
  }
  if (s->resp->body.size() + len > kMaxResponseBytes) {
    s->too_big = true;
    return 0;  // aborts the transfer
  }
  s->resp->body.append(p, len);
  return len;
}

size_t WriteHeader(char* p, size_t size, size_t n, void* ud) {
  auto* s = static_cast<Sink*>(ud);
  const size_t len = size * n;
  s->header_bytes += len;
  if (s->header_bytes > kMaxHeaderBytes) {
    s->headers_too_big = true;
    return 0;
  }
  std::string line(p, len);
  if (line.rfind("HTTP/", 0) == 0) s->resp->headers.clear();  // a new response (redirect, 100)
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    size_t b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t\r\n");
    s->resp->headers[name] = b == std::string::npos ? "" : value.substr(b, e - b + 1);
  }
  return len;
}

bool Unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

}  // namespace

Result<HttpResponse> HttpCall(const HttpRequest& req) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Err(req.method + " " + req.url + ": curl_easy_init failed");
  CURL* h = curl.get();
  std::unique_ptr<curl_slist, SlistDeleter> hl;
  for (const auto& [n, v] : req.headers)
    hl.reset(curl_slist_append(hl.release(), (n + ": " + v).c_str()));
  hl.reset(curl_slist_append(hl.release(), "Expect:"));
  HttpResponse resp;
  Sink sink{&resp};
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl.get());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // credentials never follow redirects
  curl_easy_setopt(h, CURLOPT_USERAGENT, "agency-ha/" AHA_VERSION);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  if (req.no_proxy) curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  if (req.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
  CURLcode rc = curl_easy_perform(h);
  if (sink.too_big) {
    return Err(req.method + " " + req.url + ": response larger than " +
               std::to_string(kMaxResponseBytes) + " bytes (the limit for credential responses)");
  }
  if (sink.headers_too_big) {
    return Err(req.method + " " + req.url + ": response headers larger than " +
               std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (rc != CURLE_OK) return Err(req.method + " " + req.url + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  auto enc = [&](const std::string& s) {
    for (unsigned char c : s) {
      if (Unreserved(c)) {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
  };
  for (const auto& [n, v] : fields) {
    if (!out.empty()) out += '&';
    enc(n);
    out += '=';
    enc(v);
  }
  return out;
}

bool ParseIso8601(const std::string& s, WallTime* out) {
  int y = 0, mo = 0, d = 0, hh = 0, mm = 0, ss = 0, consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &hh, &mm, &ss, &consumed) !=
          6 ||
      consumed != 19) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return false;
  size_t i = 19;
  long long ms = 0;
  if (i < s.size() && s[i] == '.') {
    int digits = 0;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits) {
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
    }
    if (digits == 0) return false;
    for (int k = digits; k < 3; ++k)
      ms *= 10;
  }
  long long offset_s = 0;
  const std::string zone = s.substr(i);
  if (zone == "Z" || zone == "z") {
    offset_s = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' &&
             std::isdigit(static_cast<unsigned char>(zone[1])) &&
             std::isdigit(static_cast<unsigned char>(zone[2])) &&
             std::isdigit(static_cast<unsigned char>(zone[4])) &&
             std::isdigit(static_cast<unsigned char>(zone[5]))) {
    const int oh = (zone[1] - '0') * 10 + (zone[2] - '0');
    const int om = (zone[4] - '0') * 10 + (zone[5] - '0');
    if (oh > 23 || om > 59) return false;
    offset_s = (oh * 3600LL + om * 60LL) * (zone[0] == '-' ? -1 : 1);
  } else {
    return false;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  const std::time_t secs = timegm(&tm);
  if (secs == static_cast<std::time_t>(-1)) return false;
  *out = WallTime{} + std::chrono::seconds(static_cast<long long>(secs) - offset_s) +
         std::chrono::milliseconds(ms);
  return true;
}

}  // namespace aha::objectstore::aws
