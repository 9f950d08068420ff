// Restore: materialise one snapshot into a directory, all-or-nothing.
//
// - The record comes from the first remote that has it (`latest` is resolved per remote, in
//   order). Each blob is fetched from the first remote that has it AND whose bytes hash to the
//   recorded SHA-256 and size: an unreachable remote, a missing object or a corrupted one falls
//   back to the next remote; when none has a good copy, restore fails naming the file.
// - Everything is written into a staging directory next to the target (same filesystem), modes
//   and mtimes applied, then swapped in with one rename (renameat2 RENAME_EXCHANGE when the
//   target exists). On any failure the target is untouched and the staging dir removed.
// - A non-empty target is refused unless `force`.
// - It writes <target>/.agency-ha/replication-state.json adopting the snapshot's lineage
//   (restoredFrom + hash cache), so `replicate` on the restored copy continues the lineage
//   without re-reading or re-uploading anything.
#pragma once

#include <string>
#include <vector>

#include "objectstore/store.h"
#include "replication/snapshot.h"

namespace aha::replication {

struct RestoreOptions {
  std::string region;
  std::string target;               // absolute or relative directory
  std::string snapshot = "latest";  // id or "latest"
  bool force = false;
};

struct RestoreReport {
  std::string id, record_from;
  uint64_t files = 0, bytes = 0, blobs_fetched = 0, fallbacks = 0;
  std::vector<std::string> warnings;  // per-remote failures that a fallback covered
};

Result<RestoreReport> Restore(const std::vector<objectstore::ObjectStore*>& remotes,
                              const RestoreOptions& opts);

}  // namespace aha::replication
