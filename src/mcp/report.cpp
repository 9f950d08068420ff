#include "mcp/report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/json_get.h"
#include "common/printable.h"
#include "mcp/controller_status.h"

namespace aha::mcp {

using nlohmann::json;

namespace {

json T(std::optional<WallTime> t) {
  return t ? json(FormatTime(*t)) : json(nullptr);
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

json SecondsBetween(const json& from, const json& to) {
  WallTime a, b;
  if (!from.is_string() || !to.is_string()) return nullptr;
  if (!ParseTime(from.get<std::string>(), &a) || !ParseTime(to.get<std::string>(), &b)) {
    return nullptr;
  }
  const double ms = static_cast<double>(EpochMillis(b) - EpochMillis(a));
  return std::round(ms) / 1000.0;
}

namespace {

using failover::TransitionKind;

// The controller's decisions for the drill (its transitions at or after injection, in decision
// order): the region failed, a stand-in promoted, the region recovered, the stand-in demoted.
struct Decisions {
  std::vector<failover::Transition> ts;  // this drill's, sorted by time
  std::optional<WallTime> first_failed_probe, failed_at, promoted_at, first_ok_probe, recovered_at,
      demoted_at;
  std::string promoted_region;
};

Decisions DecisionsOf(const Drill& d, const std::vector<failover::Transition>& transitions) {
  Decisions c;
  for (const auto& t : transitions) {
    if (t.at >= d.injected_at) c.ts.push_back(t);
  }
  std::stable_sort(c.ts.begin(), c.ts.end(),
                   [](const auto& a, const auto& b) { return a.at < b.at; });
  for (const auto& t : c.ts) {
    if (!c.failed_at) {
      if (t.kind == TransitionKind::kRegionFailed && t.region == d.region) {
        c.failed_at = t.at;
        if (t.first_probe_at != WallTime{}) c.first_failed_probe = t.first_probe_at;
      }
      continue;
    }
    if (!c.recovered_at && t.kind == TransitionKind::kRegionPromoted && !c.promoted_at &&
        t.region != d.region) {
      c.promoted_at = t.at;
      c.promoted_region = t.region;
    } else if (!c.recovered_at && t.kind == TransitionKind::kRegionRecovered &&
               t.region == d.region) {
      c.recovered_at = t.at;
      if (t.first_probe_at != WallTime{}) c.first_ok_probe = t.first_probe_at;
    } else if (c.recovered_at && c.promoted_at && !c.demoted_at &&
               t.kind == TransitionKind::kRegionDemoted && t.region == c.promoted_region) {
      c.demoted_at = t.at;
    }
  }
  return c;
}

// What this server saw in the state keys, after injection. A gap observation says a step
// happened (saw_*) without knowing when (seen_* stays null).
struct Seen {
  std::optional<WallTime> failed, serving_changed, recovered, serving_restored;
  bool saw_failed = false, saw_serving_changed = false, saw_recovered = false,
       saw_serving_restored = false, used_gap = false;
  std::vector<std::string> serving_during;
};

Seen SeenIn(const Drill& d, const std::vector<Observation>& observed) {
  Seen s;
  for (const auto& o : observed) {
    if (o.at < d.injected_at) continue;
    const std::optional<WallTime> when = o.gap ? std::nullopt : std::optional<WallTime>(o.at);
    if (!s.saw_failed) {
      if (Contains(o.failed, d.region)) {
        s.saw_failed = true;
        s.failed = when;
        s.used_gap = s.used_gap || o.gap;
      }
    } else if (!s.saw_recovered && !Contains(o.failed, d.region)) {
      s.saw_recovered = true;
      s.recovered = when;
      s.used_gap = s.used_gap || o.gap;
    }
    if (!s.saw_serving_changed) {
      if (o.serving != d.serving_before) {
        s.saw_serving_changed = true;
        s.serving_changed = when;
        s.serving_during = o.serving;
        s.used_gap = s.used_gap || o.gap;
      }
    } else if (s.saw_recovered && !s.saw_serving_restored && o.serving == d.serving_before) {
      s.saw_serving_restored = true;
      s.serving_restored = when;
      s.used_gap = s.used_gap || o.gap;
    }
  }
  return s;
}

// True when a server watched the drill live: its first observation after injection is no gap,
// and none before it was.
bool Watched(const Drill& d, const std::vector<Observation>& observed) {
  bool watched = false;
  for (const auto& o : observed) {
    if (o.at < d.injected_at) continue;
    watched = !o.gap;
    if (o.gap) break;
  }
  return watched;
}

// The serving set's change and restoration as the controller decided them (unset: not decided,
// or not datable from the transitions).
struct DecidedServing {
  std::optional<WallTime> changed, restored;
};

// The controller's decisions (state.json transitions: decision times measured by the controller
// and written in the same state write that changed servingRegions) date a serving change that
// no server saw live. The caller uses them only when nobody watched (no observation after
// injection, or a gap): a server that is watching records the change itself a moment later, and
// its report must not switch times.
DecidedServing DecideServing(const Drill& d, const Decisions& c) {
  DecidedServing out;
  if (!c.failed_at) return out;
  bool panic = false;
  for (const auto& t : c.ts) {
    panic = panic || (t.kind == TransitionKind::kPanicEntered && t.at == *c.failed_at);
  }
  const bool region_served = Contains(d.serving_before, d.region) && !panic;
  const bool promoted_new = c.promoted_at && !Contains(d.serving_before, c.promoted_region);
  if (region_served) out.changed = c.failed_at;
  if (promoted_new && (!out.changed || *c.promoted_at < *out.changed)) {
    out.changed = c.promoted_at;
  }
  // Back to the serving set before: the region serves again and the stand-in left.
  const bool need_recovered = region_served, need_demoted = promoted_new;
  if (out.changed && (!need_recovered || c.recovered_at) && (!need_demoted || c.demoted_at)) {
    out.restored = need_recovered ? c.recovered_at : c.demoted_at;
    if (need_recovered && need_demoted && *c.demoted_at > *out.restored) {
      out.restored = c.demoted_at;
    }
  }
  return out;
}

// Fills the serving times nobody observed from the controller's decisions; returns
// timelineSources ({servingChangedAt, servingRestoredAt: "observed" | "controller-decision"}).
json FillFromDecisions(const DecidedServing& decided, Seen* s, bool* used_decision) {
  json sources = json::object();
  if (s->serving_changed) {
    sources["servingChangedAt"] = "observed";
  } else if (decided.changed) {
    s->serving_changed = decided.changed;
    s->saw_serving_changed = true;
    *used_decision = true;
    sources["servingChangedAt"] = "controller-decision";
  }
  if (s->serving_restored) {
    sources["servingRestoredAt"] = "observed";
  } else if (decided.restored && s->saw_serving_changed) {
    s->serving_restored = decided.restored;
    s->saw_serving_restored = true;
    *used_decision = true;
    sources["servingRestoredAt"] = "controller-decision";
  }
  return sources;
}

// When and how the outage ended: ended early ("ended"), expired by `now` ("expired"), or not.
std::pair<std::optional<WallTime>, std::string> OutageEnd(const Drill& d, WallTime now) {
  if (d.fault) {
    // A real fault ends when it stops acting: the pods are Ready again, the policy is deleted.
    if (auto at = d.fault->EndedAt()) {
      return {at, d.fault->type == "pod" ? "pods-ready" : d.fault->reverted_by};
    }
    return {std::nullopt, ""};
  }
  if (d.ended_early_at) return {d.ended_early_at, "ended"};
  if (now >= d.expires_at) return {d.expires_at, "expired"};
  return {std::nullopt, ""};
}

json Timeline(const Drill& d, const Decisions& c, const Seen& s, std::optional<WallTime> ended) {
  return {
      {"injectedAt", T(d.injected_at)},
      {"firstFailedProbeAt", T(c.first_failed_probe)},
      {"regionFailedAt", T(c.failed_at)},
      {"failedObservedAt", T(s.failed)},
      {"promotedAt", T(c.promoted_at)},
      {"servingChangedAt", T(s.serving_changed)},
      {"outageEndedAt", T(ended)},
      {"firstHealthyProbeAt", T(c.first_ok_probe)},
      {"regionRecoveredAt", T(c.recovered_at)},
      {"recoveredObservedAt", T(s.recovered)},
      {"demotedAt", T(c.demoted_at)},
      {"servingRestoredAt", T(s.serving_restored)},
  };
}

json Durations(const json& tl) {
  return {
      {"injectedToFirstFailedProbe", SecondsBetween(tl["injectedAt"], tl["firstFailedProbeAt"])},
      {"injectedToRegionFailed", SecondsBetween(tl["injectedAt"], tl["regionFailedAt"])},
      {"injectedToServingChanged", SecondsBetween(tl["injectedAt"], tl["servingChangedAt"])},
      {"outage", SecondsBetween(tl["injectedAt"], tl["outageEndedAt"])},
      {"outageEndedToRegionRecovered",
       SecondsBetween(tl["outageEndedAt"], tl["regionRecoveredAt"])},
      {"outageEndedToServingRestored",
       SecondsBetween(tl["outageEndedAt"], tl["servingRestoredAt"])},
  };
}

// The drill's phase, the furthest step reached: injected, failed, failed-over, outage-ended,
// recovered, complete (recovered and, when the serving set changed, restored).
std::string Phase(const Decisions& c, const Seen& s, bool ended) {
  std::string phase = "injected";
  if (c.failed_at || s.saw_failed) phase = "failed";
  if (s.saw_serving_changed) phase = "failed-over";
  if (ended) phase = "outage-ended";
  if (c.recovered_at || s.saw_recovered) phase = "recovered";
  const bool serving_back = !s.saw_serving_changed || s.saw_serving_restored;
  if (phase == "recovered" && serving_back) phase = "complete";
  return phase;
}

json Notes(bool used_gap, bool used_decision) {
  json notes = json::array();
  if (used_gap) {
    notes.push_back(
        "some state changes happened while no MCP server was watching (it restarted); their "
        "observed times are unknown and left null");
  }
  if (used_decision) {
    notes.push_back(
        "no MCP server saw the serving set change live: its time is the controller's decision "
        "(the transition persisted with that state write; timelineSources says which)");
  }
  return notes;
}

}  // namespace

json BuildDrillReport(const Drill& d, const std::vector<failover::Transition>& transitions,
                      const std::vector<Observation>& observed, WallTime now) {
  const Decisions c = DecisionsOf(d, transitions);
  Seen s = SeenIn(d, observed);
  const bool serving_during_known = s.saw_serving_changed;  // from an observation (gap or not)
  const DecidedServing decided = Watched(d, observed) ? DecidedServing{} : DecideServing(d, c);
  bool used_decision = false;
  const json sources = FillFromDecisions(decided, &s, &used_decision);
  const auto [ended, end_kind] = OutageEnd(d, now);
  json tl = Timeline(d, c, s, ended);
  json durations = Durations(tl);
  if (d.fault) {
    tl["faultInjectedAt"] = T(d.fault->injected_at);
    tl["podsRecreatedAt"] = T(d.fault->pods_recreated_at);
    tl["podsReadyAt"] = T(d.fault->pods_ready_at);
    tl["podsReadyConditionAt"] = T(d.fault->pods_ready_condition_at);
    tl["faultRevertedAt"] = T(d.fault->reverted_at);
    durations["faultInjectedToRegionFailed"] =
        SecondsBetween(tl["faultInjectedAt"], tl["regionFailedAt"]);
    durations["faultInjectedToPodsReady"] =
        SecondsBetween(tl["faultInjectedAt"], tl["podsReadyAt"]);
  }
  const std::string phase = Phase(c, s, ended.has_value());
  json out = {
      {"drillId", d.id},
      {"region", d.region},
      {"failureType", d.failure_type},
      {"durationSeconds", d.duration_seconds},
      {"expiresAt", T(d.expires_at)},
      {"endedBy", end_kind.empty() ? json(nullptr) : json(end_kind)},
      {"phase", phase},
      {"complete", phase == "complete"},
      {"servingBefore", d.serving_before},
      {"servingDuring", serving_during_known ? json(s.serving_during) : json(nullptr)},
      {"failedBefore", d.failed_before},
      {"promotedRegion", c.promoted_region.empty() ? json(nullptr) : json(c.promoted_region)},
      {"timeline", tl},
      {"durationsSeconds", durations},
      {"regional_failover_recovery_time", durations["outageEndedToRegionRecovered"]},
      {"timelineSources", sources},
      {"notes", Notes(s.used_gap, used_decision)},
  };
  if (d.fault) {
    out["fault"] = FaultToJson(*d.fault);
    const auto& ready = d.fault->pods_ready_at;
    if (ready && c.recovered_at && *ready > *c.recovered_at) {
      out["notes"].push_back(
          "the pods were seen Ready (podsReadyAt, by listing them every 100 ms) after the "
          "controller had already seen the region recover: outageEndedToRegionRecovered is "
          "negative by that observation lag; podsReadyConditionAt is the API's own time (whole "
          "seconds)");
    }
  }
  return out;
}

namespace {

json ListJson(const std::vector<std::string>& v) {
  return v;
}

Result<WallTime> TimeField(const json& o, const char* key, const std::string& what) {
  std::string text;
  if (Status s = jsonget::GetString(o, key, &text, what); !s) return s.error();
  WallTime t{};
  if (!ParseTime(text, &t)) {
    return Err(jsonget::MemberPath(what, key) + ": not an RFC 3339 UTC time: \"" + Printable(text) +
               "\"");
  }
  return t;
}

// A stored report is shown again as it was; what the readers of one use must have its type.
Status CheckStoredReport(const json& r, const std::string& what) {
  namespace jg = jsonget;
  if (Status s = jg::ExpectObject(r, what); !s) return s;
  const json* tl = nullptr;
  const json* du = nullptr;
  std::string phase;
  for (Status s :
       {jg::OptObject(r, "timeline", &tl, what), jg::OptObject(r, "durationsSeconds", &du, what),
        jg::OptString(r, "phase", &phase, what)}) {
    if (!s) return s;
  }
  const json none = json::object();
  for (const auto& [k, v] : (tl ? *tl : none).items()) {
    if (!v.is_null() && !v.is_string()) {
      return Err(jg::MemberPath(what + ".timeline", k) + ": expected string or null, got " +
                 jg::TypeName(v));
    }
  }
  for (const auto& [k, v] : (du ? *du : none).items()) {
    if (!v.is_null() && !v.is_number()) {
      return Err(jg::MemberPath(what + ".durationsSeconds", k) + ": expected number or null, got " +
                 jg::TypeName(v));
    }
  }
  if (const json* pos = jg::Find(r, "positionsAtCompletion"); pos && !pos->is_null()) {
    const std::string pw = what + ".positionsAtCompletion";
    if (Status s = jg::ExpectObject(*pos, pw); !s) return s;
    for (const auto& [region, v] : pos->items()) {
      if (auto clean = SanitizeData(v, jg::MemberPath(pw, region)); !clean) return clean.error();
    }
  }
  constexpr const char* kRecovery = "regional_failover_recovery_time";
  if (const json* rt = jg::Find(r, kRecovery); rt && !rt->is_null() && !rt->is_number()) {
    return Err(jg::MemberPath(what, kRecovery) + ": expected number or null, got " +
               jg::TypeName(*rt));
  }
  return Status::Ok();
}

}  // namespace

std::string DrillsToJson(const std::vector<Drill>& all) {
  json list = json::array();
  const size_t from = all.size() > kMaxStoredDrills ? all.size() - kMaxStoredDrills : 0;
  for (size_t i = from; i < all.size(); ++i) {
    const Drill& d = all[i];
    json obs = json::array();
    const size_t ofrom = d.observations.size() > kMaxObservationsPerDrill
                             ? d.observations.size() - kMaxObservationsPerDrill
                             : 0;
    for (size_t k = ofrom; k < d.observations.size(); ++k) {
      const Observation& o = d.observations[k];
      json e = {{"at", FormatTime(o.at)},
                {"failed", ListJson(o.failed)},
                {"serving", ListJson(o.serving)}};
      if (o.gap) e["gap"] = true;
      obs.push_back(e);
    }
    list.push_back({{"id", d.id},
                    {"region", d.region},
                    {"failureType", d.failure_type},
                    {"durationSeconds", d.duration_seconds},
                    {"injectedAt", FormatTime(d.injected_at)},
                    {"expiresAt", FormatTime(d.expires_at)},
                    {"endedEarlyAt", T(d.ended_early_at)},
                    {"servingBefore", d.serving_before},
                    {"failedBefore", d.failed_before},
                    {"observations", obs},
                    {"completedAt", T(d.completed_at)},
                    {"report", d.report},
                    {"positionsAtInjection", d.positions_at_injection}});
    if (d.fault) list.back()["fault"] = FaultToJson(*d.fault);
  }
  return jsonget::Dump(json{{"apiVersion", "agency-ha/v1"}, {"drills", list}}) + "\n";
}

Result<std::vector<Drill>> ParseDrills(const std::string& text) {
  namespace jg = jsonget;
  std::vector<Drill> out;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  auto doc = jg::Parse(text, kDrillsKey);
  if (!doc) return doc.error();
  const json* list = nullptr;
  if (Status s = jg::GetArray(*doc, "drills", &list, kDrillsKey); !s) return s.error();
  for (size_t i = 0; i < list->size(); ++i) {
    const json& o = (*list)[i];
    const std::string what = jg::IndexPath(std::string(kDrillsKey) + ".drills", i);
    if (Status s = jg::ExpectObject(o, what); !s) return s.error();
    Drill d;
    int64_t duration = 0;
    const json* observations = nullptr;
    for (Status s :
         {jg::GetString(o, "id", &d.id, what), jg::GetString(o, "region", &d.region, what),
          jg::OptString(o, "failureType", &d.failure_type, what),
          jg::OptInt64(o, "durationSeconds", &duration, what),
          jg::OptStringList(o, "servingBefore", &d.serving_before, what),
          jg::OptStringList(o, "failedBefore", &d.failed_before, what),
          jg::OptArray(o, "observations", &observations, what)}) {
      if (!s) return s.error();
    }
    // Out of an int's range it is shown clamped, never wrapped to a negative number.
    d.duration_seconds = static_cast<int>(std::clamp<int64_t>(duration, 0, INT32_MAX));
    auto inj = TimeField(o, "injectedAt", what);
    if (!inj) return inj.error();
    d.injected_at = *inj;
    auto exp = TimeField(o, "expiresAt", what);
    if (!exp) return exp.error();
    d.expires_at = *exp;
    for (auto [key, field] :
         {std::pair<const char*, std::optional<WallTime>*>{"endedEarlyAt", &d.ended_early_at},
          {"completedAt", &d.completed_at}}) {
      const json* v = jg::Find(o, key);
      if (!v || v->is_null()) continue;
      auto t = TimeField(o, key, what);
      if (!t) return t.error();
      *field = *t;
    }
    for (size_t k = 0; observations && k < observations->size(); ++k) {
      const json& e = (*observations)[k];
      const std::string ow = jg::IndexPath(what + ".observations", k);
      if (Status s = jg::ExpectObject(e, ow); !s) return s.error();
      Observation ob;
      auto at = TimeField(e, "at", ow);
      if (!at) return at.error();
      ob.at = *at;
      for (Status s :
           {jg::OptStringList(e, "failed", &ob.failed, ow),
            jg::OptStringList(e, "serving", &ob.serving, ow), jg::OptBool(e, "gap", &ob.gap, ow)}) {
        if (!s) return s.error();
      }
      d.observations.push_back(std::move(ob));
    }
    if (const json* pos = jg::Find(o, "positionsAtInjection"); pos && !pos->is_null()) {
      const std::string pw = what + ".positionsAtInjection";
      if (Status s = jg::ExpectObject(*pos, pw); !s) return s.error();
      d.positions_at_injection = json::object();
      for (const auto& [region, v] : pos->items()) {
        auto clean = SanitizeData(v, jg::MemberPath(pw, region));
        if (!clean) return clean.error();
        d.positions_at_injection[region] = *clean;
      }
    }
    if (const json* f = jg::Find(o, "fault"); f && !f->is_null()) {
      auto fault = FaultFromJson(*f, what + ".fault");
      if (!fault) return fault.error();
      d.fault = std::move(*fault);
    }
    if (const json* rep = jg::Find(o, "report"); rep && !rep->is_null()) {
      if (Status s = CheckStoredReport(*rep, what + ".report"); !s) return s.error();
      d.report = *rep;
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace aha::mcp
