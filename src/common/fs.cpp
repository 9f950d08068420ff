#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace aha {

std::string ErrnoText(int err) {
  return std::strerror(err);
}

Result<int> OpenLockFile(const std::string& path) {
  // O_NONBLOCK: a FIFO planted at the path must not block the open (no effect on a regular file).
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    if (e == ELOOP) {
      return SysErr("lock file " + path + " is a symbolic link; refusing to follow it", e);
    }
    return SysErr("cannot open lock file " + path + ": " + ErrnoText(e), e);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return SysErr("lock file " + path + " is not a regular file; refusing to use it", EINVAL);
  }
  return fd;
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return SysErr(path + ": " + ErrnoText(e), e);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return SysErr(path + ": " + ErrnoText(e), e);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status WriteFileAtomic(const std::string& path, const std::string& data) {
  static std::atomic<unsigned> counter{0};
  namespace fs = std::filesystem;
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::string tmp = (dir / ("." + p.filename().string() + ".tmp." + std::to_string(::getpid()) +
                            "." + std::to_string(counter++)))
                        .string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    return SysErr(path + ": cannot create temp file: " + ErrnoText(e), e);
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return SysErr(path + ": write failed: " + ErrnoText(e), e);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return SysErr(path + ": fsync failed: " + ErrnoText(e), e);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return SysErr(path + ": rename failed: " + ErrnoText(e), e);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Status EnsureWritableDir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return SysErr(path + ": cannot create directory: " + ec.message(), ec.value());
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Err(path + ": " + ErrnoText(errno));
  if (!S_ISDIR(st.st_mode)) return Err(path + ": not a directory");
  // access(2) says yes to root on a read-only mount or an immutable directory; only creating a
  // file proves we can write. The probe file is removed at once.
  std::string probe = path + "/.agency-ha-write-test." + std::to_string(::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int e = errno;
    return SysErr(path + ": directory is not writable: " + ErrnoText(e), e);
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::Ok();
}

}  // namespace aha
