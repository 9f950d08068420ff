#include "quorum/token.h"

#include "common/fs.h"

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
  static const std::string kPrefix = "Bearer ";
  if (token.empty() || authorization.size() != kPrefix.size() + token.size()) return false;
  if (authorization.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(authorization[kPrefix.size() + i] ^ token[i]);
  }
  return diff == 0;
}

}  // namespace aha::quorum
