#include "replication/replicate_schedule.h"

#include <algorithm>

namespace aha::replication {

SteadyTime BatchFiresAt(const WatchBatch& pending, std::chrono::milliseconds debounce) {
  return std::min(pending.last + debounce, pending.first + 5 * debounce);
}

std::string CaptureTrigger(const WatchBatch& pending, SteadyTime now, SteadyTime next_rescan,
                           std::chrono::milliseconds debounce) {
  if (pending.pending) {
    const auto fire = pending.overflow ? now : BatchFiresAt(pending, debounce);
    if (now >= fire) return pending.overflow ? "overflow" : "inotify";
  }
  if (now >= next_rescan) return "rescan";
  return "";
}

NextCapture ScheduleAfter(bool all_ok, bool retry, SteadyTime after,
                          std::chrono::milliseconds rescan_every,
                          std::chrono::milliseconds debounce, std::chrono::milliseconds backoff) {
  NextCapture n{after + rescan_every, backoff};
  if (retry) n.rescan_at = std::min(n.rescan_at, after + debounce);
  if (!all_ok) {
    // Changes are waiting (the lag grows): retry before the next rescan, backing off.
    n.rescan_at = std::min(n.rescan_at, after + backoff);
    n.backoff = std::min<std::chrono::milliseconds>(2 * backoff, std::chrono::minutes(5));
  } else {
    n.backoff = std::chrono::milliseconds(1000);
  }
  return n;
}

}  // namespace aha::replication
