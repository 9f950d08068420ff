#include "objectstore/aws_http.h"

#include <curl/curl.h>

#include <cstdlib>
#include <string_view>

#include "net/curl.h"
#include "net/encode.h"

namespace aha::objectstore::aws {

namespace {

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
  const std::string_view line(p, len);
  if (net::IsStatusLine(line)) s->resp->headers.clear();  // a new response (redirect, 100)
  std::string name, value;
  if (net::ParseHeaderLine(line, &name, &value)) s->resp->headers[name] = std::move(value);
  return len;
}

}  // namespace

Result<HttpResponse> HttpCall(const HttpRequest& req) {
  net::EasyHandle curl = net::NewEasy();
  if (!curl) return Err(req.method + " " + req.url + ": curl_easy_init failed");
  CURL* h = curl.get();
  net::HeaderList hl;
  for (const auto& [n, v] : req.headers)
    net::AppendHeader(hl, n + ": " + v);
  net::AppendHeader(hl, "Expect:");
  HttpResponse resp;
  Sink sink{&resp};
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl.get());
  net::EasyOptions opts;  // redirects are never followed: credentials must not go elsewhere
  opts.connect_timeout = req.connect_timeout;
  opts.timeout = req.timeout;
  opts.no_proxy = req.no_proxy;
  net::ApplyOptions(h, opts);
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
  std::string out;
  for (const auto& [n, v] : fields) {
    if (!out.empty()) out += '&';
    out += net::PercentEncode(n) + "=" + net::PercentEncode(v);
  }
  return out;
}

}  // namespace aha::objectstore::aws
