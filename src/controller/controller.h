// Controller: the observe → decide → act loop of the failover controller.
//
//   observe: ObservationSource::Observe()  (the prober, concurrently, bounded by the timeout)
//   decide:  failover::Decide(state, observations, config, clock.wall())   (pure)
//   act:     log + count each transition; write the state keys when the decision changed
//            (or a previous write failed); publish status and metrics.
//
// State is read back at Start() so a restart does not flap regions; an unreadable or malformed
// state.json is logged and replaced (the controller owns those keys).
//
// Live status without a writer on a quiet system. The state keys are written when a decision
// changes (each write wakes every gate's watch and, with a ConfigMap, costs an API write), plus
// once after the first round that observed a region the persisted state had never seen probed
// (so state.json never says "not observed yet" about a region this controller probes). Live
// observations (last probe, streaks, a reason describing the current state, the data position
// every gate reports in X-Agency-Data) are served from memory at GET /v1/status, rebuilt every
// round: the MCP server and the status page read that (the MCP server falls back to state.json,
// labelled with its age, when the controller is unreachable). Publishing them into the state on a
// cadence was rejected: data positions change with every snapshot, so "rewrite only when more
// than timestamps change" would still be a steady writer, and a ConfigMap key that changes wakes
// every watcher in every region.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/leadership.h"
#include "common/result.h"
#include "common/stopper.h"
#include "config/controller_config.h"
#include "failover/decide.h"
#include "metrics/registry.h"
#include "probe/prober.h"
#include "quorum/poller.h"
#include "replication/position.h"
#include "state/store.h"

namespace aha::controller {

// What one endpoint of a region reported about its data in its last probe (X-Agency-Data).
struct EndpointData {
  std::string address;
  bool probe_ok = false;
  replication::DataReport report;
  WallTime at{};
};

class ObservationSource {
 public:
  virtual ~ObservationSource() = default;
  virtual std::map<std::string, failover::Observation> Observe() = 0;
  // The data positions of the last Observe(), per region (only endpoints that sent one).
  // Thread-safe (read by the HTTP thread).
  virtual std::map<std::string, std::vector<EndpointData>> Data() const { return {}; }
};

// /v1/status `regions.<name>.data` for one region's endpoint reports, or null when none sent one:
// {role, lineage, epoch, fenced, caughtUp, ready, snapshot, headEpoch, head, behindSeconds
// (head id time - snapshot id time; 0 when caught up; null when unknown), malformed, address,
// probeOk, at, endpoints (every report, when more than one endpoint sent one)}.
// The primary report is the first healthy endpoint's (by address), else the first.
nlohmann::json DataJson(const std::vector<EndpointData>& reports);

// The production source: probes every region's endpoint with probe::Prober and records probe
// metrics.
class ProberSource final : public ObservationSource {
  struct Metrics {
    explicit Metrics(metrics::Registry& reg);
    metrics::Histogram duration;
    metrics::Counter probes;
  };

 public:
  ProberSource(const config::ControllerConfig& cfg, const Clock& clock, metrics::Registry& reg,
               std::shared_ptr<probe::Resolver> resolver = probe::SystemResolver());
  std::map<std::string, failover::Observation> Observe() override;
  std::map<std::string, std::vector<EndpointData>> Data() const override;

 private:
  const Clock& clock_;
  mutable std::mutex data_mu_;
  std::map<std::string, std::vector<EndpointData>> data_;
  const Metrics m_;
  probe::Prober prober_;
  std::vector<probe::Target> targets_;
};

class Controller {
 public:
  static constexpr size_t kMaxUndelivered = 256;

  Controller(config::ControllerConfig cfg, state::StateStore& store, ObservationSource& source,
             const Clock& clock, metrics::Registry& reg);

  // With leader election only the leader writes; a standby observes and decides for its status
  // page but writes nothing. A round acts as leader only if it was leader when it began and the
  // state was loaded since leadership was gained: the first round of a new term reloads the
  // persisted state (the previous leader's decisions) before deciding, and a round during which
  // leadership was gained acts as a standby.
  void SetLeadership(const Leadership* leadership) { leadership_ = leadership; }
  // Called with transitions after they were persisted (e.g. Kubernetes Events). A round whose
  // state write fails keeps its transitions; they are delivered, in order, after the next
  // successful write (at most kMaxUndelivered, oldest dropped and counted). They are dropped when
  // this replica stops leading or a new term reloads the state: the new leader's state is the
  // truth then, and its own decisions make their own Events.
  using TransitionSink = std::function<void(const std::vector<failover::Transition>&)>;
  void SetTransitionSink(TransitionSink sink) { sink_ = std::move(sink); }
  // Observer quorum (config with peers): where each round reads the peers' latest reports
  // (quorum::PeerPoller::Reports) and, for /v1/status, their poll status.
  using PeerReports = std::function<std::vector<failover::PeerReport>()>;
  using PeerStatus = std::function<nlohmann::json()>;
  void SetPeerSource(PeerReports reports, PeerStatus status = nullptr) {
    peer_reports_ = std::move(reports);
    peer_status_ = std::move(status);
  }

  // Verdict push (quorum.push): called on the loop thread with this observer's report
  // (ObservationsJson) after each probe round in which one of its own verdicts (localStatus)
  // changed. It must not wait for the network (quorum::VerdictPusher::Push queues).
  using VerdictSink = std::function<void(std::string report_json)>;
  void SetVerdictSink(VerdictSink sink) { verdict_sink_ = std::move(sink); }
  // A peer's pushed report was accepted: wakes Run for a decide-only round (DecideOnly) at once
  // instead of at the next probe round. Thread-safe (called from HTTP worker threads).
  void NotifyPeerReport();

  // Reads the persisted state and writes the initial state (when leading). Fails only when the
  // store cannot be read at all (an I/O error, not malformed content).
  Status Start();
  // One round (reloading the state first when a new term began). Returns the decision.
  failover::Decision Tick();
  // A round without probing: Decide on the state as it is (no new observation, so no counter or
  // own verdict moves) with the peers' latest reports, and act on it like Tick. The observer
  // report's generation does not move (it counts probe rounds).
  failover::Decision DecideOnly();
  // Ticks every probe interval until `stop` is stopped; between ticks, runs DecideOnly as soon as
  // NotifyPeerReport is called (the probe schedule is unchanged).
  void Run(Stopper& stop);

  nlohmann::json StatusJson() const;
  // This observer's latest report for its peers (quorum/report.h), as served at
  // GET /v1/observations.
  std::string ObservationsJson() const;
  // A round completed and, when leading, the store holds its decision (no write failed or in
  // flight).
  bool Ready() const;

 private:
  // Writes `s` to the store. Called on the loop thread without mu_ held: a hanging store must
  // not hold up /readyz, /v1/status or the peers' /v1/observations. Clears dirty_ (on success) and
  // sets last_write_error_ under mu_ afterwards.
  Status Persist(const failover::State& s);
  // Queues a leading round's transitions; delivers everything queued when `written`.
  void Deliver(const std::vector<failover::Transition>& ts, bool written);
  void PublishMetrics(const failover::State& s);
  // A probe round (`probe`) or a decide-only round on the peers' latest reports.
  failover::Decision Round(bool probe);
  // The steps of a round, in order.
  // Whether this round acts as leader: a new term first reloads the state (false when that fails
  // or the term moved on again meanwhile).
  bool TakeUpTerm(bool leading, uint64_t term);
  failover::QuorumInput QuorumForRound();
  void LogTransitions(const failover::Decision& d);
  // Takes `d` as the current state under mu_; returns whether to write it (into written_state).
  bool Adopt(const failover::State& prev, const failover::Decision& d, bool probe, bool leading,
             uint64_t term, failover::State* written_state);
  // Persist, and logs a failure; returns whether it was written.
  bool WriteState(const failover::State& s);

  bool Leading() const { return !leadership_ || leadership_->IsLeader(); }
  uint64_t Term() const { return leadership_ ? leadership_->Term() : 0; }

  const config::ControllerConfig cfg_;
  const Leadership* leadership_ = nullptr;
  TransitionSink sink_;
  state::StateStore& store_;
  ObservationSource& source_;
  const Clock& clock_;
  // The controller's metrics, declared once (registry: the one the command exports).
  struct Metrics {
    explicit Metrics(metrics::Registry& reg);
    metrics::Gauge region_up, region_failed, region_serving, region_promoted;
    metrics::Counter transitions;
    metrics::Gauge panic, generation;
    metrics::Counter state_writes, state_write_errors;
    metrics::Counter transitions_undelivered_dropped;
  };
  const Metrics m_;
  const quorum::QuorumMetrics qm_;  // bound only with an observer quorum
  // Loop thread only (Start, Tick): state_ was loaded from the store in leadership term
  // loaded_term_. A Tick acts as leader only when it was leader at its start, the state was loaded
  // in that term, and the term is unchanged when it writes.
  bool term_loaded_ = false;
  uint64_t loaded_term_ = 0;
  // Loop thread only: transitions decided as leader whose state write has not succeeded yet.
  std::vector<failover::Transition> undelivered_;
  std::map<std::string, bool> active_;
  PeerReports peer_reports_;
  PeerStatus peer_status_;
  VerdictSink verdict_sink_;
  std::atomic<bool> peer_wake_{false};  // a pushed report arrived since the last Decide
  WallTime grace_until_{};  // not partitioned before (one staleness bound after the first Start)
  std::string instance_;    // identifies this process in observer reports

  mutable std::mutex mu_;  // guards everything below (read by the HTTP thread)
  failover::State state_;
  bool dirty_ = true;  // the store may not hold state_ (a write failed or is in flight)
  bool ticked_ = false;
  std::string last_write_error_;
  WallTime last_tick_{};
  uint64_t rounds_ = 0;  // observer report generation
};

// agency_ha_build_info{version} = 1 (the controller command exports it).
void DefineControllerMetrics(metrics::Registry& reg);

}  // namespace aha::controller
