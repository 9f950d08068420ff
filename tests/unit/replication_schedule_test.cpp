// When continuous `replicate` captures (src/replication/replicate_schedule.h): the trigger from
// the pending inotify batch and the rescan time, and the next rescan and backoff after a cycle.
#include "replication/replicate_schedule.h"

#include <gtest/gtest.h>

namespace aha::replication {
namespace {

using std::chrono::milliseconds;

const SteadyTime kT0{std::chrono::seconds(1000)};

SteadyTime At(long long ms) {
  return kT0 + milliseconds(ms);
}

TEST(CaptureTrigger, QuietDebounceChurnCapOverflowAndRescan) {
  const milliseconds debounce(100);
  const struct {
    const char* name;
    bool pending, overflow;
    long long first, last, now, rescan;
    const char* want;
  } cases[] = {
      {"nothing pending, rescan not due", false, false, 0, 0, 50, 1000, ""},
      {"nothing pending, rescan due", false, false, 0, 0, 1000, 1000, "rescan"},
      {"not quiet yet", true, false, 0, 60, 150, 1000, ""},
      {"quiet for the debounce", true, false, 0, 60, 160, 1000, "inotify"},
      {"churn: capped at 5x the debounce", true, false, 0, 490, 500, 1000, "inotify"},
      {"churn: before the cap", true, false, 0, 490, 499, 1000, ""},
      {"overflow fires at once", true, true, 0, 0, 1, 1000, "overflow"},
      {"inotify wins over a due rescan", true, false, 0, 0, 1000, 1000, "inotify"},
      {"not fired yet, rescan due", true, false, 900, 990, 1000, 1000, "rescan"},
  };
  for (const auto& c : cases) {
    WatchBatch b;
    b.pending = c.pending;
    b.overflow = c.overflow;
    b.first = At(c.first);
    b.last = At(c.last);
    EXPECT_EQ(CaptureTrigger(b, At(c.now), At(c.rescan), debounce), c.want) << c.name;
  }
  WatchBatch b;
  b.first = At(0);
  b.last = At(60);
  EXPECT_EQ(BatchFiresAt(b, debounce), At(160));
  b.last = At(450);
  EXPECT_EQ(BatchFiresAt(b, debounce), At(500));
}

TEST(ScheduleAfter, RescanIntervalRetryAndBackoff) {
  const milliseconds every(30000), debounce(200);
  const struct {
    const char* name;
    bool all_ok, retry;
    long long backoff_ms, want_rescan_ms, want_backoff_ms;
  } cases[] = {
      {"ok: the sync interval, backoff reset", true, false, 8000, 30000, 1000},
      {"a file changed: after the debounce", true, true, 1000, 200, 1000},
      {"failed: after the backoff, doubled", false, false, 1000, 1000, 2000},
      {"failed and retry: the sooner", false, true, 4000, 200, 8000},
      {"backoff capped at 5 min", false, false, 200000, 30000, 300000},
  };
  for (const auto& c : cases) {
    const NextCapture n =
        ScheduleAfter(c.all_ok, c.retry, At(0), every, debounce, milliseconds(c.backoff_ms));
    EXPECT_EQ(n.rescan_at, At(c.want_rescan_ms)) << c.name;
    EXPECT_EQ(n.backoff, milliseconds(c.want_backoff_ms)) << c.name;
  }
}

}  // namespace
}  // namespace aha::replication
