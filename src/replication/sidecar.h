// `agency-ha sidecar --config FILE`: one replication sidecar per volume whose role follows the
// failover state (docs/WRITER.md). It replaces `replicate` in active regions and `follow` in
// passive ones, so data follows failover without anyone restarting a pod:
//
//   observe: the state keys (watched, as the gate does) and the lineage's head on the remotes
//   decide:  DecideRole (role.h), a pure function of the state
//   act:     follower → keep the volume at the lineage's head, in place (apply.h), preserving any
//            divergent tail first; writer → capture and publish (replicator.h), every publish
//            conditional on still holding the lineage's epoch; on a role change: takeover
//            (apply the head, wait for a planned release, claim epoch+1) or release (final
//            snapshot marked released, then follow).
//
// It reports its position (position.h) in a file the gate reads (`/ready` needs dataReady,
// `/health` carries X-Agency-Data for the controller's failback check) and on /v1/position,
// /healthz and /metrics.
#pragma once

#include <string>

namespace aha::replication {

// Exit codes: 0 after SIGTERM/SIGINT; 1 a start-up failure (a remote, the state source); 2 bad
// usage or an invalid config (the key named).
int SidecarCommand(const std::string& config_path, bool check);

}  // namespace aha::replication
