// FileObjectStore: the ObjectStore for file:///path replicas (a mounted volume, NFS, tests).
//
// Layout: the object "a/b/c" is the file ROOT/a/b/c. Writes go to a temp file in the target's
// directory (name contains '~', which keys cannot, so List never shows it), are fsynced, then
// renamed over the target and the directory fsynced: readers see the old or the new object,
// never a torn one, and a crash leaves at worst a stray temp file.
// Symlinks: the root may be one (a mount point); below it nothing is ever followed. Every path
// is walked segment by segment with O_NOFOLLOW: a symlink planted as an object or a directory
// of the remote is an error naming it (its target is never read, written or listed), and only
// regular files are objects.
// Limitation: a key cannot be both an object and a "directory" ("a" and "a/b"); S3 allows it,
// the file store reports an error naming both.
//
// Conditional writes: the version tag is the lowercase hex SHA-256 of the object's bytes (like an
// S3 single-part ETag, which is the MD5: equal bytes give equal tags, so a PutIf that matches
// matches the content the caller read). PutIf holds an exclusive flock(2) on ROOT/.aha~lock
// (opened with O_NOFOLLOW; '~' keeps it out of every listing) while it reads and hashes the
// current object, compares and renames the new one into place: two PutIf on any key, from
// threads or processes (also over NFS, where Linux maps flock to POSIX locks), never both win.
// Plain Put does not take the lock; mixing Put and PutIf on one key gives no guarantee.
#pragma once

#include <atomic>
#include <string>

#include "objectstore/store.h"

namespace aha::objectstore {

class FileObjectStore : public ObjectStore {
 public:
  // `root_dir` is created if missing. Construction never fails; the first operation reports an
  // unusable root.
  explicit FileObjectStore(std::string root_dir);

  Status Put(const std::string& key, const std::string& data) override;
  Status PutFile(const std::string& key, const std::string& path) override;
  Result<std::string> Get(const std::string& key) override;
  Status GetToFile(const std::string& key, const std::string& path, bool durable = true,
                   uint64_t expected_size = kAnySize) override;
  Result<bool> Exists(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override;
  Status Delete(const std::string& key) override;
  Result<Versioned> GetVersioned(const std::string& key) override;
  Result<std::string> PutIf(const std::string& key, const std::string& data,
                            const std::string& if_match) override;
  std::string Describe() const override { return "file://" + root_; }
  Stats stats() const override;

 private:
  std::string What(const char* op, const std::string& key) const;
  std::string root_;
  std::atomic<uint64_t> requests_{0}, bytes_up_{0}, bytes_down_{0};
};

}  // namespace aha::objectstore
