// When `agency-ha replicate` (continuous mode) captures, as pure functions of the watcher's
// pending batch, the clock and the last cycle's outcome, so the schedule is table-tested
// (tests/unit/replication_schedule_test.cpp) without inotify, a clock or a remote.
//
// A snapshot is taken once the tree has been quiet for `debounce` (at most 5x that under
// continuous churn; at once after an inotify overflow). A full capture every syncIntervalSeconds
// ("rescan") is the safety net for anything inotify missed.
#pragma once

#include <chrono>
#include <string>

#include "replication/watcher.h"

namespace aha::replication {

using SteadyTime = std::chrono::steady_clock::time_point;

// The trigger of a capture at `now`: "overflow", "inotify" (quiet for `debounce`, or the batch is
// 5x `debounce` old), "rescan" (`next_rescan` reached), or "" (not yet).
std::string CaptureTrigger(const WatchBatch& pending, SteadyTime now, SteadyTime next_rescan,
                           std::chrono::milliseconds debounce);

// Without a trigger: when the pending batch will fire (quiet for `debounce`, at most 5x it).
SteadyTime BatchFiresAt(const WatchBatch& pending, std::chrono::milliseconds debounce);

// After a capture finished at `after`: the next rescan (the sync interval; sooner when a file
// changed during the capture (retry: after `debounce`) or a publish failed (after `backoff`)) and
// the backoff for the next failure (doubling up to 5 min; back to 1 s after a success).
struct NextCapture {
  SteadyTime rescan_at;
  std::chrono::milliseconds backoff;
};
NextCapture ScheduleAfter(bool all_ok, bool retry, SteadyTime after,
                          std::chrono::milliseconds rescan_every,
                          std::chrono::milliseconds debounce, std::chrono::milliseconds backoff);

}  // namespace aha::replication
