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

json NullableString() {
  return {{"type", json::array({"string", "null"})}};
}
json StringArray() {
  return {{"type", "array"}, {"items", {{"type", "string"}}}};
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

bool Flag(const json& d, const char* key) {
  const json* v = jsonget::Find(d, key);
  return v && v->is_boolean() && v->get<bool>();
}

std::string Str(const json& d, const char* key, const char* none = "?") {
  const json* v = jsonget::Find(d, key);
  return v && v->is_string() ? Printable(v->get<std::string>()) : std::string(none);
}

// One line about a data position (controller::DataJson, sanitized), escaped for a terminal.
std::string DataSummary(const json& d) {
  if (!d.is_object()) return "data not reported";
  const std::string role = Str(d, "role");
  const json* epoch = jsonget::Find(d, "epoch");
  std::string s = (Flag(d, "fenced") ? std::string("FENCED ") : std::string()) + role + " of " +
                  Str(d, "lineage") + " @ epoch " +
                  (epoch && epoch->is_number() ? jsonget::Dump(*epoch) : std::string("?"));
  const json* behind = jsonget::Find(d, "behindSeconds");
  if (role == "writer") {
    s += Flag(d, "ready") ? ", data ready" : ", data not ready";
  } else if (Flag(d, "caughtUp")) {
    s += ", caught up";
  } else if (behind && behind->is_number()) {
    s += ", " + jsonget::Dump(*behind) + " s behind its lineage's head";
  } else {
    s += ", not caught up";
  }
  return s;
}

json DrillRefSchema() {
  return {{"type", "object"},
          {"properties",
           {{"drillId", {{"type", "string"}}},
            {"region", {{"type", "string"}}},
            {"failureType", {{"type", "string"}}},
            {"startedAt", {{"type", "string"}}},
            {"expiresAt", {{"type", "string"}}},
            {"by", {{"type", "string"}}}}},
          {"required", {"drillId", "region", "startedAt", "expiresAt"}}};
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
  const auto& m = cfg_.mcp;
  const json region = {
      {"type", "string"}, {"enum", names}, {"description", "Region name, exactly as configured."}};
  json tools = json::array();

  tools.push_back(
      {{"name", "simulate_regional_outage"},
       {"title", "Simulate a regional outage (DR drill)"},
       {"description",
        "Start a disaster-recovery drill: the region's readiness gates report unhealthy until the "
        "drill expires (recorded with its expiry in the shared failover state, so it ends on time "
        "even if this server stops). The failover controller then detects the failure through its "
        "normal probes and fails over. One drill per region at a time; refuses to take down the "
        "last region that could serve unless force is true. Use dry_run to see what would "
        "happen."},
       {"inputSchema",
        {{"type", "object"},
         {"properties",
          {{"region", region},
           {"failure_type",
            {{"type", "string"},
             {"enum", {"health"}},
             {"default", "health"},
             {"description",
              "health: the region's gates fail /health. Upstream's pod, node and network are "
              "refused: this server has no fault injector for them."}}},
           {"duration_seconds",
            {{"type", "integer"},
             {"minimum", m.min_duration_seconds},
             {"maximum", m.max_duration_seconds},
             {"default", m.default_duration_seconds}}},
           {"dry_run",
            {{"type", "boolean"},
             {"default", false},
             {"description", "Validate and show the plan; write nothing."}}},
           {"force",
            {{"type", "boolean"},
             {"default", false},
             {"description", "Allow taking down the last region that could serve."}}}}},
         {"required", {"region"}},
         {"additionalProperties", false}}},
       {"outputSchema",
        {{"type", "object"},
         {"properties",
          {{"dryRun", {{"type", "boolean"}}},
           {"drillId", NullableString()},
           {"region", {{"type", "string"}}},
           {"failureType", {{"type", "string"}}},
           {"durationSeconds", {{"type", "integer"}}},
           {"startedAt", {{"type", "string"}}},
           {"expiresAt", {{"type", "string"}}},
           {"servingBefore", StringArray()},
           {"failedBefore", StringArray()},
           {"survivors", StringArray()},
           {"forced", {{"type", "boolean"}}}}},
         {"required",
          {"dryRun", "drillId", "region", "failureType", "durationSeconds", "startedAt",
           "expiresAt", "servingBefore", "survivors"}}}},
       {"annotations",
        {{"title", "Simulate a regional outage"},
         {"readOnlyHint", false},
         {"destructiveHint", true},
         {"idempotentHint", false},
         {"openWorldHint", false}}}});

  tools.push_back(
      {{"name", "end_regional_outage"},
       {"title", "End a drill early"},
       {"description", "End the active drill for a region now (removes its simulated outage)."},
       {"inputSchema",
        {{"type", "object"},
         {"properties", {{"region", region}}},
         {"required", {"region"}},
         {"additionalProperties", false}}},
       {"outputSchema",
        {{"type", "object"},
         {"properties",
          {{"drillId", {{"type", "string"}}},
           {"region", {{"type", "string"}}},
           {"startedAt", {{"type", "string"}}},
           {"endedAt", {{"type", "string"}}},
           {"ranSeconds", {{"type", "number"}}}}},
         {"required", {"drillId", "region", "startedAt", "endedAt", "ranSeconds"}}}},
       {"annotations",
        {{"readOnlyHint", false},
         {"destructiveHint", false},
         {"idempotentHint", true},
         {"openWorldHint", false}}}});

  tools.push_back(
      {{"name", "get_failover_status"},
       {"title", "Failover status"},
       {"description",
        "Current failover state: every region's status, the serving and failed sets, the panic "
        "flag, recent transitions and active drills as written by the controller, with its live "
        "observations (last probe, streaks, a reason describing the current state, and the data "
        "position: writer/follower/fenced of which lineage at which epoch, seconds behind the "
        "lineage's head). observations.source says whether they are live (controller) or "
        "state.json's as of its last write (controller unreachable)."},
       {"inputSchema",
        {{"type", "object"}, {"properties", json::object()}, {"additionalProperties", false}}},
       {"outputSchema",
        {{"type", "object"},
         {"properties",
          {{"generation", {{"type", json::array({"integer", "null"})}}},
           {"updatedAt", NullableString()},
           {"panic", {{"type", "boolean"}}},
           {"panicSince", NullableString()},
           {"servingRegions", StringArray()},
           {"failedRegions", StringArray()},
           {"regions", {{"type", "array"}, {"items", {{"type", "object"}}}}},
           {"lastTransitions", {{"type", "array"}, {"items", {{"type", "object"}}}}},
           {"activeDrills", {{"type", "array"}, {"items", DrillRefSchema()}}},
           {"observations", {{"type", "object"}}}}},
         {"required",
          {"panic", "servingRegions", "failedRegions", "regions", "lastTransitions",
           "activeDrills"}}}},
       {"annotations", {{"readOnlyHint", true}, {"openWorldHint", false}}}});

  json ts = {{"type", "object"}};
  tools.push_back(
      {{"name", "get_drill_report"},
       {"title", "Drill report"},
       {"description",
        "The measured timeline of a drill (by drill_id, or the latest drill of a region): injected "
        "at, first failed probe, region failed (state written), serving set changed, outage ended, "
        "region recovered, serving set restored, with durations in seconds. Every time comes from "
        "a real state change or controller transition; steps that did not happen yet are null. "
        "regional_failover_recovery_time = outage ended -> region recovered."},
       {"inputSchema",
        {{"type", "object"},
         {"properties", {{"region", region}, {"drill_id", {{"type", "string"}}}}},
         {"additionalProperties", false}}},
       {"outputSchema",
        {{"type", "object"},
         {"properties",
          {{"drillId", {{"type", "string"}}},
           {"region", {{"type", "string"}}},
           {"phase", {{"type", "string"}}},
           {"complete", {{"type", "boolean"}}},
           {"timeline", ts},
           {"durationsSeconds", ts},
           {"regional_failover_recovery_time", {{"type", json::array({"number", "null"})}}}}},
         {"required",
          {"drillId", "region", "phase", "complete", "timeline", "durationsSeconds",
           "regional_failover_recovery_time"}}}},
       {"annotations", {{"readOnlyHint", true}, {"openWorldHint", false}}}});

  tools.push_back(
      {{"name", "list_regions"},
       {"title", "Regions"},
       {"description", "The configured regions with their role and current status."},
       {"inputSchema",
        {{"type", "object"}, {"properties", json::object()}, {"additionalProperties", false}}},
       {"outputSchema",
        {{"type", "object"},
         {"properties",
          {{"regions",
            {{"type", "array"},
             {"items",
              {{"type", "object"},
               {"properties",
                {{"name", {{"type", "string"}}},
                 {"active", {{"type", "boolean"}}},
                 {"priority", {{"type", "integer"}}},
                 {"status", {{"type", "string"}}},
                 {"serving", {{"type", "boolean"}}},
                 {"drillActive", {{"type", "boolean"}}}}},
               {"required", {"name", "active", "priority", "status", "serving"}}}}}}}},
         {"required", {"regions"}}}},
       {"annotations", {{"readOnlyHint", true}, {"openWorldHint", false}}}});
  tools.push_back(
      {{"name", "get_replication_status"},
       {"title", "Replication status"},
       {"description",
        "Per region, the newest snapshot on the replication remotes (mcp.replication.remotes), "
        "ordered by writer epoch then id: its id, epoch, writer, released flag, creation time, age "
        "(now minus the record's createdAt), files and bytes, which "
        "remotes have it, and which remotes failed to answer (with the error). Read live from "
        "the remotes on every call. positions: the regions whose gates report this lineage "
        "(from the controller's live probes): role (writer, follower, fenced), epoch, snapshot, "
        "caught up, and seconds behind the latest snapshot."},
       {"inputSchema",
        {{"type", "object"},
         {"properties", {{"region", region}}},
         {"additionalProperties", false}}},
       {"outputSchema",
        {{"type", "object"},
         {"properties",
          {{"measuredAt", {{"type", "string"}}},
           {"remotes", StringArray()},
           {"regions",
            {{"type", "array"},
             {"items",
              {{"type", "object"},
               {"properties",
                {{"region", {{"type", "string"}}},
                 {"latest", {{"type", json::array({"object", "null"})}}},
                 {"positions", {{"type", "array"}, {"items", {{"type", "object"}}}}},
                 {"haveLatest", StringArray()},
                 {"missingLatest", StringArray()},
                 {"failed", {{"type", "array"}, {"items", {{"type", "object"}}}}},
                 {"remotes", {{"type", "array"}, {"items", {{"type", "object"}}}}}}},
               {"required",
                {"region", "latest", "haveLatest", "missingLatest", "failed", "remotes"}}}}}}}},
         {"required", {"measuredAt", "remotes", "regions"}}}},
       {"annotations", {{"readOnlyHint", true}, {"openWorldHint", true}}}});
  return tools;
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

ToolResult SecurityMonitor::Simulate(const json& args, const Result<LiveStatus>& live) {
  auto req = ParseDrillRequest(args, cfg_);
  if (!req) return Fail(req.message());
  const WallTime now = clock_.wall();
  const json positions = PositionsOf(live);
  const std::string& region = req->region;
  const std::string duration = std::to_string(req->duration_seconds);
  if (req->dry_run) {
    auto kv = store_.Read();
    if (!kv) {
      return Fail("cannot read the failover state (" + store_.Describe() + "): " + kv.message());
    }
    auto p = PlanDrill(*kv, *req, cfg_, now, positions);
    if (!p) return Fail(p.message());
    json audit = {{"event", "DrillDryRun"}, {"at", FormatTime(now)}};
    audit.update(p->summary);
    audit_(audit);
    return Ok(p->summary, "Dry run: a " + duration + " s " + req->failure_type + " outage of " +
                              region +
                              " would be written; nothing was changed. Regions left to "
                              "serve: " +
                              JoinRegions(p->survivors) + ".");
  }
  // Decided inside the store's conditional update: two servers cannot both start one for a
  // region. The plan of the version that was written is kept.
  std::optional<DrillPlan> plan;
  auto w = store_.Update([&](const state::KeyValues& cur) -> Result<state::KeyValues> {
    plan.reset();
    auto p = PlanDrill(cur, *req, cfg_, now, positions);
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
  json audit = {{"event", "DrillStarted"}, {"at", FormatTime(now)}};
  audit.update(plan->summary);
  audit_(audit);
  drills_.Add({{"region", region}, {"event", "started"}});
  if (events_) {
    events_("Warning", "DrillStarted",
            "drill " + o.id + ": simulated " + req->failure_type + " outage of region " + region +
                " for " + duration + "s, until " + FormatTime(o.expires_at),
            now);
  }
  return Ok(plan->summary, "Drill " + o.id + " started: region " + region +
                               " reports unhealthy until " + FormatTime(o.expires_at) +
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
  return Ok(out, "Drill " + ended.id + " ended; region " + region +
                     " reports healthy again and recovers after the controller's success "
                     "threshold.");
}

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
    const auto* o = failover::ActiveOutage(outages, r.name, now);
    e["activeDrill"] = o ? OutageJson(*o) : json(nullptr);
    if (o) active_drills.push_back(OutageJson(*o));
    regions.push_back(e);
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
  const Drill* found = nullptr;
  for (auto it = drills.rbegin(); it != drills.rend() && !found; ++it) {
    if (by_id && it->id != args["drill_id"].get<std::string>()) continue;
    if (by_region && it->region != args["region"].get<std::string>()) continue;
    found = &*it;
  }
  if (!found) {
    return Fail("no drill " +
                (by_id ? "with id " + args["drill_id"].get<std::string>()
                       : "for region " + args["region"].get<std::string>()) +
                " in the failover state (" + store_.Describe() + "; the last " +
                std::to_string(kMaxStoredDrills) + " drills are kept)");
  }
  json r;
  const Drill* next = nullptr;  // a newer drill of the same region ends this one's window
  for (auto it = drills.begin(); it != drills.end() && !next; ++it) {
    if (it->region == found->region && it->injected_at > found->injected_at) next = &*it;
  }
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
      "Drill " + Printable(found->id) + " (" + found->region + "), phase " +
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
    for (const auto& reg : cfg_.regions) {
      const json* d = jsonget::Find(ps, reg.name);
      text += "    " + reg.name + ": " + DataSummary(d ? *d : json(nullptr)) + "\n";
    }
  }
  return ToolResult{r, text + jsonget::Dump(r, 2), false};
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
    struct PerRemote {
      std::string url;
      json row;
      std::optional<replication::Record> record;
      std::string latest_id;
      int64_t latest_epoch = 0;
      std::string writer;
      bool released = false;
      objectstore::ObjectStore* store = nullptr;
      std::string error;
    };
    std::vector<PerRemote> per;
    for (size_t i = 0; i < rcs.size(); ++i) {
      PerRemote p;
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
    // The lineage's head: the newest (epoch, id) any remote names (docs/WRITER.md: a fenced
    // writer's late snapshot never wins over a higher epoch).
    const PerRemote* best = nullptr;
    for (const auto& p : per) {
      if (p.record && (!best || replication::HeadOlder(best->latest_epoch, best->latest_id,
                                                       p.latest_epoch, p.latest_id))) {
        best = &p;
      }
    }
    const WallTime now = clock_.wall();
    json latest = nullptr;
    if (best) {
      WallTime created{};
      json age = nullptr;
      if (ParseTime(best->record->created_at, &created)) {
        age = std::round(static_cast<double>(EpochMillis(now) - EpochMillis(created))) / 1000.0;
      }
      latest = {{"id", best->latest_id},
                {"createdAt", best->record->created_at},
                {"ageSeconds", age},
                {"files", best->record->files.size()},
                {"bytes", best->record->total_bytes()},
                {"generation", best->record->generation},
                {"epoch", best->latest_epoch},
                {"writer", best->writer},
                {"released", best->released}};
    }
    json have = json::array(), missing = json::array(), failed = json::array(),
         rows = json::array();
    for (auto& p : per) {
      json row = {{"remote", p.url},
                  {"ok", p.error.empty()},
                  {"latestId", p.latest_id.empty() ? json(nullptr) : json(p.latest_id)},
                  {"latestCreatedAt", p.record ? json(p.record->created_at) : json(nullptr)},
                  {"latestEpoch", p.latest_id.empty() ? json(nullptr) : json(p.latest_epoch)},
                  {"error", p.error.empty() ? json(nullptr) : json(p.error)}};
      if (!p.error.empty()) {
        failed.push_back({{"remote", p.url}, {"error", p.error}});
      } else if (best) {
        bool has = p.latest_id == best->latest_id;
        if (!has) {
          auto e = p.store->Exists(replication::RecordKey(region, best->latest_id));
          if (!e) {
            row["ok"] = false;
            row["error"] = e.message();
            failed.push_back({{"remote", p.url}, {"error", e.message()}});
            rows.push_back(row);
            continue;
          }
          has = *e;
        }
        (has ? have : missing).push_back(p.url);
        row["hasLatest"] = has;
      } else {
        missing.push_back(p.url);
        row["hasLatest"] = false;
      }
      rows.push_back(row);
    }
    text +=
        region + ": " +
        (best ? "latest " + best->latest_id + " (" + best->record->created_at + ", age " +
                    jsonget::Dump(latest["ageSeconds"]) + " s, " + jsonget::Dump(latest["files"]) +
                    " files, " + jsonget::Dump(latest["bytes"]) + " bytes) on " +
                    std::to_string(have.size()) + "/" + std::to_string(per.size()) + " remotes"
              : std::string("no snapshot on any remote")) +
        (failed.empty() ? "" : "; " + std::to_string(failed.size()) + " remote(s) failed") + "\n";
    // Who reports this lineage (the controller's live view of every region's gates): the
    // writer, followers with how far behind the remotes' head they are, fenced old writers.
    json positions = json::array();
    std::string pos_text;
    if (live) {
      for (const auto& [name, lv] : live->regions) {
        if (!FindRegion(name)) continue;
        const json* d = jsonget::Find(lv, "data");
        if (!d || !d->is_object()) continue;
        std::vector<json> reports;
        if (const json* eps = jsonget::Find(*d, "endpoints"); eps && eps->is_array()) {
          reports.assign(eps->begin(), eps->end());
        } else {
          reports.push_back(*d);
        }
        for (const json& e : reports) {
          const json* lin = jsonget::Find(e, "lineage");
          if (!lin || !lin->is_string() || lin->get<std::string>() != region) continue;
          json p = e;
          p["region"] = name;
          // Behind the head this tool read from the remotes (ids carry their creation time).
          json behind = nullptr;
          const json* snap = jsonget::Find(e, "snapshot");
          if (best && snap && snap->is_string()) {
            WallTime a{}, b{};
            if (snap->get<std::string>() == best->latest_id) {
              behind = 0.0;
            } else if (replication::SnapshotIdTime(snap->get<std::string>(), &a) &&
                       replication::SnapshotIdTime(best->latest_id, &b)) {
              behind = static_cast<double>(std::max<int64_t>(0, EpochMillis(b) - EpochMillis(a))) /
                       1000.0;
            }
          }
          p["behindLatestSeconds"] = behind;
          positions.push_back(p);
          pos_text += "  " + name + ": " + DataSummary(e) +
                      (behind.is_number() ? "; " + jsonget::Dump(behind) + " s behind the latest"
                                          : std::string()) +
                      "\n";
        }
      }
    }
    std::string writer_region;
    if (best) writer_region = best->writer.substr(0, best->writer.find('/'));
    if (!latest.is_null())
      latest["writerRegion"] = writer_region.empty() ? json(nullptr) : json(writer_region);
    text += pos_text;
    out_regions.push_back({{"region", region},
                           {"latest", latest},
                           {"positions", positions},
                           {"haveLatest", have},
                           {"missingLatest", missing},
                           {"failed", failed},
                           {"remotes", rows}});
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
