#include "objectstore/store.h"

namespace aha::objectstore {

std::string ValidateKey(const std::string& key) {
  if (key.empty()) return "key is empty";
  if (key.size() > 1024) return "key is longer than 1024 bytes";
  if (key.front() == '/') return "key starts with '/'";
  if (key.back() == '/') return "key ends with '/'";
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    const std::string seg = key.substr(start, end - start);
    if (seg.empty()) return "key has an empty segment (\"//\")";
    if (seg == "." || seg == "..") return "key has a \".\" or \"..\" segment";
    for (unsigned char c : seg) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '=' || c == '-';
      if (!ok) return "key has a character outside [A-Za-z0-9._=-/]";
    }
    start = end + 1;
  }
  return "";
}

std::string ValidatePrefix(const std::string& prefix) {
  if (prefix.empty()) return "";
  if (prefix.size() > 1024) return "prefix is longer than 1024 bytes";
  if (prefix.front() == '/') return "prefix starts with '/'";
  for (unsigned char c : prefix) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '=' || c == '-' || c == '/';
    if (!ok) return "prefix has a character outside [A-Za-z0-9._=-/]";
  }
  if (prefix.find("//") != std::string::npos) return "prefix has an empty segment (\"//\")";
  return "";
}

}  // namespace aha::objectstore
