// SecurityMonitor: real-fault drills (pod, network): targets, injection, revert (mcp/faults.h).
#include "common/log.h"
#include "common/printable.h"
#include "failover/outages.h"
#include "mcp/tools.h"

namespace aha::mcp {

using nlohmann::json;

Result<FaultTargets> SecurityMonitor::FaultTargetsFor(const std::string& type,
                                                      const std::string& region) {
  if (!faults_) {
    return Err("failure_type \"" + type +
               "\": this server has no Kubernetes connection for faults (mcp.faults needs a "
               "kubeconfig or an in-cluster service account)");
  }
  FaultTargets t;
  t.ns = faults_->ns();
  t.selector = PodSelector(faults_->config(), region);
  auto pods = faults_->ListPods(region);
  if (!pods) return Err("cannot list the agent pods of region " + region + ": " + pods.message());
  t.pods = std::move(*pods);
  if (type == "network") t.network_policy = NetworkPolicyName(region);
  return t;
}

aha::Status SecurityMonitor::UpdateFaultLocked(const std::string& drill_id,
                                               const std::function<bool(Fault&)>& change) {
  auto w = store_.Update([&](const state::KeyValues& cur) -> Result<state::KeyValues> {
    auto it = cur.find(kDrillsKey);
    if (it == cur.end()) return state::KeyValues{};
    auto drills = ParseDrills(it->second);
    if (!drills) return drills.error();
    bool changed = false;
    for (auto& d : *drills) {
      if (d.id == drill_id && d.fault) changed = change(*d.fault) || changed;
    }
    if (!changed) return state::KeyValues{};
    return state::KeyValues{{kDrillsKey, DrillsToJson(*drills)}};
  });
  if (!w) return w.error();
  return aha::Status::Ok();
}

aha::Status SecurityMonitor::UndoNetwork(const std::string& region, const std::string& policy) {
  // The label off every pod of the region that carries it (recreated pods do not), then the
  // policy: idempotent, so any server may run it again.
  auto pods = faults_->ListPods(region);
  if (!pods) return pods.error();
  for (const auto& p : *pods) {
    if (!p.isolated) continue;
    if (aha::Status s = faults_->LabelPod(p.name, kIsolatedLabel, std::nullopt); !s) return s;
  }
  return faults_->DeletePolicy(policy);
}

aha::Status SecurityMonitor::InjectLocked(const std::string& drill_id, const std::string& type,
                                          const std::string& region, const FaultTargets& t) {
  aha::Status s = aha::Status::Ok();
  if (type == "pod") {
    for (const auto& p : t.pods) {
      s = faults_->DeletePod(p.name);
      if (!s) break;
    }
  } else {
    // The deny-all policy first, then the label that takes the pods out of every allowing
    // policy of the chart (mcp/faults.h): never a moment with the pods open to all.
    s = faults_->CreatePolicy(DenyIngressPolicy(faults_->config(), t.ns, region, drill_id));
    for (size_t i = 0; s && i < t.pods.size(); ++i) {
      s = faults_->LabelPod(t.pods[i].name, kIsolatedLabel, "true");
    }
  }
  const WallTime at = clock_.wall();
  if (s) {
    aha::Status w = UpdateFaultLocked(drill_id, [&](Fault& f) {
      f.injected_at = at;
      return true;
    });
    if (!w)
      log::Warn("mcp: cannot record a fault's injection",
                {{"drill", drill_id}, {"error", w.message()}});
    return aha::Status::Ok();
  }
  // Injection failed: undo what may have been done, and end the drill now.
  aha::Status undo = type == "network" ? UndoNetwork(region, t.network_policy) : aha::Status::Ok();
  const WallTime end = clock_.wall();
  auto w = store_.Update([&](const state::KeyValues& cur) -> Result<state::KeyValues> {
    state::KeyValues upd;
    if (auto it = cur.find(failover::kSimulatedOutagesKey); it != cur.end()) {
      auto outages = failover::ParseOutages(it->second);
      if (!outages) return outages.error();
      std::vector<failover::SimulatedOutage> kept;
      for (auto& o : *outages) {
        if (o.id != drill_id) kept.push_back(std::move(o));
      }
      upd[failover::kSimulatedOutagesKey] = failover::OutagesToJson(kept);
    }
    if (auto it = cur.find(kDrillsKey); it != cur.end()) {
      auto drills = ParseDrills(it->second);
      if (!drills) return drills.error();
      for (auto& d : *drills) {
        if (d.id != drill_id || !d.fault) continue;
        d.ended_early_at = end;
        AddFaultError(&*d.fault, "injection: " + s.message());
        if (undo) {
          d.fault->reverted_at = end;
          d.fault->reverted_by = "injection-failed";
        } else {
          AddFaultError(&*d.fault, "revert: " + undo.message());
        }
      }
      upd[kDrillsKey] = DrillsToJson(*drills);
    }
    return upd;
  });
  if (!w)
    log::Warn("mcp: cannot end a failed drill", {{"drill", drill_id}, {"error", w.message()}});
  return s;
}

void SecurityMonitor::Tick() {
  std::lock_guard l(mu_);
  TickLocked();
}

// A pod drill: records when its pods are seen recreated and Ready (that is its revert: the
// StatefulSet owns the pods), or, once ended without that, that they were not seen back.
void SecurityMonitor::TickPodLocked(const Drill& d, bool ended, const std::string& by) {
  const Fault& f = *d.fault;
  if (!f.injected_at && !ended) return;  // still being injected
  std::optional<WallTime> recreated, ready, ready_since;
  if (auto pods = faults_->ListPods(d.region); pods) {
    const PodsBack b = PodsBackAfter(f.pods, *pods);
    const WallTime seen = clock_.wall();
    if (b.recreated) recreated = seen;
    if (b.ready) ready = seen;
    ready_since = b.ready_since;
  } else {
    log::Warn("mcp: cannot list a pod drill's pods", {{"drill", d.id}, {"error", pods.message()}});
  }
  if (!recreated && !ready && !ended) return;
  aha::Status w = UpdateFaultLocked(d.id, [&](Fault& x) {
    if (x.reverted()) return false;
    bool changed = false;
    if (recreated && !x.pods_recreated_at) x.pods_recreated_at = recreated, changed = true;
    if (ready && !x.pods_ready_at) {
      x.pods_ready_at = ready;
      x.pods_ready_condition_at = ready_since;
      changed = true;
    }
    if (x.pods_ready_at) {
      x.reverted_at = x.pods_ready_at;
      x.reverted_by = "recreated";
      changed = true;
    } else if (ended) {
      // Nothing to undo (the StatefulSet owns the pods); the pods' return was not seen within
      // the drill, so podsReadyAt (the report's outage end) stays null.
      x.reverted_at = clock_.wall();
      x.reverted_by = by;
      changed = true;
    }
    return changed;
  });
  if (!w) log::Warn("mcp: cannot record a pod drill", {{"drill", d.id}, {"error", w.message()}});
}

// A network drill that ended or expired: deletes its policy (retried on the next tick on failure).
void SecurityMonitor::TickNetworkLocked(const Drill& d, const std::string& by) {
  const Fault& f = *d.fault;
  // network: delete the policy (idempotent: another server may be doing the same).
  aha::Status s = UndoNetwork(d.region, f.network_policy);
  const WallTime at = clock_.wall();
  aha::Status w = UpdateFaultLocked(d.id, [&](Fault& x) {
    if (x.reverted()) return false;
    if (s) {
      x.reverted_at = at;
      x.reverted_by = by;
      return true;
    }
    const std::string e = "revert: " + s.message();
    if (!x.errors.empty() && x.errors.back() == Printable(e.substr(0, 2048))) return false;
    AddFaultError(&x, e);
    return true;
  });
  if (!s) {
    log::Warn("mcp: cannot revert a network drill (retried)",
              {{"drill", d.id}, {"error", s.message()}});
  } else if (w) {
    audit_({{"event", "DrillFaultReverted"},
            {"at", FormatTime(at)},
            {"drillId", d.id},
            {"region", d.region},
            {"networkPolicy", f.network_policy},
            {"by", by}});
    if (events_) {
      events_("Normal", "DrillFaultReverted",
              "drill " + d.id + ": NetworkPolicy " + f.network_policy + " deleted (" + by + ")",
              at);
    }
  }
}

void SecurityMonitor::TickLocked() {
  if (!faults_ || pending_faults_.empty()) return;
  const std::vector<Drill> pending = pending_faults_;
  for (const Drill& d : pending) {
    if (!d.fault || d.fault->reverted()) continue;
    const WallTime now = clock_.wall();
    const bool ended = d.ended_early_at.has_value() || now >= d.expires_at;
    const std::string by = d.ended_early_at ? "end" : "expiry";
    if (d.fault->type == "pod") {
      TickPodLocked(d, ended, by);
    } else if (ended) {
      TickNetworkLocked(d, by);
    }
  }
}

void SecurityMonitor::TrackFaultsLocked(const std::vector<Drill>& drills) {
  pending_faults_.clear();
  for (const auto& d : drills) {
    if (d.fault && !d.fault->reverted()) pending_faults_.push_back(d);
  }
}

}  // namespace aha::mcp
