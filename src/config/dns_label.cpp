// IsDns1123Label (declared in controller_config.h), on its own so that the parsers of state keys
// can be built without the YAML config layer (fuzz/).
#include "config/controller_config.h"

namespace aha::config {

bool IsDns1123Label(const std::string& n) {
  if (n.empty() || n.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(n.front()) || !alnum(n.back())) return false;
  for (char c : n) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

}  // namespace aha::config
