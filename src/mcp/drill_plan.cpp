#include "mcp/drill_plan.h"

#include <cmath>
#include <cstdint>
#include <utility>

#include "common/json_get.h"
#include "common/printable.h"
#include "failover/failover_state.h"
#include "mcp/report.h"

namespace aha::mcp {

using nlohmann::json;

namespace {

Result<std::string> FailureType(const json& args, const config::FaultsConfig& faults) {
  std::string type = "health";
  if (args.contains("failure_type")) {
    if (!args["failure_type"].is_string()) return Err("failure_type: must be a string");
    type = args["failure_type"];
  }
  if (type == "node") {
    return Err(
        "failure_type \"node\" is not supported yet: this server does not cordon nodes. "
        "Use pod (deletes the region's agent pods), network (isolates them with a "
        "NetworkPolicy) or health.");
  }
  if ((type == "pod" || type == "network") && !faults.enabled()) {
    return Err("failure_type \"" + type +
               "\" needs the agent pods' labels: set mcp.faults.podLabels (and "
               "mcp.faults.namespace) in the config, and grant the RBAC for it (chart: "
               "securityMonitor.faults." +
               type + ".enabled). Use failure_type \"health\" meanwhile.");
  }
  if ((type == "pod" || type == "network") && !faults.allows(type)) {
    return Err("failure_type \"" + type +
               "\" is not enabled here (mcp.faults.types; chart: "
               "securityMonitor.faults." +
               type + ".enabled, which also grants its RBAC: " +
               (type == "pod" ? std::string("pods list, delete")
                              : std::string("pods list; networkpolicies create, update, delete")) +
               ")");
  }
  if (type != "health" && type != "pod" && type != "network") {
    return Err("failure_type: unknown value \"" + Printable(type) +
               "\" (supported: health, pod, network)");
  }
  return type;
}

Result<long long> Duration(const json& args, const config::McpConfig& m) {
  long long duration = m.default_duration_seconds;
  std::string shown = std::to_string(duration);  // the value as given, for the error
  if (args.contains("duration_seconds")) {
    const json& d = args["duration_seconds"];
    shown = jsonget::Dump(d);
    if (d.is_number_integer()) {
      int64_t v = 0;
      // Beyond int64 (a large unsigned): out of bounds below, never wrapped to a negative.
      duration = jsonget::AsInt64(d, "duration_seconds", &v) ? v : INT64_MAX;
    } else if (d.is_number_float() && std::isfinite(d.get<double>()) &&
               std::floor(d.get<double>()) == d.get<double>()) {
      const double x = d.get<double>();
      duration = std::abs(x) < 1e15 ? static_cast<long long>(x) : x < 0 ? INT64_MIN : INT64_MAX;
    } else {
      return Err("duration_seconds: must be a whole number of seconds");
    }
  }
  if (duration < m.min_duration_seconds || duration > m.max_duration_seconds) {
    return Err("duration_seconds: " + shown + " is out of bounds (" +
               std::to_string(m.min_duration_seconds) + ".." +
               std::to_string(m.max_duration_seconds) +
               ", set by mcp.minDurationSeconds and "
               "mcp.maxDurationSeconds)");
  }
  return duration;
}

// The stored outages and drills; a malformed key is refused, never overwritten.
Status ReadStored(const state::KeyValues& cur, std::vector<failover::SimulatedOutage>* outages,
                  std::vector<Drill>* drills) {
  if (auto it = cur.find(failover::kSimulatedOutagesKey); it != cur.end()) {
    auto parsed = failover::ParseOutages(it->second);
    if (!parsed) {
      return Err("the stored simulatedOutages key is malformed (" + parsed.message() +
                 "); refusing to overwrite it. Inspect it with `agency-ha state get "
                 "simulatedOutages`.");
    }
    *outages = std::move(*parsed);
  }
  if (auto it = cur.find(kDrillsKey); it != cur.end()) {
    auto parsed = ParseDrills(it->second);
    if (!parsed) {
      return Err("the stored drills key is malformed (" + parsed.message() +
                 "); refusing to overwrite it");
    }
    *drills = std::move(*parsed);
  }
  return Status::Ok();
}

std::vector<std::string> Survivors(const DrillPlan& p,
                                   const std::vector<failover::SimulatedOutage>& outages,
                                   const config::ControllerConfig& cfg, const std::string& region,
                                   WallTime now) {
  std::vector<std::string> survivors;
  for (const auto& r : cfg.regions) {
    if (r.name == region) continue;
    if (failover::ContainsRegion(p.failed_before, r.name)) continue;
    if (failover::ActiveOutage(outages, r.name, now)) continue;
    if (failover::ContainsRegion(p.serving_before, r.name) || !r.active) {
      survivors.push_back(r.name);
    }
  }
  return survivors;
}

json TouchesJson(const DrillRequest& req, const FaultTargets* t) {
  if (req.failure_type == "health" || !t) return nullptr;
  json pods = json::array();
  for (const auto& p : t->pods)
    pods.push_back(p.name);
  return {{"namespace", t->ns},
          {"selector", t->selector},
          {"pods", req.failure_type == "pod" ? pods : json::array()},
          {"isolatedPods", req.failure_type == "network" ? pods : json::array()},
          {"networkPolicy", t->network_policy.empty() ? json(nullptr) : json(t->network_policy)},
          {"nodes", json::array()}};
}

// A drill of `region` whose fault is not reverted yet (whatever its outage entry says).
const Drill* Unreverted(const std::vector<Drill>& drills, const std::string& region) {
  for (const auto& d : drills) {
    if (d.region == region && d.fault && !d.fault->reverted()) return &d;
  }
  return nullptr;
}

Drill DrillRecord(const DrillPlan& p, const DrillRequest& req, const json& positions) {
  Drill d;
  d.id = p.outage.id;
  d.region = req.region;
  d.failure_type = req.failure_type;
  d.duration_seconds = static_cast<int>(req.duration_seconds);
  d.injected_at = p.outage.started_at;
  d.expires_at = p.outage.expires_at;
  d.serving_before = p.serving_before;
  d.failed_before = p.failed_before;
  d.positions_at_injection = positions;
  return d;
}

}  // namespace

std::string UnknownArgument(const json& args, std::initializer_list<const char*> known) {
  for (const auto& [k, v] : args.items()) {
    bool ok = false;
    for (const char* n : known)
      ok = ok || k == n;
    if (!ok) return k;
  }
  return "";
}

std::string JoinRegions(const std::vector<std::string>& regions) {
  std::string out;
  for (const auto& s : regions)
    out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "(none)" : out;
}

std::vector<std::string> RegionListOf(const state::KeyValues& kv, const char* key) {
  auto it = kv.find(key);
  if (it == kv.end()) return {};
  auto parsed = failover::ParseRegionList(it->second);
  return parsed ? *parsed : std::vector<std::string>{};
}

Result<DrillRequest> ParseDrillRequest(const json& args, const config::ControllerConfig& cfg) {
  if (auto k =
          UnknownArgument(args, {"region", "failure_type", "duration_seconds", "dry_run", "force"});
      !k.empty()) {
    return Err("unknown argument \"" + Printable(k) + "\"");
  }
  if (!args.contains("region") || !args["region"].is_string()) {
    return Err("region: required, a string");
  }
  DrillRequest req;
  req.region = args["region"];
  bool known = false;
  std::vector<std::string> names;
  for (const auto& r : cfg.regions) {
    known = known || r.name == req.region;
    names.push_back(r.name);
  }
  if (!known) {
    return Err("unknown region \"" + Printable(req.region) +
               "\"; configured regions: " + JoinRegions(names));
  }
  auto type = FailureType(args, cfg.mcp.faults);
  if (!type) return type.error();
  req.failure_type = *type;
  auto duration = Duration(args, cfg.mcp);
  if (!duration) return duration.error();
  req.duration_seconds = *duration;
  for (auto [key, out] :
       {std::pair<const char*, bool*>{"dry_run", &req.dry_run}, {"force", &req.force}}) {
    if (!args.contains(key)) continue;
    if (!args[key].is_boolean()) return Err(std::string(key) + ": must be a boolean");
    *out = args[key].get<bool>();
  }
  return req;
}

Result<DrillPlan> PlanDrill(const state::KeyValues& cur, const DrillRequest& req,
                            const config::ControllerConfig& cfg, WallTime now,
                            const json& positions, const FaultTargets* targets) {
  const std::string& region = req.region;
  const bool real = req.failure_type != "health";
  if (real && !targets) return Err("no fault targets for a " + req.failure_type + " drill");
  if (real && targets->pods.empty()) {
    return Err("no agent pods of region " + region + " in namespace " + targets->ns +
               " (selector " + targets->selector + "): nothing to " +
               (req.failure_type == "pod" ? "delete" : "isolate"));
  }
  std::vector<failover::SimulatedOutage> outages;
  std::vector<Drill> drills;
  if (Status s = ReadStored(cur, &outages, &drills); !s) return s.error();
  if (const auto* a = failover::ActiveOutage(outages, region, now)) {
    return Err("drill already running for region " + region + " (" + a->id + ", until " +
                   FormatTime(a->expires_at) + "); end it with end_regional_outage first",
               Code::kConflict);
  }
  if (const Drill* u = Unreverted(drills, region)) {
    return Err("drill " + u->id + " of region " + region + " left a " + u->fault->type +
                   " fault that is not reverted yet; it is reverted once that drill has ended or "
                   "expired (by any MCP server). Try again then.",
               Code::kConflict);
  }
  DrillPlan p;
  p.failed_before = RegionListOf(cur, failover::kFailedRegionsKey);
  p.serving_before = RegionListOf(cur, failover::kServingRegionsKey);
  p.survivors = Survivors(p, outages, cfg, region, now);
  if (p.survivors.empty() && !req.force) {
    return Err("refusing to take down " + region + ": no other region could serve (serving: " +
               JoinRegions(p.serving_before) + "; failed: " + JoinRegions(p.failed_before) +
               "). This drill would leave nothing to fail over to; pass force: true to run it "
               "anyway.");
  }
  p.forced = p.survivors.empty();
  failover::SimulatedOutage& o = p.outage;
  o.id = "drill-" + region + "-" + std::to_string(EpochMillis(now));
  o.region = region;
  o.failure_type = req.failure_type;
  o.started_at = now;
  o.expires_at = now + std::chrono::seconds(req.duration_seconds);
  o.by = "mcp";
  p.summary = {{"dryRun", req.dry_run},
               {"drillId", req.dry_run ? json(nullptr) : json(o.id)},
               {"region", region},
               {"failureType", req.failure_type},
               {"durationSeconds", req.duration_seconds},
               {"startedAt", FormatTime(o.started_at)},
               {"expiresAt", FormatTime(o.expires_at)},
               {"servingBefore", p.serving_before},
               {"failedBefore", p.failed_before},
               {"survivors", p.survivors},
               {"forced", p.forced},
               {"touches", TouchesJson(req, targets)}};
  std::vector<failover::SimulatedOutage> kept;
  for (auto& x : outages) {
    if (now < x.expires_at) kept.push_back(std::move(x));
  }
  kept.push_back(o);
  drills.push_back(DrillRecord(p, req, positions));
  if (real) {
    // Recorded before anything is touched: whoever finds this drill ended or expired reverts it.
    Fault f;
    f.type = req.failure_type;
    f.ns = targets->ns;
    f.selector = targets->selector;
    for (const auto& pod : targets->pods)
      f.pods.push_back(PodRef{pod.name, pod.uid});
    f.network_policy = targets->network_policy;
    drills.back().fault = std::move(f);
  }
  p.write = {{failover::kSimulatedOutagesKey, failover::OutagesToJson(kept)},
             {kDrillsKey, DrillsToJson(drills)}};
  return p;
}

}  // namespace aha::mcp
