#include "replication/pod_events.h"

#include "common/log.h"

namespace aha::replication {

Result<kube::ObjectRef> ResolvePodRef(const config::SidecarEventsConfig& cfg,
                                      const std::function<std::string(const char*)>& getenv,
                                      const std::string& fallback_ns) {
  kube::ObjectRef ref;
  ref.api_version = "v1";
  ref.kind = "Pod";
  ref.ns = !cfg.pod_namespace.empty() ? cfg.pod_namespace : getenv("POD_NAMESPACE");
  if (ref.ns.empty()) ref.ns = fallback_ns;
  ref.name = !cfg.pod_name.empty() ? cfg.pod_name : getenv("POD_NAME");
  ref.uid = !cfg.pod_uid.empty() ? cfg.pod_uid : getenv("POD_UID");
  if (ref.name.empty()) {
    return Err("the pod's name is unknown (set handoff.events.podName or POD_NAME)");
  }
  if (ref.ns.empty()) {
    return Err("the pod's namespace is unknown (set handoff.events.podNamespace or POD_NAMESPACE)");
  }
  return ref;
}

namespace {
kube::RetryPolicy EventRetry() {
  kube::RetryPolicy p;
  p.max_attempts = PodEvents::kAttempts;
  p.base = std::chrono::milliseconds(200);
  p.max = std::chrono::milliseconds(1000);
  p.request_timeout = PodEvents::kRequestTimeout;
  return p;
}
}  // namespace

PodEvents::PodEvents(const kube::Connection& conn, kube::ObjectRef pod, std::string instance,
                     std::function<void(const std::string&, const Status&)> on_result)
    : recorder_(std::make_shared<kube::Client>(conn, EventRetry()), "agency-ha-sidecar",
                std::move(instance)),
      pod_(std::move(pod)),
      on_result_(std::move(on_result)) {
  worker_ = std::thread([this] { Loop(); });
}

PodEvents::~PodEvents() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void PodEvents::Emit(const std::string& type, const std::string& reason,
                     const std::string& message) {
  {
    std::lock_guard l(mu_);
    if (queue_.size() >= kQueueLimit) {
      log::Warn("event queue full; oldest event dropped",
                {{"reason", queue_.front().reason}, {"pod", pod_.name}});
      queue_.pop_front();
    }
    queue_.push_back({type, reason, message, SystemClock::instance().wall()});
  }
  cv_.notify_one();
}

void PodEvents::Loop() {
  std::unique_lock l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Item it = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    Status s = recorder_.Record(pod_, it.type, it.reason, it.message, it.at);
    if (!s) {
      log::Warn(
          "cannot record event",
          {{"reason", it.reason}, {"pod", pod_.ns + "/" + pod_.name}, {"error", s.message()}});
    } else {
      log::Info("event recorded",
                {{"reason", it.reason}, {"type", it.type}, {"pod", pod_.ns + "/" + pod_.name}});
    }
    if (on_result_) on_result_(it.reason, s);
    l.lock();
  }
}

}  // namespace aha::replication
