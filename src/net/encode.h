// Byte encodings for URLs and ids: percent-encoding (RFC 3986) and lowercase hex.
//
// One percent-encoder for every caller: SigV4 canonical URIs and queries, the STS form body, and
// Kubernetes paths and query values. They must agree byte for byte (SigV4 signs what is sent),
// and a character class copied three times drifts (isalnum is locale-dependent; these are not).
#pragma once

#include <string>
#include <string_view>

namespace aha::net {

// Every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~) and outside `keep` becomes
// %XX with uppercase hex (what SigV4 requires); unreserved bytes are never encoded. `keep` names
// reserved characters a caller wants literal, e.g. "/" for an S3 object path. Multi-byte UTF-8
// is encoded byte by byte. Nothing is ever decoded: "%" itself becomes "%25".
std::string PercentEncode(std::string_view s, std::string_view keep = {});

// Lowercase hex of raw bytes, two characters per byte ("\x01\xab" -> "01ab").
std::string HexEncode(std::string_view bytes);

}  // namespace aha::net
