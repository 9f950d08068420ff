// Snapshot records, remote layout and the publish protocol's pure decisions.
//
// Remote layout (keys relative to the remote's root: the s3 prefix or the file:// directory):
//   <region>/blobs/<sha256[0:2]>/<sha256>      file contents, content-addressed, immutable
//   <region>/snapshots/<id>.json               the record: every file's path, sha256, size, mode,
//                                              mtime, and every symlink's path and target;
//                                              written after all its blobs
//   <region>/latest                            format 2 (docs/WRITER.md): {"format":2,"id",
//                                              "generation","epoch","writer","released"};
//                                              written after the record, conditionally (PutIf)
// So a reader that finds a record finds all its blobs (point-in-time, never partial), and
// `latest` never names a record that is not there.
//
// Ids sort by time: 20261127T181500.123Z-000042 (UTC, milliseconds, local sequence number).
//
// Lineage: each local state has a random generation id, written into every record. Before
// publishing, the writer reads `latest`; it publishes only when the remote has no latest, or the
// latest is the snapshot this state last published (or was about to publish, or restored from).
// Anything else means someone else advanced this region's lineage: refuse, never overwrite.
//
// Epochs (docs/WRITER.md): every takeover raises the lineage's epoch in `latest`; every publish
// is conditional on it. Readers order snapshots by (epoch, id), never by id alone, so a fenced
// writer's late snapshot (lower epoch, maybe a higher id) is never "latest" for a reader that
// sees a higher epoch anywhere. Format-1 pointers read as epoch 0.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/replication_config.h"
#include "replication/scanner.h"

namespace aha::replication {

// Record formats (docs/FORMAT.md): 1 = files only; 2 = may hold `symlinks`. A record is written
// as format 1 when it has no symlink, so readers that only know format 1 read it; one with
// symlinks is format 2, which such readers refuse instead of silently dropping the links.
inline constexpr int kRecordFormat = 1;
inline constexpr int kRecordFormatSymlinks = 2;

struct Record {
  std::string id, region, generation, parent, created_at, host;
  int64_t epoch = 0;   // the writer's epoch when it published this (0: before epochs)
  std::string writer;  // "<region>/<instance id>" of that writer ("" before epochs)
  std::vector<FileEntry> files;
  std::vector<SymlinkEntry> symlinks;  // sorted by path; no blob, restored as links
  std::vector<DatasetInfo> datasets;
  uint64_t total_bytes() const;
};

inline constexpr int kLatestFormat = 2;

struct LatestPointer {
  std::string id, generation;
  int64_t epoch = 0;           // >= 0; format 1 reads as 0
  std::string writer;          // "<region>/<instance id>"; "" in format 1
  bool released = false;       // the writer published its final snapshot and gave the lineage up
  int format = kLatestFormat;  // as read (1 or 2); LatestToJson always writes kLatestFormat
};

std::string RecordToJson(const Record& r);
// Validates every field and path. Symlinks: each must pass SymlinkProblem, no path may be both a
// file and a symlink, and no entry may lie below a symlink (restore never writes through one):
// otherwise an error naming the path, so nothing of such a record is ever written anywhere.
Result<Record> RecordFromJson(const std::string& text);
std::string LatestToJson(const LatestPointer& p);
// Format 1 ({"id","generation"}) or 2. Every field is type-checked; an error names the field
// ("latest.epoch: expected integer, got string"); never throws. A format above 2 is an error.
Result<LatestPointer> LatestFromJson(const std::string& text);

// The reader order of snapshots: by epoch, then by id. True when (ea, ia) is older than (eb, ib).
bool HeadOlder(int64_t ea, const std::string& ia, int64_t eb, const std::string& ib);
inline bool HeadOlder(const LatestPointer& a, const LatestPointer& b) {
  return HeadOlder(a.epoch, a.id, b.epoch, b.id);
}

std::string MakeSnapshotId(WallTime t, uint64_t seq);
bool IsSnapshotId(const std::string& id);
// Parses the time part of an id; false when malformed.
bool SnapshotIdTime(const std::string& id, WallTime* out);

std::string BlobKey(const std::string& region, const std::string& sha256);
std::string RecordKey(const std::string& region, const std::string& id);
std::string LatestKey(const std::string& region);
std::string SnapshotsPrefix(const std::string& region);  // "<region>/snapshots/"
std::string BlobsPrefix(const std::string& region);      // "<region>/blobs/"

// A relative path a record may contain: no "", ".", ".." segments, no leading '/', no NUL.
bool SafeRelativePath(const std::string& p);

// Empty when the symlink `path` -> `target` may be replicated; otherwise why not. The target
// must stay inside the tree however it is resolved: relative, non-empty, no NUL, at most 4096
// bytes, valid UTF-8, and of the form (`..`/)* name(/name)* where the leading `..` segments do
// not climb above the tree's root from the link's directory (`.` and empty segments ignored).
// A `..` after a name is refused, because a name may itself be a symlink (`sub/up -> ..`), and
// `..` after following it would leave the tree. Writers refuse to capture such a link (naming
// it), readers refuse a record holding one.
std::string SymlinkProblem(const std::string& path, const std::string& target);

// What this local state knows about one remote.
struct RemoteLineage {
  std::string last_published;  // id of our last completed publish to this remote
  std::string pending;         // id we were about to publish (crash between record and ack)
  std::string restored_from;   // id this source was restored from (adopting a lineage)
};

// Ok when publishing on top of `remote_latest` is allowed; otherwise the reason (kConflict).
Status CheckLineage(const std::optional<LatestPointer>& remote_latest, const RemoteLineage& local,
                    const std::string& region);

// The blobs to upload: one entry per distinct sha256 not in `remote_has` (first path wins).
struct UploadPlan {
  std::vector<FileEntry> uploads;
  uint64_t upload_bytes = 0;
  uint64_t already_present = 0;  // distinct blobs skipped
};
UploadPlan PlanUploads(const std::vector<FileEntry>& files,
                       const std::set<std::string>& remote_has);

// Snapshot ids to delete under `retention` (ids sorted ascending, `latest` always kept).
std::vector<std::string> PlanRetention(const std::vector<std::string>& ids,
                                       const std::string& latest, WallTime now,
                                       const config::RetentionConfig& retention);

}  // namespace aha::replication
