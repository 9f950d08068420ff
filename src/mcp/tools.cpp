#include "mcp/tools.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>

#include "common/json_get.h"
#include "common/log.h"
#include "common/printable.h"
#include "failover/failover_state.h"
#include "failover/outages.h"
#include "mcp/drill_plan.h"
#include "mcp/tool_schemas.h"
#include "objectstore/open.h"
#include "replication/publish.h"
#include "replication/snapshot.h"

namespace aha::mcp {

using nlohmann::json;

namespace {

constexpr size_t kMaxTransitions = 1000;

ToolResult Fail(const std::string& text) {
  return ToolResult{json::object(), text, true};
}

ToolResult Ok(json structured, std::string summary) {
  return ToolResult{structured, summary + "\n" + jsonget::Dump(structured, 2), false};
}

std::vector<failover::Transition> TransitionsOf(const state::KeyValues& kv) {
  auto it = kv.find(failover::kStateJsonKey);
  if (it == kv.end()) return {};
  auto st = failover::StateFromJson(it->second);
  if (!st) return {};
  return {st->recent.begin(), st->recent.end()};
}

// True when a newer drill of the same region follows drills[i] (drills are oldest first).
bool Superseded(const std::vector<Drill>& drills, size_t i) {
  for (size_t j = i + 1; j < drills.size(); ++j) {
    if (drills[j].region == drills[i].region) return true;
  }
  return false;
}

json OutageJson(const failover::SimulatedOutage& o) {
  return {{"drillId", o.id},
          {"region", o.region},
          {"failureType", o.failure_type},
          {"startedAt", FormatTime(o.started_at)},
          {"expiresAt", FormatTime(o.expires_at)},
          {"by", o.by}};
}

// Where the observations of a tool's answer come from (controller_status.h).
json ObservationsMeta(const Result<LiveStatus>& live, const json& state_updated_at) {
  if (live) {
    return {{"source", "controller"},
            {"url", live->url},
            {"lastRound", live->last_round},
            {"fetchedAt", FormatTime(live->fetched_at)},
            {"problems", live->problems.empty() ? json(nullptr) : json(live->problems)}};
  }
  return {{"source", "state"}, {"asOf", state_updated_at}, {"controllerError", live.message()}};
}

std::string Str(const json& d, const char* key, const char* none = "?") {
  const json* v = jsonget::Find(d, key);
  return v && v->is_string() ? Printable(v->get<std::string>()) : std::string(none);
}

}  // namespace

SecurityMonitor::SecurityMonitor(const config::ControllerConfig& cfg, state::StateStore& store,
                                 const Clock& clock, metrics::Registry& reg, AuditSink audit,
                                 EventSink events)
    : cfg_(cfg),
      store_(store),
      clock_(clock),
      recovery_(reg.DefineGauge(kRecoveryMetric,
                                "Seconds from the end of the last drill's outage to the region's "
                                "recovery (controller decision), measured.")),
      drills_(reg.DefineCounter("agency_ha_mcp_drills_total",
                                "Drills started, ended early and completed.")),
      audit_(std::move(audit)),
      events_(std::move(events)),
      started_at_(clock.wall()),
      remotes_(cfg.mcp.replication_remotes.size()) {}

const config::RegionConfig* SecurityMonitor::FindRegion(const std::string& name) const {
  for (const auto& r : cfg_.regions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

json SecurityMonitor::List() const {
  std::vector<std::string> names;
  for (const auto& r : cfg_.regions)
    names.push_back(r.name);
  return ToolDefinitions(names, cfg_.mcp);
}

Result<LiveStatus> SecurityMonitor::FetchLive() const {
  if (!live_) return Err("no controller to ask (mcp.controllerUrl)");
  return live_();
}

json SecurityMonitor::PositionsOf(const Result<LiveStatus>& live) const {
  if (!live) return nullptr;
  json out = json::object();
  for (const auto& r : cfg_.regions) {
    auto it = live->regions.find(r.name);
    const json* d = it == live->regions.end() ? nullptr : jsonget::Find(it->second, "data");
    out[r.name] = d ? *d : json(nullptr);
  }
  return out;
}

std::optional<ToolResult> SecurityMonitor::Call(const std::string& name, const json& args) {
  // The controller is asked before the lock is taken (a slow controller delays this call only).
  Result<LiveStatus> live = Err("not read");
  if (name == "simulate_regional_outage" || name == "get_failover_status" ||
      name == "get_drill_report" || name == "get_replication_status") {
    live = FetchLive();
  }
  std::lock_guard l(mu_);
  if (name == "simulate_regional_outage") return Simulate(args, live);
  if (name == "end_regional_outage") return End(args);
  if (name == "get_failover_status") return Status(live);
  if (name == "get_drill_report") return Report(args, live);
  if (name == "list_regions") return Regions();
  if (name == "get_replication_status") return Replication(args, live);
  return std::nullopt;
}

namespace {

// What a started drill does, for its Event and the tool's answer: {what, effect on the region}.
std::pair<std::string, std::string> DrillEffect(const std::string& type, const FaultTargets* t,
                                                const failover::SimulatedOutage& o) {
  if (t && type == "pod") {
    return {"pod outage (deleted " + std::to_string(t->pods.size()) + " agent pods)",
            ": its " + std::to_string(t->pods.size()) +
                " agent pods were deleted; their StatefulSet recreates them"};
  }
  if (t) {
    return {"network outage (NetworkPolicy " + t->network_policy + " denies all ingress)",
            ": NetworkPolicy " + t->network_policy +
                " denies all ingress to its agent pods until " + FormatTime(o.expires_at)};
  }
  return {"simulated " + type + " outage", " reports unhealthy until " + FormatTime(o.expires_at)};
}

}  // namespace

ToolResult SecurityMonitor::DryRun(const DrillRequest& req, WallTime now, const json& positions,
                                   const FaultTargets* tp) {
  auto kv = store_.Read();
  if (!kv) {
    return Fail("cannot read the failover state (" + store_.Describe() + "): " + kv.message());
  }
  auto p = PlanDrill(*kv, req, cfg_, now, positions, tp);
  if (!p) return Fail(p.message());
  json audit = {{"event", "DrillDryRun"}, {"at", FormatTime(now)}};
  audit.update(p->summary);
  audit_(audit);
  return Ok(p->summary, "Dry run: a " + std::to_string(req.duration_seconds) + " s " +
                            req.failure_type + " outage of " + req.region +
                            " would be written; nothing was changed. Regions left to serve: " +
                            JoinRegions(p->survivors) + ".");
}

ToolResult SecurityMonitor::Simulate(const json& args, const Result<LiveStatus>& live) {
  auto req = ParseDrillRequest(args, cfg_);
  if (!req) return Fail(req.message());
  const WallTime now = clock_.wall();
  const json positions = PositionsOf(live);
  const std::string& region = req->region;
  const std::string duration = std::to_string(req->duration_seconds);
  std::optional<FaultTargets> targets;
  if (req->failure_type != "health") {
    auto t = FaultTargetsFor(req->failure_type, region);
    if (!t) return Fail(t.message());
    targets = std::move(*t);
  }
  const FaultTargets* tp = targets ? &*targets : nullptr;
  if (req->dry_run) return DryRun(*req, now, positions, tp);
  // Decided inside the store's conditional update: two servers cannot both start one for a
  // region. The plan of the version that was written is kept.
  std::optional<DrillPlan> plan;
  auto w = store_.Update([&](const state::KeyValues& cur) -> Result<state::KeyValues> {
    plan.reset();
    auto p = PlanDrill(cur, *req, cfg_, now, positions, tp);
    if (!p) return p.error();
    plan = std::move(*p);
    return plan->write;
  });
  if (!w) {
    if (!plan) return Fail(w.message());
    return Fail("cannot write the drill to the failover state (" + store_.Describe() +
                "): " + w.message());
  }
  const failover::SimulatedOutage& o = plan->outage;
  if (targets) {
    // The revert is recorded (the write above); now the fault itself.
    if (aha::Status s = InjectLocked(o.id, req->failure_type, region, *targets); !s) {
      audit_({{"event", "DrillInjectionFailed"},
              {"at", FormatTime(clock_.wall())},
              {"drillId", o.id},
              {"region", region},
              {"failureType", req->failure_type},
              {"error", s.message()}});
      return Fail("drill " + o.id + ": the " + req->failure_type +
                  " fault could not be injected (" + s.message() +
                  "); the drill was ended and what was done undone");
    }
  }
  json audit = {{"event", "DrillStarted"}, {"at", FormatTime(now)}};
  audit.update(plan->summary);
  audit_(audit);
  drills_.Add({{"region", region}, {"event", "started"}});
  const auto [what, effect] = DrillEffect(req->failure_type, tp, o);
  if (events_) {
    events_("Warning", "DrillStarted",
            "drill " + o.id + ": " + what + " of region " + region + " for " + duration +
                "s, until " + FormatTime(o.expires_at),
            now);
  }
  if (targets) {
    // Watch it from now on (the snapshot with this drill comes a moment later).
    auto kv = store_.Read();
    if (kv && kv->count(kDrillsKey)) {
      if (auto ds = ParseDrills(kv->at(kDrillsKey)); ds) TrackFaultsLocked(*ds);
    }
  }
  return Ok(plan->summary, "Drill " + o.id + " started: region " + region + effect +
                               ". Follow it with get_drill_report.");
}

ToolResult SecurityMonitor::End(const json& args) {
  if (auto k = UnknownArgument(args, {"region"}); !k.empty()) {
    return Fail("unknown argument \"" + Printable(k) + "\"");
  }
  if (!args.contains("region") || !args["region"].is_string()) {
    return Fail("region: required, a string");
  }
  const std::string region = args["region"];
  if (!FindRegion(region)) return Fail("unknown region \"" + Printable(region) + "\"");
  const WallTime now = clock_.wall();
  failover::SimulatedOutage ended;
  bool decided = false;
  auto w = store_.Update([&](const state::KeyValues& cur) -> Result<state::KeyValues> {
    decided = false;
    std::vector<failover::SimulatedOutage> outages;
    if (auto it = cur.find(failover::kSimulatedOutagesKey); it != cur.end()) {
      auto parsed = failover::ParseOutages(it->second);
      if (!parsed) return Err("the stored simulatedOutages key is malformed: " + parsed.message());
      outages = std::move(*parsed);
    }
    const auto* active = failover::ActiveOutage(outages, region, now);
    if (!active) return Err("no active drill for region " + region);
    ended = *active;
    std::vector<failover::SimulatedOutage> kept;
    for (auto& x : outages) {
      if (now < x.expires_at && x.id != ended.id) kept.push_back(std::move(x));
    }
    state::KeyValues upd{{failover::kSimulatedOutagesKey, failover::OutagesToJson(kept)}};
    if (auto it = cur.find(kDrillsKey); it != cur.end()) {
      if (auto drills = ParseDrills(it->second); drills) {
        for (auto& d : *drills) {
          if (d.id == ended.id) d.ended_early_at = now;
        }
        upd[kDrillsKey] = DrillsToJson(*drills);
      }
    }
    decided = true;
    return upd;
  });
  if (!w) {
    if (!decided) return Fail(w.message());
    return Fail("cannot write the failover state: " + w.message());
  }
  const double ran = static_cast<double>(EpochMillis(now) - EpochMillis(ended.started_at)) / 1000.0;
  json out = {{"drillId", ended.id},
              {"region", region},
              {"startedAt", FormatTime(ended.started_at)},
              {"endedAt", FormatTime(now)},
              {"ranSeconds", ran}};
  json audit = {{"event", "DrillEnded"}, {"at", FormatTime(now)}};
  audit.update(out);
  audit_(audit);
  drills_.Add({{"region", region}, {"event", "ended"}});
  if (events_) {
    events_("Normal", "DrillEnded", "drill " + ended.id + " for region " + region + " ended early",
            now);
  }
  if (ended.failure_type != "health") {
    // Revert now rather than at the next tick (Tick also retries a failed revert).
    auto kv = store_.Read();
    if (kv && kv->count(kDrillsKey)) {
      if (auto ds = ParseDrills(kv->at(kDrillsKey)); ds) TrackFaultsLocked(*ds);
    }
    TickLocked();
  }
  return Ok(out, "Drill " + ended.id + " ended; region " + region +
                     (ended.failure_type == "health"
                          ? " reports healthy again"
                          : "'s " + ended.failure_type + " fault is reverted") +
                     " and recovers after the controller's success threshold.");
}

namespace {

// One region's entry of get_failover_status: state.json's view of it (`per`: its "regions"),
// the controller's live observations when it answered, and its active drill (`o`, or null).
json RegionStatusJson(const config::RegionConfig& r, const json& per,
                      const std::vector<std::string>& failed,
                      const std::vector<std::string>& serving, const Result<LiveStatus>& live,
                      const failover::SimulatedOutage* o) {
  json e = {{"name", r.name}, {"active", r.active}};
  const json* found = jsonget::Find(per, r.name);
  const json s = found && found->is_object() ? *found : json::object();
  const json* status = jsonget::Find(s, "status");
  e["status"] = status && status->is_string()
                    ? *status
                    : json(failover::ContainsRegion(failed, r.name) ? "failed" : "unknown");
  e["serving"] = failover::ContainsRegion(serving, r.name);
  for (const char* k : {"since", "promoted", "promotedFor"}) {
    e[k] = s.contains(k) ? s[k] : json(nullptr);
  }
  // Observations: the controller's live view when it answered, else state.json's (as of its
  // last write; `observations` says which).
  const json* lv = nullptr;
  if (live) {
    auto it = live->regions.find(r.name);
    if (it != live->regions.end()) lv = &it->second;
  }
  const json& src = lv ? *lv : s;
  for (const char* k :
       {"reason", "statusReason", "lastProbe", "consecutiveSuccesses", "consecutiveFailures"}) {
    e[k] = src.contains(k) ? src[k] : json(nullptr);
  }
  e["data"] = lv && lv->contains("data") ? (*lv)["data"] : json(nullptr);
  e["activeDrill"] = o ? OutageJson(*o) : json(nullptr);
  return e;
}

// The newest stored drill with `id` (when given) of `region` (when given); null if none.
const Drill* NewestDrill(const std::vector<Drill>& drills, const std::optional<std::string>& id,
                         const std::optional<std::string>& region) {
  for (auto it = drills.rbegin(); it != drills.rend(); ++it) {
    if (id && it->id != *id) continue;
    if (region && it->region != *region) continue;
    return &*it;
  }
  return nullptr;
}

// The first stored drill of the same region injected after `d` (it ends d's window); or null.
const Drill* NextDrillOfRegion(const std::vector<Drill>& drills, const Drill& d) {
  for (const auto& o : drills)
    if (o.region == d.region && o.injected_at > d.injected_at) return &o;
  return nullptr;
}

// get_drill_report's text: the timeline, the measured durations and the data positions.
std::string DrillReportText(const Drill& found, const json& r,
                            const std::vector<config::RegionConfig>& regions) {
  // A stored report was type-checked by ParseDrills; members may still be missing.
  const json empty = json::object();
  const json* tl = jsonget::Find(r, "timeline");
  const json* du = jsonget::Find(r, "durationsSeconds");
  const json* phase = jsonget::Find(r, "phase");
  if (!tl) tl = &empty;
  if (!du) du = &empty;
  auto line = [&](const char* label, const char* key) {
    const json* v = jsonget::Find(*tl, key);
    return std::string("  ") + label + ": " +
           (v && v->is_string() ? Printable(v->get<std::string>()) : std::string("-")) + "\n";
  };
  auto secs = [&](const char* key) {
    const json* v = jsonget::Find(*du, key);
    return v && v->is_number() ? std::to_string(v->get<double>()) + " s" : std::string("-");
  };
  std::string text =
      "Drill " + Printable(found.id) + " (" + found.region + "), phase " +
      (phase && phase->is_string() ? Printable(phase->get<std::string>()) : std::string("?")) +
      "\n" + line("injected", "injectedAt") + line("first failed probe", "firstFailedProbeAt") +
      line("region failed (state written)", "regionFailedAt") +
      line("serving set changed (observed)", "servingChangedAt") +
      line("outage ended", "outageEndedAt") + line("region recovered", "regionRecoveredAt") +
      line("serving set restored (observed)", "servingRestoredAt") +
      "  detection: " + secs("injectedToRegionFailed") +
      ", failover: " + secs("injectedToServingChanged") +
      ", regional_failover_recovery_time: " + secs("outageEndedToRegionRecovered") + "\n";
  for (const auto& [label, key] :
       {std::pair<const char*, const char*>{"at injection", "atInjection"}, {"now", "now"}}) {
    const json& ps = r["positions"][key];
    if (!ps.is_object()) continue;
    text += std::string("  data ") + label + ":\n";
    for (const auto& reg : regions) {
      const json* d = jsonget::Find(ps, reg.name);
      text += "    " + reg.name + ": " + DataSummary(d ? *d : json(nullptr)) + "\n";
    }
  }
  return text;
}

}  // namespace

ToolResult SecurityMonitor::Status(const Result<LiveStatus>& live) {
  auto kv = store_.Read();
  if (!kv) return Fail("cannot read the failover state: " + kv.message());
  const WallTime now = clock_.wall();
  json doc = json::object();
  if (auto it = kv->find(failover::kStateJsonKey); it != kv->end()) {
    // Shown as written, but only once it is known to be well-formed: every field read below
    // then has its type (an operator's hand edit must not take this server down).
    auto st = failover::StateFromJson(it->second);
    if (!st) return Fail("the stored state.json is malformed: " + st.message());
    doc = json::parse(it->second, nullptr, false);
    if (!doc.is_object()) doc = json::object();
  }
  std::vector<failover::SimulatedOutage> outages;
  if (auto it = kv->find(failover::kSimulatedOutagesKey); it != kv->end()) {
    if (auto p = failover::ParseOutages(it->second); p) outages = std::move(*p);
  }
  const auto failed = RegionListOf(*kv, failover::kFailedRegionsKey);
  const auto serving = RegionListOf(*kv, failover::kServingRegionsKey);
  json regions = json::array();
  json active_drills = json::array();
  const json per =
      doc.contains("regions") && doc["regions"].is_object() ? doc["regions"] : json::object();
  for (const auto& r : cfg_.regions) {
    const auto* o = failover::ActiveOutage(outages, r.name, now);
    regions.push_back(RegionStatusJson(r, per, failed, serving, live, o));
    if (o) active_drills.push_back(OutageJson(*o));
  }
  json transitions = doc.contains("transitions") && doc["transitions"].is_array()
                         ? doc["transitions"]
                         : json::array();
  json last = json::array();
  for (size_t i = transitions.size() > 10 ? transitions.size() - 10 : 0; i < transitions.size();
       ++i) {
    last.push_back(transitions[i]);
  }
  json out = {
      {"generation", doc.contains("generation") ? doc["generation"] : json(nullptr)},
      {"updatedAt", doc.contains("updatedAt") ? doc["updatedAt"] : json(nullptr)},
      {"panic", doc.contains("panic") && doc["panic"].is_boolean() && doc["panic"].get<bool>()},
      {"panicSince", doc.contains("panicSince") ? doc["panicSince"] : json(nullptr)},
      {"servingRegions", serving},
      {"failedRegions", failed},
      {"regions", regions},
      {"lastTransitions", last},
      {"activeDrills", active_drills},
      {"observations",
       ObservationsMeta(live, doc.contains("updatedAt") ? doc["updatedAt"] : json(nullptr))}};
  std::string text = "Serving: " + JoinRegions(serving) + ". Failed: " + JoinRegions(failed) +
                     ". Panic: " + (out["panic"].get<bool>() ? "yes" : "no") +
                     ". Active drills: " + std::to_string(active_drills.size()) + ".\n";
  for (const json& e : regions) {
    text += "  " + e["name"].get<std::string>() + ": " + Str(e, "reason", "no reason yet") + "; " +
            DataSummary(e["data"]) + "\n";
  }
  text += live ? "(observations: the controller's live view, " + Printable(live->url) + ")"
               : "(observations: state.json as of its last write; the controller did not answer: " +
                     Printable(live.message()) + ")";
  if (!kv->count(failover::kStateJsonKey)) {
    text += " (The controller has not written state.json yet.)";
  }
  return Ok(out, text);
}

json SecurityMonitor::ReportLocked(const Drill& d, WallTime now) const {
  if (d.report.is_object()) return d.report;  // complete: the report as it was when completed
  return BuildDrillReport(d, transitions_, d.observations, now);
}

ToolResult SecurityMonitor::Report(const json& args, const Result<LiveStatus>& live) {
  if (auto k = UnknownArgument(args, {"region", "drill_id"}); !k.empty()) {
    return Fail("unknown argument \"" + Printable(k) + "\"");
  }
  const bool by_id = args.contains("drill_id");
  const bool by_region = args.contains("region");
  if (!by_id && !by_region) return Fail("give region or drill_id");
  if ((by_id && !args["drill_id"].is_string()) || (by_region && !args["region"].is_string())) {
    return Fail("region and drill_id must be strings");
  }
  if (by_region && !FindRegion(args["region"].get<std::string>())) {
    return Fail("unknown region \"" + Printable(args["region"].get<std::string>()) + "\"");
  }
  // The drills live in the shared state: drills started before this server (re)started, or by
  // another server, are reported too.
  auto kv = store_.Read();
  if (!kv) return Fail("cannot read the failover state: " + kv.message());
  std::vector<Drill> drills;
  if (auto it = kv->find(kDrillsKey); it != kv->end()) {
    auto parsed = ParseDrills(it->second);
    if (!parsed) return Fail("the stored drills key is malformed: " + parsed.message());
    drills = std::move(*parsed);
  }
  // Fresh transitions too (the watcher may not have seen the latest write yet).
  for (const auto& t : TransitionsOf(*kv)) {
    if (std::find(transitions_.begin(), transitions_.end(), t) == transitions_.end()) {
      transitions_.push_back(t);
    }
  }
  std::optional<std::string> id, region;
  if (by_id) id = args["drill_id"].get<std::string>();
  if (by_region) region = args["region"].get<std::string>();
  const Drill* found = NewestDrill(drills, id, region);
  if (!found) {
    return Fail("no drill " + (by_id ? "with id " + *id : "for region " + *region) +
                " in the failover state (" + store_.Describe() + "; the last " +
                std::to_string(kMaxStoredDrills) + " drills are kept)");
  }
  json r;
  const Drill* next = NextDrillOfRegion(drills, *found);  // ends this one's window
  if (next && !found->report.is_object()) {
    std::vector<failover::Transition> before;
    for (const auto& t : transitions_) {
      if (t.at < next->injected_at) before.push_back(t);
    }
    r = BuildDrillReport(*found, before, found->observations, clock_.wall());
    r["notes"].push_back("superseded by drill " + next->id + " before it completed");
  } else {
    r = ReportLocked(*found, clock_.wall());
  }
  // Who wrote which lineage, and where each follower was: at injection (recorded with the
  // drill), at completion (recorded with the report) and now (the controller's live view).
  {
    const json* at_completion = jsonget::Find(r, "positionsAtCompletion");
    r["positions"] = {{"atInjection", found->positions_at_injection},
                      {"atCompletion", at_completion ? *at_completion : json(nullptr)},
                      {"now", PositionsOf(live)},
                      {"observations", ObservationsMeta(live, nullptr)}};
  }
  return ToolResult{r, DrillReportText(*found, r, cfg_.regions) + jsonget::Dump(r, 2), false};
}

ToolResult SecurityMonitor::Regions() {
  auto kv = store_.Read();
  state::KeyValues empty;
  const state::KeyValues& v = kv ? *kv : empty;
  const auto failed = RegionListOf(v, failover::kFailedRegionsKey);
  const auto serving = RegionListOf(v, failover::kServingRegionsKey);
  std::vector<failover::SimulatedOutage> outages;
  if (auto it = v.find(failover::kSimulatedOutagesKey); it != v.end()) {
    if (auto p = failover::ParseOutages(it->second); p) outages = std::move(*p);
  }
  const WallTime now = clock_.wall();
  json list = json::array();
  std::string text;
  for (const auto& r : cfg_.regions) {
    const bool f = failover::ContainsRegion(failed, r.name);
    const bool s = failover::ContainsRegion(serving, r.name);
    const bool drill = failover::ActiveOutage(outages, r.name, now) != nullptr;
    const std::string status = !kv ? "unknown" : f ? "failed" : "healthy";
    list.push_back({{"name", r.name},
                    {"active", r.active},
                    {"priority", r.priority},
                    {"status", status},
                    {"serving", s},
                    {"drillActive", drill}});
    text += r.name + (r.active ? " (active)" : " (passive)") + ": " + status +
            (s ? ", serving" : "") + (drill ? ", drill active" : "") + "\n";
  }
  if (!kv) text += "(state unreadable: " + kv.message() + ")\n";
  return ToolResult{{{"regions", list}}, text, false};
}

std::vector<RemoteHead> SecurityMonitor::ReadRemoteHeads(const std::string& region) {
  const auto& rcs = cfg_.mcp.replication_remotes;
  std::vector<RemoteHead> per;
  for (size_t i = 0; i < rcs.size(); ++i) {
    RemoteHead p;
    p.url = rcs[i].url;
    if (!remotes_[i]) {
      auto opened = objectstore::OpenRemote(rcs[i], 4);
      if (opened)
        remotes_[i] = std::move(*opened);
      else
        p.error = "cannot open: " + opened.message();
    }
    p.store = remotes_[i].get();
    if (p.store) {
      auto latest = replication::ReadLatest(*p.store, region);
      if (!latest) {
        p.error = latest.message();
      } else if (*latest) {
        p.latest_id = (*latest)->id;
        p.latest_epoch = (*latest)->epoch;
        p.writer = (*latest)->writer;
        p.released = (*latest)->released;
        auto body = p.store->Get(replication::RecordKey(region, p.latest_id));
        auto rec =
            body ? replication::RecordFromJson(*body) : Result<replication::Record>(body.error());
        if (rec) {
          p.record = std::move(*rec);
        } else {
          p.error = "snapshot " + p.latest_id + ": " + rec.message();
        }
      }
    }
    per.push_back(std::move(p));
  }
  return per;
}

ToolResult SecurityMonitor::Replication(const json& args, const Result<LiveStatus>& live) {
  if (auto k = UnknownArgument(args, {"region"}); !k.empty()) {
    return Fail("unknown argument \"" + Printable(k) + "\"");
  }
  std::vector<std::string> regions;
  if (args.contains("region")) {
    if (!args["region"].is_string()) return Fail("region: must be a string");
    const std::string r = args["region"];
    if (!FindRegion(r)) return Fail("unknown region \"" + Printable(r) + "\"");
    regions.push_back(r);
  } else {
    for (const auto& r : cfg_.regions)
      regions.push_back(r.name);
  }
  const auto& rcs = cfg_.mcp.replication_remotes;
  if (rcs.empty()) {
    return Fail(
        "no replication remotes configured: list them under mcp.replication.remotes (same format "
        "as the replication config's remotes)");
  }
  json remote_names = json::array();
  for (const auto& rc : rcs)
    remote_names.push_back(rc.url);
  json out_regions = json::array();
  std::string text;
  for (const auto& region : regions) {
    const std::vector<RemoteHead> per = ReadRemoteHeads(region);
    const RemoteHead* head = LineageHead(per);
    const json latest = head ? HeadJson(*head, clock_.wall()) : json(nullptr);
    const RemoteTally tally = TallyRemotes(per, head, [&](const RemoteHead& p) {
      return p.store->Exists(replication::RecordKey(region, head->latest_id));
    });
    text += SummaryLine(region, head, latest, tally, per.size());
    // Who reports this lineage (the controller's live view of every region's gates): the
    // writer, followers with how far behind the remotes' head they are, fenced old writers.
    LineagePositions pos;
    if (live) {
      pos = PositionsOfLineage(
          *live, [&](const std::string& name) { return FindRegion(name) != nullptr; }, region,
          head);
    }
    text += pos.text;
    out_regions.push_back({{"region", region},
                           {"latest", latest},
                           {"positions", pos.positions},
                           {"haveLatest", tally.have},
                           {"missingLatest", tally.missing},
                           {"failed", tally.failed},
                           {"remotes", tally.rows}});
  }
  json out = {{"measuredAt", FormatTime(clock_.wall())},
              {"remotes", remote_names},
              {"regions", out_regions},
              {"observations", ObservationsMeta(live, nullptr)}};
  return Ok(out, text);
}

void SecurityMonitor::Observe(const state::KeyValues& kv, WallTime at) {
  std::lock_guard l(mu_);
  const bool first = !observed_once_;
  observed_once_ = true;
  for (const auto& t : TransitionsOf(kv)) {
    if (std::find(transitions_.begin(), transitions_.end(), t) == transitions_.end()) {
      transitions_.push_back(t);
    }
  }
  if (transitions_.size() > kMaxTransitions) {
    transitions_.erase(
        transitions_.begin(),
        transitions_.begin() + static_cast<long>(transitions_.size() - kMaxTransitions));
  }
  auto failed = failover::ParseRegionList(
      kv.count(failover::kFailedRegionsKey) ? kv.at(failover::kFailedRegionsKey) : std::string());
  auto serving = failover::ParseRegionList(
      kv.count(failover::kServingRegionsKey) ? kv.at(failover::kServingRegionsKey) : std::string());
  auto it = kv.find(kDrillsKey);
  if (it == kv.end() || !failed || !serving) return;
  auto drills = ParseDrills(it->second);
  if (!drills) {
    log::Warn("mcp: the stored drills key is malformed", {{"error", drills.message()}});
    return;
  }
  TrackFaultsLocked(*drills);
  // Record the change with every drill still in progress. The first snapshot after this server
  // started may show changes nobody watched happen: those are gaps (time unknown).
  // A drill is followed until it completes or a newer drill of its region supersedes it.
  auto changed = [&](const std::vector<Drill>& ds, size_t i) {
    const Drill& d = ds[i];
    const auto& lf = d.observations.empty() ? d.failed_before : d.observations.back().failed;
    const auto& ls = d.observations.empty() ? d.serving_before : d.observations.back().serving;
    return !d.completed_at && !Superseded(ds, i) && at >= d.injected_at &&
           (lf != *failed || ls != *serving);
  };
  bool any = false;
  for (size_t i = 0; i < drills->size(); ++i)
    any = any || changed(*drills, i);
  if (any) {
    auto w = store_.Update([&](const state::KeyValues& cur) -> Result<state::KeyValues> {
      auto c = cur.find(kDrillsKey);
      if (c == cur.end()) return state::KeyValues{};
      auto ds = ParseDrills(c->second);
      if (!ds) return ds.error();
      for (size_t i = 0; i < ds->size(); ++i) {
        // Another server may have recorded this very change already: then nothing to add.
        if (!changed(*ds, i)) continue;
        Drill& d = (*ds)[i];
        d.observations.push_back(
            Observation{at, *failed, *serving, first && d.injected_at < started_at_});
      }
      return state::KeyValues{{kDrillsKey, DrillsToJson(*ds)}};
    });
    if (!w) {
      log::Warn("mcp: cannot record a drill observation", {{"error", w.message()}});
      return;  // retried with the next snapshot
    }
    // The write comes back as a new snapshot; completion is checked on that one.
    if (*w > 0) return;
  }
  CheckCompletedLocked(*drills, clock_.wall());
}

void SecurityMonitor::CheckCompletedLocked(const std::vector<Drill>& drills, WallTime now) {
  for (size_t i = 0; i < drills.size(); ++i) {
    const Drill& d = drills[i];
    if (d.completed_at) {
      // Completed (maybe by another server, or before a restart): expose the measured value.
      const json* rt = jsonget::Find(d.report, kRecoveryMetric);
      if (!gauged_.count(d.id) && rt && rt->is_number()) {
        gauged_.insert(d.id);
        recovery_.Set({{"region", d.region}}, rt->get<double>());
      }
      continue;
    }
    if (Superseded(drills, i)) continue;  // never completed; its report stays as it was
    json r = BuildDrillReport(d, transitions_, d.observations, now);
    if (!r["complete"].get<bool>()) continue;
    r["positionsAtCompletion"] = PositionsOf(FetchLive());
    // Exactly one server records the completion (and audits it).
    bool won = false;
    auto w = store_.Update([&](const state::KeyValues& cur) -> Result<state::KeyValues> {
      won = false;
      auto c = cur.find(kDrillsKey);
      if (c == cur.end()) return state::KeyValues{};
      auto ds = ParseDrills(c->second);
      if (!ds) return ds.error();
      for (auto& x : *ds) {
        if (x.id != d.id || x.completed_at) continue;
        x.completed_at = now;
        x.report = r;
        won = true;
      }
      if (!won) return state::KeyValues{};
      return state::KeyValues{{kDrillsKey, DrillsToJson(*ds)}};
    });
    if (!w) {
      log::Warn("mcp: cannot record a drill's completion",
                {{"drill", d.id}, {"error", w.message()}});
      continue;
    }
    if (!won) continue;
    gauged_.insert(d.id);
    audit_({{"event", "DrillCompleted"}, {"at", FormatTime(now)}, {"report", r}});
    drills_.Add({{"region", d.region}, {"event", "completed"}});
    const json& rt = r[kRecoveryMetric];
    if (rt.is_number()) recovery_.Set({{"region", d.region}}, rt.get<double>());
    if (events_) {
      events_("Normal", "DrillCompleted",
              "drill " + d.id + " for region " + d.region + " complete; " + kRecoveryMetric + "=" +
                  (rt.is_number() ? std::to_string(rt.get<double>()) + "s" : "n/a"),
              now);
    }
  }
}

}  // namespace aha::mcp
