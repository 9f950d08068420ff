// In-place apply and the divergent tail: how the sidecar changes a live volume's data.
//
// Why in place: the app container mounts the volume's directory (a Kubernetes subPath is a bind
// mount resolved when the container starts), so a directory swap (restore, `follow`) is invisible
// to a running app until it restarts. The sidecar must hand data to an app that keeps running,
// so it changes files inside the directory instead:
//   1. Capture the directory (hash cache) and compare with the record: only files whose content
//      differs are fetched (verified, into a staging dir under the state dir, same filesystem);
//      local files holding the wanted bytes are copied (never hard-linked: the app writes in
//      place). Mode/mtime-only differences are applied directly.
//   2. Each staged file is renamed over its path (atomic per file), LanceDB manifests last
//      (`_versions/`, then `_latest.manifest`) so a dataset reader sees the old or the new
//      version, never a manifest naming data files that are not there yet.
//   3. Files the app wrote during the apply (not in the step-1 capture, or changed since it, and
//      not the record's content) are preserved as a divergent tail (ApplyReport::late): the
//      fetch can take seconds and an app that keeps running (a partition) keeps writing. Then
//      files not in the record are removed, then empty directories (never a `*.lock` directory:
//      proper-lockfile's held locks, e.g. the brain's LanceDB, stay as the local process holds
//      them; records hold files and symlinks only, so a lock is never restored as held); the
//      lineage state and the applied record are rewritten (the directory is then a pristine copy of
//      the record, which `follow`'s local-writes rule and the sidecar's next round rely on); one
//      syncfs().
//   Symlinks of the record are created (as links, in staging, renamed over their path) after
//   every file, so nothing is written through one; a link leaving the tree (SymlinkProblem) fails
//   the apply before anything is written; local links the record does not have are removed.
// The tree is not point-in-time as a whole during step 2; the gate is the readers' fence: the
// sidecar reports `dataReady: false` for the whole apply, so the pod serves no client then.
//
// Divergent tail (docs/WRITER.md): before a volume with local writes is overwritten, every file
// that differs from the base record (added or changed) is copied to
// `<volume parent>/.agency-ha-divergent/<time>-epoch<N>/` with a `manifest.json` (paths, sizes,
// SHA-256, deleted paths, why). Never merged, never deleted by the product.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "objectstore/store.h"
#include "replication/scanner.h"
#include "replication/snapshot.h"

namespace aha::replication {

struct ApplyOptions {
  std::string dir;        // the volume's data directory (absolute)
  std::string state_dir;  // <dir>/.agency-ha unless configured otherwise (never touched here
                          // apart from the lineage state, the applied record and staging)
  const Clock* clock = &SystemClock::instance();
  std::function<bool()> cancelled;
  size_t parallelism = 8;
};

struct DivergentTail {
  uint64_t files = 0, bytes = 0;  // added or changed files preserved
  std::vector<std::string> deleted;
  std::string path;  // where they were preserved ("" when nothing diverged)
};

struct ApplyReport {
  uint64_t files = 0, bytes = 0;  // of the record
  uint64_t written = 0, fetched = 0, bytes_fetched = 0, copied = 0, touched = 0, removed = 0;
  std::vector<std::string> warnings;
  // Files the app wrote while this apply ran (after its step-1 capture): preserved like a
  // divergent tail before step 4 removes what the record does not have (path "" when none).
  DivergentTail late;
};

Result<ApplyReport> ApplyInPlace(const Record& record,
                                 const std::vector<objectstore::ObjectStore*>& remotes,
                                 const ApplyOptions& opts);

// Step 1 of ApplyInPlace, pure: what the record changes in a directory whose capture is
// `current` (path -> entry). `fetch`: the record's files whose content (sha256, size) differs or
// that are missing, in record order; `touch`: same content, other mode or mtime (point into
// `record`); a file under `state_rel` (the state dir relative to the volume, with a trailing
// '/') is skipped with a warning: a hostile record must not overwrite the state dir.
struct ApplyPlan {
  std::vector<FileEntry> fetch;
  std::vector<const FileEntry*> touch;
  std::vector<std::string> warnings;
};
ApplyPlan PlanApply(const Record& record, const std::map<std::string, FileEntry>& current,
                    const std::string& state_rel);

// Step 4's base, pure: what the volume holds after the placement if the app wrote nothing during
// the apply: the record's files (but those under `state_rel`) and symlinks, plus the captured
// files and links at paths the record does not have (they are removed only after step 4).
// Anything else found then is a late write, preserved as a divergent tail.
Record ExpectedAfterApply(const Record& record, const std::map<std::string, FileEntry>& files,
                          const std::map<std::string, SymlinkEntry>& links,
                          const std::string& state_rel);

// Compares `opts.dir` with `base` (nullopt: every file counts as divergent) and preserves every
// added or changed file under `<parent of dir>/.agency-ha-divergent/<time>-epoch<epoch>/`.
// Nothing diverged: nothing written, `path` empty.
Result<DivergentTail> PreserveDivergent(const std::optional<Record>& base, int64_t epoch,
                                        const std::string& why, const ApplyOptions& opts);

// The record a volume holds according to the applied record in its state dir (nullopt: none or
// unreadable).
std::optional<Record> LoadAppliedRecord(const std::string& state_dir);

// Orders a record's paths for in-place application: LanceDB manifests after everything else.
int ApplyRank(const std::string& path);

}  // namespace aha::replication
