#include "failover/decide.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

namespace aha::failover {
namespace {

constexpr const char* kNotObserved = "not observed yet";

using config::ControllerConfig;
using config::RegionConfig;

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", s);
  return buf;
}

struct Round {
  const ControllerConfig& cfg;
  WallTime now;
  State next;
  std::vector<Transition> transitions;

  void Emit(TransitionKind k, const std::string& region, std::string reason,
            WallTime first_probe_at = {}) {
    transitions.push_back(Transition{k, region, now, std::move(reason), first_probe_at});
  }

  const RegionConfig* Config(const std::string& name) const {
    for (const auto& r : cfg.regions) {
      if (r.name == name) return &r;
    }
    return nullptr;
  }

  // Rule 6.
  void Reconcile() {
    for (auto it = next.regions.begin(); it != next.regions.end();) {
      it = Config(it->first) ? std::next(it) : next.regions.erase(it);
    }
    for (const auto& r : cfg.regions) {
      if (!next.regions.count(r.name)) {
        RegionState rs;
        rs.since = now;
        rs.reason = kNotObserved;
        next.regions.emplace(r.name, rs);
      }
    }
    // A region that is no longer passive cannot be promoted.
    for (auto& [name, rs] : next.regions) {
      if (Config(name)->active && rs.promoted) {
        rs.promoted = false;
        rs.promoted_for.clear();
      }
    }
  }

  // Rule 1 (and, with a quorum, this observer's vote: rule 7).
  void Observe(const std::map<std::string, Observation>& obs) {
    const bool alone = !cfg.QuorumEnabled();
    for (auto& [name, rs] : next.regions) {
      if (alone) rs.local_failed = rs.health == Health::kFailed;
      auto it = obs.find(name);
      if (it == obs.end()) continue;
      const Observation& o = it->second;
      rs.last = o;
      if (rs.reason == kNotObserved) {  // the first observation explains the initial status
        rs.reason = o.ok ? "first probe healthy" : "first probe failed: " + o.detail;
      }
      if (o.ok) {
        if (rs.consecutive_successes == 0) rs.streak_since = o.at;
        rs.consecutive_successes = std::min(rs.consecutive_successes + 1, 1 << 30);
        rs.consecutive_failures = 0;
      } else {
        if (rs.consecutive_failures == 0) rs.streak_since = o.at;
        rs.consecutive_failures = std::min(rs.consecutive_failures + 1, 1 << 30);
        rs.consecutive_successes = 0;
      }
      if (!rs.local_failed && rs.consecutive_failures >= cfg.probe.failure_threshold) {
        rs.local_failed = true;
        if (!alone) continue;
        rs.health = Health::kFailed;
        rs.since = now;
        rs.reason = std::to_string(rs.consecutive_failures) +
                    " consecutive failed probes, last: " + o.detail;
        Emit(TransitionKind::kRegionFailed, name, rs.reason, rs.streak_since);
      } else if (rs.local_failed && rs.consecutive_successes >= cfg.probe.success_threshold) {
        rs.local_failed = false;
        if (!alone) continue;
        rs.health = Health::kHealthy;
        rs.since = now;
        rs.reason = std::to_string(rs.consecutive_successes) + " consecutive healthy probes";
        Emit(TransitionKind::kRegionRecovered, name, rs.reason, rs.streak_since);
      }
    }
  }

  // Rules 7-9. Returns false when partitioned (fail-static).
  bool Vote(const QuorumInput& q, const State& prev) {
    const auto staleness = std::chrono::duration_cast<WallTime::duration>(
        std::chrono::duration<double>(cfg.quorum.staleness_seconds));
    std::vector<const PeerReport*> fresh;
    for (const auto& peer : cfg.peers) {
      for (const auto& r : q.peers) {
        if (r.observer != peer.name) continue;
        if (r.received_at != WallTime{} && now - r.received_at <= staleness) fresh.push_back(&r);
        break;
      }
    }
    const int needed = cfg.quorum.size;
    const int reachable = 1 + static_cast<int>(fresh.size());
    next.quorum = true;
    next.quorum_size = needed;
    next.observers = cfg.Observers();
    next.observers_reachable = reachable;
    const bool partitioned = reachable < needed && now >= q.grace_until;
    if (partitioned != prev.partitioned) next.partitioned_since = partitioned ? now : WallTime{};
    next.partitioned = partitioned;

    for (auto& [name, rs] : next.regions) {
      std::vector<std::string> down;
      std::vector<std::string> up;
      // The first probe of the earliest streak among the voters (for the transition).
      WallTime first_down = now;
      WallTime first_up = now;
      std::string detail;
      auto count = [&](const std::string& observer, bool is_down, WallTime streak_since,
                       const std::string& d) {
        (is_down ? down : up).push_back(observer);
        WallTime& first = is_down ? first_down : first_up;
        if (streak_since != WallTime{}) first = std::min(first, streak_since);
        if (is_down && detail.empty()) detail = d;
      };
      if (rs.last) count(cfg.quorum.region, rs.local_failed, rs.streak_since, rs.last->detail);
      for (const PeerReport* p : fresh) {
        auto it = p->regions.find(name);
        if (it == p->regions.end()) continue;
        count(p->observer, it->second.down, it->second.streak_since, it->second.detail);
      }
      rs.votes_down = static_cast<int>(down.size());
      rs.votes_up = static_cast<int>(up.size());
      if (partitioned) continue;  // fail-static
      auto who = [](std::vector<std::string> v) {
        std::sort(v.begin(), v.end());
        std::string s;
        for (const auto& n : v)
          s += (s.empty() ? "" : ", ") + n;
        return s;
      };
      const std::string of = "/" + std::to_string(next.observers);
      if (rs.health == Health::kHealthy && rs.votes_down >= needed) {
        rs.health = Health::kFailed;
        rs.since = now;
        rs.reason = std::to_string(rs.votes_down) + of + " observers report it down (" + who(down) +
                    "), last: " + detail;
        Emit(TransitionKind::kRegionFailed, name, rs.reason, first_down);
      } else if (rs.health == Health::kFailed && rs.votes_up >= needed) {
        rs.health = Health::kHealthy;
        rs.since = now;
        rs.reason = std::to_string(rs.votes_up) + of + " observers report it up (" + who(up) + ")";
        Emit(TransitionKind::kRegionRecovered, name, rs.reason, first_up);
      }
    }
    if (partitioned && cfg.quorum.isolation == config::IsolationPolicy::kStopServing) {
      auto it = next.regions.find(cfg.quorum.region);
      if (it != next.regions.end() && it->second.health == Health::kHealthy) {
        RegionState& self = it->second;
        self.health = Health::kFailed;
        self.since = now;
        self.reason = "isolated: " + std::to_string(reachable) + "/" +
                      std::to_string(next.observers) + " observers reachable, quorum is " +
                      std::to_string(needed) + " (isolation: stop-serving)";
        Emit(TransitionKind::kRegionFailed, cfg.quorum.region, self.reason, now);
      }
    }
    return !partitioned;
  }

  bool FailbackDue(const RegionState& active) const {
    if (active.health != Health::kHealthy) return false;
    // The recovered region must hold its lineage's newest data first (the stand-in's writes).
    if (active.last && active.last->data_reported && !active.last->data_caught_up) return false;
    return now - active.since >= std::chrono::duration_cast<WallTime::duration>(
                                     std::chrono::duration<double>(cfg.policy.failback_seconds));
  }

  // Passive regions in promotion order: (priority, name).
  std::vector<std::string> PassiveOrder() const {
    std::vector<const RegionConfig*> passives;
    for (const auto& r : cfg.regions) {
      if (!r.active) passives.push_back(&r);
    }
    std::sort(passives.begin(), passives.end(), [](const RegionConfig* a, const RegionConfig* b) {
      return std::tie(a->priority, a->name) < std::tie(b->priority, b->name);
    });
    std::vector<std::string> out;
    for (const auto* p : passives)
      out.push_back(p->name);
    return out;
  }

  void Demote(const std::string& name, RegionState& rs, std::string reason) {
    rs.promoted = false;
    rs.promoted_for.clear();
    rs.promoted_since = WallTime{};
    Emit(TransitionKind::kRegionDemoted, name, std::move(reason));
  }

  // Rules 3 and 4.
  void Promote() {
    const std::vector<std::string> order = PassiveOrder();
    // Release coverage that is no longer needed; demote failed or idle passives.
    for (const auto& name : order) {
      RegionState& p = next.regions.at(name);
      if (!p.promoted) continue;
      if (p.health == Health::kFailed) {
        Demote(name, p, "promoted passive region failed");
        continue;
      }
      std::vector<std::string> keep;
      std::vector<std::string> released;
      for (const auto& a : p.promoted_for) {
        const RegionConfig* ac = Config(a);
        if (!ac || !ac->active) continue;
        if (FailbackDue(next.regions.at(a))) {
          released.push_back(a);
        } else {
          keep.push_back(a);
        }
      }
      p.promoted_for = keep;
      if (keep.empty()) {
        std::string why = released.empty() ? std::string("no failed active region to cover")
                                           : "failback: " + released.front() + " healthy for " +
                                                 Seconds(cfg.policy.failback_seconds);
        Demote(name, p, why);
      }
    }
    // Cover every failed active region.
    std::set<std::string> covered;
    for (const auto& name : order) {
      const RegionState& p = next.regions.at(name);
      if (p.promoted) covered.insert(p.promoted_for.begin(), p.promoted_for.end());
    }
    for (const auto& r : cfg.regions) {
      if (!r.active || covered.count(r.name)) continue;
      if (next.regions.at(r.name).health != Health::kFailed) continue;
      std::string chosen;
      for (const auto& name : order) {  // a free healthy passive first (rule 10)
        const RegionState& p = next.regions.at(name);
        if (!p.promoted && p.health == Health::kHealthy &&
            (!next.quorum || p.votes_up >= cfg.quorum.size)) {
          chosen = name;
          break;
        }
      }
      bool fresh = !chosen.empty();
      if (!fresh) {
        for (const auto& name : order) {  // otherwise share one already promoted
          if (next.regions.at(name).promoted) {
            chosen = name;
            break;
          }
        }
      }
      if (chosen.empty()) continue;  // no healthy passive: nothing to promote
      RegionState& p = next.regions.at(chosen);
      p.promoted_for.push_back(r.name);
      std::sort(p.promoted_for.begin(), p.promoted_for.end());
      covered.insert(r.name);
      if (fresh) {
        p.promoted = true;
        p.promoted_since = now;
        Emit(TransitionKind::kRegionPromoted, chosen,
             "standing in for failed active region " + r.name);
      }
    }
  }

  // Rules 2 and 5.
  void Serve(const State& prev) {
    std::vector<std::string> serving;
    for (const auto& r : cfg.regions) {
      const RegionState& rs = next.regions.at(r.name);
      if (rs.health == Health::kFailed) continue;
      if (r.active || rs.promoted) serving.push_back(r.name);
    }
    std::sort(serving.begin(), serving.end());
    if (!serving.empty()) {
      next.serving = serving;
      if (next.panic) {
        next.panic = false;
        next.panic_since = WallTime{};
        Emit(TransitionKind::kPanicExited, "", "serving set no longer empty");
      }
      return;
    }
    // Panic: keep the last serving set (restricted to configured regions).
    std::vector<std::string> kept;
    for (const auto& name : prev.serving) {
      if (Config(name)) kept.push_back(name);
    }
    if (kept.empty()) {
      for (const auto& r : cfg.regions) {
        if (r.active) kept.push_back(r.name);
      }
      if (kept.empty()) {
        for (const auto& r : cfg.regions)
          kept.push_back(r.name);
      }
    }
    std::sort(kept.begin(), kept.end());
    next.serving = kept;
    if (!next.panic) {
      next.panic = true;
      next.panic_since = now;
      Emit(TransitionKind::kPanicEntered, "",
           "every region that could serve is failed; keeping the last serving set");
    }
  }
};

}  // namespace

Decision Decide(const State& prev, const std::map<std::string, Observation>& observations,
                const ControllerConfig& config, WallTime now) {
  return Decide(prev, observations, QuorumInput{}, config, now);
}

Decision Decide(const State& prev, const std::map<std::string, Observation>& observations,
                const QuorumInput& quorum, const ControllerConfig& config, WallTime now) {
  Round round{config, now, prev, {}};
  round.Reconcile();
  round.Observe(observations);
  bool decide = true;
  if (config.QuorumEnabled()) {
    decide = round.Vote(quorum, prev);
  } else {
    round.next.quorum = false;
    round.next.partitioned = false;
    round.next.partitioned_since = WallTime{};
  }
  if (decide) round.Promote();
  round.Serve(prev);

  Decision d;
  d.next = std::move(round.next);
  d.transitions = std::move(round.transitions);
  d.changed = !DecisionEqual(prev, d.next);
  if (d.changed) {
    d.next.generation = prev.generation + 1;
    d.next.updated_at = now;
  }
  for (const auto& t : d.transitions) {
    d.next.recent.push_back(t);
    while (d.next.recent.size() > kMaxRecentTransitions)
      d.next.recent.pop_front();
  }
  return d;
}

}  // namespace aha::failover
