// Bearer tokens for the observations endpoint: read from a file (a mounted Secret), compared in
// constant time.
#pragma once

#include <string>

#include "common/result.h"

namespace aha::quorum {

// The token of net::ReadTokenFile (surrounding whitespace removed); an error when it cannot be
// read, is empty, is longer than 4096 bytes or contains characters that cannot appear in an HTTP
// header.
Result<std::string> ReadToken(const std::string& path);

// True when `authorization` is "Bearer <token>", the scheme in any case (RFC 7235; the rule is
// httpd::BearerMatches), compared in constant time in the token's length.
bool BearerMatches(const std::string& authorization, const std::string& token);

}  // namespace aha::quorum
