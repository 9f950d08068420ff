#include "mcp/report.h"

#include <algorithm>
#include <cmath>

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
      {"servingDuring", saw_serving_changed ? json(serving_during) : json(nullptr)},
      {"failedBefore", d.failed_before},
      {"promotedRegion", promoted_region.empty() ? json(nullptr) : json(promoted_region)},
      {"timeline", tl},
      {"durationsSeconds", durations},
      {"regional_failover_recovery_time", durations["outageEndedToRegionRecovered"]},
      {"notes", used_gap ? json::array({"some state changes happened while no MCP server was "
                                        "watching (it restarted); their observed times are "
                                        "unknown and left null"})
                         : json::array()},
  };
}

namespace {

json ListJson(const std::vector<std::string>& v) {
  return v;
}

Result<std::vector<std::string>> StringList(const json& j, const std::string& what) {
  if (!j.is_array()) return Err(what + ": expected a list of strings");
  std::vector<std::string> out;
  for (const auto& x : j) {
    if (!x.is_string()) return Err(what + ": expected a list of strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

Result<WallTime> TimeField(const json& o, const char* key, const std::string& what) {
  WallTime t{};
  if (!o.contains(key) || !o[key].is_string() || !ParseTime(o[key].get<std::string>(), &t)) {
    return Err(what + "." + key + ": expected a timestamp");
  }
  return t;
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
                    {"report", d.report}});
  }
  return json{{"apiVersion", "agency-ha/v1"}, {"drills", list}}.dump() + "\n";
}

Result<std::vector<Drill>> ParseDrills(const std::string& text) {
  std::vector<Drill> out;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("drills") ||
      !doc["drills"].is_array()) {
    return Err("drills: expected {\"drills\": [...]}");
  }
  for (size_t i = 0; i < doc["drills"].size(); ++i) {
    const json& o = doc["drills"][i];
    const std::string what = "drills[" + std::to_string(i) + "]";
    if (!o.is_object()) return Err(what + ": expected an object");
    Drill d;
    if (!o.contains("id") || !o["id"].is_string() || !o.contains("region") ||
        !o["region"].is_string()) {
      return Err(what + ": id and region must be strings");
    }
    d.id = o["id"];
    d.region = o["region"];
    d.failure_type = o.value("failureType", "health");
    if (o.contains("durationSeconds") && o["durationSeconds"].is_number_integer()) {
      d.duration_seconds = o["durationSeconds"].get<int>();
    }
    auto inj = TimeField(o, "injectedAt", what);
    if (!inj) return inj.error();
    d.injected_at = *inj;
    auto exp = TimeField(o, "expiresAt", what);
    if (!exp) return exp.error();
    d.expires_at = *exp;
    for (auto [key, field] :
         {std::pair<const char*, std::optional<WallTime>*>{"endedEarlyAt", &d.ended_early_at},
          {"completedAt", &d.completed_at}}) {
      if (!o.contains(key) || o[key].is_null()) continue;
      auto t = TimeField(o, key, what);
      if (!t) return t.error();
      *field = *t;
    }
    for (auto [key, field] :
         {std::pair<const char*, std::vector<std::string>*>{"servingBefore", &d.serving_before},
          {"failedBefore", &d.failed_before}}) {
      if (!o.contains(key)) continue;
      auto l = StringList(o[key], what + "." + key);
      if (!l) return l.error();
      *field = std::move(*l);
    }
    if (o.contains("observations")) {
      if (!o["observations"].is_array()) return Err(what + ".observations: expected a list");
      for (size_t k = 0; k < o["observations"].size(); ++k) {
        const json& e = o["observations"][k];
        const std::string ow = what + ".observations[" + std::to_string(k) + "]";
        if (!e.is_object()) return Err(ow + ": expected an object");
        Observation ob;
        auto at = TimeField(e, "at", ow);
        if (!at) return at.error();
        ob.at = *at;
        auto f = StringList(e.value("failed", json::array()), ow + ".failed");
        if (!f) return f.error();
        auto sv = StringList(e.value("serving", json::array()), ow + ".serving");
        if (!sv) return sv.error();
        ob.failed = std::move(*f);
        ob.serving = std::move(*sv);
        ob.gap = e.value("gap", false);
        d.observations.push_back(std::move(ob));
      }
    }
    if (o.contains("report") && o["report"].is_object()) d.report = o["report"];
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace aha::mcp
