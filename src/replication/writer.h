// The writer protocol's building blocks (docs/WRITER.md): reading a lineage's head across remotes,
// the fencing decision every publish makes, the takeover claim and the release.
//
// Pure decisions (PickHead, DecidePublish, PlanClaim) are separated from the I/O (ReadHeads,
// ClaimLineage, Release) so they are tested with tables. Everything here is safe only on remotes
// that enforce conditional writes (ObjectStore::PutIf; ProbeConditionalWrites checks it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "objectstore/store.h"
#include "replication/snapshot.h"

namespace aha::replication {

// One remote's `<lineage>/latest`.
struct RemoteHead {
  objectstore::ObjectStore* store = nullptr;
  std::string remote;                   // store->Describe()
  std::optional<LatestPointer> latest;  // set when read and parsed
  std::string version;                  // GetVersioned's tag ("" when read with Get, or absent)
  bool missing = false;                 // no latest there (404): an empty lineage on this remote
  std::string error;                    // unreachable or unparsable: "<remote>: <why>"
};

// Reads latest from every remote, in order (GetVersioned when `versioned`, else Get: readers
// need no tag). Never fails as a whole: each entry says what happened on its remote.
std::vector<RemoteHead> ReadHeads(const std::vector<objectstore::ObjectStore*>& remotes,
                                  const std::string& lineage, bool versioned);

// Index of the lineage's head: the newest latest by (epoch, id); on a tie the first remote.
// nullopt when no remote has a readable latest.
std::optional<size_t> PickHead(const std::vector<RemoteHead>& heads);

// All heads' errors and misses joined ("<remote>: <why>; ..."), for a "no snapshot" message.
std::string DescribeHeadErrors(const std::vector<RemoteHead>& heads, const std::string& lineage);

// --- Publish: the fencing decision -----------------------------------------------------------

enum class PublishVerdict {
  kPublish,  // go on: blobs, record, PutIf(latest, if_match: the version read)
  kFenced,   // a higher epoch, or our epoch held by another writer: stop writing this lineage
  kRefused,  // epoch 0 (unclaimed) lineage check failed: someone else's lineage (kConflict)
};
struct PublishDecision {
  PublishVerdict verdict = PublishVerdict::kPublish;
  std::string why;  // for kFenced / kRefused
};

// `remote`: the remote's latest (nullopt: none). `epoch`/`writer`: ours. Rules:
// - no latest: publish (created with If-None-Match).
// - remote epoch > ours: fenced.
// - remote epoch < ours: publish (our claim did not reach this remote; overwritten conditionally).
// - equal, ours 0 (an unclaimed lineage: `agency-ha replicate`, format-1 remotes): today's
//   generation-based CheckLineage decides (kRefused when it fails).
// - equal and > 0: publish when the remote's writer is us, else fenced.
PublishDecision DecidePublish(const std::optional<LatestPointer>& remote, int64_t epoch,
                              const std::string& writer, const RemoteLineage& local,
                              const std::string& lineage);

// --- Takeover claim --------------------------------------------------------------------------

// What a claim writes where (pure). From the heads read (versioned):
// - epoch = max(highest epoch seen + 1, an epoch this writer already wrote in an earlier
//   attempt), at least 1;
// - every readable remote with a latest gets {its own latest's id and generation, epoch,
//   writer, released: false} (its own id: `latest` never names a record a remote does not
//   hold; readers still pick the head's id, the newest at that epoch), unless it already holds
//   exactly that; remotes without a latest get the epoch at the first publish;
// - unreadable / unparsable remotes are not written.
struct ClaimWrite {
  size_t remote = 0;  // index into heads
  LatestPointer pointer;
  std::string if_match;  // the version read
};
struct ClaimPlan {
  std::optional<size_t> head;  // index of the head (nullopt: an empty lineage)
  int64_t epoch = 1;
  std::vector<ClaimWrite> writes;
  std::vector<size_t> already;  // remotes that already hold this writer's claim at `epoch`
};
ClaimPlan PlanClaim(const std::vector<RemoteHead>& heads, const std::string& writer);

struct ClaimOptions {
  int max_attempts = 3;  // a 412 (the head moved under us) re-reads and re-plans, this often
  // When set, the claim is refused (kConflict, nothing more written) if the head is not this
  // snapshot id: the caller applied it and must apply the new head before claiming again.
  std::string expect_head;
  // Stricter: refused (kConflict) unless the head is exactly this pointer (id, epoch, writer,
  // released). A takeover passes the head it applied: a head that another writer re-claimed or
  // released meanwhile, even at the same id, means the lineage moved (e.g. the state handed it
  // back to its owner while this takeover was applying) and must be decided again.
  std::optional<LatestPointer> expect;
};

struct ClaimRemote {
  std::string remote;
  bool claimed = false;  // holds our epoch now
  std::string error;     // why not
};

struct Claim {
  std::string lineage, writer;
  int64_t epoch = 0;                  // the epoch this writer holds from now on; publish with it
  std::optional<LatestPointer> head;  // the lineage's head when claimed (nullopt: empty lineage)
  std::string head_remote;            // the remote the head was read from
  std::vector<ClaimRemote> remotes;
};

// Docs/WRITER.md takeover step 4: reads every remote's latest, plans, PutIf on each target. At
// least one remote must hold the claim at the end (an empty lineage needs none: Ok with no
// head, epoch 1). Errors: no remote reachable / accepting (kUnavailable), expect_head not the head
// (kConflict), still racing after max_attempts (kPreconditionFailed).
Result<Claim> ClaimLineage(const std::vector<objectstore::ObjectStore*>& remotes,
                           const std::string& lineage, const std::string& writer,
                           const ClaimOptions& opts = {});

// Marks the lineage released by this writer (planned handoff, after its final publish) on every
// remote whose latest is this writer's at `epoch`: PutIf the same pointer with released: true.
// A remote held by a higher epoch or another writer is left alone (an error names it: this
// writer was fenced). Ok when at least one remote is released; kConflict when fenced everywhere.
Result<std::vector<ClaimRemote>> Release(const std::vector<objectstore::ObjectStore*>& remotes,
                                         const std::string& lineage, const std::string& writer,
                                         int64_t epoch);

}  // namespace aha::replication
