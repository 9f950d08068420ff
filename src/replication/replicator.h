// Replicator: one writer's capture → publish cycle over every remote (the core of `replicate`
// and of the sidecar's writer role). RunOnce captures the source tree (LanceDB-aware), builds the
// record and publishes it to every remote concurrently (publish.h), keeping the local state
// (hash cache, per-remote lineage and known blobs) in <stateDir>/replication-state.json.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/replication_config.h"
#include "objectstore/store.h"
#include "replication/local_state.h"
#include "replication/publish.h"
#include "replication/scanner.h"
#include "replication/snapshot.h"

namespace aha::replication {

std::string Hostname();

struct Remote {
  config::RemoteConfig cfg;
  std::unique_ptr<objectstore::ObjectStore> store;
};

// Identity of a capture's content: two captures with equal signatures make identical records
// (apart from id/time), so publishing the second one would only cost requests.
std::string CaptureSignature(const std::vector<FileEntry>& files,
                             const std::vector<DatasetInfo>& datasets,
                             const std::vector<SymlinkEntry>& symlinks = {});

struct Cycle {
  bool captured = false, all_ok = false, retry = false;
  bool unchanged = false;  // every remote already holds this exact content: nothing published
  std::string capture_error;
  Record record;
  ScanStats stats;
  std::vector<PublishReport> reports;
  nlohmann::json ToJson() const {
    using nlohmann::json;
    json remotes = json::array();
    for (const auto& r : reports) {
      remotes.push_back({{"remote", r.remote},
                         {"ok", r.ok},
                         {"error", r.error},
                         {"refused", r.refused},
                         {"fenced", r.fenced},
                         {"uploadedBlobs", r.uploaded_blobs},
                         {"uploadedBytes", r.uploaded_bytes},
                         {"presentBlobs", r.present_blobs},
                         {"requests", r.requests},
                         {"bytesUp", r.bytes_up},
                         {"deletedSnapshots", r.deleted_snapshots},
                         {"deletedBlobs", r.deleted_blobs},
                         {"seconds", r.seconds}});
    }
    json j = {{"ok", all_ok},
              {"unchanged", unchanged},
              {"snapshot", captured ? record.id : ""},
              {"files", stats.files},
              {"bytes", stats.bytes},
              {"hashedFiles", stats.hashed_files},
              {"hashedBytes", stats.hashed_bytes},
              {"cacheHits", stats.cache_hits},
              {"tornRetries", stats.torn_retries},
              {"datasetRetries", stats.dataset_retries},
              {"skipped", stats.skipped},
              {"symlinks", stats.symlinks},
              {"datasets", record.datasets.size()},
              {"remotes", remotes}};
    if (!capture_error.empty()) j["error"] = capture_error;
    return j;
  }
};

class Replicator {
 public:
  Replicator(config::ReplicationConfig cfg, std::vector<Remote> remotes, LocalState state)
      : cfg_(std::move(cfg)), remotes_(std::move(remotes)), state_(std::move(state)) {}

  // With `skip_unchanged`, a remote whose last successful publish (by this process) had the same
  // content is not contacted at all; when that holds for every remote nothing is published.
  Cycle RunOnce(bool apply_retention = true, bool skip_unchanged = false);

  // Caller holds mu_.
  Status Persist() { return SaveLocalState(cfg_.state_dir, state_); }

  // The writer identity every publish is fenced with (docs/WRITER.md): the epoch claimed with
  // ClaimLineage and this sidecar's writer id. Default 0/"": an unclaimed lineage (`replicate`).
  void SetWriter(int64_t epoch, std::string writer) {
    std::lock_guard l(mu_);
    epoch_ = epoch;
    writer_ = std::move(writer);
  }

  std::vector<objectstore::ObjectStore*> stores() const {
    std::vector<objectstore::ObjectStore*> out;
    for (const auto& r : remotes_)
      out.push_back(r.store.get());
    return out;
  }

 private:
  // docs/WRITER.md: a remote that does not enforce conditional writes is refused for writing.
  bool EnsureConditional(size_t i, PublishReport* rep);
  // RunOnce's steps after the capture.
  std::vector<size_t> PublishTargets(const std::string& sig, bool skip_unchanged);
  std::map<std::string, std::string> FillRecord(Capture* cap, HashCache cache, Record* r);
  PublishOptions PublishOptionsFor(bool apply_retention,
                                   const std::map<std::string, std::string>* pinned);
  void PublishAll(const std::vector<size_t>& targets, const PublishOptions& po, Cycle* c);

  config::ReplicationConfig cfg_;
  int64_t epoch_ = 0;
  std::string writer_;
  std::vector<Remote> remotes_;
  std::mutex mu_;
  LocalState state_;
  std::vector<std::string> published_sig_;  // per remote: content of the last ok publish
  std::vector<int> conditional_;            // per remote: 0 unknown, 1 enforced, -1 refused
  std::vector<std::string> conditional_err_;
};

}  // namespace aha::replication
