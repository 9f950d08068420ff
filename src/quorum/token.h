// Bearer tokens for the observations endpoint: read from a file (a mounted Secret), compared in
// constant time.
#pragma once

#include <string>

#include "common/result.h"

namespace aha::quorum {

// The file's content without surrounding whitespace; an error when it cannot be read, is empty
// or contains characters that cannot appear in an HTTP header.
Result<std::string> ReadToken(const std::string& path);

// True when `authorization` is "Bearer <token>", the scheme in any case (RFC 7235; the rule is
// httpd::BearerMatches), compared in constant time in the token's length.
bool BearerMatches(const std::string& authorization, const std::string& token);

}  // namespace aha::quorum
