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

// A temp path next to `target`; contains '~' so it can never be a valid key.
std::string TempPathFor(const std::string& target) {
  fs::path p(target);
  return (p.parent_path() / (".aha~" + p.filename().string() + "." + std::to_string(::getpid()) +
                             "." + std::to_string(g_tmp_counter++)))
      .string();
}

void FsyncDir(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

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

// Copies `src_fd` (or `data` when src_fd < 0) into a temp file next to `target`, fsyncs it and
// renames it over `target`. Returns the bytes written or an error text (errno included).
// Without `durable` neither the file nor the directory is fsynced (the caller syncs later).
Result<uint64_t> AtomicWrite(const std::string& target, int src_fd, const std::string* data,
                             bool durable = true) {
  const std::string dir = fs::path(target).parent_path().string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Err("cannot create directory " + dir + ": " + ec.message());
  const std::string tmp = TempPathFor(target);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Err("cannot create temp file in " + dir + ": " + ErrnoText(errno));
  auto fail = [&](const std::string& what) -> Result<uint64_t> {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Err(what + ": " + ErrnoText(e));
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
      if (!WriteAll(fd, buf.data(), static_cast<size_t>(n))) return fail("write failed");
      total += static_cast<uint64_t>(n);
    }
  }
  if (durable && ::fsync(fd) != 0) return fail("fsync failed");
  if (::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Err("close failed: " + ErrnoText(e));
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    if (e == EISDIR) return Err("a directory of other keys has this name");
    return Err("rename failed: " + ErrnoText(e));
  }
  if (durable) FsyncDir(dir);
  return total;
}

// An exclusive flock on ROOT/.aha~lock for the lifetime of the object (the root is created).
class StoreLock {
 public:
  static Result<std::unique_ptr<StoreLock>> Acquire(const std::string& root) {
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) return Err("cannot create directory " + root + ": " + ec.message());
    const std::string path = root + "/.aha~lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return Err("cannot open lock file " + path + ": " + ErrnoText(errno));
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
  if (auto why = ValidateKey(key); !why.empty()) return Err(What("put", key) + ": " + why, 400);
  ++requests_;
  auto r = AtomicWrite(root_ + "/" + key, -1, &data);
  if (!r) return Err(What("put", key) + ": " + r.message());
  bytes_up_ += *r;
  return Status::Ok();
}

Status FileObjectStore::PutFile(const std::string& key, const std::string& path) {
  if (auto why = ValidateKey(key); !why.empty()) return Err(What("put", key) + ": " + why, 400);
  int src = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return Err(What("put", key) + ": cannot open " + path + ": " + ErrnoText(errno));
  ++requests_;
  auto r = AtomicWrite(root_ + "/" + key, src, nullptr);
  ::close(src);
  if (!r) return Err(What("put", key) + ": " + r.message());
  bytes_up_ += *r;
  return Status::Ok();
}

Result<std::string> FileObjectStore::Get(const std::string& key) {
  if (auto why = ValidateKey(key); !why.empty()) return Err(What("get", key) + ": " + why, 400);
  ++requests_;
  const std::string p = root_ + "/" + key;
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) return Err(What("get", key) + ": no such object", 404);
    return Err(What("get", key) + ": " + ErrnoText(e));
  }
  if (!S_ISREG(st.st_mode)) return Err(What("get", key) + ": no such object", 404);
  auto data = ReadFile(p);
  if (!data) return Err(What("get", key) + ": " + data.message(), errno == ENOENT ? 404 : 0);
  bytes_down_ += data->size();
  return data;
}

Status FileObjectStore::GetToFile(const std::string& key, const std::string& path, bool durable) {
  if (auto why = ValidateKey(key); !why.empty()) return Err(What("get", key) + ": " + why, 400);
  ++requests_;
  const std::string p = root_ + "/" + key;
  int src = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (src < 0 || ::fstat(src, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = errno;
    if (src >= 0) ::close(src);
    if (src >= 0 || e == ENOENT || e == ENOTDIR) {
      return Err(What("get", key) + ": no such object", 404);
    }
    return Err(What("get", key) + ": " + ErrnoText(e));
  }
  auto r = AtomicWrite(fs::absolute(path).string(), src, nullptr, durable);
  ::close(src);
  if (!r) return Err(What("get", key) + ": writing " + path + ": " + r.message());
  bytes_down_ += *r;
  return Status::Ok();
}

Result<bool> FileObjectStore::Exists(const std::string& key) {
  if (auto why = ValidateKey(key); !why.empty()) return Err(What("exists", key) + ": " + why, 400);
  ++requests_;
  struct stat st {};
  if (::stat((root_ + "/" + key).c_str(), &st) == 0) return S_ISREG(st.st_mode);
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return Err(What("exists", key) + ": " + ErrnoText(errno));
}

Result<std::vector<ObjectInfo>> FileObjectStore::List(const std::string& prefix) {
  if (auto why = ValidatePrefix(prefix); !why.empty()) {
    return Err(What("list", prefix) + ": " + why, 400);
  }
  ++requests_;
  std::vector<ObjectInfo> out;
  // Walk only the deepest directory the prefix fully names ("a/b/c" -> ROOT/a/b).
  const size_t slash = prefix.rfind('/');
  const std::string base = slash == std::string::npos ? "" : prefix.substr(0, slash);
  const fs::path start = base.empty() ? fs::path(root_) : fs::path(root_) / base;
  std::error_code ec;
  if (!fs::is_directory(start, ec)) return out;  // nothing under it (or nothing put yet)
  fs::recursive_directory_iterator it(start, ec), end;
  if (ec) return Err(What("list", prefix) + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Err(What("list", prefix) + ": " + ec.message());
    if (!it->is_regular_file(ec)) continue;
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
  if (auto why = ValidateKey(key); !why.empty()) return Err(What("delete", key) + ": " + why, 400);
  ++requests_;
  const std::string p = root_ + "/" + key;
  if (::unlink(p.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
    return Err(What("delete", key) + ": " + ErrnoText(errno));
  }
  FsyncDir(fs::path(p).parent_path().string());
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
  if (auto why = ValidateKey(key); !why.empty()) return Err(What("put-if", key) + ": " + why, 400);
  auto lock = StoreLock::Acquire(root_);
  if (!lock) return Err(What("put-if", key) + ": " + lock.message());
  auto current = GetVersioned(key);
  if (!current && current.code() != 404) return Err(What("put-if", key) + ": " + current.message());
  if (if_match.empty() && current) {
    return Err(What("put-if", key) + ": precondition failed: the object exists (If-None-Match: *)",
               412);
  }
  if (!if_match.empty() && !current) {
    return Err(What("put-if", key) + ": precondition failed: the object does not exist (If-Match)",
               412);
  }
  if (!if_match.empty() && current->version != if_match) {
    return Err(What("put-if", key) + ": precondition failed: version " + current->version +
                   " is not " + if_match + " (If-Match)",
               412);
  }
  ++requests_;
  auto r = AtomicWrite(root_ + "/" + key, -1, &data);
  if (!r) return Err(What("put-if", key) + ": " + r.message());
  bytes_up_ += *r;
  return sigv4::Sha256Hex(data);
}

}  // namespace aha::objectstore
