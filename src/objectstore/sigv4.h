// AWS Signature Version 4 (header-based) for S3: a pure function from a request description and
// credentials to the headers that authenticate it. No I/O, no clock read of its own: the caller
// passes the time (or the Clock to take it from), so the signer is tested byte-for-byte against the
// S3 documentation's worked examples and the official AWS SDK signer (tests/unit/sigv4_test.cpp,
// tests/unit/sigv4_reference.mjs).
//
// S3 rules this follows (they differ from other services):
// - The canonical URI is the request path encoded ONCE (S3 does not double-encode); '/' stays.
//   Build it with EncodePath(raw path); pass the same string as the URL path on the wire.
// - Query names and values are encoded with the RFC 3986 unreserved set ('/' encoded too),
//   sorted by encoded name then value; a name without a value signs as "name=".
// - Every header in `headers` is signed (names lowercased, values trimmed, inner runs of spaces
//   collapsed). The signer adds x-amz-date, x-amz-content-sha256 and, for session credentials,
//   x-amz-security-token; these must be sent exactly as returned.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "net/digest.h"

namespace aha::objectstore::sigv4 {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

struct Request {
  std::string method;         // "GET", "PUT", ...
  std::string canonical_uri;  // encoded once, e.g. EncodePath("/bucket/my key")
  KeyValues query;            // raw (unencoded) names and values
  KeyValues headers;          // must include "host"; all are signed
  std::string payload_hash;   // lowercase hex SHA-256 of the body, or kUnsignedPayload
};

struct Signed {
  std::string authorization;
  KeyValues headers;  // to send besides the request's own: x-amz-date, x-amz-content-sha256, ...
  std::string canonical_request;  // for tests and debugging; contains no secret
  std::string string_to_sign;
};

inline constexpr const char* kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr const char* kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

Signed Sign(const Request& req, const Credentials& creds, const std::string& region,
            const std::string& service, std::time_t now);
// The same at clock.wall() (whole seconds): how the S3 store signs, so a FakeClock fixes the time.
Signed Sign(const Request& req, const Credentials& creds, const std::string& region,
            const std::string& service, const Clock& clock);

// RFC 3986 percent-encoding as S3 wants it: unreserved [A-Za-z0-9-._~] kept, everything else
// %XX (uppercase hex) byte by byte; '/' kept unless `encode_slash` (net::PercentEncode).
std::string UriEncode(std::string_view s, bool encode_slash);
inline std::string EncodePath(std::string_view raw_path) {
  return UriEncode(raw_path, false);
}
// The canonical query string (also usable on the wire: it is a valid, encoded query).
std::string CanonicalQuery(const KeyValues& query);

std::string AmzDate(std::time_t t);  // 20130524T000000Z
using net::HmacSha256;               // net/digest.h
using net::Sha256Hex;
using net::Sha256Raw;
std::string Hex(std::string_view bytes);  // lowercase (net::HexEncode)

}  // namespace aha::objectstore::sigv4
