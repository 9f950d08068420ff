// Small filesystem helpers with Result-based errors (errno text included).
#pragma once

#include <string>

#include "common/result.h"

namespace aha {

Result<std::string> ReadFile(const std::string& path);
// Writes `data` to `path` atomically: a temp file in the same directory, fsync, rename, fsync of
// the directory. Readers see the old or the new content, never a mix.
Status WriteFileAtomic(const std::string& path, const std::string& data);
// Creates the directory (and parents) if missing; fails unless it is a writable directory.
Status EnsureWritableDir(const std::string& path);
std::string ErrnoText(int err);

}  // namespace aha
