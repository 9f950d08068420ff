// SignalWatcher: turns SIGTERM/SIGINT into Stopper::Stop() for a graceful shutdown.
//
// BlockTerminationSignals() must run in main() before any thread starts, so that every thread
// inherits the mask and the signal is delivered only to the watcher's sigwait().
#pragma once

#include <atomic>
#include <thread>

#include "common/stopper.h"

namespace aha {

void BlockTerminationSignals();

class SignalWatcher {
 public:
  explicit SignalWatcher(Stopper& stop);
  ~SignalWatcher();
  int signal() const { return signal_.load(); }  // the signal received, 0 if none

 private:
  std::thread thread_;
  std::atomic<int> signal_{0};
  std::atomic<bool> done_{false};
};

}  // namespace aha
