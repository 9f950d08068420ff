#include "quorum/token.h"

#include "httpd/auth.h"
#include "net/secret.h"

namespace aha::quorum {

Result<std::string> ReadToken(const std::string& path) {
  auto read = net::ReadTokenFile(path);
  if (!read) return read.error();
  const std::string& t = *read;
  if (t.size() > 4096) return Err(path + ": token longer than 4096 bytes");
  for (unsigned char c : t) {
    if (c < 0x21 || c > 0x7e) return Err(path + ": token contains whitespace or control bytes");
  }
  return t;
}

bool BearerMatches(const std::string& authorization, const std::string& token) {
  return httpd::BearerMatches(authorization, token);
}

}  // namespace aha::quorum
