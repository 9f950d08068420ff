// Kubernetes Events about the sidecar's own Pod (issue 12): `WriterFenced` when an old writer finds
// its lineage taken over at a higher epoch, `DivergentTailPreserved` when local writes are set
// aside before the volume is replaced. They complement the log, the metrics and the gate, so that
// `kubectl describe pod <pod>` and `kubectl get events` tell an operator what happened.
//
// Contract
// - The involvedObject is the Pod (kind Pod, apiVersion v1, namespace, name, uid). The uid comes
//   from the config or the downward API (POD_UID): `kubectl describe pod` matches Events on
//   involvedObject.uid, so without it the Event only shows in `kubectl get events`. Knowing the uid
//   up front means no GET on pods is needed: the only RBAC the sidecar needs is `create` on events.
// - Emit() never blocks and never fails the caller: Events are queued (bounded; the oldest waiting
//   Event is dropped when full) and written by one background thread whose requests are bounded
//   (kRequestTimeout per attempt, kAttempts attempts). Every outcome goes to `on_result` (the
//   sidecar counts them in metrics); failures are logged at warn.
// - Writing goes through kube::EventRecorder (src/kube/events.h), the controller's Event code.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/result.h"
#include "config/replication_config.h"
#include "kube/events.h"

namespace aha::replication {

// The Pod Events are about: the config's `handoff.events` values, each empty one read from the
// environment (POD_NAMESPACE, POD_NAME, POD_UID; the chart sets them by the downward API), the
// namespace finally from `fallback_ns` (the kube connection's: the pod's own in-cluster).
// Error when the pod name cannot be found (the caller then records no Events).
Result<kube::ObjectRef> ResolvePodRef(const config::SidecarEventsConfig& cfg,
                                      const std::function<std::string(const char*)>& getenv,
                                      const std::string& fallback_ns);

class PodEvents {
 public:
  static constexpr std::chrono::milliseconds kRequestTimeout{3000};
  static constexpr int kAttempts = 2;
  static constexpr size_t kQueueLimit = 32;

  // on_result(reason, status) runs on the background thread after each write. The client is made
  // from `conn` with this class's bounded retry policy.
  PodEvents(const kube::Connection& conn, kube::ObjectRef pod, std::string instance,
            std::function<void(const std::string&, const Status&)> on_result);
  ~PodEvents();  // writes what is queued (each request bounded), then stops
  PodEvents(const PodEvents&) = delete;
  PodEvents& operator=(const PodEvents&) = delete;

  void Emit(const std::string& type, const std::string& reason, const std::string& message);
  const kube::ObjectRef& pod() const { return pod_; }

 private:
  struct Item {
    std::string type, reason, message;
    WallTime at;
  };
  void Loop();

  kube::EventRecorder recorder_;
  kube::ObjectRef pod_;
  std::function<void(const std::string&, const Status&)> on_result_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace aha::replication
