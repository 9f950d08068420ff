// Standard base64 (RFC 4648 §4) with padding, as used in kubeconfig *-data fields.
#pragma once

#include <string>

#include "common/result.h"

namespace aha {

std::string Base64Encode(const std::string& in);
// Rejects characters outside the alphabet (whitespace and newlines are skipped).
Result<std::string> Base64Decode(const std::string& in);

}  // namespace aha
