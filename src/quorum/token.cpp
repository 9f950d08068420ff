#include "quorum/token.h"

#include "common/fs.h"
#include "httpd/auth.h"

namespace aha::quorum {

Result<std::string> ReadToken(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return Err(text.message());
  std::string t = *text;
  const char* ws = " \t\r\n";
  t.erase(0, t.find_first_not_of(ws) == std::string::npos ? t.size() : t.find_first_not_of(ws));
  t.erase(t.find_last_not_of(ws) + 1);
  if (t.empty()) return Err(path + ": token file is empty");
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
