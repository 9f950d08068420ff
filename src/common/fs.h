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

// Opens (creating it, mode 0644) the lock file `path` for flock(): never through a symlink
// (O_NOFOLLOW: a planted link to a host file is refused and its target neither created nor
// touched) and only a regular file (fstat check). Returns the fd (O_CLOEXEC) or an error naming
// the path; a symlink says so.
Result<int> OpenLockFile(const std::string& path);

}  // namespace aha
