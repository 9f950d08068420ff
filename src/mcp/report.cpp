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

json BuildDrillReport(const Drill& d, const std::vector<failover::Transition>& transitions,
                      const std::vector<Observation>& observed, WallTime now) {
  using failover::TransitionKind;
  // Controller transitions for this drill, in decision order.
  std::vector<failover::Transition> ts;
  for (const auto& t : transitions) {
    if (t.at >= d.injected_at) ts.push_back(t);
  }
  std::stable_sort(ts.begin(), ts.end(), [](const auto& a, const auto& b) { return a.at < b.at; });

  std::optional<WallTime> first_failed_probe, failed_at, promoted_at, first_ok_probe, recovered_at,
      demoted_at;
  std::string promoted_region;
  for (const auto& t : ts) {
    if (!failed_at) {
      if (t.kind == TransitionKind::kRegionFailed && t.region == d.region) {
        failed_at = t.at;
        if (t.first_probe_at != WallTime{}) first_failed_probe = t.first_probe_at;
      }
      continue;
    }
    if (!recovered_at && t.kind == TransitionKind::kRegionPromoted && !promoted_at &&
        t.region != d.region) {
      promoted_at = t.at;
      promoted_region = t.region;
    } else if (!recovered_at && t.kind == TransitionKind::kRegionRecovered &&
               t.region == d.region) {
      recovered_at = t.at;
      if (t.first_probe_at != WallTime{}) first_ok_probe = t.first_probe_at;
    } else if (recovered_at && promoted_at && !demoted_at &&
               t.kind == TransitionKind::kRegionDemoted && t.region == promoted_region) {
      demoted_at = t.at;
    }
  }

  // What this server saw in the state keys, after injection. A gap observation says a step
  // happened (saw_*) without knowing when (seen_* stays null).
  std::optional<WallTime> seen_failed, seen_serving_changed, seen_recovered, seen_serving_restored;
  bool saw_failed = false, saw_serving_changed = false, saw_recovered = false,
       saw_serving_restored = false, used_gap = false;
  std::vector<std::string> serving_during;
  for (const auto& o : observed) {
    if (o.at < d.injected_at) continue;
    const std::optional<WallTime> when = o.gap ? std::nullopt : std::optional<WallTime>(o.at);
    if (!saw_failed) {
      if (Contains(o.failed, d.region)) {
        saw_failed = true;
        seen_failed = when;
        used_gap = used_gap || o.gap;
      }
    } else if (!saw_recovered && !Contains(o.failed, d.region)) {
      saw_recovered = true;
      seen_recovered = when;
      used_gap = used_gap || o.gap;
    }
    if (!saw_serving_changed) {
      if (o.serving != d.serving_before) {
        saw_serving_changed = true;
        seen_serving_changed = when;
        serving_during = o.serving;
        used_gap = used_gap || o.gap;
      }
    } else if (saw_recovered && !saw_serving_restored && o.serving == d.serving_before) {
      saw_serving_restored = true;
      seen_serving_restored = when;
      used_gap = used_gap || o.gap;
    }
  }

  // The controller's decisions (state.json transitions: decision times measured by the controller
  // and written in the same state write that changed servingRegions) date a serving change that
  // no server saw live: a gap, or no observation at all (every tool call a fresh process).
  // Only when nobody watched (no observation after injection, or a gap): a server that is
  // watching records the change itself a moment later, and its report must not switch times.
  bool watched = false;
  for (const auto& o : observed) {
    if (o.at < d.injected_at) continue;
    watched = !o.gap;
    if (o.gap) break;
  }
  std::optional<WallTime> decided_changed, decided_restored;
  if (failed_at && !watched) {
    bool panic = false;
    for (const auto& t : ts) {
      panic = panic || (t.kind == TransitionKind::kPanicEntered && t.at == *failed_at);
    }
    const bool region_served = Contains(d.serving_before, d.region) && !panic;
    const bool promoted_new = promoted_at && !Contains(d.serving_before, promoted_region);
    if (region_served) decided_changed = failed_at;
    if (promoted_new && (!decided_changed || *promoted_at < *decided_changed)) {
      decided_changed = promoted_at;
    }
    // Back to the serving set before: the region serves again and the stand-in left.
    const bool need_recovered = region_served, need_demoted = promoted_new;
    if (decided_changed && (!need_recovered || recovered_at) && (!need_demoted || demoted_at)) {
      decided_restored = need_recovered ? recovered_at : demoted_at;
      if (need_recovered && need_demoted && *demoted_at > *decided_restored) {
        decided_restored = demoted_at;
      }
    }
  }
  const bool serving_during_known = saw_serving_changed;  // from an observation (gap or not)
  json sources = json::object();
  bool used_decision = false;
  if (seen_serving_changed) {
    sources["servingChangedAt"] = "observed";
  } else if (decided_changed) {
    seen_serving_changed = decided_changed;
    saw_serving_changed = true;
    used_decision = true;
    sources["servingChangedAt"] = "controller-decision";
  }
  if (seen_serving_restored) {
    sources["servingRestoredAt"] = "observed";
  } else if (decided_restored && saw_serving_changed) {
    seen_serving_restored = decided_restored;
    saw_serving_restored = true;
    used_decision = true;
    sources["servingRestoredAt"] = "controller-decision";
  }

  std::optional<WallTime> ended;
  std::string end_kind;
  if (d.ended_early_at) {
    ended = d.ended_early_at;
    end_kind = "ended";
  } else if (now >= d.expires_at) {
    ended = d.expires_at;
    end_kind = "expired";
  }

  json tl = {
      {"injectedAt", T(d.injected_at)},
      {"firstFailedProbeAt", T(first_failed_probe)},
      {"regionFailedAt", T(failed_at)},
      {"failedObservedAt", T(seen_failed)},
      {"promotedAt", T(promoted_at)},
      {"servingChangedAt", T(seen_serving_changed)},
      {"outageEndedAt", T(ended)},
      {"firstHealthyProbeAt", T(first_ok_probe)},
      {"regionRecoveredAt", T(recovered_at)},
      {"recoveredObservedAt", T(seen_recovered)},
      {"demotedAt", T(demoted_at)},
      {"servingRestoredAt", T(seen_serving_restored)},
  };
  json durations = {
      {"injectedToFirstFailedProbe", SecondsBetween(tl["injectedAt"], tl["firstFailedProbeAt"])},
      {"injectedToRegionFailed", SecondsBetween(tl["injectedAt"], tl["regionFailedAt"])},
      {"injectedToServingChanged", SecondsBetween(tl["injectedAt"], tl["servingChangedAt"])},
      {"outage", SecondsBetween(tl["injectedAt"], tl["outageEndedAt"])},
      {"outageEndedToRegionRecovered",
       SecondsBetween(tl["outageEndedAt"], tl["regionRecoveredAt"])},
      {"outageEndedToServingRestored",
       SecondsBetween(tl["outageEndedAt"], tl["servingRestoredAt"])},
  };

  std::string phase = "injected";
  if (failed_at || saw_failed) phase = "failed";
  if (saw_serving_changed) phase = "failed-over";
  if (ended) phase = "outage-ended";
  if (recovered_at || saw_recovered) phase = "recovered";
  const bool serving_back = !saw_serving_changed || saw_serving_restored;
  const bool complete = phase == "recovered" && serving_back;
  if (complete) phase = "complete";

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
  return {
      {"drillId", d.id},
      {"region", d.region},
      {"failureType", d.failure_type},
      {"durationSeconds", d.duration_seconds},
      {"expiresAt", T(d.expires_at)},
      {"endedBy", end_kind.empty() ? json(nullptr) : json(end_kind)},
      {"phase", phase},
      {"complete", complete},
      {"servingBefore", d.serving_before},
      {"servingDuring", serving_during_known ? json(serving_during) : json(nullptr)},
      {"failedBefore", d.failed_before},
      {"promotedRegion", promoted_region.empty() ? json(nullptr) : json(promoted_region)},
      {"timeline", tl},
      {"durationsSeconds", durations},
      {"regional_failover_recovery_time", durations["outageEndedToRegionRecovered"]},
      {"timelineSources", sources},
      {"notes", notes},
  };
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
    if (const json* rep = jg::Find(o, "report"); rep && !rep->is_null()) {
      if (Status s = CheckStoredReport(*rep, what + ".report"); !s) return s.error();
      d.report = *rep;
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace aha::mcp
