// The Kubernetes side of real-fault drills (mcp/faults.h): list a region's agent pods, delete
// them, create and delete the drill's NetworkPolicy. An interface so the tools can be tested
// without an API server; KubeFaults is the real one (kube::Client: 403 messages name the RBAC
// rule that is missing, see kube/client.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/mcp_config.h"
#include "kube/client.h"
#include "mcp/faults.h"

namespace aha::mcp {

class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  virtual const std::string& ns() const = 0;
  virtual const config::FaultsConfig& config() const = 0;
  // The region's agent pods (label selector PodSelector(cfg, region)), bounded.
  virtual Result<std::vector<PodRef>> ListPods(const std::string& region) = 0;
  // Graceful delete, the StatefulSet's pod: a pod already gone is Ok.
  virtual Status DeletePod(const std::string& name) = 0;
  // Creates the drill's deny-all-ingress policy; one left by an earlier drill (409) is replaced.
  virtual Status CreatePolicy(const nlohmann::json& policy) = 0;
  // Deletes it; already gone (404) is Ok.
  virtual Status DeletePolicy(const std::string& name) = 0;
  // Sets (value) or removes (nullopt) label `key` on a pod (merge patch); a pod gone is Ok.
  virtual Status LabelPod(const std::string& name, const std::string& key,
                          const std::optional<std::string>& value) = 0;
};

class KubeFaults final : public FaultInjector {
 public:
  KubeFaults(std::shared_ptr<kube::Client> client, std::string ns, config::FaultsConfig cfg)
      : client_(std::move(client)), ns_(std::move(ns)), cfg_(std::move(cfg)) {}
  const std::string& ns() const override { return ns_; }
  const config::FaultsConfig& config() const override { return cfg_; }
  Result<std::vector<PodRef>> ListPods(const std::string& region) override;
  Status DeletePod(const std::string& name) override;
  Status CreatePolicy(const nlohmann::json& policy) override;
  Status DeletePolicy(const std::string& name) override;
  Status LabelPod(const std::string& name, const std::string& key,
                  const std::optional<std::string>& value) override;

 private:
  std::shared_ptr<kube::Client> client_;
  std::string ns_;
  config::FaultsConfig cfg_;
};

}  // namespace aha::mcp
