// `agency-ha evidence verify FILE [--hmac-key-file PATH]`: checks a sealed DR evidence record
// (evidence/seal.h). Exit 0 intact (prints the sha256, and whether the HMAC was checked); 1 the
// record was changed or the HMAC does not match (says which); 2 unreadable, not JSON, not sealed,
// or outside the canonical subset (the value named).
#pragma once

#include <string>

namespace aha::evidence {

inline constexpr size_t kMaxRecordBytes = 4 << 20;  // a record is a few KiB

int VerifyCommand(const std::string& path, const std::string& hmac_key_file);

}  // namespace aha::evidence
