// Decide: the failover decision as a pure function.
//
//   next = Decide(previous state, observations, config, now)
//
// No I/O and no clock reads: everything it knows comes in through its arguments, so it is tested
// with tables and replayed exactly (external-dns plan.Calculate; Envoy's explicit hysteresis).
//
// Rules
// 1. Hysteresis per region. A healthy region becomes failed after `failureThreshold` consecutive
//    failed observations; a failed region recovers after `successThreshold` consecutive
//    successes. A region with no observation this round keeps its counters.
// 2. Active regions serve unless failed.
// 3. Passive regions serve only while promoted. For every failed active region not yet covered,
//    the healthy, unpromoted passive region with the lowest (priority, name) is promoted to
//    stand in for it; when none is left, the already promoted passive with the lowest
//    (priority, name) also covers it. A promoted passive that fails is demoted and its active
//    regions are covered again in the same round.
// 4. Failback: an active region that has been healthy for `policy.failbackSeconds` is no longer
//    covered; a passive region covering nobody is demoted. The recovered active region itself
//    serves again as soon as it recovers, so capacity overlaps rather than gaps. A region whose
//    last observation reports a data position (X-Agency-Data) must also report it caught up with
//    its lineage (the stand-in's writes applied) before it is released: failback never hands
//    traffic to a region whose data is behind (docs/WRITER.md).
// 5. Fail-open (panic): if the serving set would be empty, the previous serving set is kept (or,
//    with none, every active region) and `panic` is set, as Envoy does below its panic threshold.
//    Failed regions are still reported in failedRegions: panic changes what serves, not the truth.
// 6. Regions are reconciled with the config: unknown regions are dropped; new regions start
//    healthy (fail-safe: the controller never drains a region it has not observed failing).
// The generation increases by one whenever the decision changes (see DecisionEqual).
//
// Observer quorum (only when config.peers is not empty; docs/ARCHITECTURE.md "Observer quorum")
// 7. Rule 1 then computes this observer's own verdict per region (RegionState::local_failed), its
//    vote. Each peer observer's report carries its own verdicts. A peer counts only while its
//    report is fresh: received (as a new generation, by the local clock) at most
//    quorum.stalenessSeconds ago. Votes: self plus fresh peers that have observed the region.
// 8. A healthy region fails when at least quorum.size observers vote it down; a failed region
//    recovers when at least quorum.size vote it up. Otherwise it keeps its health.
// 9. Partitioned: self plus fresh peers < quorum.size (not before `grace_until`, so a controller
//    that just started is not partitioned before it could hear from its peers). While
//    partitioned the controller is fail-static: no region fails or recovers and no passive is
//    promoted or demoted; with isolation stop-serving its own region (quorum.region) is failed
//    (and so leaves servingRegions unless that would empty it, rule 5).
// 10. A passive region is newly promoted only when a quorum votes it up; with rule 3's
//    (priority, name) order every controller that sees the same quorum promotes the same region.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/controller_config.h"
#include "failover/failover_state.h"

namespace aha::failover {

struct Decision {
  State next;
  std::vector<Transition> transitions;  // in the order they happened within this round
  bool changed = false;                 // DecisionEqual(prev, next) is false
};

// One region as a peer observer reported it.
struct PeerVote {
  bool down = false;        // the peer's own verdict: failed past its threshold
  WallTime streak_since{};  // first probe of the peer's current streak (the peer's clock)
  std::string detail;       // the peer's last probe detail
};

// The latest report of one peer observer.
struct PeerReport {
  std::string observer;    // the peer's region (config.peers[].name)
  WallTime received_at{};  // local clock: when this report's generation was first received
  std::map<std::string, PeerVote> regions;  // regions the peer has observed
};

struct QuorumInput {
  std::vector<PeerReport> peers;  // latest report per peer (stale ones are filtered by Decide)
  WallTime grace_until{};         // not partitioned before this time (controller start-up)
};

Decision Decide(const State& prev, const std::map<std::string, Observation>& observations,
                const config::ControllerConfig& config, WallTime now);
// With peers configured, decides by observer quorum (rules 7-10); without, the same as above.
Decision Decide(const State& prev, const std::map<std::string, Observation>& observations,
                const QuorumInput& quorum, const config::ControllerConfig& config, WallTime now);

}  // namespace aha::failover
