// Clock: the only way code in this project learns the time.
//
// Decision logic never reads a clock: `now` is an argument. Loops that need to wait take a Clock
// so tests can drive them with FakeClock (as Envoy's TimeSource and LevelDB's Env do).
// Wall time (system_clock) is used for timestamps that are persisted and shown to people;
// monotonic time (steady_clock) for measuring intervals and scheduling ticks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>

namespace aha {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

// Waiting goes through the Clock too, so a loop driven by FakeClock sleeps in fake time:
//   SleepUntil(deadline, stopped) blocks until mono() >= deadline or stopped() is true and returns
//   stopped(). Whoever makes stopped() true calls Interrupt() afterwards (Stopper does), so the
//   sleeper re-checks. stopped() must not call back into this clock (it runs under its lock).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime wall() const = 0;
  virtual MonoTime mono() const = 0;
  virtual bool SleepUntil(MonoTime deadline, const std::function<bool()>& stopped) const = 0;
  virtual void Interrupt() const = 0;
  // An uninterruptible sleep (retry backoff outside any Stopper).
  void SleepFor(std::chrono::nanoseconds d) const {
    SleepUntil(mono() + std::chrono::duration_cast<MonoTime::duration>(d), [] { return false; });
  }
};

// The one place that reads the real clocks. Its sleepers share one condition variable: an
// Interrupt() (a Stop at shutdown) wakes all of them, each re-checks its own predicate.
class SystemClock final : public Clock {
 public:
  WallTime wall() const override { return std::chrono::system_clock::now(); }
  MonoTime mono() const override { return std::chrono::steady_clock::now(); }
  bool SleepUntil(MonoTime deadline, const std::function<bool()>& stopped) const override {
    std::unique_lock l(mu_);
    return cv_.wait_until(l, deadline, stopped);
  }
  void Interrupt() const override {
    { std::lock_guard l(mu_); }
    cv_.notify_all();
  }
  static SystemClock& instance() {
    static SystemClock c;
    return c;
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
};

// Test clock: time moves only when advance() is called. A sleeper returns once advance() has
// moved mono() to its deadline (or it is stopped). With auto_advance, a sleep instead moves the
// clock to its deadline at once (a retry loop runs without a second thread; the total slept is
// what mono() moved). WaitForSleepers() let a test advance only once a loop is
// actually waiting, so no test depends on how fast a thread runs.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime start = WallTime{} + std::chrono::hours(24 * 365 * 50))
      : wall_(start), mono_(MonoTime{} + std::chrono::hours(1)) {}
  WallTime wall() const override {
    std::lock_guard l(mu_);
    return wall_;
  }
  MonoTime mono() const override {
    std::lock_guard l(mu_);
    return mono_;
  }
  void advance(std::chrono::nanoseconds d) {
    {
      std::lock_guard l(mu_);
      AdvanceLocked(d);
    }
    cv_.notify_all();
  }
  void set_auto_advance(bool on) {
    std::lock_guard l(mu_);
    auto_advance_ = on;
  }
  bool SleepUntil(MonoTime deadline, const std::function<bool()>& stopped) const override {
    std::unique_lock l(mu_);
    if (auto_advance_) {
      if (stopped()) return true;
      if (mono_ < deadline) AdvanceLocked(deadline - mono_);
      l.unlock();
      cv_.notify_all();
      return false;
    }
    // The epoch this sleeper last re-checked its deadline at (WaitForSleepers counts those that
    // have seen the latest advance and still sleep).
    auto seen = seen_.insert(seen_.end(), epoch_ - 1);
    cv_.wait(l, [&] {
      if (stopped() || mono_ >= deadline) return true;
      if (*seen != epoch_) {
        *seen = epoch_;
        cv_.notify_all();
      }
      return false;
    });
    seen_.erase(seen);
    return stopped();
  }
  void Interrupt() const override {
    { std::lock_guard l(mu_); }
    cv_.notify_all();
  }
  // Blocks until at least n threads sleep on this clock having seen the latest advance(), i.e.
  // each one re-checked its deadline at the current time and is still waiting. False after a
  // generous real-time cap, which only turns a hung test into a failed one.
  bool WaitForSleepers(int n) const {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(60), [&] {
      int k = 0;
      for (uint64_t e : seen_)
        k += e == epoch_;
      return k >= n;
    });
  }

 private:
  void AdvanceLocked(std::chrono::nanoseconds d) const {
    ++epoch_;
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
    mono_ += std::chrono::duration_cast<MonoTime::duration>(d);
  }
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable WallTime wall_;  // mutable: an auto-advancing sleep moves them
  mutable MonoTime mono_;
  bool auto_advance_ = false;
  mutable uint64_t epoch_ = 1;        // advances so far
  mutable std::list<uint64_t> seen_;  // one per sleeper (its iterator stays valid)
};

// A WallTime as UTC calendar fields: the one place that splits a time for formatting (RFC 3339,
// Kubernetes MicroTime, AWS dates, snapshot ids). `nanos` is always 0..999'999'999, also before
// 1970 (the seconds round down), so a formatter never prints a negative fraction.
struct UtcFields {
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  long long nanos = 0;
};
UtcFields ToUtc(WallTime t);

// RFC 3339 UTC with milliseconds, e.g. 2026-11-27T17:09:04.123Z.
std::string FormatTime(WallTime t);
// Parses what FormatTime writes (also accepts no fraction). Returns false on bad input.
bool ParseTime(const std::string& s, WallTime* out);
// Milliseconds since the Unix epoch.
inline long long EpochMillis(WallTime t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}

}  // namespace aha
