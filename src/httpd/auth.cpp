#include "httpd/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "net/secret.h"

namespace aha::httpd {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Strict dotted quad: four 1-3 digit decimal octets <= 255 without leading zeros.
bool ParseDottedQuad(std::string_view s, int octets[4]) {
  int n = 0;
  size_t i = 0;
  while (n < 4) {
    size_t start = i;
    int v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
      v = v * 10 + (s[i] - '0');
      ++i;
    }
    const size_t len = i - start;
    if (len == 0 || v > 255 || (len > 1 && s[start] == '0')) return false;
    octets[n++] = v;
    if (n < 4) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return i == s.size();
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    // Only IPv6 literals live in brackets.
    in6_addr a6{};
    const std::string s(host);
    return inet_pton(AF_INET6, s.c_str(), &a6) == 1 &&
           std::memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
  }
  if (EqualsIgnoreCase(host, "localhost")) return true;
  int q[4];
  if (ParseDottedQuad(host, q)) return q[0] == 127;
  if (host.find(':') != std::string_view::npos) {
    in6_addr a6{};
    const std::string s(host);
    return inet_pton(AF_INET6, s.c_str(), &a6) == 1 &&
           std::memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
  }
  return false;
}

std::string HostHeaderHost(std::string_view v) {
  std::string_view host, port;
  if (!v.empty() && v.front() == '[') {
    const size_t end = v.find(']');
    if (end == std::string_view::npos) return "";
    host = v.substr(0, end + 1);
    std::string_view rest = v.substr(end + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "";
      port = rest.substr(1);
      if (port.empty()) return "";
    }
  } else {
    const size_t colon = v.find(':');
    host = v.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = v.substr(colon + 1);
      if (port.empty()) return "";
    }
  }
  if (host.empty() || host == "[]") return "";
  for (char c : port)
    if (c < '0' || c > '9') return "";
  return std::string(host);
}

bool BearerMatches(std::string_view authorization, std::string_view token) {
  if (token.empty()) return false;
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return false;
  }
  std::string_view cred = authorization.substr(kScheme.size());
  while (!cred.empty() && cred.front() == ' ')
    cred.remove_prefix(1);
  return net::ConstantTimeEquals(cred, token);
}

}  // namespace aha::httpd
