#include "net/secret.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <random>

#include "common/fs.h"
#include "net/encode.h"

namespace aha::net {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> ReadTokenFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return Err(text.message());
  static constexpr char kSpace[] = " \t\r\n\v\f";
  const size_t b = text->find_first_not_of(kSpace);
  if (b == std::string::npos) return Err(path + ": token file is empty");
  return text->substr(b, text->find_last_not_of(kSpace) - b + 1);
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n == 0) return out;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::random_device rd;
    for (auto& c : out)
      c = static_cast<char>(rd());
  }
  return out;
}

std::string RandomHex(size_t n) {
  return HexEncode(RandomBytes(n));
}

}  // namespace aha::net
