// Secrets on the wire: bearer tokens read from files, compared without leaking their content
// through timing, and random ids from OpenSSL's CSPRNG.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace aha::net {

// True when `a` and `b` are the same bytes. The time taken depends on the lengths only, never
// on where the first difference is (CRYPTO_memcmp), so a client guessing a token byte by byte
// learns nothing from response times. Unequal lengths return at once: a token's length is not
// a secret worth protecting (it is fixed per deployment).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The token in a file (a mounted Secret, a projected service-account token, a web identity
// token): the file's bytes with surrounding whitespace (space, tab, CR, LF, VT, FF) removed at
// both ends; bytes inside are kept as they are. Why both ends: no token format this binary
// reads (JWTs, RFC 6750 bearer tokens) contains whitespace, so any there is an editor's or
// `echo`'s trailing newline or an indented Secret value, and a token sent with it never matches.
// Errors (naming the path): unreadable, or nothing left after trimming ("empty"). Callers that
// put the token into a header check its characters themselves (quorum::ReadToken).
Result<std::string> ReadTokenFile(const std::string& path);

// `n` random bytes from OpenSSL's RAND_bytes (the generator the rest of the binary uses), for
// session ids, generations and instance ids. Should RAND_bytes ever fail (an unseeded system),
// the bytes come from std::random_device instead, so callers always get `n` bytes.
std::string RandomBytes(size_t n);

// HexEncode(RandomBytes(n)): 2n lowercase hex characters.
std::string RandomHex(size_t n);

}  // namespace aha::net
