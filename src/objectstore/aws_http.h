// Small HTTP client (libcurl) for the AWS credential endpoints: STS, the container credentials
// endpoint (EKS Pod Identity / ECS) and IMDSv2. Not for S3 traffic (s3_store.cpp has its own
// streaming machinery).
//
// Requests to link-local metadata endpoints must not go through a proxy (`no_proxy`); STS
// honours the usual proxy environment. Header values are never logged or put into errors: they
// carry tokens.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/rfc3339.h"

namespace aha::objectstore::aws {

// Credential responses are a few KiB: a body past this cap (or a Content-Length declaring more)
// fails the call naming the URL and the cap, and so do headers past kMaxHeaderBytes. Each call
// is bounded in time by HttpRequest::timeout (absolute, whatever the transfer speed).
inline constexpr size_t kMaxResponseBytes = 1u << 20;
inline constexpr size_t kMaxHeaderBytes = 64u << 10;

struct HttpRequest {
  std::string method = "GET";  // GET, PUT, POST
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds timeout{5000};  // whole request
  bool no_proxy = false;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

// Transport failures (connection refused, timeout, DNS) are errors whose code is 0 and whose
// message names the URL (never a header). An HTTP status of any value is a response.
Result<HttpResponse> HttpCall(const HttpRequest& req);

// application/x-www-form-urlencoded body from name/value pairs (RFC 3986 unreserved kept).
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

// ISO 8601 / RFC 3339 timestamps as AWS returns them: "2026-11-27T19:50:27Z", with optional
// fraction and a "Z" or "+hh:mm"/"-hh:mm" offset. False on anything else, including years past
// 2261 (the one parser, common/rfc3339.h, has the rules).
inline bool ParseIso8601(const std::string& s, WallTime* out) {
  return ParseRfc3339(s, out, TimeZones::kAnyOffset);
}

}  // namespace aha::objectstore::aws
