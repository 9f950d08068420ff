#include "replication/role.h"

namespace aha::replication {

RoleDecision DecideRole(const std::optional<failover::State>& state, const RoleInputs& in) {
  RoleDecision d;
  if (!state) {
    d.why = "failover state not read yet";
    return d;
  }
  if (in.active) {
    d.lineage = in.region;
    for (const auto& [name, rs] : state->regions) {
      if (name == in.region || !rs.promoted) continue;
      for (const auto& f : rs.promoted_for) {
        if (f == in.region) {
          d.role = Role::kFollower;
          d.why = name + " is promoted for " + in.region;
          return d;
        }
      }
    }
    d.role = Role::kWriter;
    d.planned = true;
    d.why = "active region, no stand-in promoted for it";
    return d;
  }
  auto self = state->regions.find(in.region);
  if (self != state->regions.end() && self->second.promoted && !self->second.promoted_for.empty()) {
    d.role = Role::kWriter;
    d.lineage = self->second.promoted_for.front();
    d.why = "promoted for " + d.lineage;
    return d;
  }
  d.role = Role::kFollower;
  d.lineage = in.follow_region;
  d.why = "passive region, not promoted";
  return d;
}

}  // namespace aha::replication
