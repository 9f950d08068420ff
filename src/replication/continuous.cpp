#include "replication/continuous.h"

#include <algorithm>

#include "common/json_get.h"
#include "common/log.h"
#include "replication/replicate_schedule.h"

namespace aha::replication {

using nlohmann::json;

ContinuousReplicate::ContinuousReplicate(const config::ReplicationConfig& cfg, Replicator& rep,
                                         Stopper& stop, const Clock& clock)
    : cfg_(cfg),
      rep_(rep),
      stop_(stop),
      clock_(clock),
      started_s_(NowS()),
      pm_(m_, started_s_),
      captures_(m_.DefineCounter("agency_ha_replication_captures_total",
                                 "Captures of the source by trigger (inotify, overflow, rescan)")),
      inotify_watches_(m_.DefineGauge("agency_ha_replication_inotify_watches",
                                      "Directories watched with inotify")),
      pending_since_(started_s_),
      watcher_(cfg.source, {cfg.state_dir}, clock),
      watching_(StartWatcher()),
      debounce_(cfg.debounce_milliseconds),
      rescan_every_(static_cast<long long>(cfg.sync_interval_seconds * 1000)) {}

Status ContinuousReplicate::StartHttp() {
  if (cfg_.listen.empty()) return Status::Ok();
  http_.Get("/healthz", [this] {
    std::lock_guard l(mu_);
    return httpd::Response{200, "application/json", jsonget::Dump(last_cycle_) + "\n"};
  });
  http_.Get("/metrics", [this] {
    {
      std::lock_guard l(mu_);
      pm_.lag.Set(Lag());
      inotify_watches_.Set(watching_ ? static_cast<double>(watcher_.watch_count()) : 0.0);
    }
    return httpd::Response{200, "text/plain; version=0.0.4", m_.Render()};
  });
  return http_.Start(cfg_.listen);
}

void ContinuousReplicate::Run() {
  log::Info("replicate starting", {{"source", cfg_.source},
                                   {"region", cfg_.region},
                                   {"remotes", cfg_.remotes.size()},
                                   {"inotify", watching_},
                                   {"watches", watching_ ? watcher_.watch_count() : 0},
                                   {"port", http_.port()}});
  auto next_rescan = clock_.mono();  // the first capture runs at once
  while (!stop_.stopped()) {
    const auto now = clock_.mono();
    const WatchBatch peek = watching_ ? watcher_.Peek() : WatchBatch{};
    const std::string trigger = CaptureTrigger(peek, now, next_rescan, debounce_);
    if (trigger.empty()) {
      Wait(peek, now, next_rescan);
      continue;
    }
    const Cycle c = Capture(trigger);
    const NextCapture n =
        ScheduleAfter(c.all_ok, c.retry, clock_.mono(), rescan_every_, debounce_, backoff_);
    next_rescan = n.rescan_at;
    backoff_ = n.backoff;
  }
  watcher_.Stop();
  http_.Stop();
}

double ContinuousReplicate::NowS() const {
  return std::chrono::duration<double>(clock_.wall().time_since_epoch()).count();
}

bool ContinuousReplicate::StartWatcher() {
  if (Status s = watcher_.Start(); !s) {
    log::Warn("inotify unavailable; only the periodic rescan runs", {{"error", s.message()}});
    return false;
  }
  return true;
}

// Seconds since the oldest change not yet published (the pending batch included).
double ContinuousReplicate::Lag() {
  double oldest = pending_since_;
  if (watching_) {
    const WatchBatch b = watcher_.Peek();
    if (b.pending && (oldest == 0 || b.first_wall_s < oldest)) oldest = b.first_wall_s;
  }
  return oldest == 0 ? 0.0 : std::max(0.0, NowS() - oldest);
}

// Until the pending batch fires, the next rescan, an inotify event or a tick.
void ContinuousReplicate::Wait(const WatchBatch& peek, MonoTime now, MonoTime next_rescan) {
  if (peek.pending) {
    stop_.WaitUntil(clock_, std::min({BatchFiresAt(peek, debounce_), next_rescan, now + kTick}));
  } else if (watching_) {
    watcher_.WaitForEvent(std::min(next_rescan, now + kTick));
  } else {
    stop_.WaitUntil(clock_, std::min(next_rescan, now + kTick));
  }
}

// One capture and publish (retention hourly), recorded in metrics, /healthz and the log.
Cycle ContinuousReplicate::Capture(const std::string& trigger) {
  // Events from here on belong to the next batch: this capture may or may not see them.
  const WatchBatch batch = watching_ ? watcher_.Take() : WatchBatch{};
  {
    std::lock_guard l(mu_);
    if (batch.pending && (pending_since_ == 0 || batch.first_wall_s < pending_since_)) {
      pending_since_ = batch.first_wall_s;
    }
  }
  const double t0 = NowS();
  const bool retention = t0 - last_retention_ >= 3600;  // listing the remote: hourly
  Cycle c = rep_.RunOnce(retention, /*skip_unchanged=*/true);
  if (retention && c.all_ok && !c.unchanged) last_retention_ = t0;
  pm_.Record(c, t0, mu_);
  {
    std::lock_guard l(mu_);
    captures_.Add({{"trigger", trigger}});
    if (c.all_ok) pending_since_ = 0;
    if (!c.unchanged || last_cycle_.empty()) last_cycle_ = c.ToJson();
  }
  json fields = c.ToJson();
  fields["trigger"] = trigger;
  fields["events"] = batch.events;
  if (c.unchanged) {
    log::Debug("no changes", fields);
  } else {
    log::Write(c.all_ok ? log::Level::kInfo : log::Level::kWarn, "snapshot", fields);
  }
  return c;
}

}  // namespace aha::replication
