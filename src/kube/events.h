// EventRecorder: core/v1 Events about one object (the state ConfigMap), so `kubectl describe cm`
// and `kubectl get events` show region transitions next to the object they changed.
//
// `kubectl describe` finds an object's Events with the field selector
// involvedObject.name=N,involvedObject.namespace=NS,involvedObject.kind=K,involvedObject.uid=U
// (staging/src/k8s.io/kubectl/pkg/describe/describe.go, searchEvents), so an Event whose
// involvedObject has no uid never shows there. RecordAbout() therefore reads the object first and
// fills uid, resourceVersion and apiVersion, as client-go's recorder does (reference.GetReference).
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
  std::string uid;               // without it `kubectl describe` does not show the Event
  std::string resource_version;  // optional: the object's version the Event is about
};

// A reference to the object as the API server has it now (one GET): kind/apiVersion of `r`, the
// object's uid and resourceVersion. Errors are the GET's (404 when the object does not exist).
Result<ObjectRef> ReferenceTo(Client& client, const Resource& r, const std::string& ns,
                              const std::string& name);

class EventRecorder {
 public:
  EventRecorder(std::shared_ptr<Client> client, std::string component, std::string instance);
  // type: "Normal" or "Warning"; reason: CamelCase (RegionFailed, RegionRecovered, ...).
  // Each call creates an Event with a name of its own; a create answered 409 AlreadyExists (an
  // earlier attempt of the same create was stored but its answer lost) is success.
  Status Record(const ObjectRef& obj, const std::string& type, const std::string& reason,
                const std::string& message, WallTime at);
  // Reads the object (ReferenceTo) and records the Event about it. When the object cannot be read
  // the Event is still recorded, with name/namespace/kind only (listed by `kubectl get events`,
  // not by `kubectl describe`), and the read error is returned after it.
  Status RecordAbout(const Resource& r, const std::string& ns, const std::string& name,
                     const std::string& type, const std::string& reason, const std::string& message,
                     WallTime at);

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
