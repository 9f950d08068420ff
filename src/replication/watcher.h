// TreeWatcher: recursive inotify watch of the replication source, used only to decide WHEN to
// capture (the capture itself is always a full, stat-based scan, so a missed event can delay a
// snapshot until the next periodic rescan but never make one wrong).
//
// - Every directory under the root is watched except the excluded ones (the state dir); new
//   directories (IN_CREATE/IN_MOVED_TO with IN_ISDIR) are walked and watched as they appear.
// - Events: IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_ATTRIB (plus
//   the *_SELF ones to keep the watch table right). IN_Q_OVERFLOW, a directory moved, or a watch
//   that could not be added (ENOSPC: fs.inotify.max_user_watches) mark the batch as needing a
//   rescan; since every capture is a full scan that only means "capture now" and re-walk.
// - A background thread reads the descriptor and timestamps the first and last event of the
//   pending batch on the injected Clock; Take() hands the batch to the capture loop and starts a
//   new one. WaitForEvent sleeps on that Clock too, so a loop driven by FakeClock settles in fake
//   time (an event interrupts the sleep).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace aha::replication {

struct WatchBatch {
  bool pending = false;   // at least one relevant event since the last Take()
  bool overflow = false;  // events may have been lost (queue overflow, watch limit)
  uint64_t events = 0;
  MonoTime first, last;     // of this batch's events
  double first_wall_s = 0;  // wall time of the first event (seconds)
};

class TreeWatcher {
 public:
  TreeWatcher(std::string root, std::vector<std::string> exclude,
              const Clock& clock = SystemClock::instance());
  ~TreeWatcher();
  TreeWatcher(const TreeWatcher&) = delete;
  TreeWatcher& operator=(const TreeWatcher&) = delete;

  // Creates the inotify instance, watches the tree and starts the reader thread.
  Status Start();
  void Stop();

  // The pending batch (cleared).
  WatchBatch Take();
  // A copy of the pending batch (not cleared).
  WatchBatch Peek() const;
  // Waits (on the clock) until an event arrives, Wake() or `deadline`; true when a batch is
  // pending.
  bool WaitForEvent(MonoTime deadline);
  // Wakes WaitForEvent (shutdown).
  void Wake();

  size_t watch_count() const;

 private:
  void Run();
  void WalkAndWatch(const std::string& dir);  // reader thread / Start only
  bool Excluded(const std::string& path) const;
  void Note(bool overflow);

  std::string root_;
  std::vector<std::string> exclude_;
  const Clock& clock_;
  int fd_ = -1, wake_fd_ = -1;
  std::map<int, std::string> dirs_;  // wd -> absolute dir (reader thread / Start only)
  std::thread thread_;
  mutable std::mutex
      mu_;  // taken inside the clock's lock (WaitForEvent's predicate), never around it
  WatchBatch batch_;
  bool woken_ = false;
  size_t watches_ = 0;
};

}  // namespace aha::replication
