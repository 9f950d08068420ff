#include "common/url.h"

#include <algorithm>
#include <cctype>

#include "common/printable.h"

namespace aha {
namespace {

bool ParsePort(const std::string& s, int* out) {
  if (s.empty() || s.size() > 5) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > 65535) return false;
  *out = v;
  return true;
}

bool ValidHost(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  return std::all_of(h.begin(), h.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

bool ValidIpv6(const std::string& h) {
  if (h.empty()) return false;
  return std::all_of(h.begin(), h.end(),
                     [](unsigned char c) { return std::isxdigit(c) || c == ':' || c == '.'; });
}

// Splits "host[:port]" / "[v6][:port]".
Status SplitHostPort(const std::string& hp, std::string* host, std::string* port, bool* v6) {
  *v6 = false;
  port->clear();
  if (!hp.empty() && hp[0] == '[') {
    size_t close = hp.find(']');
    if (close == std::string::npos) return Err("unterminated IPv6 literal");
    *host = hp.substr(1, close - 1);
    *v6 = true;
    std::string rest = hp.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return Err("unexpected characters after IPv6 literal");
      *port = rest.substr(1);
      if (port->empty()) return Err("empty port");
    }
    if (!ValidIpv6(*host)) return Err("invalid IPv6 literal");
    return Status::Ok();
  }
  size_t colon = hp.rfind(':');
  if (colon != std::string::npos) {
    *host = hp.substr(0, colon);
    *port = hp.substr(colon + 1);
    if (port->empty()) return Err("empty port");
  } else {
    *host = hp;
  }
  return Status::Ok();
}

}  // namespace

Result<Url> ParseUrl(const std::string& text) {
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f) return Err("URL contains whitespace or control characters");
  }
  size_t sep = text.find("://");
  if (sep == std::string::npos || sep == 0) return Err("not an absolute URL (want scheme://host)");
  Url u;
  u.scheme = text.substr(0, sep);
  std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!std::all_of(u.scheme.begin(), u.scheme.end(),
                   [](unsigned char c) { return std::isalnum(c) || c == '+' || c == '-'; })) {
    return Err("invalid URL scheme");
  }
  std::string rest = text.substr(sep + 3);
  size_t slash = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "" : rest.substr(slash);
  if (u.path.find('#') != std::string::npos) return Err("URL fragments are not allowed");
  if (!u.path.empty() && u.path[0] == '?') u.path.insert(0, "/");
  if (u.scheme == "file") {
    if (!authority.empty() && authority != "localhost") {
      return Err("file URLs must have an empty host (file:///path)");
    }
    if (u.path.empty() || u.path == "/") return Err("file URL needs a path");
    return u;
  }
  if (authority.find('@') != std::string::npos) {
    return Err("credentials in URLs are not allowed (they would end up in logs)");
  }
  std::string port;
  if (Status s = SplitHostPort(authority, &u.host, &port, &u.ipv6_literal); !s) return s.error();
  if (!u.ipv6_literal && !ValidHost(u.host)) return Err("invalid host");
  if (!port.empty()) {
    if (!ParsePort(port, &u.port) || u.port == 0) return Err("invalid port");
    u.explicit_port = true;
  } else if (u.scheme == "http") {
    u.port = 80;
  } else if (u.scheme == "https") {
    u.port = 443;
  }
  if (u.path.empty()) u.path = "/";
  return u;
}

std::string RedactUrl(std::string_view text) {
  std::string out(text);
  const size_t sep = out.find("://");
  const size_t start = sep == std::string::npos ? 0 : sep + 3;
  const size_t end = std::min(out.find_first_of("/?#", start), out.size());
  const size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
  if (at != std::string::npos && at >= start && at < end) out.replace(start, at - start, "***");
  return Printable(out);
}

Result<HostPort> ParseHostPort(const std::string& text) {
  HostPort hp;
  std::string port;
  bool v6 = false;
  if (Status s = SplitHostPort(text, &hp.host, &port, &v6); !s) return s.error();
  if (port.empty()) return Err("missing port (want host:port)");
  if (!ParsePort(port, &hp.port)) return Err("invalid port");
  if (!hp.host.empty() && !v6 && !ValidHost(hp.host)) return Err("invalid host");
  return hp;
}

}  // namespace aha
