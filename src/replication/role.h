// DecideRole: which lineage a sidecar writes or follows, as a pure function of the failover state
// (docs/WRITER.md "Roles"). No I/O: the sidecar feeds it the parsed `state.json` it watches.
//
// | sidecar in       | state says                                   | role                |
// | active region R  | no passive region is promoted for R          | writer of R         |
// | active region R  | passive P is promoted for R (promotedFor)    | follower of R       |
// | passive region P | promoted for R (first name of promotedFor)   | writer of R         |
// | passive region P | not promoted                                 | follower of followRegion |
// Before the first state is known the role is `starting` (the sidecar waits: it must not start
// writing a lineage that another region may hold).
#pragma once

#include <optional>
#include <string>

#include "failover/failover_state.h"
#include "replication/position.h"

namespace aha::replication {

struct RoleInputs {
  std::string region;         // this sidecar's region
  bool active = true;         // this region owns the lineage named `region`
  std::string follow_region;  // passive: the lineage followed while not promoted
};

struct RoleDecision {
  Role role = Role::kStarting;
  std::string lineage;
  // Taking this lineage back from a region that stood in for it: wait for the stand-in's final
  // released snapshot (bounded) before claiming it.
  bool planned = false;
  std::string why;
  bool operator==(const RoleDecision& o) const { return role == o.role && lineage == o.lineage; }
};

RoleDecision DecideRole(const std::optional<failover::State>& state, const RoleInputs& in);

}  // namespace aha::replication
