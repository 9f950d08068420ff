#include "kube/events.h"

#include "common/json_get.h"

#include <cstdio>

namespace aha::kube {

using nlohmann::json;

std::string FormatMicroTime(WallTime t) {
  const UtcFields u = ToUtc(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", u.year, u.month, u.day,
                u.hour, u.minute, u.second, u.nanos / 1000);
  return buf;
}

std::string FormatKubeTime(WallTime t) {
  const UtcFields u = ToUtc(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", u.year, u.month, u.day, u.hour,
                u.minute, u.second);
  return buf;
}

EventRecorder::EventRecorder(std::shared_ptr<Client> client, std::string component,
                             std::string instance)
    : client_(std::move(client)),
      component_(std::move(component)),
      instance_(std::move(instance)) {}

Status EventRecorder::Record(const ObjectRef& obj, const std::string& type,
                             const std::string& reason, const std::string& message, WallTime at) {
  char suffix[32];
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  std::snprintf(suffix, sizeof suffix, "%llx%02x", static_cast<unsigned long long>(ns),
                (counter_++) & 0xff);
  json involved = {{"apiVersion", obj.api_version},
                   {"kind", obj.kind},
                   {"namespace", obj.ns},
                   {"name", obj.name}};
  if (!obj.uid.empty()) involved["uid"] = obj.uid;
  if (!obj.resource_version.empty()) involved["resourceVersion"] = obj.resource_version;
  json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", obj.name + "." + suffix}, {"namespace", obj.ns}}},
             {"involvedObject", involved},
             {"reason", reason},
             {"message", message.substr(0, 1024)},
             {"type", type},
             {"source", {{"component", component_}}},
             {"reportingComponent", component_},
             {"reportingInstance", instance_},
             {"firstTimestamp", FormatKubeTime(at)},
             {"lastTimestamp", FormatKubeTime(at)},
             {"count", 1}};
  auto r = client_->Create(kEvents, obj.ns, ev);
  // AlreadyExists: the name is this call's own (timestamp and counter), so an earlier attempt of
  // this very create was stored by the API server whose answer was lost (a 5xx, a timeout or a
  // dropped connection after the commit) and the client retried. The Event is recorded. client-go's
  // recorder likewise does not treat AlreadyExists as a failure (tools/record/event.go).
  if (!r &&
      !(r.code() == Code::kConflict && r.message().find("already exists") != std::string::npos)) {
    return r.error();
  }
  return Status::Ok();
}

Result<ObjectRef> ReferenceTo(Client& client, const Resource& r, const std::string& ns,
                              const std::string& name) {
  auto obj = client.Get(r, ns, name);
  if (!obj) return obj.error();
  const json* meta = nullptr;
  ObjectRef ref;
  if (Status s = jsonget::OptObject(*obj, "metadata", &meta, r.kind); !s) return s.error();
  if (meta) {
    const std::string where = r.kind + ".metadata";
    for (Status s : {jsonget::OptString(*meta, "uid", &ref.uid, where),
                     jsonget::OptString(*meta, "resourceVersion", &ref.resource_version, where)}) {
      if (!s) return s.error();
    }
  }
  ref.api_version = r.group.empty() ? r.version : r.group + "/" + r.version;
  ref.kind = r.kind;
  ref.ns = ns;
  ref.name = name;
  return ref;
}

Status EventRecorder::RecordAbout(const Resource& r, const std::string& ns, const std::string& name,
                                  const std::string& type, const std::string& reason,
                                  const std::string& message, WallTime at) {
  auto ref = ReferenceTo(*client_, r, ns, name);
  if (ref) return Record(*ref, type, reason, message, at);
  ObjectRef bare;
  bare.api_version = r.group.empty() ? r.version : r.group + "/" + r.version;
  bare.kind = r.kind;
  bare.ns = ns;
  bare.name = name;
  if (Status s = Record(bare, type, reason, message, at); !s) return s;
  return Err("event recorded without the object's uid (kubectl describe will not show it): " +
                 ref.message(),
             ref.code());
}

}  // namespace aha::kube
