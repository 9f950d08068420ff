// Request-admission rules shared by every HTTP server in the binary: which Host names count as
// loopback (DNS-rebinding protection, and whether a listener needs a token) and how an
// `Authorization: Bearer` header is matched.
#pragma once

#include <string>
#include <string_view>

namespace aha::httpd {

// True only for names and literals that cannot be made to resolve elsewhere:
//   - "localhost" (ASCII case-insensitive; no trailing dot, no subdomains),
//   - an IPv4 dotted-quad literal in 127.0.0.0/8 (exactly four decimal octets 0-255, no leading
//     zeros, so "127.1" or "0177.0.0.1" are not accepted),
//   - the IPv6 loopback literal ::1 in any spelling inet_pton accepts, bare or in brackets.
// Anything else is false, notably "127.evil.example" (a DNS name an attacker controls that
// merely starts with "127.") and "localhost.evil". Why: a browser page on an attacker's domain
// can make its own name resolve to 127.0.0.1 (DNS rebinding) and then talks to a loopback server
// with `Host: <attacker name>`; only literal loopback names are proof the client meant us.
bool IsLoopbackHost(std::string_view host);

// Host part of a Host header value ("host[:port]" or "[v6][:port]"); empty when malformed
// (a non-numeric port, an unterminated bracket, an empty host).
std::string HostHeaderHost(std::string_view host_header);

// True when `authorization` is "<scheme> <token>" with scheme "Bearer" in any ASCII case
// (RFC 7235 section 2.1: schemes are case-insensitive), one or more spaces, and exactly `token`.
// The token comparison is constant time in the token's length. An empty `token` never matches.
bool BearerMatches(std::string_view authorization, std::string_view token);

}  // namespace aha::httpd
