// The replication roles' Prometheus metrics, each declared once (name, type, help) as a typed
// handle (metrics/registry.h). `replicate`, `follow` and the sidecar build the structs they expose
// from their own registry; the sidecar shares the publish and follow definitions, so one metric
// reads the same whichever role exports it (the shipped alerts rely on it).
#pragma once

#include <mutex>

#include "metrics/registry.h"
#include "replication/replicator.h"

namespace aha::replication {

// Publishing a lineage (replicate and the sidecar's writer role).
//
// Built at start-up, so "never published" is visible (and alertable) before any publish
// succeeded:
//   agency_ha_replication_start_time_seconds            = start_s (process start, unix seconds)
//   agency_ha_replication_last_success_timestamp_seconds = 0 (never) until a cycle left every
//                                                         remote holding the source's content
//   agency_ha_replication_lag_seconds                    = 0 (the caller keeps it current)
// The lag a writer reports counts from the oldest change not yet published, or from start-up
// (the sidecar: from when it first wanted to write its lineage) while nothing was published yet.
struct PublishMetrics {
  PublishMetrics(metrics::Registry& m, double start_s);

  // Adds one cycle's results (under the caller's `mu`). `now_s` stamps last_snapshot{remote} of
  // each remote that took the snapshot and, when the cycle is all_ok (published, or unchanged
  // since a publish by this process), last_success.
  void Record(const Cycle& c, double now_s, std::mutex& mu) const;

  metrics::Counter uploaded_bytes, uploaded_objects, requests, errors;
  metrics::Gauge last_snapshot, lag, start_time, last_success;
};

// Metrics a follower exports whether it is `follow` or the sidecar's follower role.
metrics::Counter DefineFollowFetchedBytes(metrics::Registry& m);
metrics::Gauge DefineFollowLastApplied(metrics::Registry& m, const char* help);

// The `follow` command.
struct FollowMetrics {
  explicit FollowMetrics(metrics::Registry& m);

  metrics::Gauge last_applied, last_applied_info, lag, last_check, refused;
  metrics::Counter rounds, applied, fetched_bytes, fetched_objects, reused_files, requests, errors;
};

}  // namespace aha::replication
