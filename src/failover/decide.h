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
//    serves again as soon as it recovers, so capacity overlaps rather than gaps.
// 5. Fail-open (panic): if the serving set would be empty, the previous serving set is kept (or,
//    with none, every active region) and `panic` is set, as Envoy does below its panic threshold.
//    Failed regions are still reported in failedRegions: panic changes what serves, not the truth.
// 6. Regions are reconciled with the config: unknown regions are dropped; new regions start
//    healthy (fail-safe: the controller never drains a region it has not observed failing).
// The generation increases by one whenever the decision changes (see DecisionEqual).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/controller_config.h"
#include "failover/state.h"

namespace aha::failover {

struct Decision {
  State next;
  std::vector<Transition> transitions;  // in the order they happened within this round
  bool changed = false;                 // DecisionEqual(prev, next) is false
};

Decision Decide(const State& prev, const std::map<std::string, Observation>& observations,
                const config::ControllerConfig& config, WallTime now);

}  // namespace aha::failover
