// EventRecorder: core/v1 Events about one object (the state ConfigMap), so `kubectl describe cm`
// and `kubectl get events` show region transitions next to the object they changed.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "kube/client.h"

namespace aha::kube {

struct ObjectRef {
  std::string api_version = "v1";
  std::string kind = "ConfigMap";
  std::string ns;
  std::string name;
  std::string uid;  // optional
};

class EventRecorder {
 public:
  EventRecorder(std::shared_ptr<Client> client, std::string component, std::string instance);
  // type: "Normal" or "Warning"; reason: CamelCase (RegionFailed, RegionRecovered, ...).
  Status Record(const ObjectRef& obj, const std::string& type, const std::string& reason,
                const std::string& message, WallTime at);

 private:
  std::shared_ptr<Client> client_;
  std::string component_, instance_;
  unsigned counter_ = 0;
};

// RFC 3339 with microseconds, as Kubernetes MicroTime fields (Lease renewTime, Event eventTime).
std::string FormatMicroTime(WallTime t);
// Kubernetes Time (seconds precision), as Event firstTimestamp/lastTimestamp.
std::string FormatKubeTime(WallTime t);

}  // namespace aha::kube
