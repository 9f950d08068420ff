// FileObjectStore: the ObjectStore for file:///path replicas (a mounted volume, NFS, tests).
//
// Layout: the object "a/b/c" is the file ROOT/a/b/c. Writes go to a temp file in the target's
// directory (name contains '~', which keys cannot, so List never shows it), are fsynced, then
// renamed over the target and the directory fsynced: readers see the old or the new object,
// never a torn one, and a crash leaves at worst a stray temp file.
// Limitation: a key cannot be both an object and a "directory" ("a" and "a/b"); S3 allows it,
// the file store reports an error naming both.
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
  Status GetToFile(const std::string& key, const std::string& path, bool durable = true) override;
  Result<bool> Exists(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override;
  Status Delete(const std::string& key) override;
  std::string Describe() const override { return "file://" + root_; }
  Stats stats() const override;

 private:
  std::string What(const char* op, const std::string& key) const;
  std::string root_;
  std::atomic<uint64_t> requests_{0}, bytes_up_{0}, bytes_down_{0};
};

}  // namespace aha::objectstore
