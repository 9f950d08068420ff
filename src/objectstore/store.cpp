#include "objectstore/store.h"

namespace aha::objectstore {

Result<Versioned> ObjectStore::GetVersioned(const std::string& key) {
  return Err(Describe() + ": GetVersioned " + key + ": conditional requests not supported",
             Code::kUnsupported);
}

Result<std::string> ObjectStore::PutIf(const std::string& key, const std::string&,
                                       const std::string&) {
  return Err(Describe() + ": PutIf " + key + ": conditional writes not supported",
             Code::kUnsupported);
}

Status ProbeConditionalWrites(ObjectStore& store, const std::string& key) {
  (void)store.Delete(key);
  auto first = store.PutIf(key, "probe-1", "");
  if (!first) {
    if (first.code() == Code::kUnsupported) {
      return Err(store.Describe() + ": conditional writes unavailable: " + first.message(),
                 Code::kUnsupported);
    }
    // Unreachable, denied, ...: not a verdict on conditional writes; the caller may retry.
    return Err("probing conditional writes: " + first.message(),
               first.code() == Code::kPreconditionFailed ? Code::kConflict : first.code());
  }
  auto again = store.PutIf(key, "probe-2", "");
  auto wrong = store.PutIf(key, "probe-3", *first + "-not-the-tag");
  (void)store.Delete(key);
  for (const auto* r : {&again, &wrong}) {
    if (!r->ok() && r->code() != Code::kPreconditionFailed) {
      return Err("probing conditional writes: " + r->message(),
                 r->code() == Code::kUnsupported ? Code::kUnavailable : r->code());
    }
  }
  if (again || again.code() != Code::kPreconditionFailed) {
    return Err(store.Describe() +
                   ": the remote ignored If-None-Match (a create over an existing "
                   "object succeeded); it cannot fence writers, refusing to write to it",
               Code::kUnsupported);
  }
  if (wrong || wrong.code() != Code::kPreconditionFailed) {
    return Err(store.Describe() +
                   ": the remote ignored If-Match (a write with a stale version "
                   "succeeded); it cannot fence writers, refusing to write to it",
               Code::kUnsupported);
  }
  return Status::Ok();
}

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
