// Stopper: an interruptible sleep shared by a loop and whoever stops it (signal thread, tests).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace aha {

class Stopper {
 public:
  void Stop() {
    {
      std::lock_guard l(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  bool stopped() const {
    std::lock_guard l(mu_);
    return stopped_;
  }
  // Sleeps until `deadline` or Stop(); returns true when stopped.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock l(mu_);
    return cv_.wait_until(l, deadline, [&] { return stopped_; });
  }
  template <class Rep, class Period>
  bool WaitFor(std::chrono::duration<Rep, Period> d) {
    return WaitUntil(std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace aha
