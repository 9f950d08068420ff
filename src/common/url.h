// Minimal absolute-URL parser for the endpoints and remotes users put in config files.
// It validates rather than normalises: anything surprising is rejected with a reason so that a
// typo in a region endpoint is a load-time error, not a region that is silently never healthy.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace aha {

struct Url {
  std::string scheme;  // lowercase: "http", "https", "s3", "file"
  std::string host;    // without IPv6 brackets
  int port = 0;        // explicit port or the scheme default (80/443), 0 when none applies
  bool explicit_port = false;
  std::string path;  // starts with "/" (or empty); includes the query string
  bool ipv6_literal = false;

  std::string host_for_url() const { return ipv6_literal ? "[" + host + "]" : host; }
};

Result<Url> ParseUrl(const std::string& text);

// `text` fit for an error message or a log line: userinfo ("user:password@") in the authority
// becomes "***@", and control bytes are escaped (common/printable.h). Every message that quotes a
// URL given by a user uses it: ParseUrl refuses credentials so that they never reach a log, and
// the refusal itself must not print them.
std::string RedactUrl(std::string_view text);

// host:port listen address ("127.0.0.1:9090", "[::1]:9090", ":9090" means all interfaces).
struct HostPort {
  std::string host;
  int port = 0;
};
Result<HostPort> ParseHostPort(const std::string& text);

}  // namespace aha
