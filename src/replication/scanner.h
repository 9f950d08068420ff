// Scanner: captures a consistent, hashed listing of the source directory for one snapshot.
//
// Contracts (why: every snapshot on a remote must be restorable and self-consistent):
// - Torn reads never ship: a file is hashed between two fstat()s of the open descriptor; when
//   size, mtime or ctime differ, it is read again (up to max_read_attempts), else the capture
//   fails naming the file. The uploader re-verifies the SHA-256 when it reads the file again.
// - LanceDB datasets (every directory named `*.lance`): the set of version manifests
//   (`_versions/*.manifest`) is fixed FIRST, then every other file of the dataset (data/,
//   _deletions/, _indices/, _transactions/) is captured, then the manifests of that set. A
//   manifest committed after the listing is left for the next snapshot, so a captured manifest
//   only references files that existed before it was listed and were captured after. If a
//   non-manifest file vanishes meanwhile (a cleanup ran), the dataset is captured again.
//   `_latest.manifest` (older Lance) is kept only when identical to a captured version manifest.
//   Dot-files inside a dataset (a writer's temporaries, e.g. data/.tmpXXXX) are not captured.
// - Unchanged files are not re-read: a cache keyed by (path, size, mtime_ns, inode) gives the
//   SHA-256. Devices, sockets and fifos are skipped and counted.
// - A file or directory name that is not valid UTF-8 fails the capture (error code
//   kBadNameCode, the path escaped by Printable): the record is JSON and cannot hold it, and a
//   snapshot that silently lacked the file would restore as complete. Nothing is published
//   until it is renamed (`replicate --once` exits non-zero; continuous mode logs the error and
//   counts it in agency_ha_replication_errors_total{remote=""} every cycle).
// - Symlinks are captured as links (Capture::symlinks: path and the readlink() text), never
//   followed. Whether a link may be replicated (its target stays inside the tree) is the
//   writer's decision (SymlinkProblem in snapshot.h), not the scanner's.
// - Hot files are pinned: a small file modified within the last `pin_recent` before it was hashed
//   (a session file rewritten every few hundred ms) keeps the bytes that were hashed in
//   Capture::pinned, and the uploader ships those bytes. Without this, a file rewritten faster
//   than a snapshot uploads is always "changed after capture" and no snapshot ever completes.
//   Bounded by pin_max_file and pin_budget; cold files are re-read and re-verified on upload.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace aha::replication {

// Error code of a capture refused for a file name that is not valid UTF-8.
inline constexpr Code kBadNameCode = Code::kInvalid;

struct FileEntry {
  std::string path;  // relative to the source root, '/'-separated
  std::string sha256;
  uint64_t size = 0;
  uint32_t mode = 0644;  // permission bits only
  int64_t mtime_ns = 0;
};

// A symbolic link inside the tree. Never followed when captured, restored or applied.
struct SymlinkEntry {
  std::string path;    // relative to the source root, '/'-separated
  std::string target;  // the link's text as readlink() returns it (not resolved)
  int64_t mtime_ns = 0;
  bool operator==(const SymlinkEntry&) const = default;
};

struct CacheEntry {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t ino = 0;
  std::string sha256;
};
using HashCache = std::map<std::string, CacheEntry>;

struct DatasetInfo {
  std::string path;                   // relative dir, e.g. brain/memory.lance
  std::vector<std::string> versions;  // captured manifest names, e.g. 3.manifest
  int attempts = 1;
};

struct ScanOptions {
  std::vector<std::string> exclude;  // absolute paths not to descend into (the state dir)
  int max_read_attempts = 5;
  int max_dataset_attempts = 3;
  uint64_t pin_max_file = 1 << 20;  // bytes
  uint64_t pin_budget = 8 << 20;    // bytes pinned per capture, in all
  std::chrono::nanoseconds pin_recent = std::chrono::seconds(5);  // "hot": mtime this recent
  // Test hook: called after a file's bytes were read, before the second fstat.
  std::function<void(const std::string& rel, int attempt)> after_read;
};

struct ScanStats {
  uint64_t files = 0, bytes = 0;
  uint64_t hashed_files = 0, hashed_bytes = 0, cache_hits = 0;
  uint64_t torn_retries = 0, skipped = 0, dataset_retries = 0;
  uint64_t pinned_files = 0, pinned_bytes = 0;
  uint64_t symlinks = 0;
};

struct Capture {
  std::vector<FileEntry> files;               // sorted by path
  std::vector<SymlinkEntry> symlinks;         // sorted by path
  std::map<std::string, std::string> pinned;  // sha256 -> the hashed bytes of hot small files
  std::vector<DatasetInfo> datasets;
  ScanStats stats;
};

// `cache` is read and rewritten (entries of files no longer present are dropped).
Result<Capture> CaptureTree(const std::string& root, HashCache* cache, const ScanOptions& opts);

// Hashes one file with the torn-read rule; Code::kNotFound when it does not exist.
struct HashedFile {
  FileEntry entry;
  uint64_t ino = 0;
  int attempts = 1;
  bool has_content = false;  // `content` holds exactly the hashed bytes (when keep_max allowed)
  std::string content;
};
// `keep_max` > 0: files of at most that size also return their bytes (HashedFile::content).
Result<HashedFile> HashFile(const std::string& abs, const std::string& rel, const ScanOptions& opts,
                            uint64_t keep_max = 0);

// Streaming SHA-256 of a file (no consistency checks); used to verify downloads.
Result<std::string> Sha256File(const std::string& path);

}  // namespace aha::replication
