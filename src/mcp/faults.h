// Real-fault drills (failure_type pod and network): what a drill touches and how it is undone,
// as pure functions and a record kept with the drill in the shared state.
//
//   pod:     the region's agent pods are deleted through the Kubernetes API; their StatefulSet
//            recreates them. Nothing to undo; the fault is over when every deleted pod is back
//            (same name, new uid) and Ready, as observed by an MCP server listing the pods.
//   network: a NetworkPolicy `agency-ha-drill-<region>` selecting the region's agent pods with
//            policyTypes [Ingress] and no ingress rule, then the label kIsolatedLabel on each of
//            them. NetworkPolicies are additive (a pod's allowed ingress is the union of every
//            policy selecting it), so a deny-all policy alone isolates nothing while another
//            policy allows ingress: the chart's agent policy selects only pods WITHOUT
//            kIsolatedLabel, leaving the drill's policy the only one. Every ingress is then
//            denied (the controller's probes included; kubelet probes are not subject to
//            NetworkPolicy, so the pods stay Ready). Undone by removing the label from the pods
//            that carry it, then deleting the policy.
//
// Crash safety: the record (what will be touched, and that it is not reverted yet) is written
// into the `drills` state key together with the drill's simulatedOutages entry BEFORE anything is
// touched. Whoever finds a drill ended (end_regional_outage) or expired with its fault not
// reverted reverts it: the server that started it, another server, or the same one after a
// restart (SecurityMonitor::Tick). A region with an unreverted fault gets no new drill.
//
// Everything read from the API is hostile: ParsePodList type-checks and bounds it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/mcp_config.h"

namespace aha::mcp {

// Set on a network drill's pods; the chart's agent NetworkPolicy excludes pods carrying it.
inline constexpr const char* kIsolatedLabel = "agency-ha/drill-isolated";

// At most this many pods are touched (or listed) per drill; more is refused, never cut.
inline constexpr size_t kMaxFaultPods = 100;
inline constexpr size_t kMaxFaultErrors = 10;

struct PodRef {
  std::string name;
  std::string uid;
  bool ready = false;        // condition Ready is True
  bool terminating = false;  // metadata.deletionTimestamp set
  // The Ready condition's lastTransitionTime (the kubelet's clock; whole seconds on a real
  // cluster, so at most 1 s early), when set and parseable.
  std::optional<WallTime> ready_since;
  bool isolated = false;  // carries kIsolatedLabel
};

// What one drill touches, decided before anything is touched (also the dry run's answer).
struct FaultTargets {
  std::string ns;
  std::string selector;  // the label selector the pods were listed with
  std::vector<PodRef> pods;
  std::string network_policy;  // network only
};

// The record kept with the drill (Drill::fault). Times are when this happened, as measured by
// the server that did or saw it; unset: not (yet).
struct Fault {
  std::string type;  // pod | network
  std::string ns;
  std::string selector;
  std::vector<PodRef> pods;             // name and uid at injection (ready/terminating not kept)
  std::string network_policy;           // "" for pod
  std::optional<WallTime> injected_at;  // the last delete / the create returned
  std::optional<WallTime> pods_recreated_at;  // pod: every pod back with a new uid (observed)
  std::optional<WallTime> pods_ready_at;      // pod: ... and Ready (observed)
  // pod: the latest Ready lastTransitionTime of the recreated pods, as the API reports it
  // (whole seconds on a real cluster): when they became Ready, not when it was seen.
  std::optional<WallTime> pods_ready_condition_at;
  // Nothing of the fault is left to undo: network: the policy is deleted; pod: the pods are
  // Ready again ("recreated"), or the drill ended or expired first (nothing to undo: the
  // StatefulSet owns the pods; the report's outage end stays the pods' return).
  std::optional<WallTime> reverted_at;
  std::string reverted_by;          // end | expiry | injection-failed | recreated
  std::vector<std::string> errors;  // bounded, newest last
  bool reverted() const { return reverted_at.has_value(); }
  // When the fault stopped acting on the region: pod: pods Ready again; network: policy deleted.
  std::optional<WallTime> EndedAt() const { return type == "pod" ? pods_ready_at : reverted_at; }
};

nlohmann::json FaultToJson(const Fault& f);
// Type-checked; `what` prefixes error paths. Bounded: more than kMaxFaultPods pods or
// kMaxFaultErrors errors is an error.
Result<Fault> FaultFromJson(const nlohmann::json& j, const std::string& what);
void AddFaultError(Fault* f, const std::string& e);

// The pods' labels: podLabels plus regionLabel=<region>.
std::map<std::string, std::string> RegionPodLabels(const config::FaultsConfig& cfg,
                                                   const std::string& region);
// "k=v,k2=v2" (sorted by key) of RegionPodLabels.
std::string PodSelector(const config::FaultsConfig& cfg, const std::string& region);
// "agency-ha-drill-<region>" (a region is a DNS-1123 label: the name is a valid object name).
std::string NetworkPolicyName(const std::string& region);
// The deny-all-ingress NetworkPolicy of a network drill.
nlohmann::json DenyIngressPolicy(const config::FaultsConfig& cfg, const std::string& ns,
                                 const std::string& region, const std::string& drill_id);

// A PodList from the API (hostile): items' metadata.name/uid (required strings),
// metadata.deletionTimestamp, status.conditions[type=Ready].status and lastTransitionTime (an
// unparseable time is left unset). More than kMaxFaultPods
// items is an error.
Result<std::vector<PodRef>> ParsePodList(const nlohmann::json& list);

// Are the pods of `before` back? recreated: every name is listed again with another uid and not
// terminating; ready: recreated and every one Ready.
struct PodsBack {
  bool recreated = false;
  bool ready = false;
  std::optional<WallTime> ready_since;  // when ready: the latest of the pods' ready_since
};
PodsBack PodsBackAfter(const std::vector<PodRef>& before, const std::vector<PodRef>& now);

}  // namespace aha::mcp
