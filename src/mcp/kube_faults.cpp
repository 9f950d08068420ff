#include "mcp/kube_faults.h"

#include "common/json_get.h"

namespace aha::mcp {

Result<std::vector<PodRef>> KubeFaults::ListPods(const std::string& region) {
  auto list = client_->List(kube::kPods, ns_, "", PodSelector(cfg_, region));
  if (!list) return list.error();
  return ParsePodList(*list);
}

Status KubeFaults::DeletePod(const std::string& name) {
  Status s = client_->Delete(kube::kPods, ns_, name);
  if (!s && s.error().http_status == 404) return Status::Ok();
  return s;
}

Status KubeFaults::CreatePolicy(const nlohmann::json& policy) {
  auto r = client_->Create(kube::kNetworkPolicies, ns_, policy);
  if (r) return Status::Ok();
  if (r.error().http_status != 409) return r.error();
  // Left by an earlier drill whose revert never ran: replace it (unconditional PUT).
  const std::string name = policy["metadata"]["name"].get<std::string>();
  auto u = client_->Update(kube::kNetworkPolicies, ns_, name, policy);
  if (!u) return u.error();
  return Status::Ok();
}

Status KubeFaults::DeletePolicy(const std::string& name) {
  Status s = client_->Delete(kube::kNetworkPolicies, ns_, name);
  if (!s && s.error().http_status == 404) return Status::Ok();
  return s;
}

Status KubeFaults::LabelPod(const std::string& name, const std::string& key,
                            const std::optional<std::string>& value) {
  const nlohmann::json patch = {
      {"metadata",
       {{"labels", {{key, value ? nlohmann::json(*value) : nlohmann::json(nullptr)}}}}}};
  auto r = client_->Patch(kube::kPods, ns_, name, kube::PatchType::kMerge, patch);
  if (!r && r.error().http_status == 404) return Status::Ok();
  if (!r) return r.error();
  return Status::Ok();
}

}  // namespace aha::mcp
