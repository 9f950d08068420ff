// Follow: a warm standby. Keeps a directory at the newest snapshot of another region's lineage,
// fetching only what changed, and never shows the directory half-updated.
//
// One round:
//   1. GET <region>/latest from every remote; the head is the newest by (epoch, id)
//      (docs/WRITER.md: a fenced writer's late snapshot never wins over a higher epoch).
//      The applied snapshot itself (a takeover claim raises the epoch of the same id), or older
//      (lagging remotes) → nothing else is sent: an idle round costs one request per remote.
//   2. GET the record (same remote first, then the others).
//   3. Check that DIR is still a pure replica (see "local writes" below); refuse otherwise.
//   4. Build a staging dir next to DIR (same filesystem): every file whose SHA-256 DIR already
//      holds (known from DIR's applied record and hash cache, the file's size, mtime, inode and
//      mode unchanged) is hard-linked when mode and mtime match (a copy otherwise); only the other
//      blobs are fetched, each verified against its SHA-256. Made durable by one syncfs().
//   5. Re-check DIR, swap with renameat2(RENAME_EXCHANGE), fsync the parent, remove the old tree.
//      A reader resolving paths under DIR sees the old or the new snapshot, never a mix.
// Crash safety: DIR's record (.agency-ha/applied-snapshot.json) and lineage state live inside the
// swapped tree, so they change atomically with the data. A SIGKILL before the swap leaves DIR as
// it was, after it leaves DIR new and the old tree in a staging dir; the next start (holding the
// per-DIR lock file) removes stale `.<name>.aha-follow-*` entries and converges.
//
// Local writes (the rule that keeps a standby from clobbering a promoted region): follow only
// ever replaces DIR while DIR is exactly the snapshot follow (or restore) last wrote:
//   - DIR's .agency-ha/replication-state.json shows no `replicate` activity (seq 0, no remotes)
//     and names the applied snapshot as restoredFrom;
//   - every file matches the applied record and the hash cache (size, mtime, inode, mode), and no
//     file was added or removed.
// Otherwise the round is refused (Code::kConflict, nothing touched): DIR has become a writer —
// typically the region was promoted and its own `replicate` now publishes from DIR — and
// following any lineage, its own included, would overwrite those local writes. A non-empty DIR
// without an applied record is refused the same way.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "objectstore/store.h"
#include "replication/restore.h"
#include "replication/snapshot.h"

namespace aha::replication {

struct FollowOptions {
  std::string region;  // the lineage followed
  std::string target;  // DIR
  const Clock* clock = &SystemClock::instance();
  std::function<bool()> cancelled;  // checked between files while a snapshot is applied
};

struct FollowRound {
  bool ok = false;
  bool applied = false;      // DIR moved to a new snapshot this round
  bool refused = false;      // DIR has local writes (kConflict)
  bool behind = false;       // the head read is older than DIR's snapshot (lagging remotes)
  std::string error;         // when !ok
  std::string snapshot;      // DIR's snapshot after this round ("" when none yet)
  std::string latest;        // the lineage head's id ("" when unknown)
  int64_t latest_epoch = 0;  // and its epoch
  std::string latest_from;
  uint64_t files = 0, bytes = 0;  // of the applied snapshot
  uint64_t blobs_fetched = 0, bytes_fetched = 0, linked = 0, copied = 0, fallbacks = 0;
  uint64_t requests = 0;  // measured by the stores, this round
  double seconds = 0;
  std::vector<std::string> warnings;
};

class Follower {
 public:
  Follower(std::vector<objectstore::ObjectStore*> remotes, FollowOptions opts);
  ~Follower();
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  // Takes the per-DIR lock (fails when another follow holds it) and removes stale staging
  // entries left by a killed follow.
  Status Init();
  FollowRound RunOnce();

  const std::optional<Record>& applied() const { return applied_; }
  // Creation time of DIR's snapshot; false when none.
  bool AppliedTime(WallTime* out) const;
  const std::string& target() const { return target_; }

 private:
  Status LoadApplied();
  // RunOnce's steps (the round above); false when the round failed, recorded in *r.
  bool Round(FollowRound* r);
  bool Apply(Record record, const std::vector<objectstore::ObjectStore*>& order,
             std::map<std::string, LocalCopy> reuse, FollowRound* r);
  std::vector<objectstore::ObjectStore*> remotes_;
  FollowOptions opts_;
  std::string target_, parent_, name_;
  int lock_fd_ = -1;
  bool loaded_ = false;
  std::optional<Record> applied_;
};

// Checks that `dir` is exactly `applied` (the local-writes rule above) and returns the files it
// can reuse, by SHA-256. Code::kConflict names the first local write found.
Result<std::map<std::string, LocalCopy>> CheckPristine(const std::string& dir,
                                                       const Record& applied);

}  // namespace aha::replication
