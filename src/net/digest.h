// SHA-256 and HMAC-SHA256 (OpenSSL), for AWS SigV4 signing and for sealing DR evidence records.
#pragma once

#include <string>
#include <string_view>

namespace aha::net {

std::string Sha256Raw(std::string_view data);                         // 32 bytes
std::string Sha256Hex(std::string_view data);                         // 64 lowercase hex characters
std::string HmacSha256(std::string_view key, std::string_view data);  // 32 bytes

}  // namespace aha::net
