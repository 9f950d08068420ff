#include "common/signals.h"

#include <pthread.h>
#include <signal.h>

namespace aha {

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

SignalWatcher::SignalWatcher(Stopper& stop) {
  thread_ = std::thread([this, &stop] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
      if (done_.load()) return;
      signal_ = sig;
      stop.Stop();
      return;
    }
  });
}

SignalWatcher::~SignalWatcher() {
  done_ = true;
  if (signal_.load() == 0) pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

}  // namespace aha
