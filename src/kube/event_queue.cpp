#include "kube/event_queue.h"

#include <memory>
#include <vector>

#include "common/log.h"

namespace aha::kube {

namespace {
RetryPolicy EventRetry() {
  RetryPolicy p;
  p.max_attempts = EventQueue::kAttempts;
  p.base = std::chrono::milliseconds(200);
  p.max = std::chrono::milliseconds(1000);
  p.request_timeout = EventQueue::kRequestTimeout;
  return p;
}
}  // namespace

EventQueue::EventQueue(const Connection& conn, Options opts, Writer write,
                       std::function<void(const std::string&, const Status&)> on_result,
                       std::function<void(const std::string&)> on_dropped)
    : opts_(std::move(opts)),
      recorder_(std::make_shared<Client>(conn, EventRetry()), opts_.component, opts_.instance),
      write_(std::move(write)),
      on_result_(std::move(on_result)),
      on_dropped_(std::move(on_dropped)) {
  worker_ = std::thread([this] { Loop(); });
}

EventQueue::~EventQueue() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

std::string EventQueue::DropOldestLocked(const char* why) {
  std::string reason = std::move(queue_.front().reason);
  queue_.pop_front();
  if (!drop_logged_) {
    drop_logged_ = true;
    log::Warn(std::string("event dropped: ") + why + "; further drops are counted in " +
                  opts_.dropped_metric + " without a log line until an Event is recorded again",
              {{"reason", reason}, {"object", opts_.object}});
  }
  return reason;
}

void EventQueue::Emit(const std::string& type, const std::string& reason,
                      const std::string& message, WallTime at) {
  std::string dropped;
  {
    std::lock_guard l(mu_);
    if (queue_.size() >= kQueueLimit) {
      dropped = DropOldestLocked("the queue is full (the API server is not taking Events)");
    }
    queue_.push_back({type, reason, message, at});
  }
  cv_.notify_one();
  if (!dropped.empty() && on_dropped_) on_dropped_(dropped);
}

void EventQueue::Loop() {
  std::unique_lock l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    if (stopping_ && last_failed_) {
      // Shutting down while the API is not taking Events: do not wait out every timeout.
      std::vector<std::string> dropped;
      while (!queue_.empty()) {
        dropped.push_back(DropOldestLocked("shutting down while the API server is failing"));
      }
      l.unlock();
      for (const auto& r : dropped) {
        if (on_dropped_) on_dropped_(r);
      }
      return;
    }
    Item it = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    Status s = write_(recorder_, it);
    if (!s) {
      log::Warn("cannot record event",
                {{"reason", it.reason}, {"object", opts_.object}, {"error", s.message()}});
    } else {
      log::Info("event recorded",
                {{"reason", it.reason}, {"type", it.type}, {"object", opts_.object}});
    }
    if (on_result_) on_result_(it.reason, s);
    l.lock();
    last_failed_ = !s.ok();
    if (s) drop_logged_ = false;
  }
}

EventCounters EventCounters::Define(metrics::Registry& reg, const std::string& prefix,
                                    const std::string& about) {
  EventCounters c;
  c.dropped_name = prefix + "_events_dropped_total";
  c.recorded = reg.DefineCounter(prefix + "_events_total",
                                 "Kubernetes Events recorded about " + about + ", by reason");
  c.failed =
      reg.DefineCounter(prefix + "_event_errors_total",
                        "Kubernetes Events that could not be recorded (logged at warn), by reason");
  c.dropped = reg.DefineCounter(
      c.dropped_name, "Kubernetes Events dropped unwritten (queue of " +
                          std::to_string(EventQueue::kQueueLimit) +
                          " full while the API server was not taking Events, or shutdown while "
                          "it was failing), by reason");
  return c;
}

std::function<void(const std::string&, const Status&)> EventCounters::OnResult() const {
  return [recorded = recorded, failed = failed](const std::string& reason, const Status& s) {
    (s ? recorded : failed).Add({{"reason", reason}});
  };
}

std::function<void(const std::string&)> EventCounters::OnDropped() const {
  return [dropped = dropped](const std::string& reason) { dropped.Add({{"reason", reason}}); };
}

}  // namespace aha::kube
