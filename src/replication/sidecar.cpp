#include "replication/sidecar.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/fs.h"
#include "common/json_get.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/stopper.h"
#include "config/replication_config.h"
#include "failover/failover_state.h"
#include "httpd/server.h"
#include "kube/kubeconfig.h"
#include "metrics/registry.h"
#include "net/secret.h"
#include "objectstore/open.h"
#include "replication/apply.h"
#include "replication/local_state.h"
#include "replication/metrics.h"
#include "replication/pod_events.h"
#include "replication/position.h"
#include "replication/publish.h"
#include "replication/replicate_schedule.h"
#include "replication/replicator.h"
#include "replication/restore.h"
#include "replication/role.h"
#include "replication/watcher.h"
#include "replication/writer.h"
#include "state/source.h"

namespace aha::replication {

using nlohmann::json;

// A takeover whose claim finds the head moved re-applies and claims again this often, then
// claims whatever the head is (fencing the writer that keeps moving it) and applies that.
constexpr int kMaxHeadMoves = 3;

namespace {

double Seconds(WallTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string InstanceId(const std::string& region) {
  return region + "/" + net::RandomHex(6);
}

// The sidecar's metrics, declared once; it shares the publish and follow ones with `replicate`
// and `follow` (replication/metrics.h).
struct SidecarMetrics {
  SidecarMetrics(metrics::Registry& m, double start_s)
      : publish(m, start_s),
        fenced(m.DefineCounter("agency_ha_replication_fenced_total",
                               "Publishes refused because another writer holds the lineage")),
        divergent_files(m.DefineCounter(
            "agency_ha_replication_divergent_files",
            "Files of divergent tails preserved aside before a volume was replaced")),
        divergent_bytes(
            m.DefineCounter("agency_ha_replication_divergent_bytes", "Bytes of those files")),
        events(kube::EventCounters::Define(m, "agency_ha_sidecar", "this pod")),
        role(m.DefineGauge("agency_ha_sidecar_role", "The sidecar's role and lineage, always 1")),
        epoch(m.DefineGauge("agency_ha_sidecar_epoch",
                            "The epoch this sidecar writes its lineage at")),
        data_ready(
            m.DefineGauge("agency_ha_sidecar_data_ready", "1 when the gate may let the pod serve")),
        caught_up(m.DefineGauge("agency_ha_sidecar_caught_up",
                                "1 when the volume holds the lineage's head")),
        takeover_ms(m.DefineGauge("agency_ha_sidecar_takeover_milliseconds",
                                  "Duration of the last takeover (role change to data ready)")),
        takeovers(m.DefineCounter("agency_ha_sidecar_takeovers_total", "Takeovers of a lineage")),
        applied(
            m.DefineCounter("agency_ha_sidecar_applied_total", "Snapshots applied to the volume")),
        errors(m.DefineCounter("agency_ha_sidecar_errors_total", "Failed rounds")),
        fetched_bytes(DefineFollowFetchedBytes(m)),
        last_applied(DefineFollowLastApplied(
            m, "When the volume last moved to a new snapshot of the followed lineage")) {}

  PublishMetrics publish;
  metrics::Counter fenced, divergent_files, divergent_bytes;
  kube::EventCounters events;
  metrics::Gauge role, epoch, data_ready, caught_up, takeover_ms;
  metrics::Counter takeovers, applied, errors, fetched_bytes;
  metrics::Gauge last_applied;
};

class Sidecar {
 public:
  // Every time it reads or waits on is `clock`'s (the capture/follow schedule, the watcher's
  // event times, lag and position timestamps).
  Sidecar(config::ReplicationConfig cfg, std::vector<Remote> remotes, state::StateSource& source,
          Stopper& stop, const Clock& clock)
      : cfg_(std::move(cfg)),
        remotes_(std::move(remotes)),
        source_(source),
        stop_(stop),
        clock_(clock),
        id_(InstanceId(cfg_.region)) {
    for (const auto& r : remotes_)
      stores_.push_back(r.store.get());
    // With a lineage suffix (the brain's volume) roles are decided on the failover region's name.
    const std::string& sfx = cfg_.handoff.lineage_suffix;
    auto strip = [&](const std::string& n) {
      return !sfx.empty() && n.size() > sfx.size() && n.ends_with(sfx)
                 ? n.substr(0, n.size() - sfx.size())
                 : n;
    };
    inputs_.region = strip(cfg_.region);
    inputs_.active = cfg_.handoff.active;
    inputs_.follow_region = strip(cfg_.handoff.follow_region);
    apply_.dir = cfg_.source;
    apply_.state_dir = cfg_.state_dir;
    apply_.cancelled = [this] { return stop_.stopped(); };
    apply_.parallelism = static_cast<size_t>(cfg_.parallelism);
  }

  metrics::Registry& metrics() { return m_; }
  std::mutex& mu() { return mu_; }
  const std::string& id() const { return id_; }
  // Kubernetes Events about this pod (none when unset: a file state source).
  void SetEvents(PodEvents* events) { events_ = events; }
  // The Events counters PodEvents counts into (Counter::Add is thread-safe).
  const kube::EventCounters& event_counters() const { return mt_.events; }

  json PositionJson() {
    std::lock_guard l(mu_);
    json j = json::parse(PositionToJson(pos_), nullptr, false);
    j["writerId"] = id_;
    j["why"] = decided_.why;
    return j;
  }

  void Run() {
    SetPosition([](Position&) {});
    uint64_t seen = 0;
    while (!stop_.stopped()) {
      const auto deadline = clock_.mono() + NextWait();
      state::Snapshot snap = source_.WaitNewer(seen, deadline);
      seen = snap.version;
      if (stop_.stopped()) break;
      if (snap.synced) ObserveState(snap);
      const RoleDecision want = Wanted();
      if (!(want == current_)) Transition(want);
      Step();
    }
    if (current_.role == Role::kWriter && !fenced_) Release("shutdown");
    if (watcher_) watcher_->Stop();
  }

 private:
  double NowSeconds() const { return Seconds(clock_.wall()); }

  // ---- observe ----
  void ObserveState(const state::Snapshot& snap) {
    auto it = snap.kv.find(failover::kStateJsonKey);
    if (it == snap.kv.end()) {
      // No decision written yet: every region is healthy and serving; nobody is promoted.
      decided_ = Suffixed(DecideRole(failover::State{}, inputs_));
      return;
    }
    auto st = failover::StateFromJson(it->second);
    if (!st) {
      if (state_error_ != st.message()) {
        log::Warn("state.json unreadable; keeping the current role (fail-static)",
                  {{"error", st.message()}});
      }
      state_error_ = st.message();
      return;
    }
    state_error_.clear();
    decided_ = Suffixed(DecideRole(*st, inputs_));
  }

  // What this sidecar should be doing: the state's decision, except that a fenced writer stays a
  // follower of that lineage (docs/WRITER.md) until the state moves the role away, or the writer
  // that fenced it releases the lineage (Step clears fenced_ then).
  RoleDecision Wanted() {
    if (fenced_ && !(decided_.role == Role::kWriter && decided_.lineage == fenced_lineage_)) {
      fenced_ = false;
      fenced_lineage_.clear();
    }
    RoleDecision want = decided_;
    if (fenced_ && want.role == Role::kWriter && want.lineage == fenced_lineage_) {
      want.role = Role::kFollower;
    }
    return want;
  }

  // A takeover takes time (applying a head over a slow store, waiting for a release) while the
  // state can move on: a stand-in demoted meanwhile must not claim the lineage its owner took
  // back. Re-reads the latest state; false (logged) when it no longer asks for `want`.
  bool StillWanted(const RoleDecision& want) {
    state::Snapshot snap = source_.Get();
    if (snap.synced) ObserveState(snap);
    const RoleDecision now = Wanted();
    if (now == want) return true;
    log::Warn("takeover abandoned: the failover state moved the role meanwhile",
              {{"lineage", want.lineage},
               {"now", RoleName(now.role)},
               {"nowLineage", now.lineage},
               {"why", now.why}});
    return false;
  }

  RoleDecision Suffixed(RoleDecision d) const {
    if (!d.lineage.empty()) d.lineage += cfg_.handoff.lineage_suffix;
    return d;
  }

  std::chrono::milliseconds NextWait() const {
    if (current_.role == Role::kWriter) return std::chrono::milliseconds(50);
    return std::chrono::milliseconds(
        static_cast<long long>(cfg_.handoff.follow_interval_seconds * 1000));
  }

  // ---- act: role changes ----
  void Transition(const RoleDecision& want) {
    log::Info("role change", {{"from", RoleName(current_.role)},
                              {"fromLineage", current_.lineage},
                              {"to", RoleName(want.role)},
                              {"lineage", want.lineage},
                              {"why", want.why}});
    if (current_.role == Role::kWriter && !fenced_) Release("role moved: " + want.why);
    rep_.reset();
    // A writer's volume counts as unpublished from when this sidecar first wanted to write the
    // lineage until its first publish (a takeover that keeps failing keeps that time), so a
    // remote broken from the start shows as growing lag, not as caught up.
    if (want.role != Role::kWriter)
      writer_wanted_since_ = 0;
    else if (writer_wanted_since_ == 0)
      writer_wanted_since_ = NowSeconds();
    pending_since_ = writer_wanted_since_;
    SetLag();
    if (watcher_) {
      watcher_->Stop();
      watcher_.reset();
    }
    const RoleDecision prev = current_;
    current_ = want;
    {
      std::lock_guard l(mu_);
      mt_.role.Clear();
      mt_.role.Set({{"role", RoleName(want.role)}, {"lineage", want.lineage}}, 1);
    }
    SetPosition([&](Position& p) {
      p.lineage = want.lineage;
      p.role = fenced_ ? Role::kFenced : want.role == Role::kWriter ? Role::kStarting : want.role;
      p.data_ready = false;
      p.caught_up = false;
      p.error.clear();
    });
    if (want.role == Role::kWriter) {
      if (!Takeover(want, prev)) {
        current_ = RoleDecision{};  // retried on the next round
        current_.why = "takeover failed";
      }
    }
  }

  // Takeover (docs/WRITER.md): apply the head (preserving any divergent tail), wait for a planned
  // release (bounded), claim the next epoch, then serve.
  bool Takeover(const RoleDecision& want, const RoleDecision& prev) {
    const auto t0 = clock_.mono();
    const auto release_deadline =
        t0 + std::chrono::milliseconds(static_cast<long long>(cfg_.handoff.timeout_seconds * 1000));
    std::optional<LatestPointer> head;
    std::optional<int64_t> epoch;
    bool timed_out = false;
    int moved = 0;  // claims refused because the head moved after it was applied
    for (;;) {
      // The state is re-read on every pass: it may have moved the role while this takeover was
      // applying or waiting (a failback overtaking a slow takeover).
      if (stop_.stopped() || !StillWanted(want)) return false;
      auto h = ReadHead(want.lineage);
      if (!h) {
        SetError("takeover of " + want.lineage + ": " + h.message());
        return false;
      }
      head = *h;
      if (head && !FollowApply(want.lineage, *head, "takeover")) return false;
      if (want.planned && head && !HeadReleasedOrMine(*head) && !timed_out) {
        if (clock_.mono() < release_deadline) {
          stop_.WaitFor(clock_, std::chrono::milliseconds(100));
          continue;
        }
        log::Warn(
            "planned handoff: the previous writer did not release the lineage in time; "
            "taking over (it is fenced from its next publish)",
            {{"lineage", want.lineage}, {"timeoutSeconds", cfg_.handoff.timeout_seconds}});
        timed_out = true;
      }
      if (stop_.stopped() || !StillWanted(want)) return false;
      // The claim must find the head exactly as applied. If it keeps moving (an old writer that
      // cannot see the state publishes faster than this takeover applies), claim whatever the
      // head is: that fences the old writer (its next latest write fails), then apply it.
      const bool force = moved >= kMaxHeadMoves;
      auto c = ClaimHead(want.lineage, force ? std::nullopt : head);
      if (c) {
        epoch = c->epoch;
        if (force && c->head && !(head && c->head->id == head->id)) {
          head = c->head;
          if (!FollowApply(want.lineage, *head, "takeover")) return false;
        }
        break;
      }
      if (c.code() == Code::kConflict && !force) {
        ++moved;
        log::Info("takeover: the head moved after it was applied; applying the new head",
                  {{"lineage", want.lineage}, {"attempt", moved}, {"detail", c.message()}});
        continue;
      }
      SetError("claiming " + want.lineage + ": " + c.message());
      return false;
    }
    // The writer continues the lineage from what the volume holds now (the head).
    config::ReplicationConfig rc = cfg_;
    rc.region = want.lineage;
    std::vector<Remote> mine;
    for (const auto& r : remotes_) {
      auto s = objectstore::OpenRemote(r.cfg, cfg_.parallelism);
      if (!s) {
        SetError("opening " + r.cfg.url + ": " + s.message());
        return false;
      }
      mine.push_back({r.cfg, std::move(*s)});
    }
    auto ls = LoadLocalState(cfg_.state_dir);
    if (!ls) {
      SetError("lineage state: " + ls.message());
      return false;
    }
    rep_ = std::make_unique<Replicator>(rc, std::move(mine), std::move(*ls));
    rep_->SetWriter(*epoch, id_);
    watcher_ = std::make_unique<TreeWatcher>(cfg_.source, std::vector<std::string>{cfg_.state_dir},
                                             clock_);
    watching_ = static_cast<bool>(watcher_->Start());
    next_capture_ = clock_.mono();  // publish at once: the claim is visible with our first record
    const double ms = std::chrono::duration<double, std::milli>(clock_.mono() - t0).count();
    {
      std::lock_guard l(mu_);
      mt_.epoch.Set({{"lineage", want.lineage}}, static_cast<double>(*epoch));
      mt_.takeover_ms.Set({{"lineage", want.lineage}}, ms);
      mt_.takeovers.Add({{"lineage", want.lineage}});
    }
    SetPosition([&](Position& p) {
      p.role = Role::kWriter;
      p.epoch = *epoch;
      p.head_epoch = *epoch;
      p.caught_up = true;
      p.data_ready = true;
      p.error.clear();
    });
    log::Info("writer", {{"lineage", want.lineage},
                         {"epoch", *epoch},
                         {"from", head ? head->id : ""},
                         {"previousRole", RoleName(prev.role)},
                         {"planned", want.planned},
                         {"takeoverMs", ms}});
    return true;
  }

  // Planned release: a final snapshot, then the lineage is marked released for the next writer.
  void Release(const std::string& why) {
    if (!rep_) return;
    // The final snapshot must hold every write made before the role moved: a capture that raced a
    // write (a file changed during upload) or a failed publish is retried, bounded. Only a final
    // snapshot that reached the remotes is marked released; otherwise the next writer takes over
    // after its handoff timeout and what was not published is reported as lost.
    // The app may not have seen the state yet when this starts: a write that lands during or
    // right after the capture goes into one more snapshot, as long as the volume keeps changing
    // (bounded). At shutdown one attempt is still made.
    Cycle c;
    const auto quiet = std::chrono::milliseconds(std::max(20LL, cfg_.debounce_milliseconds));
    for (int attempt = 1; attempt <= 10 && (attempt == 1 || !stop_.stopped()); ++attempt) {
      if (watching_) watcher_->Take();  // what changes from here on is not in this capture
      c = rep_->RunOnce(false, true);
      NoteCycle(c);
      bool fenced = false;
      for (const auto& r : c.reports)
        fenced = fenced || IsFenced(r);
      if (fenced) break;
      if (c.all_ok) {
        if (!watching_ || stop_.WaitFor(clock_, quiet) || !watcher_->Peek().pending) break;
        continue;
      }
      stop_.WaitFor(clock_, std::chrono::milliseconds(c.retry ? 20 : 200));
    }
    log::Info("releasing lineage", {{"lineage", current_.lineage},
                                    {"why", why},
                                    {"finalSnapshot", c.captured ? c.record.id : ""},
                                    {"ok", c.all_ok}});
    if (!c.all_ok) {
      log::Warn("final snapshot not published; lineage not released",
                {{"lineage", current_.lineage}, {"error", c.capture_error}});
      return;
    }
    if (Status s = MarkReleased(current_.lineage); !s) {
      log::Warn("release not recorded on every remote",
                {{"lineage", current_.lineage}, {"error", s.message()}});
    }
  }

  // ---- act: one round of the current role ----
  void Step() {
    if (current_.role == Role::kFollower) {
      if (clock_.mono() < next_follow_) return;
      next_follow_ = clock_.mono() + std::chrono::milliseconds(static_cast<long long>(
                                         cfg_.handoff.follow_interval_seconds * 1000));
      auto h = ReadHead(current_.lineage);
      if (!h) {
        SetError(h.message());
        return;
      }
      if (!*h) {
        SetPosition([&](Position& p) {
          p.caught_up = true;  // nothing published on this lineage yet: nothing to be behind
          p.error.clear();
        });
        return;
      }
      if (!FollowApply(current_.lineage, **h, "follow")) return;
      // Fenced while the state still makes this region the writer (a stand-in that had not yet
      // seen the state claimed the lineage): once that writer hands the lineage back (released),
      // this sidecar takes it over again (Run sees the writer role wanted).
      const LatestPointer& head = **h;
      if (fenced_ && current_.lineage == fenced_lineage_ && head.released && head.writer != id_) {
        log::Info(
            "the writer that fenced this sidecar released the lineage; the state makes this region "
            "its writer: taking it back",
            {{"lineage", current_.lineage}, {"releasedBy", head.writer}, {"epoch", head.epoch}});
        fenced_ = false;
        fenced_lineage_.clear();
      }
      return;
    }
    if (current_.role == Role::kWriter && rep_) WriterStep();
  }

  void WriterStep() {
    const auto now = clock_.mono();
    const auto debounce = std::chrono::milliseconds(cfg_.debounce_milliseconds);
    const WatchBatch peek = watching_ ? watcher_->Peek() : WatchBatch{};
    // The same rule as `replicate` (replicate_schedule.h): the batch quiet for `debounce` (at most
    // 5x it, at once after an overflow), or the periodic capture due.
    const bool fire = !CaptureTrigger(peek, now, next_capture_, debounce).empty();
    if (peek.pending && (pending_since_ == 0 || peek.first_wall_s < pending_since_)) {
      pending_since_ = peek.first_wall_s;
    }
    SetLag();
    if (!fire) return;
    if (watching_) watcher_->Take();
    Cycle c = rep_->RunOnce(false, true);
    NoteCycle(c);
    if (c.all_ok) pending_since_ = writer_wanted_since_ = 0;
    SetLag();
    next_capture_ = clock_.mono() + std::chrono::milliseconds(
                                        static_cast<long long>(cfg_.sync_interval_seconds * 1000));
    if (!c.all_ok) next_capture_ = std::min(next_capture_, clock_.mono() + std::chrono::seconds(1));
    for (const auto& r : c.reports) {
      if (IsFenced(r)) {
        Fence(r.error, r.remote);
        return;
      }
    }
    if (c.all_ok && c.captured && !c.unchanged) {
      SetPosition([&](Position& p) {
        p.snapshot = c.record.id;
        p.head = c.record.id;
        p.error.clear();
      });
    }
  }

  // Age of the oldest change not yet in a published snapshot (0 when caught up or not a writer).
  void SetLag() {
    const double lag = pending_since_ == 0 ? 0.0 : std::max(0.0, NowSeconds() - pending_since_);
    std::lock_guard l(mu_);
    mt_.publish.lag.Set(lag);
  }

  void Fence(const std::string& why, const std::string& remote) {
    if (events_) {
      events_->Emit("Warning", "WriterFenced",
                    why + " (remote " + remote + "); writer " + id_ +
                        " stopped publishing lineage " + current_.lineage +
                        " and is out of service until it rejoins as a follower");
    }
    log::Error(
        "fenced: another writer holds this lineage at a higher epoch; stopped publishing "
        "and taken out of service until the state makes this region the writer again",
        {{"lineage", current_.lineage}, {"why", why}});
    fenced_ = true;
    fenced_lineage_ = current_.lineage;
    rep_.reset();
    {
      std::lock_guard l(mu_);
      mt_.fenced.Add({{"lineage", current_.lineage}});
    }
    SetPosition([&](Position& p) {
      p.role = Role::kFenced;
      p.data_ready = false;
      p.caught_up = false;
      p.error = "fenced: " + why;
    });
  }

  // Brings the volume to `head` (nothing to do when it is there already). Local writes since the
  // volume's last applied/published snapshot are preserved aside first.
  bool FollowApply(const std::string& lineage, const LatestPointer& head, const char* why) {
    SetPosition([&](Position& p) {
      p.head = head.id;
      p.head_epoch = HeadEpoch(head);
    });
    std::optional<Record> applied = LoadAppliedRecord(cfg_.state_dir);
    if (last_published_ && last_published_->region == lineage &&
        (!applied || applied->id < last_published_->id)) {
      applied = last_published_;  // this sidecar wrote the lineage since it last applied it
    }
    // Readers order snapshots by (epoch, id); a claim raises the head's epoch on the same id.
    const bool at_head = applied && applied->region == lineage && applied->id == head.id;
    const bool ahead =
        applied && applied->region == lineage &&
        std::make_pair(applied->epoch, applied->id) > std::make_pair(head.epoch, head.id);
    if (at_head || ahead) {
      SetPosition([&](Position& p) {
        p.snapshot = applied->id;
        p.epoch = std::max(applied->epoch, at_head ? head.epoch : applied->epoch);
        p.caught_up = at_head || ahead;
        p.error.clear();
      });
      return true;
    }
    std::vector<std::string> warnings;
    auto record = FetchRecordFromAny(stores_, lineage, head.id, nullptr, &warnings);
    if (!record) {
      SetError("fetching " + lineage + " " + head.id + ": " + record.message());
      return false;
    }
    const std::optional<Record>& base = applied;
    auto tail = PreserveDivergent(
        base, HeadEpoch(head), std::string(why) + ": volume replaced by " + lineage + " " + head.id,
        apply_);
    if (!tail) {
      SetError("preserving the divergent tail: " + tail.message() + "; volume not replaced");
      return false;
    }
    if (!tail->path.empty()) ReportTail(lineage, head.id, *tail);
    const auto t0 = clock_.mono();
    auto rep = ApplyInPlace(*record, stores_, apply_);
    if (!rep) {
      SetError("applying " + lineage + " " + head.id + ": " + rep.message());
      return false;
    }
    const double ms = std::chrono::duration<double, std::milli>(clock_.mono() - t0).count();
    {
      std::lock_guard l(mu_);
      mt_.applied.Add({{"lineage", lineage}});
      mt_.fetched_bytes.Add({}, static_cast<double>(rep->bytes_fetched));
      mt_.last_applied.Set(NowSeconds());
    }
    log::Info("applied", {{"lineage", lineage},
                          {"snapshot", head.id},
                          {"why", why},
                          {"written", rep->written},
                          {"fetched", rep->fetched},
                          {"bytesFetched", rep->bytes_fetched},
                          {"removed", rep->removed},
                          {"ms", ms}});
    if (!rep->late.path.empty()) ReportTail(lineage, head.id, rep->late);
    SetPosition([&](Position& p) {
      p.snapshot = head.id;
      p.epoch = head.epoch;
      p.caught_up = true;
      p.error.clear();
      for (const DivergentTail* t : {&*tail, &rep->late}) {
        if (t->path.empty()) continue;
        p.divergent.files += t->files;
        p.divergent.bytes += t->bytes;
        p.divergent.path = t->path;
      }
    });
    return true;
  }

  // A divergent tail set aside: log, Event, metrics (the position is the caller's).
  void ReportTail(const std::string& lineage, const std::string& head_id,
                  const DivergentTail& tail) {
    log::Warn("divergent tail preserved", {{"lineage", lineage},
                                           {"files", tail.files},
                                           {"bytes", tail.bytes},
                                           {"deleted", tail.deleted.size()},
                                           {"path", tail.path}});
    if (events_) {
      events_->Emit("Warning", "DivergentTailPreserved",
                    "lineage " + lineage + ": " + std::to_string(tail.files) + " file(s), " +
                        std::to_string(tail.bytes) + " byte(s), " +
                        std::to_string(tail.deleted.size()) +
                        " deletion(s) not in the lineage were set aside at " + tail.path +
                        " before the volume was replaced by " + head_id);
    }
    std::lock_guard l(mu_);
    mt_.divergent_files.Add({}, static_cast<double>(tail.files));
    mt_.divergent_bytes.Add({}, static_cast<double>(tail.bytes));
  }

  // ---- lineage head, claim, release (writer.h) ----
  static int64_t HeadEpoch(const LatestPointer& h) { return h.epoch; }
  // A planned takeover waits for the previous writer's release, unless there is no previous
  // writer to wait for: an unclaimed lineage, or this region's own earlier instance (a restart).
  bool HeadReleasedOrMine(const LatestPointer& h) const {
    if (h.released || h.epoch == 0 || h.writer.empty() || h.writer == id_) return true;
    return h.writer.substr(0, h.writer.find('/')) == cfg_.region;
  }
  static bool IsFenced(const PublishReport& r) { return r.fenced; }

  // The lineage's head: the newest (epoch, id) among the remotes that answer.
  Result<std::optional<LatestPointer>> ReadHead(const std::string& lineage) {
    std::vector<RemoteHead> heads = ReadHeads(stores_, lineage, false);
    if (auto i = PickHead(heads)) return std::optional<LatestPointer>(*heads[*i].latest);
    bool answered = false;
    for (const auto& h : heads)
      answered = answered || h.missing;
    if (answered) return std::optional<LatestPointer>();
    return Err(DescribeHeadErrors(heads, lineage));
  }
  // Claims the next epoch; with `expect`, only if the head is still exactly that pointer (409
  // otherwise: the caller applies the new head and tries again).
  Result<replication::Claim> ClaimHead(const std::string& lineage,
                                       const std::optional<LatestPointer>& expect) {
    ClaimOptions co;
    co.expect = expect;
    auto c = ClaimLineage(stores_, lineage, id_, co);
    if (!c) return c.error();
    for (const auto& r : c->remotes) {
      if (!r.claimed)
        log::Warn("claim not written on a remote", {{"remote", r.remote}, {"error", r.error}});
    }
    epoch_ = c->epoch;
    return c;
  }
  Status MarkReleased(const std::string& lineage) {
    auto r = replication::Release(stores_, lineage, id_, epoch_);
    if (!r) return r.error();
    return Status::Ok();
  }

  // ---- reporting ----
  void NoteCycle(const Cycle& c) {
    mt_.publish.Record(c, NowSeconds(), mu_);
    if (c.captured && c.all_ok && !c.unchanged) last_published_ = c.record;
    if (!c.unchanged) {
      json f = c.ToJson();
      f["lineage"] = current_.lineage;
      log::Write(c.all_ok ? log::Level::kInfo : log::Level::kWarn, "snapshot", f);
    }
  }

  void SetError(const std::string& e) {
    log::Warn("sidecar round failed", {{"lineage", current_.lineage}, {"error", e}});
    {
      std::lock_guard l(mu_);
      mt_.errors.Add();
    }
    SetPosition([&](Position& p) { p.error = e; });
  }

  template <class F>
  void SetPosition(F&& change) {
    Position next;
    {
      std::lock_guard l(mu_);
      next = pos_;
    }
    change(next);
    if (next.lineage.empty()) next.lineage = current_.lineage.empty() ? "-" : current_.lineage;
    Position cmp = next;
    cmp.updated_at = pos_.updated_at;
    if (cmp == pos_ && written_) return;
    next.updated_at = clock_.wall();
    if (Status s = WritePositionFile(cfg_.handoff.position_file, next); !s) {
      log::Warn("cannot write the position file", {{"error", s.message()}});
    } else {
      written_ = true;
    }
    std::lock_guard l(mu_);
    pos_ = next;
    mt_.data_ready.Set(next.data_ready ? 1 : 0);
    mt_.caught_up.Set(next.caught_up ? 1 : 0);
  }

  config::ReplicationConfig cfg_;
  std::vector<Remote> remotes_;
  std::vector<objectstore::ObjectStore*> stores_;
  state::StateSource& source_;
  Stopper& stop_;
  const Clock& clock_;
  const std::string id_;
  RoleInputs inputs_;
  ApplyOptions apply_;

  RoleDecision decided_;  // what the state says (kept on an unreadable state: fail-static)
  RoleDecision current_;  // what this sidecar is doing
  std::string state_error_;
  bool fenced_ = false;
  std::string fenced_lineage_;
  PodEvents* events_ = nullptr;
  int64_t epoch_ = 0;               // the epoch this sidecar claimed (writer role)
  double pending_since_ = 0;        // wall seconds of the oldest unpublished change (writer role)
  double writer_wanted_since_ = 0;  // wall seconds: writer role wanted, nothing published yet
  std::unique_ptr<Replicator> rep_;
  std::unique_ptr<TreeWatcher> watcher_;
  bool watching_ = false;
  MonoTime next_capture_{}, next_follow_{};
  std::optional<Record> last_published_;

  std::mutex mu_;  // guards pos_ and the metrics (read by the HTTP threads)
  Position pos_;
  bool written_ = false;
  metrics::Registry m_;
  const SidecarMetrics mt_{m_, NowSeconds()};
};

// Kubernetes Events about this pod when the state is a ConfigMap (handoff.events); null otherwise,
// with the reason logged once. Never fatal: Events are a report, not the data path.
std::unique_ptr<PodEvents> OpenPodEvents(const config::ReplicationConfig& cfg, Sidecar& car) {
  const config::HandoffConfig& h = cfg.handoff;
  if (!h.state.is_configmap()) {
    log::Info(
        "no Kubernetes Events: the state source is a file (WriterFenced and "
        "DivergentTailPreserved are reported by log and metrics only)");
    return nullptr;
  }
  if (!h.events.enabled) {
    log::Info("no Kubernetes Events: handoff.events.enabled is false");
    return nullptr;
  }
  auto conn = kube::Resolve(
      kube::LoadOptions{h.kubeconfig, "", "/var/run/secrets/kubernetes.io/serviceaccount"});
  if (!conn) {
    log::Warn("no Kubernetes Events: kubeconfig", {{"error", conn.message()}});
    return nullptr;
  }
  auto pod = ResolvePodRef(
      h.events,
      [](const char* k) {
        const char* v = std::getenv(k);
        return std::string(v ? v : "");
      },
      conn->ns);
  if (!pod) {
    log::Warn("no Kubernetes Events", {{"error", pod.message()}});
    return nullptr;
  }
  if (pod->uid.empty()) {
    log::Warn(
        "the pod's uid is unknown (POD_UID or handoff.events.podUid): Events are listed by "
        "kubectl get events but not by kubectl describe pod",
        {{"pod", pod->ns + "/" + pod->name}});
  }
  log::Info("Kubernetes Events about this pod",
            {{"pod", pod->ns + "/" + pod->name}, {"uid", pod->uid}});
  return std::make_unique<PodEvents>(*conn, *pod, car.id(), car.event_counters().OnResult(),
                                     car.event_counters().OnDropped());
}

}  // namespace

int SidecarCommand(const std::string& config_path, bool check) {
  auto cfg = config::LoadReplicationConfig(config_path);
  if (!cfg) {
    std::fprintf(stderr, "agency-ha sidecar: %s\n", cfg.message().c_str());
    return 2;
  }
  if (!cfg->handoff.configured) {
    std::fprintf(stderr,
                 "agency-ha sidecar: handoff: required (the state source and this region's role; "
                 "see docs/WRITER.md)\n");
    return 2;
  }
  std::vector<Remote> remotes;
  for (size_t i = 0; i < cfg->remotes.size(); ++i) {
    auto s = objectstore::OpenRemote(cfg->remotes[i], cfg->parallelism);
    if (!s) {
      std::fprintf(stderr, "agency-ha sidecar: remotes[%zu].url: %s\n", i, s.message().c_str());
      return 2;
    }
    remotes.push_back({cfg->remotes[i], std::move(*s)});
  }
  if (check) {
    std::printf("config ok: %zu remote(s), region %s, %s\n", remotes.size(), cfg->region.c_str(),
                cfg->handoff.active ? "active"
                                    : ("passive, follows " + cfg->handoff.follow_region).c_str());
    return 0;
  }
  auto source = state::OpenStateSource(cfg->handoff.state, cfg->handoff.kubeconfig);
  if (!source) {
    std::fprintf(stderr, "agency-ha sidecar: handoff.state: %s\n", source.message().c_str());
    return 2;
  }
  if (Status s = EnsureWritableDir(cfg->state_dir); !s) {
    std::fprintf(stderr, "agency-ha sidecar: stateDir: %s\n", s.message().c_str());
    return 1;
  }
  BlockTerminationSignals();
  Stopper stop;
  SignalWatcher signals(stop);
  std::thread watch([&] { (*source)->Run(stop); });
  Sidecar car(*cfg, std::move(remotes), **source, stop, SystemClock::instance());
  // Declared after `car` so it is destroyed first: its thread reports into car's metrics.
  std::unique_ptr<PodEvents> events = OpenPodEvents(*cfg, car);
  car.SetEvents(events.get());
  httpd::HttpServer http;
  if (!cfg->listen.empty()) {
    http.Get("/healthz", [&] {
      json p = car.PositionJson();
      return httpd::Response{200, "application/json", jsonget::Dump(p) + "\n"};
    });
    http.Get("/v1/position", [&] {
      return httpd::Response{200, "application/json", jsonget::Dump(car.PositionJson(), 2) + "\n"};
    });
    http.Get("/metrics", [&] {
      std::lock_guard l(car.mu());
      return httpd::Response{200, "text/plain; version=0.0.4", car.metrics().Render()};
    });
    if (Status s = http.Start(cfg->listen); !s) {
      stop.Stop();
      watch.join();
      std::fprintf(stderr, "agency-ha sidecar: listen: %s\n", s.message().c_str());
      return 1;
    }
  }
  log::Info("sidecar starting", {{"source", cfg->source},
                                 {"region", cfg->region},
                                 {"active", cfg->handoff.active},
                                 {"followRegion", cfg->handoff.follow_region},
                                 {"state", (*source)->Describe()},
                                 {"positionFile", cfg->handoff.position_file},
                                 {"port", http.port()}});
  car.Run();
  http.Stop();
  watch.join();
  log::Info("sidecar stopped", {{"signal", signals.signal()}});
  return 0;
}

}  // namespace aha::replication
