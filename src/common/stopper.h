// Stopper: an interruptible sleep shared by a loop and whoever stops it (signal thread, tests).
//
// Sleeps run on a Clock (SystemClock unless one is given), so a loop driven by FakeClock sleeps
// in fake time. Stop() interrupts every clock a thread currently sleeps on through this Stopper;
// a clock outlives every Stopper that sleeps on it.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "common/clock.h"

namespace aha {

class Stopper {
 public:
  explicit Stopper(const Clock& clock = SystemClock::instance()) : clock_(clock) {}
  Stopper(const Stopper&) = delete;
  Stopper& operator=(const Stopper&) = delete;

  void Stop() {
    std::vector<const Clock*> sleeping;
    {
      std::lock_guard l(mu_);
      stopped_ = true;
      sleeping = sleeping_;
    }
    for (const Clock* c : sleeping)
      c->Interrupt();
  }
  bool stopped() const {
    std::lock_guard l(mu_);
    return stopped_;
  }
  const Clock& clock() const { return clock_; }
  // Sleeps on `clock` until `deadline` or Stop(); returns true when stopped. A loop with its own
  // clock passes it, so its deadline and its sleep are on the same clock.
  bool WaitUntil(const Clock& clock, MonoTime deadline) {
    {
      std::lock_guard l(mu_);
      if (stopped_) return true;
      sleeping_.push_back(&clock);
    }
    const bool stopped = clock.SleepUntil(deadline, [this] { return this->stopped(); });
    std::lock_guard l(mu_);
    sleeping_.erase(std::find(sleeping_.begin(), sleeping_.end(), &clock));
    return stopped;
  }
  // Also returns (false) once `wake()` is true: whoever makes it true calls clock.Interrupt()
  // afterwards. `wake` runs under the clock's lock: it must be cheap (an atomic load) and must not
  // call back into the clock.
  bool WaitUntil(const Clock& clock, MonoTime deadline, const std::function<bool()>& wake) {
    {
      std::lock_guard l(mu_);
      if (stopped_) return true;
      sleeping_.push_back(&clock);
    }
    clock.SleepUntil(deadline, [this, &wake] { return this->stopped() || wake(); });
    std::lock_guard l(mu_);
    sleeping_.erase(std::find(sleeping_.begin(), sleeping_.end(), &clock));
    return stopped_;
  }
  bool WaitUntil(MonoTime deadline) { return WaitUntil(clock_, deadline); }
  template <class Rep, class Period>
  bool WaitFor(std::chrono::duration<Rep, Period> d) {
    return WaitFor(clock_, d);
  }
  template <class Rep, class Period>
  bool WaitFor(const Clock& clock, std::chrono::duration<Rep, Period> d) {
    return WaitUntil(clock, clock.mono() + std::chrono::duration_cast<MonoTime::duration>(d));
  }

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  std::vector<const Clock*> sleeping_;  // one entry per thread sleeping now
  bool stopped_ = false;
};

}  // namespace aha
