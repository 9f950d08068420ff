// Restore: materialise one snapshot into a directory, all-or-nothing.
//
// - `latest` is the lineage's head across all remotes, by (epoch, id) (docs/WRITER.md); the
//   record comes from the remote holding that head, else the first other remote that has it. Each
//   blob is fetched from the first remote that has it AND whose bytes hash to the recorded SHA-256
//   and size: an unreachable remote, a missing object or a corrupted one falls back to the next
//   remote; when none has a good copy, restore fails naming the file.
// - Blobs are fetched by a bounded pool of workers (RestoreOptions::parallelism, default 8); the
//   first error other than a missing/corrupt blob stops them all.
// - Everything is written into a staging directory next to the target (same filesystem), modes
//   (masked to kRestoredModeMask) and mtimes applied, made durable with one syncfs() of that
//   filesystem (not one fsync per file), then swapped in with one rename (renameat2 RENAME_EXCHANGE
//   when the target exists) and the parent directory fsynced. On any failure the target is
//   untouched and the staging dir removed.
// - Space: before fetching anything the bytes to write are compared with the free space of the
//   target's filesystem; that check and any ENOSPC while writing fail with an error naming the
//   filesystem (mount point, type, free/needed bytes), target untouched, staging removed.
// - A non-empty target is refused unless `force`.
// - It writes <target>/.agency-ha/replication-state.json adopting the snapshot's lineage
//   (restoredFrom + hash cache), so `replicate` on the restored copy continues the lineage
//   without re-reading or re-uploading anything, and <target>/.agency-ha/applied-snapshot.json
//   (the record itself), so `follow` can take the copy over and fetch only what changes.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "objectstore/store.h"
#include "replication/local_state.h"
#include "replication/snapshot.h"

namespace aha::replication {

// Permission bits restore and follow give the files they create: the record's mode masked to
// rwxrwxrwx. Set-user-ID, set-group-ID and sticky bits from a record are never applied (restore
// runs as root: a remote must not be able to plant setuid binaries).
inline constexpr uint32_t kRestoredModeMask = 0777;

// The record of the snapshot a restored/followed directory holds, relative to that directory.
inline constexpr const char* kAppliedRecordFile = ".agency-ha/applied-snapshot.json";

struct RestoreProgress {
  uint64_t files_done = 0, files_total = 0, bytes_done = 0, bytes_total = 0;
  bool final = false;
};
using ProgressFn = std::function<void(const RestoreProgress&)>;

struct RestoreOptions {
  std::string region;
  std::string target;               // absolute or relative directory
  std::string snapshot = "latest";  // id or "latest"
  bool force = false;
  // Init-container mode: a non-empty target, or a lineage with no snapshot on any remote (every
  // remote answers 404 for `latest`), is not an error but a skip (RestoreReport::skipped says
  // which). A remote that fails otherwise (unreachable, missing bucket, bad credentials) still
  // fails: starting empty while a snapshot may exist would lose it.
  bool if_empty = false;
  ProgressFn progress;  // throttled: at most once per progress_interval, plus the final call
  Millis progress_interval{1000};
  const Clock* clock = &SystemClock::instance();
  size_t parallelism = 8;  // blobs fetched at once (1 = one at a time)
};

struct RestoreReport {
  std::string id, record_from;
  uint64_t files = 0, bytes = 0, blobs_fetched = 0, bytes_fetched = 0, fallbacks = 0;
  uint64_t linked = 0, copied = 0;    // files taken from a local copy instead of fetched
  uint64_t symlinks = 0;              // symlinks created (as links, last; never followed)
  std::vector<std::string> warnings;  // per-remote failures that a fallback covered
  std::string skipped;                // if_empty: why nothing was restored (empty = restored)
};

Result<RestoreReport> Restore(const std::vector<objectstore::ObjectStore*>& remotes,
                              const RestoreOptions& opts);

// ---- Building blocks shared with `follow` ----

// Fetches the record `id` ("latest" or an id) from the first remote that has it. `*from` gets
// the index of that remote; failures of earlier remotes are appended to `warnings`.
Result<Record> FetchRecordFromAny(const std::vector<objectstore::ObjectStore*>& remotes,
                                  const std::string& region, const std::string& id, size_t* from,
                                  std::vector<std::string>* warnings);

// A file already on the local disk with known content, usable instead of fetching its blob.
struct LocalCopy {
  std::string abs_path;
  FileEntry entry;  // what it holds (sha256, size, mode, mtime)
};

struct MaterializeOptions {
  // sha256 -> a local file holding it. Same mode and mtime as wanted: hard-linked (shares the
  // inode, so the source must never be modified in place); otherwise copied.
  std::map<std::string, LocalCopy> reuse;
  ProgressFn progress;  // called from the fetch workers too, one call at a time
  Millis progress_interval{1000};
  const Clock* clock = &SystemClock::instance();
  std::function<bool()> cancelled;  // checked between files, one call at a time
  size_t parallelism = 8;           // blobs fetched at once
  // False: reused local files are always copied, never hard-linked (for a tree an app keeps
  // writing in place, where a shared inode would carry one file's writes into another).
  bool allow_links = true;
};

// Writes every file of `record` into the existing empty directory `staging` (fetching blobs in
// `remotes` order, verified, `parallelism` at once), plus the lineage state and the applied
// record, then the record's symlinks (as links, last, each re-checked with SymlinkProblem),
// then syncfs()es the staging filesystem. `download` is a scratch path prefix on the
// same filesystem outside `staging` (each worker appends ".N").
// On error the caller removes `staging`.
Result<RestoreReport> Materialize(const Record& record,
                                  const std::vector<objectstore::ObjectStore*>& remotes,
                                  const std::string& staging, const std::string& download,
                                  const MaterializeOptions& opts);

// Moves `staging` to `target` (rename, or RENAME_EXCHANGE when `target` exists: `staging` then
// holds the old tree), then fsyncs the parent directory (best effort: the swap is done).
Status SwapIntoPlace(const std::string& staging, const std::string& target, bool target_exists);

// "filesystem /mnt/x (tmpfs, 1.0 MiB free of 1.0 MiB)" for the filesystem holding `path`.
std::string DescribeFilesystem(const std::string& path);
// "12.3 MiB"
std::string HumanBytes(uint64_t n);
// fsync of one path (file or directory).
Status FsyncPath(const std::string& path);
// syncfs() of the filesystem holding `dir` (every dirty file and directory on it).
Status SyncFilesystemOf(const std::string& dir);

}  // namespace aha::replication
