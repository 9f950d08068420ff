// net/curl.h: header lines, retry classification, and the shared options against a loopback
// server (redirects not followed, the proxy environment ignored when asked).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "httpd/server.h"
#include "net/curl.h"

namespace aha::net {
namespace {

TEST(NetCurl, ParseHeaderLine) {
  std::string name, value;
  ASSERT_TRUE(ParseHeaderLine("Retry-After: 120\r\n", &name, &value));
  EXPECT_EQ(name, "retry-after");
  EXPECT_EQ(value, "120");
  ASSERT_TRUE(ParseHeaderLine("ETag:\t \"abc\" \t\r\n", &name, &value));
  EXPECT_EQ(name, "etag");
  EXPECT_EQ(value, "\"abc\"");
  ASSERT_TRUE(ParseHeaderLine("X-Empty:\r\n", &name, &value));
  EXPECT_EQ(name, "x-empty");
  EXPECT_EQ(value, "");
  ASSERT_TRUE(ParseHeaderLine("Location: http://h:1/p\n", &name, &value));
  EXPECT_EQ(value, "http://h:1/p") << "only the first colon splits";
  EXPECT_FALSE(ParseHeaderLine("HTTP/1.1 200 OK\r\n", &name, &value));
  EXPECT_FALSE(ParseHeaderLine("\r\n", &name, &value));
  EXPECT_TRUE(IsStatusLine("HTTP/1.1 100 Continue\r\n"));
  EXPECT_TRUE(IsStatusLine("HTTP/2 200\r\n"));
  EXPECT_FALSE(IsStatusLine("X-HTTP/1.1: x\r\n"));
}

TEST(NetCurl, RetryClassification) {
  for (long s : {429L, 500L, 502L, 503L, 504L})
    EXPECT_TRUE(RetryableStatus(s)) << s;
  for (long s : {200L, 301L, 400L, 401L, 403L, 404L, 409L, 412L, 501L, 505L})
    EXPECT_FALSE(RetryableStatus(s)) << s;
  EXPECT_TRUE(RetryableTransport(CURLE_COULDNT_CONNECT));
  EXPECT_TRUE(RetryableTransport(CURLE_OPERATION_TIMEDOUT));
  EXPECT_TRUE(RetryableTransport(CURLE_SSL_CONNECT_ERROR)) << "a handshake cut by a restart";
  EXPECT_FALSE(RetryableTransport(CURLE_PEER_FAILED_VERIFICATION)) << "a bad certificate stays bad";
  EXPECT_FALSE(RetryableTransport(CURLE_URL_MALFORMAT));
}

size_t Collect(char* p, size_t size, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, size * n);
  return size * n;
}

// GET url with ApplyOptions(o): status and body, or status 0 and the curl error in the body.
std::pair<long, std::string> Get(const std::string& url, const EasyOptions& o) {
  EasyHandle h = NewEasy();
  EXPECT_TRUE(h);
  std::string body;
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  ApplyOptions(h.get(), o);
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &body);
  const CURLcode rc = curl_easy_perform(h.get());
  if (rc != CURLE_OK) return {0, curl_easy_strerror(rc)};
  long status = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  return {status, body};
}

TEST(NetCurl, OptionsAgainstALoopbackServer) {
  httpd::HttpServer s;
  s.Get("/moved", [] {
    return httpd::Response{302, "text/plain", "moved\n", {{"Location", "/target"}}};
  });
  s.Get("/target", [] { return httpd::Response{200, "text/plain", "target\n"}; });
  ASSERT_TRUE(s.Start("127.0.0.1:0"));
  const std::string base = "http://127.0.0.1:" + std::to_string(s.port());
  EasyOptions o;
  o.timeout = o.connect_timeout = std::chrono::milliseconds(10000);
  o.no_proxy = true;
  auto r = Get(base + "/moved", o);
  EXPECT_EQ(r.first, 302) << r.second << ": redirects are never followed";
  EXPECT_EQ(r.second, "moved\n");

  // A proxy in the environment that does not exist: ignored with no_proxy, used without it.
  ::unsetenv("no_proxy");
  ::unsetenv("NO_PROXY");
  ::setenv("http_proxy", "http://127.0.0.1:1", 1);
  r = Get(base + "/target", o);
  EXPECT_EQ(r.first, 200) << r.second;
  EXPECT_EQ(r.second, "target\n");
  o.no_proxy = false;
  r = Get(base + "/target", o);
  EXPECT_EQ(r.first, 0) << "the environment's proxy was not used: " << r.second;
  ::unsetenv("http_proxy");

  EXPECT_EQ(Get("file:///etc/hostname", o).first, 0) << "only http and https";
  s.Stop();
}

}  // namespace
}  // namespace aha::net
