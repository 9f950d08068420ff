// Clock: the only way code in this project learns the time.
//
// Decision logic never reads a clock: `now` is an argument. Loops that need to wait take a Clock
// so tests can drive them with FakeClock (as Envoy's TimeSource and LevelDB's Env do).
// Wall time (system_clock) is used for timestamps that are persisted and shown to people;
// monotonic time (steady_clock) for measuring intervals and scheduling ticks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

namespace aha {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime wall() const = 0;
  virtual MonoTime mono() const = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime wall() const override { return std::chrono::system_clock::now(); }
  MonoTime mono() const override { return std::chrono::steady_clock::now(); }
  static SystemClock& instance() {
    static SystemClock c;
    return c;
  }
};

// Test clock: time moves only when advance() is called.
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
    std::lock_guard l(mu_);
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
    mono_ += std::chrono::duration_cast<MonoTime::duration>(d);
  }

 private:
  mutable std::mutex mu_;
  WallTime wall_;
  MonoTime mono_;
};

// RFC 3339 UTC with milliseconds, e.g. 2026-11-27T17:09:04.123Z.
std::string FormatTime(WallTime t);
// Parses what FormatTime writes (also accepts no fraction). Returns false on bad input.
bool ParseTime(const std::string& s, WallTime* out);
// Milliseconds since the Unix epoch.
inline long long EpochMillis(WallTime t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}

}  // namespace aha
