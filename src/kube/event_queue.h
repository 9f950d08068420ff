// EventQueue: Kubernetes Events written by a background thread, so that recording one never
// blocks or fails the caller (the sidecar's fencing and publishing, the controller's rounds).
// Events are a report next to the log and the metrics, never the data path.
//
// Contract
// - Emit() never blocks on the API and never fails: Events wait in a bounded queue (kQueueLimit;
//   when full the oldest waiting Event is dropped) and one thread writes them with its own client
//   whose requests are bounded (kRequestTimeout per attempt, kAttempts attempts; 403 and other
//   4xx are not retried, kube/client.h). So a write costs at most ~2 x 3 s plus one backoff, and
//   an API server that never answers holds at most one Event in flight and kQueueLimit waiting.
// - Every write's outcome goes to `on_result` (callers count them in metrics); a failed write is
//   logged at warn once, naming the Event's reason, the object and the API's error (the client
//   does not log its attempts).
// - Every dropped Event goes to `on_dropped`. While the API is not taking Events only the first
//   drop is logged (then counted only, until an Event is recorded again): a long outage with many
//   Events is one log line, not one per Event.
// - A create answered 409 AlreadyExists is a recorded Event (EventRecorder::Record: an earlier
//   attempt was stored but its answer was lost).
// - Shutdown is bounded: the destructor writes what is queued, but when the last write failed the
//   rest is dropped (counted) instead of waiting out every timeout: at most one failing write.
// Neither callback runs under the queue's lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/result.h"
#include "kube/events.h"
#include "metrics/registry.h"

namespace aha::kube {

class EventQueue {
 public:
  static constexpr std::chrono::milliseconds kRequestTimeout{3000};
  static constexpr int kAttempts = 2;
  static constexpr size_t kQueueLimit = 32;

  struct Item {
    std::string type, reason, message;
    WallTime at;
  };
  // Records one Event (e.g. recorder.Record(ref, ...)); runs on the background thread.
  using Writer = std::function<Status(EventRecorder&, const Item&)>;
  struct Options {
    std::string component;       // source.component / reportingComponent
    std::string instance;        // reportingInstance
    std::string object;          // the object the Events are about, for logs: "Pod agency/app-0"
    std::string dropped_metric;  // named in the drop log line
  };

  // on_result(reason, status) runs on the background thread after each write; on_dropped(reason)
  // on the thread that dropped the Event (Emit's caller, or the background thread at shutdown).
  EventQueue(const Connection& conn, Options opts, Writer write,
             std::function<void(const std::string&, const Status&)> on_result,
             std::function<void(const std::string&)> on_dropped);
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  void Emit(const std::string& type, const std::string& reason, const std::string& message,
            WallTime at);

 private:
  void Loop();
  // Drops the oldest queued Event (mu_ held) and returns its reason; logs only the first drop of
  // an outage.
  std::string DropOldestLocked(const char* why);

  Options opts_;
  EventRecorder recorder_;
  Writer write_;
  std::function<void(const std::string&, const Status&)> on_result_;
  std::function<void(const std::string&)> on_dropped_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  bool last_failed_ = false;  // the last write failed (the API is not taking Events)
  bool drop_logged_ = false;  // a drop was logged since the last recorded Event
  std::thread worker_;
};

// The three counters every EventQueue owner exports, declared in one place so the roles' names and
// help texts cannot drift: <prefix>_events_total, <prefix>_event_errors_total and
// <prefix>_events_dropped_total, each by reason. `about` names the Events' object in the help
// ("the state ConfigMap", "this pod").
struct EventCounters {
  static EventCounters Define(metrics::Registry& reg, const std::string& prefix,
                              const std::string& about);
  // The EventQueue callbacks that count into these counters (thread-safe: Counter::Add locks).
  std::function<void(const std::string&, const Status&)> OnResult() const;
  std::function<void(const std::string&)> OnDropped() const;

  std::string dropped_name;  // for EventQueue::Options::dropped_metric
  metrics::Counter recorded, failed, dropped;
};

}  // namespace aha::kube
