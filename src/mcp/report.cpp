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

  // What this server saw in the state keys, after injection.
  std::optional<WallTime> seen_failed, seen_serving_changed, seen_recovered, seen_serving_restored;
  std::vector<std::string> serving_during;
  for (const auto& o : observed) {
    if (o.at < d.injected_at) continue;
    if (!seen_failed) {
      if (Contains(o.failed, d.region)) seen_failed = o.at;
    } else if (!seen_recovered && !Contains(o.failed, d.region)) {
      seen_recovered = o.at;
    }
    if (!seen_serving_changed) {
      if (o.serving != d.serving_before) {
        seen_serving_changed = o.at;
        serving_during = o.serving;
      }
    } else if (seen_recovered && !seen_serving_restored && o.serving == d.serving_before) {
      seen_serving_restored = o.at;
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
  if (failed_at || seen_failed) phase = "failed";
  if (seen_serving_changed) phase = "failed-over";
  if (ended) phase = "outage-ended";
  if (recovered_at || seen_recovered) phase = "recovered";
  const bool serving_back = !seen_serving_changed || seen_serving_restored;
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
      {"servingDuring", seen_serving_changed ? json(serving_during) : json(nullptr)},
      {"failedBefore", d.failed_before},
      {"promotedRegion", promoted_region.empty() ? json(nullptr) : json(promoted_region)},
      {"timeline", tl},
      {"durationsSeconds", durations},
      {"regional_failover_recovery_time", durations["outageEndedToRegionRecovered"]},
  };
}

}  // namespace aha::mcp
