// ContinuousReplicate: the loop of `agency-ha replicate` (continuous mode).
//
// inotify (watcher.h) says when something changed; replicate_schedule.h says when that fires a
// capture (quiet for debounceMilliseconds, at once after an overflow); a full rescan every
// syncIntervalSeconds is the safety net. A capture whose content equals the last published one
// publishes nothing (idle costs zero remote requests). /healthz (the last cycle) and /metrics on
// cfg.listen.
//
// Every time it reads or waits on is the injected Clock's (the watcher's event times included):
// production passes SystemClock, tests a FakeClock, so the debounce and rescan schedule run in
// fake time. Stop() on `stop` ends Run() within one tick (250 ms of the clock).
#pragma once

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "common/stopper.h"
#include "config/replication_config.h"
#include "httpd/server.h"
#include "metrics/registry.h"
#include "replication/metrics.h"
#include "replication/replicator.h"
#include "replication/watcher.h"

namespace aha::replication {

class ContinuousReplicate {
 public:
  ContinuousReplicate(const config::ReplicationConfig& cfg, Replicator& rep, Stopper& stop,
                      const Clock& clock = SystemClock::instance());

  // Serves /healthz and /metrics when cfg.listen is set.
  Status StartHttp();
  // Captures whenever a trigger fires, until stopped.
  void Run();
  // The changes inotify reported that no capture has taken yet (empty without inotify).
  WatchBatch Pending() const { return watching_ ? watcher_.Peek() : WatchBatch{}; }

 private:
  static constexpr auto kTick = std::chrono::milliseconds(250);  // bounds the reaction to SIGTERM

  double NowS() const;
  bool StartWatcher();
  double Lag();
  void Wait(const WatchBatch& peek, MonoTime now, MonoTime next_rescan);
  Cycle Capture(const std::string& trigger);

  const config::ReplicationConfig& cfg_;
  Replicator& rep_;
  Stopper& stop_;
  const Clock& clock_;
  const double started_s_;
  metrics::Registry m_;
  const PublishMetrics pm_;
  const metrics::Counter captures_;
  const metrics::Gauge inotify_watches_;
  std::mutex mu_;
  nlohmann::json last_cycle_ = nlohmann::json::object();
  // Wall seconds of the oldest change taken but not yet published. Until the first publish
  // succeeds the whole source is unpublished by this process: the lag counts from start-up, so a
  // remote that is broken from the start shows as growing lag, not as "caught up".
  double pending_since_;
  TreeWatcher watcher_;
  const bool watching_;
  httpd::HttpServer http_;
  const std::chrono::milliseconds debounce_, rescan_every_;
  double last_retention_ = 0;
  std::chrono::milliseconds backoff_{1000};  // retry of a failed publish: 1 s, doubling
};

}  // namespace aha::replication
