// ObjectStore: the narrow interface every replication backend implements (file://, s3://).
//
// One conformance suite (tests/unit/object_store_conformance.{h,cpp}) runs against every
// implementation, as Litestream does with its ReplicaClient. Contract:
// - Keys are relative paths: non-empty, '/'-separated segments of [A-Za-z0-9._=-]+ (no "." or
//   ".." segments, no leading or trailing '/'), at most 1024 bytes.
// - Put is atomic and durable when it returns Ok: a reader sees the whole object or nothing,
//   never a partial one. Putting an existing key replaces it.
// - PutFile streams from a local file (memory bounded regardless of size); implementations may
//   split large files (S3 multipart, parts uploaded in parallel). The object's SHA-256 is checked
//   end to end where the backend allows (S3: x-amz-checksum-sha256).
// - Get / GetToFile return Code::kNotFound when the key does not exist.
// - Hostile or broken remotes are bounded: Get holds at most kMaxGetBytes in memory (S3:
//   S3Config::max_response_bytes) and fails naming the key and the cap beyond it; GetToFile with
//   an expected_size never writes more than that many bytes and fails (no 404) when the object
//   is not exactly that size. Stores never follow a symlink inside a file:// remote.
// - List returns every key that starts with `prefix` as a plain string (S3 semantics: "a/b"
//   matches "a/b/c" and "a/bc"; pass "a/b/" for a directory), all pages, sorted bytewise, with
//   sizes. The empty prefix lists everything.
// - Content type (S3): objects whose key ends in ".json" or whose last segment is "latest" (the
//   replication records and pointers, docs/FORMAT.md) are uploaded as `application/json`,
//   everything else (blobs) as `application/octet-stream`.
// - Delete of a missing key is Ok (idempotent).
// - Transient failures (5xx, 429, timeouts, connection resets) are retried inside the
//   implementation with jittered exponential backoff; what reaches the caller is final.
// - Errors name the store, the operation and the key; credentials never appear in them.
// - Conditional writes (the fencing primitive of the writer protocol, docs/WRITER.md):
//   GetVersioned returns the object with an opaque version tag (S3: the ETag); PutIf replaces
//   the object only when its current version tag equals `if_match`, or, with `if_match` empty,
//   only when the key does not exist (S3 If-Match / If-None-Match: *). A failed precondition is
//   Code::kPreconditionFailed, and nothing is written. The check and the write are one atomic step
//   against every other PutIf on the same key (S3 enforces this server-side; file:// under a lock).
//   The returned tag is the new version's. Stores that cannot enforce preconditions return
//   kUnsupported from PutIf; ProbeConditionalWrites (below) tells a remote that silently ignores
//   them. A kPreconditionFailed may also answer a PutIf that did land, when its reply was lost and
//   the request was retried: callers re-read after one and recognise their own write. Tags: file://
//   the hex SHA-256 of the content; s3:// the ETag as sent (quoted MD5 for single PUTs). Equal
//   content may give an equal tag on both.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace aha::objectstore {

// GetToFile's expected_size when the caller does not know it.
inline constexpr uint64_t kAnySize = UINT64_MAX;
// The default cap on an object read into memory by Get (records, `latest`, lineage files).
inline constexpr uint64_t kMaxGetBytes = 64ull << 20;

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
};

struct Versioned {
  std::string data;
  std::string version;  // opaque; pass back as PutIf's if_match
};

struct Stats {
  uint64_t requests = 0;  // requests sent to the backend (each retry counts)
  uint64_t bytes_up = 0;
  uint64_t bytes_down = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  virtual Status Put(const std::string& key, const std::string& data) = 0;
  virtual Status PutFile(const std::string& key, const std::string& path) = 0;
  virtual Result<std::string> Get(const std::string& key) = 0;
  // Writes the object to `path` (created or truncated); 404 when missing. With `durable` the
  // file is fsynced before it is renamed into place; without it the caller makes it durable
  // (restore/follow: one syncfs() for the whole staged tree instead of one fsync per file).
  // With `expected_size` the object must be exactly that long: the download stops there and an
  // object of another size is an error ("size mismatch", not 404), `path` left untouched.
  virtual Status GetToFile(const std::string& key, const std::string& path, bool durable = true,
                           uint64_t expected_size = kAnySize) = 0;
  virtual Result<bool> Exists(const std::string& key) = 0;
  virtual Result<std::vector<ObjectInfo>> List(const std::string& prefix) = 0;
  virtual Status Delete(const std::string& key) = 0;
  // Conditional read/write (see the contract above). Defaults: unsupported (kUnsupported).
  virtual Result<Versioned> GetVersioned(const std::string& key);
  virtual Result<std::string> PutIf(const std::string& key, const std::string& data,
                                    const std::string& if_match);
  virtual std::string Describe() const = 0;  // "s3://bucket/prefix (endpoint ...)", no secrets
  virtual Stats stats() const = 0;
};

// Checks that `store` really enforces PutIf preconditions (a remote that ignores If-Match would
// make fencing silently unsafe): creates `key` with if_match "", expects a second create and a
// write with a wrong tag to fail with kPreconditionFailed, then deletes `key`. Ok; kUnsupported
// when the remote does not enforce them (refuse it for writing); any other code when the probe
// could not tell (unreachable remote, denied request, a concurrent probe: try again later).
Status ProbeConditionalWrites(ObjectStore& store, const std::string& key);

// Empty when `key` is valid; otherwise why not.
std::string ValidateKey(const std::string& key);
// Empty when `prefix` is a valid List prefix (empty, or key characters and '/'; no leading '/').
std::string ValidatePrefix(const std::string& prefix);

}  // namespace aha::objectstore
