// Publish: ship one captured snapshot to one remote, in the order that keeps every remote
// snapshot complete: fencing/lineage check (GetVersioned latest, DecidePublish in writer.h) →
// missing blobs (parallel) → record → PutIf(latest, if_match: the version read). A
// kPreconditionFailed on latest re-reads once and decides again (our own write whose reply was lost
// counts as done); fenced means nothing of this publish becomes latest. The remote must enforce
// conditional writes. The remote's known-blob set lives in the local state, so the hot path never
// lists the remote; a remote without `latest` is treated as empty (known set dropped, all blobs
// re-uploaded). Each blob is re-read and its SHA-256 checked against the capture before upload: a
// file that changed since the capture fails this publish (kConflict) instead of shipping different
// bytes.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "objectstore/store.h"
#include "replication/local_state.h"
#include "replication/snapshot.h"

namespace aha::replication {

struct PublishReport {
  std::string remote;
  bool ok = false, refused = false, skipped_empty = false;
  // The remote's latest has a higher epoch, or our epoch by another writer (docs/WRITER.md):
  // this writer must stop publishing the lineage everywhere. `error` says who holds it.
  bool fenced = false;
  bool changed = false;  // a file changed between capture and upload: capture again
  std::string error;
  uint64_t uploaded_blobs = 0, uploaded_bytes = 0, present_blobs = 0;
  uint64_t requests = 0, bytes_up = 0;  // measured by the store, this publish only
  uint64_t deleted_snapshots = 0, deleted_blobs = 0;
  double seconds = 0;
};

struct PublishOptions {
  std::string source_root;
  std::string tmp_dir;  // for staging large files (same filesystem as state dir)
  int parallelism = 4;
  config::RetentionConfig retention;
  bool apply_retention = true;  // lists the remote: not every cycle in continuous mode
  const Clock* clock = &SystemClock::instance();
  // Capture::pinned: blobs shipped from these bytes instead of re-reading the file (may be null).
  const std::map<std::string, std::string>* pinned = nullptr;
  // The writer (docs/WRITER.md): the epoch it holds (from ClaimLineage; 0 = an unclaimed lineage,
  // `agency-ha replicate`: the generation-based lineage check applies) and its id. Written into
  // latest with `release` (the final publish of a planned handoff).
  int64_t epoch = 0;
  std::string writer;
  bool release = false;
};

// `rs` belongs to this remote; it and `persist` (which saves the whole local state) are only
// touched with `mu` held, so several remotes can publish concurrently.
PublishReport Publish(objectstore::ObjectStore& store, const Record& record, RemoteState* rs,
                      std::mutex* mu, const std::function<Status()>& persist,
                      const PublishOptions& opts);

// Reads the remote's latest pointer; nullopt when there is none (404).
Result<std::optional<LatestPointer>> ReadLatest(objectstore::ObjectStore& store,
                                                const std::string& region);

}  // namespace aha::replication
