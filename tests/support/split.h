// Test helper: "a,b,,c" -> {"a", "b", "c"} (region lists in table tests; empty items dropped).
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace aha::testing {

inline std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace aha::testing
