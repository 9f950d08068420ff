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
// - Emit() never blocks and never fails the caller: the Events go through a kube::EventQueue
//   (src/kube/event_queue.h: bounded queue of 32, 3 s per attempt, 2 attempts, failures logged
//   once per Event, drops counted and logged once per outage, bounded shutdown). The sidecar counts
//   the outcomes in agency_ha_sidecar_events_total, agency_ha_sidecar_event_errors_total and
//   agency_ha_sidecar_events_dropped_total.
// - Writing goes through kube::EventRecorder (src/kube/events.h), the controller's Event code.
#pragma once

#include <functional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "config/replication_config.h"
#include "kube/event_queue.h"
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
  static constexpr auto kRequestTimeout = kube::EventQueue::kRequestTimeout;
  static constexpr int kAttempts = kube::EventQueue::kAttempts;
  static constexpr size_t kQueueLimit = kube::EventQueue::kQueueLimit;

  // on_result(reason, status) runs on the background thread after each write; on_dropped(reason)
  // on the thread that dropped the Event. The client is made from `conn` with the queue's bounded
  // retry policy.
  PodEvents(const kube::Connection& conn, kube::ObjectRef pod, std::string instance,
            std::function<void(const std::string&, const Status&)> on_result,
            std::function<void(const std::string&)> on_dropped = {});

  void Emit(const std::string& type, const std::string& reason, const std::string& message);
  const kube::ObjectRef& pod() const { return pod_; }

 private:
  kube::ObjectRef pod_;
  kube::EventQueue queue_;  // last: its thread reads pod_
};

}  // namespace aha::replication
