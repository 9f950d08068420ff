#include "replication/metrics.h"

namespace aha::replication {

PublishMetrics::PublishMetrics(metrics::Registry& m, double start_s)
    : uploaded_bytes(
          m.DefineCounter("agency_ha_replication_uploaded_bytes_total", "Blob bytes uploaded")),
      uploaded_objects(
          m.DefineCounter("agency_ha_replication_uploaded_objects_total", "Blobs uploaded")),
      requests(
          m.DefineCounter("agency_ha_replication_requests_total", "Requests sent to the remote")),
      errors(m.DefineCounter("agency_ha_replication_errors_total", "Failed snapshot publishes")),
      last_snapshot(m.DefineGauge("agency_ha_replication_last_snapshot_timestamp_seconds",
                                  "Capture time of the last snapshot published to the remote")),
      lag(m.DefineGauge("agency_ha_replication_lag_seconds",
                        "Age of the oldest change not yet in a published snapshot, or of start-up "
                        "while nothing was published (0 when caught up)")),
      start_time(m.DefineGauge("agency_ha_replication_start_time_seconds",
                               "When this process started (unix seconds)")),
      last_success(m.DefineGauge("agency_ha_replication_last_success_timestamp_seconds",
                                 "When every remote last held the source's content (0: never since "
                                 "start-up)")) {
  start_time.Set(start_s);
  last_success.Set(0);
  lag.Set(0);
}

void PublishMetrics::Record(const Cycle& c, double now_s, std::mutex& mu) const {
  std::lock_guard l(mu);
  for (const auto& r : c.reports) {
    metrics::Labels lb{{"remote", r.remote}};
    uploaded_bytes.Add(lb, static_cast<double>(r.uploaded_bytes));
    uploaded_objects.Add(lb, static_cast<double>(r.uploaded_blobs));
    requests.Add(lb, static_cast<double>(r.requests));
    if (r.ok) {
      last_snapshot.Set(lb, now_s);
    } else {
      errors.Add(lb);
    }
  }
  if (!c.captured) errors.Add({{"remote", ""}});
  if (c.all_ok) last_success.Set(now_s);
}

metrics::Counter DefineFollowFetchedBytes(metrics::Registry& m) {
  return m.DefineCounter("agency_ha_follow_fetched_bytes_total", "Blob bytes downloaded");
}
metrics::Gauge DefineFollowLastApplied(metrics::Registry& m, const char* help) {
  return m.DefineGauge("agency_ha_follow_last_applied_timestamp_seconds", help);
}

FollowMetrics::FollowMetrics(metrics::Registry& m)
    : last_applied(
          DefineFollowLastApplied(m, "Creation time of the snapshot the standby directory holds")),
      last_applied_info(
          m.DefineGauge("agency_ha_follow_last_applied_info",
                        "The snapshot the standby directory holds (label snapshot), always 1")),
      lag(m.DefineGauge("agency_ha_follow_lag_seconds",
                        "Now minus the creation time of the snapshot the standby directory holds")),
      last_check(m.DefineGauge("agency_ha_follow_last_check_timestamp_seconds",
                               "Time of the last round that reached a remote")),
      refused(m.DefineGauge(
          "agency_ha_follow_refused",
          "1 while the directory has local writes and follow refuses to overwrite it")),
      rounds(m.DefineCounter("agency_ha_follow_rounds_total", "Follow rounds")),
      applied(m.DefineCounter("agency_ha_follow_applied_total",
                              "Snapshots applied to the standby directory")),
      fetched_bytes(DefineFollowFetchedBytes(m)),
      fetched_objects(
          m.DefineCounter("agency_ha_follow_fetched_objects_total", "Blobs downloaded")),
      reused_files(
          m.DefineCounter("agency_ha_follow_reused_files_total",
                          "Files taken from the previous snapshot on disk instead of downloaded")),
      requests(m.DefineCounter("agency_ha_follow_requests_total", "Requests sent to the remotes")),
      errors(m.DefineCounter("agency_ha_follow_errors_total", "Failed or refused rounds")) {
  refused.Set(0);
}

}  // namespace aha::replication
