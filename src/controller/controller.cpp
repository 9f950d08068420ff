#include "controller/controller.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "quorum/report.h"
#include "replication/snapshot.h"

namespace aha::controller {

using failover::Decision;
using failover::Health;
using failover::Observation;
using failover::State;
using failover::Transition;
using failover::TransitionKind;
using nlohmann::json;

void DefineControllerMetrics(metrics::Registry& reg) {
  reg.DefineGauge("agency_ha_build_info", "Build information.").Set({{"version", AHA_VERSION}}, 1);
}

ProberSource::Metrics::Metrics(metrics::Registry& reg)
    : duration(reg.DefineHistogram(
          "agency_ha_probe_duration_seconds", "Duration of region probes (to the verdict).",
          {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})),
      probes(reg.DefineCounter("agency_ha_probes_total", "Region probes by result.")) {}

Controller::Metrics::Metrics(metrics::Registry& reg)
    : region_up(
          reg.DefineGauge("agency_ha_region_up", "1 when the region's last probe succeeded.")),
      region_failed(reg.DefineGauge("agency_ha_region_failed",
                                    "1 when the region is failed (after hysteresis).")),
      region_serving(
          reg.DefineGauge("agency_ha_region_serving", "1 when the region is in servingRegions.")),
      region_promoted(
          reg.DefineGauge("agency_ha_region_promoted", "1 when a passive region is promoted.")),
      transitions(reg.DefineCounter("agency_ha_transitions_total",
                                    "Region and panic transitions by type.")),
      panic(reg.DefineGauge("agency_ha_panic",
                            "1 when every region that could serve is failed and the last serving "
                            "set is kept (fail-open).")),
      generation(
          reg.DefineGauge("agency_ha_state_generation", "Generation of the failover state.")),
      state_writes(reg.DefineCounter("agency_ha_state_writes_total",
                                     "State keys written (changed) to the store.")),
      state_write_errors(
          reg.DefineCounter("agency_ha_state_write_errors_total", "Failed state store writes.")),
      transitions_undelivered_dropped(reg.DefineCounter(
          "agency_ha_transitions_undelivered_dropped_total",
          "Transitions never handed to the Event sink because state writes kept failing (the "
          "oldest beyond the queue bound).")) {}

ProberSource::ProberSource(const config::ControllerConfig& cfg, const Clock& clock,
                           metrics::Registry& reg, std::shared_ptr<probe::Resolver> resolver)
    : clock_(clock),
      m_(reg),
      prober_(probe::Options{cfg.probe.timeout_seconds, cfg.probe.tls}, std::move(resolver)) {
  for (const auto& r : cfg.regions) {
    targets_.push_back(probe::Target{r.name, r.endpoint, r.min_healthy_endpoints});
  }
}

std::map<std::string, Observation> ProberSource::Observe() {
  auto results = prober_.ProbeAll(targets_);
  const WallTime at = clock_.wall();
  std::map<std::string, Observation> out;
  std::map<std::string, std::vector<EndpointData>> data;
  for (auto& [region, r] : results) {
    auto& reports = data[region];
    for (const auto& e : r.endpoints) {
      if (e.data.empty()) continue;
      reports.push_back(EndpointData{e.address, e.ok, replication::ParseDataHeader(e.data), at});
    }
    m_.duration.Observe({{"region", region}}, r.latency_ms / 1000.0);
    m_.probes.Add({{"region", region}, {"result", r.ok ? "success" : "failure"}});
    out.emplace(region,
                Observation{r.ok, r.latency_ms, r.detail, at, r.data_reported, r.data_caught_up});
  }
  std::lock_guard l(data_mu_);
  data_ = std::move(data);
  return out;
}

std::map<std::string, std::vector<EndpointData>> ProberSource::Data() const {
  std::lock_guard l(data_mu_);
  return data_;
}

json DataJson(const std::vector<EndpointData>& reports) {
  if (reports.empty()) return nullptr;
  auto one = [](const EndpointData& e) {
    const replication::DataReport& d = e.report;
    json behind = nullptr;
    if (!d.snapshot.empty() && d.snapshot == d.head) {
      behind = 0.0;
    } else if (!d.snapshot.empty() && !d.head.empty()) {
      WallTime a{}, b{};
      if (replication::SnapshotIdTime(d.snapshot, &a) && replication::SnapshotIdTime(d.head, &b)) {
        behind = std::max<int64_t>(0, EpochMillis(b) - EpochMillis(a)) / 1000.0;
      }
    }
    auto str = [](const std::string& v) { return v.empty() ? json(nullptr) : json(v); };
    return json{{"role", str(d.role)},
                {"lineage", str(d.lineage)},
                {"epoch", d.epoch},
                {"fenced", d.role == "fenced"},
                {"caughtUp", d.caught_up},
                {"ready", d.ready},
                {"snapshot", str(d.snapshot)},
                {"headEpoch", d.head.empty() ? json(nullptr) : json(d.head_epoch)},
                {"head", str(d.head)},
                {"behindSeconds", behind},
                {"malformed", d.malformed},
                {"address", e.address},
                {"probeOk", e.probe_ok},
                {"at", failover::TimeToJson(e.at)}};
  };
  std::vector<const EndpointData*> order;
  for (const auto& e : reports)
    order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const EndpointData* a, const EndpointData* b) {
    if (a->probe_ok != b->probe_ok) return a->probe_ok;
    return a->address < b->address;
  });
  json j = one(*order.front());
  if (order.size() > 1) {
    json all = json::array();
    for (const auto* e : order)
      all.push_back(one(*e));
    j["endpoints"] = all;
  }
  return j;
}

Controller::Controller(config::ControllerConfig cfg, state::StateStore& store,
                       ObservationSource& source, const Clock& clock, metrics::Registry& reg)
    : cfg_(std::move(cfg)),
      store_(store),
      source_(source),
      clock_(clock),
      m_(reg),
      qm_(cfg_.QuorumEnabled() ? quorum::QuorumMetrics(reg) : quorum::QuorumMetrics()) {
  for (const auto& r : cfg_.regions)
    active_[r.name] = r.active;
  instance_ = FormatTime(clock_.wall()) + "/" + std::to_string(::getpid());
}

Status Controller::Start() {
  // Sampled before the read: a term that began after it is not covered by this load.
  const bool leading = Leading();
  const uint64_t term = Term();
  auto kv = store_.Read();
  if (!kv) return Err("cannot read state from " + store_.Describe() + ": " + kv.message());
  State loaded;
  auto it = kv->find(failover::kStateJsonKey);
  if (it != kv->end()) {
    auto s = failover::StateFromJson(it->second);
    if (s) {
      loaded = std::move(*s);
      log::Info("state loaded", {{"store", store_.Describe()},
                                 {"generation", loaded.generation},
                                 {"failedRegions", loaded.Failed()},
                                 {"servingRegions", loaded.serving}});
    } else {
      log::Warn("persisted state is malformed; starting from a fresh state and rewriting it",
                {{"store", store_.Describe()}, {"error", s.message()}});
    }
  }
  // Reconcile with the config without observations: adds new regions, drops removed ones and
  // computes the serving set, so readers see a complete state before the first probe round.
  const WallTime now = clock_.wall();
  if (grace_until_ == WallTime{}) {
    grace_until_ = now + std::chrono::duration_cast<WallTime::duration>(
                             std::chrono::duration<double>(cfg_.quorum.staleness_seconds));
  }
  Decision d = failover::Decide(loaded, {}, failover::QuorumInput{{}, grace_until_}, cfg_, now);
  State initial;
  {
    std::lock_guard l(mu_);
    state_ = std::move(d.next);
    if (state_.generation == 0) state_.generation = 1;
    dirty_ = true;
    PublishMetrics(state_);
    initial = state_;
  }
  term_loaded_ = leading;
  loaded_term_ = term;
  undelivered_.clear();  // decisions of an earlier term never written: the loaded state rules
  if (leading && Leading() && Term() == term) {
    if (Status w = Persist(initial); !w) {
      // Not fatal: the loop retries every round and /readyz reports it.
      log::Error("state write failed", {{"store", store_.Describe()}, {"error", w.message()}});
    }
  }
  return Status::Ok();
}

Status Controller::Persist(const State& s) {
  state::KeyValues kv{
      {failover::kStateJsonKey, failover::StateToJson(s, active_)},
      {failover::kFailedRegionsKey, failover::FormatRegionList(s.Failed())},
      {failover::kServingRegionsKey, failover::FormatRegionList(s.serving)},
  };
  auto n = store_.Write(kv);  // without mu_: the store may hang (API server, NFS)
  std::lock_guard l(mu_);
  if (!n) {
    dirty_ = true;
    last_write_error_ = n.message();
    m_.state_write_errors.Add();
    return n.error();
  }
  dirty_ = false;
  last_write_error_.clear();
  if (*n > 0) m_.state_writes.Add({}, *n);
  return Status::Ok();
}

void Controller::Deliver(const std::vector<Transition>& ts, bool written) {
  undelivered_.insert(undelivered_.end(), ts.begin(), ts.end());
  if (undelivered_.size() > kMaxUndelivered) {
    const size_t drop = undelivered_.size() - kMaxUndelivered;
    undelivered_.erase(undelivered_.begin(), undelivered_.begin() + static_cast<long>(drop));
    m_.transitions_undelivered_dropped.Add({}, static_cast<double>(drop));
    log::Warn(
        "state writes keep failing; oldest undelivered transitions dropped (still logged and "
        "counted above)",
        {{"dropped", drop}, {"kept", kMaxUndelivered}});
  }
  if (!written || undelivered_.empty()) return;
  std::vector<Transition> batch;
  batch.swap(undelivered_);
  // Outside mu_: whatever the sink does (Events) must not hold up /readyz, /v1/status or the
  // peers' /v1/observations, which take mu_.
  if (sink_) sink_(batch);
}

void Controller::NotifyPeerReport() {
  peer_wake_ = true;
  clock_.Interrupt();  // Run's wait re-checks peer_wake_
}

Decision Controller::Tick() {
  return Round(true);
}

Decision Controller::DecideOnly() {
  return Round(false);
}

namespace {

void LogPartitionChange(const State& prev, const Decision& d, const config::ControllerConfig& cfg) {
  if (d.next.partitioned == prev.partitioned) return;
  json f = {{"observersReachable", d.next.observers_reachable},
            {"observers", d.next.observers},
            {"quorum", d.next.quorum_size},
            {"isolation", config::IsolationPolicyName(cfg.quorum.isolation)}};
  if (d.next.partitioned) {
    log::Error(
        "partitioned: fewer than a quorum of observers reachable; no new failover "
        "decisions (fail-static)",
        f);
  } else {
    log::Info("quorum of observers reachable again; deciding", f);
  }
}

// A region observed for the first time since `prev` was written (no probe result in it at all).
bool NewlyObserved(const State& prev, const State& next) {
  bool any = false;
  for (const auto& [name, rs] : next.regions) {
    auto p = prev.regions.find(name);
    if (rs.last && (p == prev.regions.end() || !p->second.last)) any = true;
  }
  return any;
}

// Whether this controller's own verdict on an observed region differs from `prev`'s.
bool LocalVerdictChanged(const State& prev, const State& next) {
  bool changed = false;
  for (const auto& [name, rs] : next.regions) {
    auto p = prev.regions.find(name);
    const bool was = p != prev.regions.end() && p->second.local_failed;
    if (rs.last && rs.local_failed != was) changed = true;
  }
  return changed;
}

}  // namespace

bool Controller::TakeUpTerm(bool leading, uint64_t term) {
  if (!leading) {
    term_loaded_ = false;
  } else if (!term_loaded_ || loaded_term_ != term) {
    if (Status s = Start(); !s) {
      log::Error("cannot reload state for a new term; not acting as leader this round",
                 {{"error", s.message()}});
      leading = false;
    } else if (!term_loaded_ || loaded_term_ != term) {
      leading = false;  // the term changed again during the reload: the next round reloads
    }
  }
  return leading;
}

failover::QuorumInput Controller::QuorumForRound() {
  failover::QuorumInput quorum;
  if (cfg_.QuorumEnabled()) {
    peer_wake_ = false;  // whatever was pushed until now is in the reports read here
    if (peer_reports_) quorum.peers = peer_reports_();
    quorum.grace_until = grace_until_;
  }
  return quorum;
}

void Controller::LogTransitions(const Decision& d) {
  for (const Transition& t : d.transitions) {
    json f = {{"event", failover::TransitionName(t.kind)}, {"reason", t.reason}};
    if (!t.region.empty()) f["region"] = t.region;
    f["generation"] = d.next.generation;
    f["failedRegions"] = d.next.Failed();
    f["servingRegions"] = d.next.serving;
    if (t.kind == TransitionKind::kPanicEntered) {
      log::Error("panic: every region that could serve is failed; keeping the last serving set", f);
    } else {
      log::Info("region transition", f);
    }
    m_.transitions.Add({{"region", t.region}, {"type", failover::TransitionName(t.kind)}});
  }
}

bool Controller::Adopt(const State& prev, const Decision& d, bool probe, bool leading,
                       uint64_t term, State* written_state) {
  std::lock_guard l(mu_);
  // A newly observed region: one write, so that readers of the state never keep "not observed
  // yet".
  if (NewlyObserved(prev, d.next)) dirty_ = true;
  state_ = d.next;
  if (probe) {
    ticked_ = true;
    last_tick_ = clock_.wall();
    ++rounds_;
  }
  // Metrics and status first: whatever a reader sees in the store is already visible there.
  PublishMetrics(state_);
  const bool write = (d.changed || dirty_) && leading && Leading() && Term() == term;
  if (write) {
    dirty_ = true;  // until the write returns: /readyz is false while it is in flight
    *written_state = state_;
  }
  return write;
}

bool Controller::WriteState(const State& s) {
  if (Status w = Persist(s); !w) {
    log::Error(
        "state write failed; will retry next round (its transitions are delivered after "
        "the next successful write)",
        {{"store", store_.Describe()}, {"error", w.message()}});
    return false;
  }
  return true;
}

Decision Controller::Round(bool probe) {
  // Leadership is sampled once, before the round: a term gained during Observe() begins with the
  // next round, which first reloads the previous leader's state (a standby's private view is not
  // the truth). A term lost during the round, or lost and regained (Term() moved on: another leader
  // may have written meanwhile), is caught before the write.
  bool leading = Leading();
  const uint64_t term = Term();
  leading = TakeUpTerm(leading, term);
  std::map<std::string, Observation> obs;
  if (probe) obs = source_.Observe();
  State prev;
  {
    std::lock_guard l(mu_);
    prev = state_;
  }
  const failover::QuorumInput quorum = QuorumForRound();
  Decision d = failover::Decide(prev, obs, quorum, cfg_, clock_.wall());
  LogPartitionChange(prev, d, cfg_);
  if (leading) LogTransitions(d);  // a standby's private view is not news
  State written_state;
  const bool write = Adopt(prev, d, probe, leading, term, &written_state);
  const bool written = write && WriteState(written_state);
  if (leading) {
    Deliver(d.transitions, written);
  } else {
    undelivered_.clear();
  }
  if (probe && verdict_sink_ && cfg_.QuorumEnabled() && LocalVerdictChanged(prev, d.next)) {
    verdict_sink_(ObservationsJson());
  }
  return d;
}

void Controller::Run(Stopper& stop) {
  const auto interval = std::chrono::duration_cast<MonoTime::duration>(
      std::chrono::duration<double>(cfg_.probe.interval_seconds));
  auto next = clock_.mono();
  while (!stop.stopped()) {
    Tick();  // reloads the state itself on a new term
    next += interval;
    const auto now = clock_.mono();
    if (next < now) next = now;  // a slow round skips ahead instead of bursting
    // Until the next probe round: a decide-only round for each batch of pushed peer reports.
    const auto pushed = [this] { return peer_wake_.load(); };
    for (;;) {
      if (stop.WaitUntil(clock_, next, pushed)) return;
      if (!peer_wake_.load() || clock_.mono() >= next) break;
      DecideOnly();
    }
  }
}

void Controller::PublishMetrics(const State& s) {
  m_.region_up.Clear();
  m_.region_failed.Clear();
  m_.region_serving.Clear();
  m_.region_promoted.Clear();
  for (const auto& [name, rs] : s.regions) {
    metrics::Labels lb{{"region", name}};
    if (rs.last) m_.region_up.Set(lb, rs.last->ok ? 1 : 0);
    m_.region_failed.Set(lb, rs.health == Health::kFailed ? 1 : 0);
    m_.region_serving.Set(lb, failover::ContainsRegion(s.serving, name) ? 1 : 0);
    m_.region_promoted.Set(lb, rs.promoted ? 1 : 0);
  }
  m_.panic.Set(s.panic ? 1 : 0);
  if (s.quorum) {
    qm_.partitioned.Set(s.partitioned ? 1 : 0);
    qm_.observers_reachable.Set(s.observers_reachable);
    qm_.size.Set(s.quorum_size);
    qm_.votes_down.Clear();
    for (const auto& [name, rs] : s.regions)
      qm_.votes_down.Set({{"region", name}}, rs.votes_down);
  }
  m_.generation.Set(static_cast<double>(s.generation));
}

json Controller::StatusJson() const {
  std::lock_guard l(mu_);
  json j = json::parse(failover::StateToJson(state_, active_));
  j["store"] = store_.Describe();
  j["ready"] = ticked_ && (!Leading() || !dirty_);
  j["lastRound"] = last_tick_ == WallTime{} ? json(nullptr) : json(FormatTime(last_tick_));
  j["lastWriteError"] = last_write_error_.empty() ? json(nullptr) : json(last_write_error_);
  // Live: this process's observations of the last round (state.json holds them as of its last
  // write only), and the data position each region's gates report.
  j["live"] = true;
  j["thresholds"] = {{"failure", cfg_.probe.failure_threshold},
                     {"success", cfg_.probe.success_threshold}};
  const auto data = source_.Data();
  for (auto& [name, r] : j["regions"].items()) {
    auto it = data.find(name);
    r["data"] = it == data.end() ? json(nullptr) : DataJson(it->second);
  }
  if (cfg_.QuorumEnabled()) {
    j["quorum"]["region"] = cfg_.quorum.region;
    j["quorum"]["isolation"] = config::IsolationPolicyName(cfg_.quorum.isolation);
    j["quorum"]["stalenessSeconds"] = cfg_.quorum.staleness_seconds;
    j["quorum"]["peers"] = peer_status_ ? peer_status_() : json::array();
  }
  if (leadership_) {
    j["leader"] = {{"identity", leadership_->Identity()},
                   {"holder", leadership_->Holder()},
                   {"leading", leadership_->IsLeader()}};
  }
  return j;
}

std::string Controller::ObservationsJson() const {
  std::lock_guard l(mu_);
  return quorum::ReportToJson(
      quorum::BuildReport(state_, cfg_.quorum.region, instance_, rounds_, last_tick_));
}

bool Controller::Ready() const {
  std::lock_guard l(mu_);
  if (!ticked_) return false;
  return !Leading() || !dirty_;  // a standby is ready when it observes; a leader when written
}

}  // namespace aha::controller
