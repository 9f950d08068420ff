// LocalState: what the sidecar remembers between runs, in <stateDir>/replication-state.json
// (written atomically). Losing it is safe: the hash cache is rebuilt by re-reading files, and a
// remote's known-blob set is re-seeded from its latest record (whose blobs are all present by the
// publish protocol); only the lineage check then needs `restoredFrom` or a fresh region.
// Not the failover state (failover/failover_state.h), which the sidecar only reads.
#pragma once

#include <map>
#include <set>
#include <string>

#include "common/result.h"
#include "replication/scanner.h"
#include "replication/snapshot.h"

namespace aha::replication {

struct RemoteState {
  RemoteLineage lineage;
  std::set<std::string> blobs;  // sha256s known to be on the remote
};

struct LocalState {
  std::string generation;  // random; stamped into every record this state publishes
  uint64_t seq = 0;        // last snapshot sequence number used
  HashCache cache;
  std::map<std::string, RemoteState> remotes;  // by remote URL
  std::string restored_from;                   // snapshot id `restore` wrote this source from
};

std::string StateFile(const std::string& state_dir);
// Missing file: a fresh state with a new generation. Malformed file: an error (never guessed).
Result<LocalState> LoadLocalState(const std::string& state_dir);
// The file's content; `what` names it in errors (which also name the bad key). Never throws.
Result<LocalState> LocalStateFromJson(const std::string& text, const std::string& what);
Status SaveLocalState(const std::string& state_dir, const LocalState& s);
std::string NewGeneration();

}  // namespace aha::replication
