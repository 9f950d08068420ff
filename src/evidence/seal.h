// Sealing DR evidence records: a SHA-256 (and optionally an HMAC-SHA256) over the record's
// canonical form, so a drill's measured timeline, RTO and RPO can be filed as audit evidence and
// any later edit is detected.
//
// Canonical form: RFC 8785 (JSON Canonicalization Scheme) on a subset where it is byte-exact and
// reproducible with common tools: object members sorted by key, no whitespace, strings escaped
// as RFC 8785 says (\" \\ \b \f \n \r \t, other control bytes \u00xx in lowercase hex, everything
// else as UTF-8), and, so that no number formatting is involved, numbers are integers of at most
// 2^53 - 1 in magnitude (durations are written in milliseconds), keys are printable ASCII and
// strings hold no DEL (0x7f: RFC 8785 writes it raw, jq escapes it).
// The same bytes come out of `jq -jcS 'del(.integrity)' record.json`, so a record can be checked
// without this binary: `jq -jcS 'del(.integrity)' record.json | sha256sum` (docs/RUNBOOK.md).
//
// A sealed record is the document with one more member:
//   "integrity": {"canonicalization": "RFC 8785 (integers only)", "sha256": "<64 hex>",
//                 ["hmacSha256": "<64 hex>", "hmacKeyId": "<name>"]}
// computed over the canonical form of the document without "integrity".
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"

namespace aha::evidence {

inline constexpr const char* kIntegrityKey = "integrity";
inline constexpr const char* kCanonicalization = "RFC 8785 (integers only)";
inline constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

// The canonical bytes of `doc`. Errors (Code::kInvalid) name the JSON path of the first value
// outside the subset: a non-integer or too large number, a key that is not printable ASCII, a
// string that is not UTF-8.
Result<std::string> Canonical(const nlohmann::json& doc);

struct SealOptions {
  std::string hmac_key;     // "" = SHA-256 only
  std::string hmac_key_id;  // recorded with the HMAC so a verifier knows which key to ask for
};
// `doc` (an object without "integrity") with its integrity member added.
Result<nlohmann::json> Seal(nlohmann::json doc, const SealOptions& opts = {});

struct Verification {
  bool intact = false;  // the sha256 (and the HMAC, when checked) match
  std::string problem;  // why not, when !intact
  std::string sha256;   // of the canonical form, as computed now
  bool hmac_present = false;
  bool hmac_checked = false;  // a key was given and the record has an HMAC
};
// Recomputes the digests of a sealed record. A malformed record (no integrity member, a digest
// that is not 64 hex characters, a value outside the canonical subset) is an error naming it; a
// well-formed record that was edited is `intact == false` with the reason. With `hmac_key`, a
// record without an HMAC is not intact (the key holder expects one).
Result<Verification> Verify(const nlohmann::json& sealed,
                            const std::optional<std::string>& hmac_key = std::nullopt);

}  // namespace aha::evidence
