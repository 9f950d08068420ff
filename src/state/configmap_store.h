// ConfigMap state store: the state keys as data keys of one ConfigMap, through the Kubernetes API.
//
// Same contract as every StateStore (src/state/store.h; same conformance suite). Specifics:
// - Write() merges into the ConfigMap's data, preserving keys it was not asked to write (e.g. the
//   MCP server's simulatedOutages) and everything else in the object (labels, annotations).
// - Optimistic concurrency: read, then a merge patch of only the changed keys carrying the read
//   resourceVersion as a precondition; on 409 Conflict re-read and retry (bounded). An identical
//   write sends no request after the read.
// - Creates the ConfigMap (with the given labels) when it does not exist.
// Needs RBAC on the ConfigMap: get and patch (restrictable by resourceNames), create only when
// the ConfigMap does not exist yet (the chart creates it), list/watch for watchers.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "kube/client.h"
#include "state/store.h"

namespace aha::state {

class ConfigMapStateStore final : public StateStore {
 public:
  ConfigMapStateStore(std::shared_ptr<kube::Client> client, std::string ns, std::string name,
                      std::map<std::string, std::string> labels = {});
  Result<KeyValues> Read() override;
  Result<int> Write(const KeyValues& kv) override;
  Result<int> Update(const UpdateFn& fn) override;
  std::string Describe() const override { return "configmap " + ns_ + "/" + name_; }

  const std::string& ns() const { return ns_; }
  const std::string& name() const { return name_; }
  // Conflicts met (and retried) so far: a measure of contention with other writers.
  int conflicts() const { return conflicts_; }

  // ConfigMap data as KeyValues (absent or null data = empty). The object came from the API
  // server: `data` of another type than an object of strings is an error naming the key (a
  // reader keeps its last known state then; never read as "no keys").
  static Result<KeyValues> DataOf(const nlohmann::json& configmap);

 private:
  std::shared_ptr<kube::Client> client_;
  std::string ns_, name_;
  std::map<std::string, std::string> labels_;
  int conflicts_ = 0;
};

}  // namespace aha::state
