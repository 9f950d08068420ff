#include "replication/pod_events.h"

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

PodEvents::PodEvents(const kube::Connection& conn, kube::ObjectRef pod, std::string instance,
                     std::function<void(const std::string&, const Status&)> on_result,
                     std::function<void(const std::string&)> on_dropped)
    : pod_(std::move(pod)),
      queue_(
          conn,
          {"agency-ha-sidecar", std::move(instance), "Pod " + pod_.ns + "/" + pod_.name,
           "agency_ha_sidecar_events_dropped_total"},
          [this](kube::EventRecorder& r, const kube::EventQueue::Item& it) {
            return r.Record(pod_, it.type, it.reason, it.message, it.at);
          },
          std::move(on_result), std::move(on_dropped)) {}

void PodEvents::Emit(const std::string& type, const std::string& reason,
                     const std::string& message) {
  queue_.Emit(type, reason, message, SystemClock::instance().wall());
}

}  // namespace aha::replication
