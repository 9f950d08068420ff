// File state store with the layout kubelet uses for a mounted ConfigMap (its AtomicWriter):
//
//   dir/..2026_11_27_17_09_04.123456789.XXXXXX/   one directory per version, one file per key
//   dir/..data -> ..2026_11_27_...                 symlink swapped atomically with rename(2)
//   dir/<key>  -> ..data/<key>                     one symlink per key
//
// A write builds a complete new version (current keys merged with the update), then renames a
// fresh symlink over ..data, so a multi-key update is atomic: a reader that resolves ..data once
// sees every key of one version, exactly like a ConfigMap update through the API. Writers
// serialise on flock(dir/..lock) so two writers (controller and MCP server) never lose each
// other's keys. Plain files left in the directory by hand are read and migrated on first write.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <vector>

#include "common/fs.h"
#include "state/store.h"

namespace aha::state {

namespace fs = std::filesystem;

std::string ValidateKey(const std::string& key) {
  if (key.empty()) return "empty key";
  if (key.size() > 253) return "key longer than 253 characters";
  if (key[0] == '.') return "key must not start with '.'";
  for (unsigned char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return "key may contain only letters, digits, '-', '_' and '.'";
  }
  return "";
}

namespace {

constexpr const char* kDataLink = "..data";
constexpr const char* kLockFile = "..lock";

// Reads every valid key file in `dir` (regular files, following symlinks).
Result<KeyValues> ReadKeysIn(const std::string& dir, bool* vanished) {
  KeyValues out;
  *vanished = false;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) {
      *vanished = true;
      return out;
    }
    return Err(dir + ": " + ErrnoText(errno));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (ValidateKey(name).empty()) names.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : names) {
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        *vanished = true;  // swapped or removed under us
        continue;
      }
      return Err(path + ": " + ErrnoText(errno));
    }
    if (!S_ISREG(st.st_mode)) continue;
    auto content = ReadFile(path);
    if (!content) {
      if (::access(path.c_str(), F_OK) != 0) {
        *vanished = true;
        continue;
      }
      return content.error();
    }
    out.emplace(name, std::move(*content));
  }
  return out;
}

// The version directory ..data points to, or "" when there is none.
std::string CurrentVersion(const std::string& dir) {
  char buf[4096];
  ssize_t n = ::readlink((dir + "/" + kDataLink).c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  return buf;
}

// "..YYYY_MM_DD_hh_mm_ss.<nanoseconds>." in UTC (mkdtemp appends the unique part).
std::string NewVersionName(WallTime now) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "..%04d_%02d_%02d_%02d_%02d_%02d.%09lld.", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ns % 1000000000));
  return buf;
}

Status Fsync(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err(path + ": " + ErrnoText(errno));
  ::fsync(fd);
  ::close(fd);
  return Status::Ok();
}

Status WriteNewFile(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Err(path + ": " + ErrnoText(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return Err(path + ": write failed: " + ErrnoText(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return Err(path + ": fsync failed: " + ErrnoText(e));
  }
  ::close(fd);
  return Status::Ok();
}

class DirLock {
 public:
  explicit DirLock(const std::string& dir) {
    auto fd = OpenLockFile(dir + "/" + kLockFile);
    if (fd) {
      fd_ = *fd;
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    } else {
      err_ = fd.message();
    }
  }
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return err_; }

 private:
  int fd_ = -1;
  std::string err_;
};

Status ValidateKeys(const KeyValues& kv) {
  for (const auto& [key, value] : kv) {
    if (std::string why = ValidateKey(key); !why.empty()) {
      return Err("invalid state key \"" + key + "\": " + why);
    }
  }
  return Status::Ok();
}

// `current` with `kv` applied; returns how many keys changed.
int Merge(const KeyValues& current, const KeyValues& kv, KeyValues* merged) {
  *merged = current;
  int changed = 0;
  for (const auto& [key, value] : kv) {
    auto it = merged->find(key);
    if (it != merged->end() && it->second == value) continue;
    (*merged)[key] = value;
    ++changed;
  }
  return changed;
}

struct VersionDir {
  std::string name, path;
};

// Removes a version directory that never became current.
void Abandon(const VersionDir& v) {
  std::error_code ec;
  fs::remove_all(v.path, ec);
}

// 1. The new version directory, complete and durable.
Result<VersionDir> WriteVersionDir(const std::string& dir, WallTime now, const KeyValues& kv) {
  VersionDir v;
  v.path = dir + "/" + NewVersionName(now) + "XXXXXX";
  if (!::mkdtemp(v.path.data()))
    return Err(dir + ": cannot create version dir: " + ErrnoText(errno));
  v.name = fs::path(v.path).filename().string();
  ::chmod(v.path.c_str(), 0755);
  for (const auto& [key, value] : kv) {
    // The version directory is private until the swap: write files in place (no temp name,
    // which could exceed NAME_MAX for a 253-character key).
    if (Status s = WriteNewFile(v.path + "/" + key, value); !s) {
      Abandon(v);
      return s.error();
    }
  }
  (void)Fsync(v.path);
  return v;
}

// 2. Swap ..data atomically.
Status SwapDataLink(const std::string& dir, const VersionDir& v) {
  const std::string tmp_link = dir + "/..data_tmp";
  ::unlink(tmp_link.c_str());
  if (::symlink(v.name.c_str(), tmp_link.c_str()) != 0) {
    Abandon(v);
    return Err(dir + ": cannot create symlink: " + ErrnoText(errno));
  }
  if (::rename(tmp_link.c_str(), (dir + "/" + kDataLink).c_str()) != 0) {
    int e = errno;
    ::unlink(tmp_link.c_str());
    Abandon(v);
    return Err(dir + ": cannot swap ..data: " + ErrnoText(e));
  }
  return Status::Ok();
}

// 3. Per-key symlinks (replacing plain files from a legacy layout).
Status LinkKeys(const std::string& dir, const KeyValues& kv) {
  for (const auto& [key, value] : kv) {
    const std::string link = dir + "/" + key;
    const std::string target = std::string(kDataLink) + "/" + key;
    char buf[512];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    if (n > 0 && std::string(buf, static_cast<size_t>(n)) == target) continue;
    const std::string tmp = dir + "/..linktmp";
    ::unlink(tmp.c_str());
    if (::symlink(target.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), link.c_str()) != 0) {
      return Err(link + ": cannot create key link: " + ErrnoText(errno));
    }
  }
  return Status::Ok();
}

// Removes the previous version and any version a crashed writer left behind.
void RemoveOldVersions(const std::string& dir, const std::string& current) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("..", 0) == 0 && name != current && name != kDataLink &&
        entry.is_directory(ec) && !entry.is_symlink(ec)) {
      fs::remove_all(entry.path(), ec);
    }
  }
}

}  // namespace

FileStateStore::FileStateStore(std::string dir, const Clock& clock)
    : dir_(std::move(dir)), clock_(clock) {}

Result<KeyValues> FileStateStore::Read() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    const std::string version = CurrentVersion(dir_);
    bool vanished = false;
    if (version.empty()) {
      // No atomic layout (yet): plain files, or nothing.
      auto kv = ReadKeysIn(dir_, &vanished);
      if (!kv) return kv;
      if (CurrentVersion(dir_).empty()) return kv;
      continue;  // a writer created the layout meanwhile
    }
    auto kv = ReadKeysIn(dir_ + "/" + version, &vanished);
    if (!kv) return kv;
    // Writers delete a version only after swapping ..data away from it, so if ..data still
    // names the version we read, nothing was removed from it while we read: it is complete.
    if (!vanished && CurrentVersion(dir_) == version) return kv;
    // The version was replaced (and maybe partly removed) while we read it: read the new one.
  }
  return Err(dir_ + ": state keeps changing while being read");
}

Result<int> FileStateStore::Write(const KeyValues& kv) {
  if (Status s = ValidateKeys(kv); !s) return s.error();
  return Update([&kv](const KeyValues&) -> Result<KeyValues> { return kv; });
}

Result<int> FileStateStore::Update(const UpdateFn& fn) {
  std::error_code ec;
  fs::create_directories(dir_, ec);  // no-op when it exists
  if (ec) return Err(dir_ + ": cannot create directory: " + ec.message());
  DirLock lock(dir_);
  if (!lock.ok()) return Err(dir_ + ": cannot lock: " + lock.error());

  const std::string old_version = CurrentVersion(dir_);
  bool vanished = false;
  auto current = ReadKeysIn(old_version.empty() ? dir_ : dir_ + "/" + old_version, &vanished);
  if (!current) return current.error();
  // Every writer holds the lock from this read to the swap: nobody can write in between.
  auto update = fn(*current);
  if (!update) return update.error();
  if (Status s = ValidateKeys(*update); !s) return s.error();
  KeyValues merged;
  const int changed = Merge(*current, *update, &merged);
  if (changed == 0 && !old_version.empty()) return 0;

  auto version = WriteVersionDir(dir_, clock_.wall(), merged);
  if (!version) return version.error();
  if (Status s = SwapDataLink(dir_, *version); !s) return s.error();
  if (Status s = LinkKeys(dir_, merged); !s) return s.error();
  (void)Fsync(dir_);
  RemoveOldVersions(dir_, version->name);
  return changed;
}

}  // namespace aha::state
