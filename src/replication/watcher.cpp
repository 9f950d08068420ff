#include "replication/watcher.h"

#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/fs.h"
#include "common/log.h"

namespace aha::replication {

namespace {

constexpr uint32_t kDirMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                              IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |
                              IN_DONT_FOLLOW | IN_EXCL_UNLINK;

double WallSeconds(WallTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

TreeWatcher::TreeWatcher(std::string root, std::vector<std::string> exclude, const Clock& clock)
    : root_(std::move(root)), exclude_(std::move(exclude)), clock_(clock) {}

TreeWatcher::~TreeWatcher() {
  Stop();
}

bool TreeWatcher::Excluded(const std::string& path) const {
  for (const auto& e : exclude_) {
    if (path == e ||
        (path.size() > e.size() && path.compare(0, e.size(), e) == 0 && path[e.size()] == '/')) {
      return true;
    }
  }
  return false;
}

void TreeWatcher::Note(bool overflow) {
  // The clock is read outside mu_: WaitForEvent's predicate takes mu_ inside the clock's lock.
  const MonoTime now = clock_.mono();
  const double wall_s = WallSeconds(clock_.wall());
  {
    std::lock_guard l(mu_);
    if (!batch_.pending) {
      batch_.pending = true;
      batch_.first = now;
      batch_.first_wall_s = wall_s;
    }
    batch_.last = now;
    batch_.events++;
    batch_.overflow = batch_.overflow || overflow;
  }
  clock_.Interrupt();
}

void TreeWatcher::WalkAndWatch(const std::string& dir) {
  if (Excluded(dir)) return;
  const int wd = inotify_add_watch(fd_, dir.c_str(), kDirMask);
  if (wd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return;  // gone meanwhile: the capture will see it
    log::Warn("inotify watch failed; changes there wait for the periodic rescan",
              {{"dir", dir}, {"error", ErrnoText(errno)}});
    Note(true);
    return;
  }
  dirs_[wd] = dir;  // also refreshes the path of a directory that moved
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> subdirs;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = ::lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) subdirs.push_back(dir + "/" + name);
  }
  ::closedir(d);
  for (const auto& s : subdirs)
    WalkAndWatch(s);
}

Status TreeWatcher::Start() {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return Err("inotify_init1: " + ErrnoText(errno));
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Err("eventfd: " + ErrnoText(errno));
  WalkAndWatch(root_);
  if (dirs_.empty()) return Err("cannot watch " + root_);
  {
    std::lock_guard l(mu_);
    watches_ = dirs_.size();
    batch_ = WatchBatch{};  // a watch failure while starting is already logged
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void TreeWatcher::Stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  Wake();
  if (fd_ >= 0) ::close(fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  fd_ = wake_fd_ = -1;
}

void TreeWatcher::Run() {
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::Warn("inotify poll failed; relying on the periodic rescan",
                {{"error", ErrnoText(errno)}});
      return;
    }
    if (p[1].revents) return;
    bool relevant = false, overflow = false, rewalk = false;
    std::vector<std::string> new_dirs;
    for (;;) {
      const ssize_t len = ::read(fd_, buf, sizeof buf);
      if (len <= 0) break;
      for (char* ptr = buf; ptr < buf + len;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(ptr);
        ptr += sizeof(inotify_event) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) {
          overflow = relevant = rewalk = true;
          continue;
        }
        auto it = dirs_.find(ev->wd);
        if (ev->mask & IN_IGNORED) {
          if (it != dirs_.end()) dirs_.erase(it);
          continue;
        }
        if (it == dirs_.end()) continue;
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
          // The parent's IN_DELETE/IN_MOVED_FROM already counts as a change.
          if (ev->mask & IN_MOVE_SELF) rewalk = true;
          continue;
        }
        const std::string path = ev->len ? it->second + "/" + ev->name : it->second;
        if (Excluded(path)) continue;
        relevant = true;
        if (ev->mask & IN_ISDIR) {
          if (ev->mask & (IN_CREATE | IN_MOVED_TO)) new_dirs.push_back(path);
          if (ev->mask & (IN_MOVED_FROM | IN_MOVED_TO)) rewalk = true;  // subtree paths moved
        }
      }
    }
    if (rewalk) {
      WalkAndWatch(root_);
    } else {
      for (const auto& d : new_dirs)
        WalkAndWatch(d);
    }
    {
      std::lock_guard l(mu_);
      watches_ = dirs_.size();
    }
    if (relevant) Note(overflow);
  }
}

WatchBatch TreeWatcher::Take() {
  std::lock_guard l(mu_);
  WatchBatch b = batch_;
  batch_ = WatchBatch{};
  return b;
}

WatchBatch TreeWatcher::Peek() const {
  std::lock_guard l(mu_);
  return batch_;
}

bool TreeWatcher::WaitForEvent(MonoTime deadline) {
  clock_.SleepUntil(deadline, [this] {
    std::lock_guard l(mu_);
    return batch_.pending || woken_;
  });
  std::lock_guard l(mu_);
  woken_ = false;
  return batch_.pending;
}

void TreeWatcher::Wake() {
  {
    std::lock_guard l(mu_);
    woken_ = true;
  }
  clock_.Interrupt();
}

size_t TreeWatcher::watch_count() const {
  std::lock_guard l(mu_);
  return watches_;
}

}  // namespace aha::replication
