// The Security Monitor's tools: DR drills against the real failover path.
//
// A drill writes an entry (with its expiry) into the `simulatedOutages` state key. Gates of that
// region fail /health while it is active (judged on their own clock), the controller probes those
// /health endpoints, and so the drill exercises the real detection → failover → recovery path.
// The drill ends on time even if this process dies.
//
// Tools (each with inputSchema and outputSchema; results carry structuredContent + a text block):
//   simulate_regional_outage {region, failure_type=health, duration_seconds, dry_run, force}
//     failure_type: `health` (the gates report unhealthy), `pod` (the region's agent pods are
//     deleted; the StatefulSet recreates them) or `network` (a NetworkPolicy denies all ingress to
//     them until the drill ends), see mcp/faults.h; pod and network need mcp.faults and a
//     FaultInjector (SetFaults). `node` is refused (not implemented). The fault's record is
//     written with the drill before anything is touched; Tick() reverts ended or expired faults
//     and watches a pod drill's pods come back (every MCP server does, so a crashed drill is
//     reverted by whoever finds it). dry_run lists the exact objects (`touches`).
//     Refused (isError) when: unknown region, duration outside [min, max], a drill for that region
//     is already active ("drill already running for region ..."), or no other region could serve
//     (every other region failed, under a drill, or not serving and not a passive standby) unless
//     force is true. The decision and the write are one StateStore::Update: of two servers
//     starting drills at once, both land on different regions, exactly one on the same region.
//   end_regional_outage {region}
//   get_failover_status {}
//   get_drill_report {region | drill_id}
//   list_regions {}
//   get_replication_status {region?}: the newest snapshot per region on mcp.replication.remotes
//     (read live), its age from the record's createdAt, and which remotes have it or failed;
//     with the controller's live view, `positions`: every region whose gates report that
//     lineage (role writer/follower/fenced, epoch, snapshot, seconds behind the remotes' head).
// Live observations (controller_status.h): get_failover_status, get_drill_report,
// get_replication_status and simulate_regional_outage (recorded with the drill) read the
// controller's GET /v1/status through the live source when one is set: last probe, streaks, a
// reason describing the current state, and each region's data position (writer, lineage, epoch,
// fenced, how far behind the lineage's head). Decisions (status, serving, promotion) always come
// from the state. Without an answer the observations come from state.json, labelled
// `observations.source: "state"` with the time it was written and the controller's error.
// Every drill start, early end and completion is passed to the audit sink (one JSON object each)
// and the event sink (Kubernetes Events when the state is a ConfigMap).
// Drills are kept in the `drills` state key (report.h), written with the outage entry: reports
// survive a restart and any server reports any server's drills.
// Observe() must be fed every new state snapshot (the command's watcher does it): it records when
// failedRegions/servingRegions changed (into each followed drill, in the shared state), collects
// the controller's transitions, and records completions (one server wins; it audits).
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/controller_config.h"
#include "mcp/controller_status.h"
#include "mcp/drill_plan.h"
#include "mcp/faults.h"
#include "mcp/jsonrpc.h"
#include "mcp/kube_faults.h"
#include "mcp/replication_status.h"
#include "mcp/report.h"
#include "metrics/registry.h"
#include "objectstore/store.h"
#include "state/store.h"

namespace aha::mcp {

using AuditSink = std::function<void(const nlohmann::json&)>;
// type ("Normal"/"Warning"), reason, message, time.
using EventSink =
    std::function<void(const std::string&, const std::string&, const std::string&, WallTime)>;

inline constexpr const char* kRecoveryMetric = "regional_failover_recovery_time";

class SecurityMonitor final : public Tools {
 public:
  SecurityMonitor(const config::ControllerConfig& cfg, state::StateStore& store, const Clock& clock,
                  metrics::Registry& reg, AuditSink audit, EventSink events = nullptr);

  nlohmann::json List() const override;
  std::optional<ToolResult> Call(const std::string& name, const nlohmann::json& args) override;

  // Feed a state snapshot seen at `at` (the time this process saw it change).
  void Observe(const state::KeyValues& kv, WallTime at);

  // Where the controller's live observations come from (e.g. ControllerClient::Fetch); called
  // without the monitor's lock held, at most once per tool call. Unset: state only.
  using LiveSource = std::function<Result<LiveStatus>()>;
  void SetLiveSource(LiveSource live) { live_ = std::move(live); }

  // The Kubernetes side of pod/network drills (unset: they are refused). Set before serving.
  void SetFaults(std::shared_ptr<FaultInjector> f) { faults_ = std::move(f); }
  // Call every ~100 ms: reverts the faults of drills that ended or expired (whoever started
  // them) and records when a pod drill's pods are back and Ready (observed by listing them).
  // Works from the drills of the last snapshot Observe() saw; cheap when none has a fault.
  void Tick();

 private:
  Result<LiveStatus> FetchLive() const;
  ToolResult Simulate(const nlohmann::json& args, const Result<LiveStatus>& live);
  // simulate_regional_outage with dry_run: the plan against the current state, nothing written.
  ToolResult DryRun(const DrillRequest& req, WallTime now, const nlohmann::json& positions,
                    const FaultTargets* tp);
  ToolResult End(const nlohmann::json& args);
  ToolResult Status(const Result<LiveStatus>& live);
  ToolResult Report(const nlohmann::json& args, const Result<LiveStatus>& live);
  ToolResult Regions();
  ToolResult Replication(const nlohmann::json& args, const Result<LiveStatus>& live);
  // Each mcp.replication.remotes entry's latest of `region` and the record it names (opens the
  // remote on first use; a failure is recorded in the entry, never returned).
  std::vector<RemoteHead> ReadRemoteHeads(const std::string& region);
  // {region: data or null} for the configured regions (null when `live` failed).
  nlohmann::json PositionsOf(const Result<LiveStatus>& live) const;
  const config::RegionConfig* FindRegion(const std::string& name) const;
  // tools_faults.cpp
  Result<FaultTargets> FaultTargetsFor(const std::string& type, const std::string& region);
  aha::Status InjectLocked(const std::string& drill_id, const std::string& type,
                           const std::string& region, const FaultTargets& t);
  aha::Status UpdateFaultLocked(const std::string& drill_id,
                                const std::function<bool(Fault&)>& change);
  void TrackFaultsLocked(const std::vector<Drill>& drills);
  void TickLocked();
  void TickPodLocked(const Drill& d, bool ended, const std::string& by);
  void TickNetworkLocked(const Drill& d, const std::string& by);
  aha::Status UndoNetwork(const std::string& region, const std::string& policy);
  nlohmann::json ReportLocked(const Drill& d, WallTime now) const;
  void CheckCompletedLocked(const std::vector<Drill>& drills, WallTime now);

  const config::ControllerConfig& cfg_;
  state::StateStore& store_;
  const Clock& clock_;
  const metrics::Gauge recovery_;  // kRecoveryMetric{region}: seconds, measured
  const metrics::Counter drills_;  // agency_ha_mcp_drills_total{region,event}
  AuditSink audit_;
  EventSink events_;
  LiveSource live_;
  std::shared_ptr<FaultInjector> faults_;
  std::vector<Drill> pending_faults_;  // drills with a fault not reverted (last snapshot)

  const WallTime started_at_;
  // One per mcp.replication.remotes entry, opened on first use (null until then).
  std::vector<std::unique_ptr<objectstore::ObjectStore>> remotes_;
  mutable std::mutex mu_;
  bool observed_once_ = false;
  std::set<std::string> gauged_;                   // drills whose recovery time is exported
  std::vector<failover::Transition> transitions_;  // union of those seen, bounded
};

}  // namespace aha::mcp
