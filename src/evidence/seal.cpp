#include "evidence/seal.h"

#include "net/digest.h"
#include "net/encode.h"
#include "net/secret.h"

namespace aha::evidence {

using nlohmann::json;

namespace {

bool PrintableAscii(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// The first value under `v` outside the canonical subset, as "<path>: why"; "" when none.
std::string OutsideSubset(const json& v, const std::string& path) {
  switch (v.type()) {
    case json::value_t::object:
      for (const auto& [k, child] : v.items()) {
        if (!PrintableAscii(k)) return path + ": a key that is not printable ASCII";
        if (auto why = OutsideSubset(child, path + "." + k); !why.empty()) return why;
      }
      return "";
    case json::value_t::array:
      for (size_t i = 0; i < v.size(); ++i) {
        if (auto why = OutsideSubset(v[i], path + "[" + std::to_string(i) + "]"); !why.empty()) {
          return why;
        }
      }
      return "";
    case json::value_t::number_float:
      return path + ": a non-integer number (the canonical form has integers only)";
    case json::value_t::number_unsigned:
      if (v.get<uint64_t>() > static_cast<uint64_t>(kMaxSafeInteger)) {
        return path + ": an integer over 2^53 - 1";
      }
      return "";
    case json::value_t::number_integer: {
      const int64_t n = v.get<int64_t>();
      if (n > kMaxSafeInteger || n < -kMaxSafeInteger) return path + ": an integer over 2^53 - 1";
      return "";
    }
    case json::value_t::string:
      // RFC 8785 writes DEL as is; jq escapes it (\u007f). Excluded so both agree.
      if (v.get_ref<const std::string&>().find('\x7f') != std::string::npos) {
        return path + ": a string with the DEL control character (0x7f)";
      }
      return "";
    default:
      return "";
  }
}

bool IsHex64(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

Result<std::string> Canonical(const json& doc) {
  if (auto why = OutsideSubset(doc, "$"); !why.empty()) return Err(why, Code::kInvalid);
  try {
    // nlohmann's object is a std::map: members come out sorted by key (bytewise, which for
    // printable ASCII is RFC 8785's UTF-16 order), and its escaping is RFC 8785's.
    return doc.dump(-1, ' ', false, json::error_handler_t::strict);
  } catch (const json::exception&) {
    return Err("$: a string that is not valid UTF-8", Code::kInvalid);
  }
}

Result<json> Seal(json doc, const SealOptions& opts) {
  if (!doc.is_object()) return Err("evidence record: must be a JSON object", Code::kInvalid);
  if (doc.contains(kIntegrityKey)) {
    return Err("evidence record: already has an \"integrity\" member", Code::kInvalid);
  }
  auto canonical = Canonical(doc);
  if (!canonical) return canonical.error();
  json integrity = {{"canonicalization", kCanonicalization},
                    {"sha256", net::Sha256Hex(*canonical)}};
  if (!opts.hmac_key.empty()) {
    integrity["hmacSha256"] = net::HexEncode(net::HmacSha256(opts.hmac_key, *canonical));
    integrity["hmacKeyId"] = opts.hmac_key_id;
  }
  doc[kIntegrityKey] = std::move(integrity);
  return doc;
}

Result<Verification> Verify(const json& sealed, const std::optional<std::string>& hmac_key) {
  if (!sealed.is_object()) return Err("evidence record: must be a JSON object", Code::kInvalid);
  auto it = sealed.find(kIntegrityKey);
  if (it == sealed.end() || !it->is_object()) {
    return Err("evidence record: no \"integrity\" object (not sealed)", Code::kInvalid);
  }
  const json& integrity = *it;
  if (!IsHex64(integrity.value("sha256", json()))) {
    return Err("integrity.sha256: must be 64 lowercase hex characters", Code::kInvalid);
  }
  if (integrity.value("canonicalization", json()) != kCanonicalization) {
    return Err(std::string("integrity.canonicalization: must be \"") + kCanonicalization + "\"",
               Code::kInvalid);
  }
  Verification v;
  v.hmac_present = integrity.contains("hmacSha256");
  if (v.hmac_present && !IsHex64(integrity["hmacSha256"])) {
    return Err("integrity.hmacSha256: must be 64 lowercase hex characters", Code::kInvalid);
  }
  json doc = sealed;
  doc.erase(kIntegrityKey);
  auto canonical = Canonical(doc);
  if (!canonical) return canonical.error();
  v.sha256 = net::Sha256Hex(*canonical);
  if (v.sha256 != integrity["sha256"].get<std::string>()) {
    v.problem = "the record was changed: its canonical form hashes to sha256 " + v.sha256 +
                ", the seal says " + integrity["sha256"].get<std::string>();
    return v;
  }
  if (hmac_key) {
    if (!v.hmac_present) {
      v.problem = "the record has no HMAC, but a key was given (sealed without the key)";
      return v;
    }
    v.hmac_checked = true;
    const std::string mac = net::HexEncode(net::HmacSha256(*hmac_key, *canonical));
    if (!net::ConstantTimeEquals(mac, integrity["hmacSha256"].get<std::string>())) {
      v.problem =
          "the HMAC does not match: the record was resealed without the key, or the key "
          "is not the one it was sealed with";
      return v;
    }
  }
  v.intact = true;
  return v;
}

}  // namespace aha::evidence
