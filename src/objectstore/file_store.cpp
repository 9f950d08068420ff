#include "objectstore/file_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>

#include "common/fs.h"
#include "objectstore/sigv4.h"

namespace aha::objectstore {

namespace fs = std::filesystem;

namespace {

std::atomic<uint64_t> g_tmp_counter{0};

bool WriteAll(int fd, const char* data, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t w = ::write(fd, data + off, n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(w);
  }
  return true;
}

// Opens the directory `dfd`/`name`, never through a symlink. Returns the fd or -1 (errno set;
// ELOOP or ENOTDIR for a symlink or a file in the way).
int OpenDirAt(int dfd, const std::string& name) {
  return ::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

// Why `dfd`/`name` could not be opened, in words ("is a symbolic link" when it is one).
std::string WhyNotOpened(int dfd, const std::string& name, int err) {
  struct stat st {};
  if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
    return "is a symbolic link; refusing to follow it";
  }
  return ErrnoText(err);
}

// Walks `root`/key's directory segments without following a symlink in any of them (the root
// itself may be one: a mount). With `create`, missing directories are made (0755). Returns the
// fd of the key's directory; *last gets the key's last segment. Errors: code 404 when a segment
// does not exist (without `create`), otherwise a message naming the segment.
Result<int> OpenKeyDir(const std::string& root, const std::string& key, bool create,
                       std::string* last) {
  if (create) {
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) return Err("cannot create directory " + root + ": " + ec.message());
  }
  int dfd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    const int e = errno;
    return SysErr("cannot open " + root + ": " + ErrnoText(e), e);
  }
  size_t start = 0;
  for (;;) {
    const size_t slash = key.find('/', start);
    if (slash == std::string::npos) break;
    const std::string seg = key.substr(start, slash - start);
    if (create && ::mkdirat(dfd, seg.c_str(), 0755) != 0 && errno != EEXIST) {
      const int e = errno;
      ::close(dfd);
      return SysErr("cannot create directory " + key.substr(0, slash) + ": " + ErrnoText(e), e);
    }
    const int next = OpenDirAt(dfd, seg);
    if (next < 0) {
      const int e = errno;
      const std::string why = WhyNotOpened(dfd, seg, e);
      ::close(dfd);
      if (e == ENOENT) return SysErr(key.substr(0, slash) + ": no such directory", e);
      if (e == ENOTDIR && why == ErrnoText(e)) {
        return Err(key.substr(0, slash) + " is an object, not a directory of other keys",
                   create ? Code::kUnknown : Code::kNotFound);
      }
      return Err(key.substr(0, slash) + " " + why);
    }
    ::close(dfd);
    dfd = next;
    start = slash + 1;
  }
  *last = key.substr(start);
  return dfd;
}

// Opens the object `root`/key for reading: no symlink followed anywhere below the root, a
// regular file only. 404 when it does not exist (or is a directory of other keys).
Result<int> OpenObject(const std::string& root, const std::string& key, struct stat* st) {
  std::string name;
  auto dfd = OpenKeyDir(root, key, /*create=*/false, &name);
  if (!dfd) return dfd.error();
  int fd = ::openat(*dfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    const std::string why = WhyNotOpened(*dfd, name, e);
    ::close(*dfd);
    if (e == ENOENT || e == ENOTDIR) return Err("no such object", Code::kNotFound);
    return Err("object file " + why);
  }
  ::close(*dfd);
  if (::fstat(fd, st) != 0) {
    const int e = errno;
    ::close(fd);
    return Err("fstat: " + ErrnoText(e));
  }
  if (S_ISDIR(st->st_mode)) {
    ::close(fd);
    return Err("no such object", Code::kNotFound);
  }
  if (!S_ISREG(st->st_mode)) {
    ::close(fd);
    return Err("object file is not a regular file; refusing to read it");
  }
  return fd;
}

// Copies `src_fd` (or `data` when src_fd < 0) into a temp file in the directory `dfd` (shown
// as `dir` in errors), fsyncs it and renames it over `name` there (a symlink at `name` is
// replaced, never followed). Returns the bytes written or an error text (errno included).
// With `limit`, a source longer than `limit` bytes fails (nothing renamed). Without `durable`
// neither the file nor the directory is fsynced (the caller syncs later).
Result<uint64_t> AtomicWriteAt(int dfd, const std::string& dir, const std::string& name, int src_fd,
                               const std::string* data, bool durable, uint64_t limit = UINT64_MAX) {
  const std::string tmp =
      ".aha~" + name + "." + std::to_string(::getpid()) + "." + std::to_string(g_tmp_counter++);
  int fd = ::openat(dfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    return SysErr("cannot create temp file in " + dir + ": " + ErrnoText(e), e);
  }
  auto fail = [&](const std::string& what) -> Result<uint64_t> {
    int e = errno;
    ::close(fd);
    ::unlinkat(dfd, tmp.c_str(), 0);
    return SysErr(what + ": " + ErrnoText(e), e);
  };
  uint64_t total = 0;
  if (src_fd < 0) {
    if (!WriteAll(fd, data->data(), data->size())) return fail("write failed");
    total = data->size();
  } else {
    std::string buf(1 << 20, '\0');
    for (;;) {
      ssize_t n = ::read(src_fd, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail("read failed");
      }
      if (n == 0) break;
      if (total + static_cast<uint64_t>(n) > limit) {
        ::close(fd);
        ::unlinkat(dfd, tmp.c_str(), 0);
        return Err("the object grew past its expected " + std::to_string(limit) +
                   " bytes while it was copied");
      }
      if (!WriteAll(fd, buf.data(), static_cast<size_t>(n))) return fail("write failed");
      total += static_cast<uint64_t>(n);
    }
  }
  if (durable && ::fsync(fd) != 0) return fail("fsync failed");
  if (::close(fd) != 0) {
    int e = errno;
    ::unlinkat(dfd, tmp.c_str(), 0);
    return SysErr("close failed: " + ErrnoText(e), e);
  }
  if (::renameat(dfd, tmp.c_str(), dfd, name.c_str()) != 0) {
    int e = errno;
    ::unlinkat(dfd, tmp.c_str(), 0);
    if (e == EISDIR) return Err("a directory of other keys has this name");
    return SysErr("rename failed: " + ErrnoText(e), e);
  }
  if (durable) ::fsync(dfd);
  return total;
}

// AtomicWriteAt for the object `root`/key (directories made as needed, no symlink followed).
Result<uint64_t> AtomicWriteKey(const std::string& root, const std::string& key, int src_fd,
                                const std::string* data) {
  std::string name;
  auto dfd = OpenKeyDir(root, key, /*create=*/true, &name);
  if (!dfd) return dfd.error();
  auto r = AtomicWriteAt(*dfd, root, name, src_fd, data, /*durable=*/true);
  ::close(*dfd);
  return r;
}

// AtomicWriteAt for a local path (its directory created if missing).
Result<uint64_t> AtomicWrite(const std::string& target, int src_fd, const std::string* data,
                             bool durable = true, uint64_t limit = UINT64_MAX) {
  const std::string dir = fs::path(target).parent_path().string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return SysErr("cannot create directory " + dir + ": " + ec.message(), ec.value());
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    const int e = errno;
    return SysErr("cannot open directory " + dir + ": " + ErrnoText(e), e);
  }
  auto r =
      AtomicWriteAt(dfd, dir, fs::path(target).filename().string(), src_fd, data, durable, limit);
  ::close(dfd);
  return r;
}

// An exclusive flock on ROOT/.aha~lock for the lifetime of the object (the root is created).
class StoreLock {
 public:
  static Result<std::unique_ptr<StoreLock>> Acquire(const std::string& root) {
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) return Err("cannot create directory " + root + ": " + ec.message());
    const std::string path = root + "/.aha~lock";
    auto lfd = OpenLockFile(path);  // never through a symlink, a regular file only
    if (!lfd) return lfd.error();
    const int fd = *lfd;
    int rc;
    do {
      rc = ::flock(fd, LOCK_EX);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      int e = errno;
      ::close(fd);
      return Err("cannot lock " + path + ": " + ErrnoText(e));
    }
    return std::unique_ptr<StoreLock>(new StoreLock(fd));
  }
  ~StoreLock() { ::close(fd_); }  // releases the flock
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

 private:
  explicit StoreLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

FileObjectStore::FileObjectStore(std::string root_dir) : root_(std::move(root_dir)) {
  while (root_.size() > 1 && root_.back() == '/')
    root_.pop_back();
}

std::string FileObjectStore::What(const char* op, const std::string& key) const {
  return "file store " + root_ + ": " + op + " \"" + key + "\"";
}

Stats FileObjectStore::stats() const {
  return Stats{requests_.load(), bytes_up_.load(), bytes_down_.load()};
}

Status FileObjectStore::Put(const std::string& key, const std::string& data) {
  if (auto why = ValidateKey(key); !why.empty())
    return Err(What("put", key) + ": " + why, Code::kInvalid);
  ++requests_;
  auto r = AtomicWriteKey(root_, key, -1, &data);
  if (!r) return Wrap(What("put", key) + ": ", r.error());
  bytes_up_ += *r;
  return Status::Ok();
}

Status FileObjectStore::PutFile(const std::string& key, const std::string& path) {
  if (auto why = ValidateKey(key); !why.empty())
    return Err(What("put", key) + ": " + why, Code::kInvalid);
  int src = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return Err(What("put", key) + ": cannot open " + path + ": " + ErrnoText(errno));
  ++requests_;
  auto r = AtomicWriteKey(root_, key, src, nullptr);
  ::close(src);
  if (!r) return Wrap(What("put", key) + ": ", r.error());
  bytes_up_ += *r;
  return Status::Ok();
}

Result<std::string> FileObjectStore::Get(const std::string& key) {
  if (auto why = ValidateKey(key); !why.empty())
    return Err(What("get", key) + ": " + why, Code::kInvalid);
  ++requests_;
  struct stat st {};
  auto fd = OpenObject(root_, key, &st);
  if (!fd) return Wrap(What("get", key) + ": ", fd.error());
  if (static_cast<uint64_t>(st.st_size) > kMaxGetBytes) {
    ::close(*fd);
    return Err(What("get", key) + ": object of " + std::to_string(st.st_size) +
               " bytes exceeds the in-memory limit of " + std::to_string(kMaxGetBytes) + " bytes");
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(*fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(*fd);
      return Err(What("get", key) + ": read: " + ErrnoText(e));
    }
    if (n == 0) break;
    if (out.size() + static_cast<uint64_t>(n) > kMaxGetBytes) {
      ::close(*fd);
      return Err(What("get", key) + ": object grew past the in-memory limit of " +
                 std::to_string(kMaxGetBytes) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(*fd);
  bytes_down_ += out.size();
  return out;
}

Status FileObjectStore::GetToFile(const std::string& key, const std::string& path, bool durable,
                                  uint64_t expected_size) {
  if (auto why = ValidateKey(key); !why.empty())
    return Err(What("get", key) + ": " + why, Code::kInvalid);
  ++requests_;
  struct stat st {};
  auto src = OpenObject(root_, key, &st);
  if (!src) return Wrap(What("get", key) + ": ", src.error());
  if (expected_size != kAnySize && static_cast<uint64_t>(st.st_size) != expected_size) {
    ::close(*src);
    return Err(What("get", key) + ": size mismatch: the object has " + std::to_string(st.st_size) +
               " bytes, want " + std::to_string(expected_size));
  }
  auto r = AtomicWrite(fs::absolute(path).string(), *src, nullptr, durable, expected_size);
  ::close(*src);
  if (!r) return Wrap(What("get", key) + ": writing " + path + ": ", r.error());
  bytes_down_ += *r;
  return Status::Ok();
}

Result<bool> FileObjectStore::Exists(const std::string& key) {
  if (auto why = ValidateKey(key); !why.empty())
    return Err(What("exists", key) + ": " + why, Code::kInvalid);
  ++requests_;
  std::string name;
  auto dfd = OpenKeyDir(root_, key, /*create=*/false, &name);
  if (!dfd) {
    if (dfd.code() == Code::kNotFound) return false;
    return Err(What("exists", key) + ": " + dfd.message());
  }
  struct stat st {};
  const int rc = ::fstatat(*dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW);
  const int e = errno;
  ::close(*dfd);
  if (rc == 0) return S_ISREG(st.st_mode);  // a symlink is not an object
  if (e == ENOENT || e == ENOTDIR) return false;
  return Err(What("exists", key) + ": " + ErrnoText(e));
}

Result<std::vector<ObjectInfo>> FileObjectStore::List(const std::string& prefix) {
  if (auto why = ValidatePrefix(prefix); !why.empty()) {
    return Err(What("list", prefix) + ": " + why, Code::kInvalid);
  }
  ++requests_;
  std::vector<ObjectInfo> out;
  // Walk only the deepest directory the prefix fully names ("a/b/c" -> ROOT/a/b).
  const size_t slash = prefix.rfind('/');
  const std::string base = slash == std::string::npos ? "" : prefix.substr(0, slash);
  const fs::path start = base.empty() ? fs::path(root_) : fs::path(root_) / base;
  std::error_code ec;
  if (!base.empty()) {  // the walk must not start through a symlink planted in the store
    std::string name;
    auto dfd = OpenKeyDir(root_, base + "/_", /*create=*/false, &name);
    if (!dfd) {
      if (dfd.code() == Code::kNotFound) return out;
      return Err(What("list", prefix) + ": " + dfd.message());
    }
    ::close(*dfd);
  }
  if (!fs::is_directory(start, ec)) return out;  // nothing under it (or nothing put yet)
  fs::recursive_directory_iterator it(start, ec), end;
  if (ec) return Err(What("list", prefix) + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Err(What("list", prefix) + ": " + ec.message());
    // Symlinks are not objects (never followed: a planted link must not list a host file).
    if (it->symlink_status(ec).type() != fs::file_type::regular || ec) continue;
    std::string rel = fs::relative(it->path(), root_, ec).generic_string();
    if (ec || !ValidateKey(rel).empty()) continue;  // temp files, foreign names
    if (rel.compare(0, prefix.size(), prefix) != 0) continue;
    uint64_t size = it->file_size(ec);
    if (ec) continue;  // removed while listing
    out.push_back(ObjectInfo{rel, size});
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status FileObjectStore::Delete(const std::string& key) {
  if (auto why = ValidateKey(key); !why.empty())
    return Err(What("delete", key) + ": " + why, Code::kInvalid);
  ++requests_;
  std::string name;
  auto dfd = OpenKeyDir(root_, key, /*create=*/false, &name);
  if (!dfd) {
    if (dfd.code() == Code::kNotFound) return Status::Ok();
    return Err(What("delete", key) + ": " + dfd.message());
  }
  if (::unlinkat(*dfd, name.c_str(), 0) != 0 && errno != ENOENT && errno != ENOTDIR) {
    const int e = errno;
    ::close(*dfd);
    return Err(What("delete", key) + ": " + ErrnoText(e));
  }
  ::fsync(*dfd);
  ::close(*dfd);
  return Status::Ok();
}

Result<Versioned> FileObjectStore::GetVersioned(const std::string& key) {
  auto data = Get(key);  // one open: the bytes hashed are the bytes returned
  if (!data) return data.error();
  Versioned v;
  v.version = sigv4::Sha256Hex(*data);
  v.data = std::move(*data);
  return v;
}

Result<std::string> FileObjectStore::PutIf(const std::string& key, const std::string& data,
                                           const std::string& if_match) {
  if (auto why = ValidateKey(key); !why.empty())
    return Err(What("put-if", key) + ": " + why, Code::kInvalid);
  auto lock = StoreLock::Acquire(root_);
  if (!lock) return Err(What("put-if", key) + ": " + lock.message());
  // The current version, read without counting a request: one PutIf is one request, as on S3.
  Result<Versioned> current = Err("no such object", Code::kNotFound);
  {
    struct stat st {};
    auto fd = OpenObject(root_, key, &st);  // no symlink followed, a regular file only
    if (!fd && fd.code() != Code::kNotFound) return Err(What("put-if", key) + ": " + fd.message());
    if (fd) {
      std::string bytes;
      char buf[65536];
      for (;;) {
        ssize_t n = ::read(*fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          const int e = errno;
          ::close(*fd);
          return Err(What("put-if", key) + ": read: " + ErrnoText(e));
        }
        if (n == 0) break;
        if (bytes.size() + static_cast<uint64_t>(n) > kMaxGetBytes) {
          ::close(*fd);
          return Err(What("put-if", key) + ": the current object exceeds the in-memory limit");
        }
        bytes.append(buf, static_cast<size_t>(n));
      }
      ::close(*fd);
      current = Versioned{"", sigv4::Sha256Hex(bytes)};
    }
  }
  if (if_match.empty() && current) {
    return Err(What("put-if", key) + ": precondition failed: the object exists (If-None-Match: *)",
               Code::kPreconditionFailed);
  }
  if (!if_match.empty() && !current) {
    return Err(What("put-if", key) + ": precondition failed: the object does not exist (If-Match)",
               Code::kPreconditionFailed);
  }
  if (!if_match.empty() && current->version != if_match) {
    return Err(What("put-if", key) + ": precondition failed: version " + current->version +
                   " is not " + if_match + " (If-Match)",
               Code::kPreconditionFailed);
  }
  ++requests_;
  auto r = AtomicWriteKey(root_, key, -1, &data);
  if (!r) return Wrap(What("put-if", key) + ": ", r.error());
  bytes_up_ += *r;
  return sigv4::Sha256Hex(data);
}

}  // namespace aha::objectstore
