// The decision of simulate_regional_outage, as pure functions of their inputs.
//
// Why pure: SecurityMonitor::Simulate decides once for a dry run and inside the store's
// conditional update for a real drill (so of two servers starting a drill for one region at once,
// exactly one wins). Both paths must decide alike, and the decision is table-tested
// (tests/unit/drill_plan_test.cpp) without a store, a clock, a controller or an audit sink.
// Neither function reads anything but its arguments nor writes anything but its result.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/controller_config.h"
#include "failover/outages.h"
#include "mcp/faults.h"
#include "state/store.h"

namespace aha::mcp {

// A drill as asked for, checked against the configuration.
struct DrillRequest {
  std::string region;                   // a configured region
  std::string failure_type = "health";  // health | pod | network
  long long duration_seconds = 0;       // within [cfg.mcp.min, cfg.mcp.max]
  bool dry_run = false;
  bool force = false;
};

// The tool's arguments {region, failure_type, duration_seconds, dry_run, force} (tools.h) checked
// against the schema and cfg: unknown arguments, an unknown region, an unknown failure_type,
// `node` (not implemented: refused with why), `pod`/`network` without mcp.faults.podLabels
// (refused naming the setting) and a duration outside cfg.mcp's bounds are refused; the error's
// message is the tool's error text. Defaults: health, the configured default duration, no dry run,
// no force.
Result<DrillRequest> ParseDrillRequest(const nlohmann::json& args,
                                       const config::ControllerConfig& cfg);

// What a drill writes, decided on one version of the state.
struct DrillPlan {
  failover::SimulatedOutage outage;  // id "drill-<region>-<epoch ms of now>", by "mcp"
  std::vector<std::string> serving_before;
  std::vector<std::string> failed_before;
  // Other regions that could serve: not failed, not under an active drill, and serving or a
  // passive standby (configuration order).
  std::vector<std::string> survivors;
  bool forced = false;  // force was needed: no survivor
  // The tool's structured content (drillId null for a dry run). `touches`: for pod/network, the
  // exact objects the drill touches {namespace, selector, pods, isolatedPods, networkPolicy,
  // nodes}; null for health.
  nlohmann::json summary;
  // One write: simulatedOutages (expired entries dropped, this drill added) and drills (this
  // drill's record appended), so the gates' entry and the record land together or not at all.
  state::KeyValues write;
};

// Helpers shared with tools.cpp.
// The first argument the schema does not name (additionalProperties: false), or "".
std::string UnknownArgument(const nlohmann::json& args, std::initializer_list<const char*> known);
// Regions as listed in messages: "a, b", or "(none)".
std::string JoinRegions(const std::vector<std::string>& regions);
// The region list stored under `key` (failedRegions, servingRegions); absent or malformed: empty.
std::vector<std::string> RegionListOf(const state::KeyValues& kv, const char* key);

// Plans `req` against the state `cur` at `now`. `positions` is recorded with the drill
// (positionsAtInjection: {region: data or null}, or null without the controller's live view).
// Refusals (the error's message is the reason shown to the caller):
//   - the stored simulatedOutages or drills key is malformed (never overwritten);
//   - a drill of the region is active at `now` (code 409);
//   - no survivor, unless req.force;
//   - pod/network: `targets` missing or without pods; an earlier drill of the region whose fault
//     is not reverted yet (code 409).
// pod/network: the drill record carries the Fault (mcp/faults.h), not reverted, written with the
// outage entry before anything is touched. `targets` is ignored for health.
Result<DrillPlan> PlanDrill(const state::KeyValues& cur, const DrillRequest& req,
                            const config::ControllerConfig& cfg, WallTime now,
                            const nlohmann::json& positions, const FaultTargets* targets = nullptr);

}  // namespace aha::mcp
