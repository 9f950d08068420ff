// The controller's observe → decide → act loop (controller/controller.h) through its seams: a
// scripted ObservationSource (one probe round per Observe(), the FakeClock advanced one second per
// round), an in-memory StateStore that counts writes and can fail them, and a Leadership switch.
// Run() itself is driven: the source stops the loop when its script is done.
#include "controller/controller.h"
#include "support/split.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <sstream>
#include <thread>

#include "failover/failover_state.h"
#include "quorum/report.h"

namespace aha::controller {
namespace {

using nlohmann::json;

using aha::testing::Split;

// Regions a, b active and p passive; 2 failures to fail, 2 successes to recover, failback 3 s.
config::ControllerConfig Cfg() {
  config::ControllerConfig c;
  for (const auto& [name, active] :
       std::vector<std::pair<std::string, bool>>{{"a", true}, {"b", true}, {"p", false}}) {
    config::RegionConfig r;
    r.name = name;
    r.active = active;
    r.endpoint = "http://127.0.0.1:9/health";
    c.regions.push_back(r);
  }
  c.probe.failure_threshold = 2;
  c.probe.success_threshold = 2;
  c.probe.interval_seconds = 0.001;
  c.policy.failback_seconds = 3;
  return c;
}

class MemoryStore final : public state::StateStore {
 public:
  Result<state::KeyValues> Read() override {
    std::lock_guard l(mu_);
    return kv_;
  }
  Result<int> Write(const state::KeyValues& kv) override {
    std::unique_lock l(mu_);
    ++write_calls_;
    if (hang_) {  // a hanging API server: the write returns only when released
      in_write_ = true;
      cv_.notify_all();
      cv_.wait(l, [&] { return !hang_; });
      in_write_ = false;
    }
    if (fail_writes_) return Err("disk full");
    int changed = 0;
    for (const auto& [k, v] : kv) {
      if (kv_[k] != v) ++changed;
      kv_[k] = v;
    }
    written_.push_back(kv);
    return changed;
  }
  Result<int> Update(const state::UpdateFn& fn) override {
    std::lock_guard l(mu_);
    auto upd = fn(kv_);
    if (!upd) return upd.error();
    for (const auto& [k, v] : *upd)
      kv_[k] = v;
    return static_cast<int>(upd->size());
  }
  std::string Describe() const override { return "memory"; }

  std::string Get(const std::string& key) {
    std::lock_guard l(mu_);
    return kv_[key];
  }
  int WriteCalls() {
    std::lock_guard l(mu_);
    return write_calls_;
  }
  // Every successful Write(), in order.
  std::vector<state::KeyValues> Written() {
    std::lock_guard l(mu_);
    return written_;
  }
  void FailWrites(bool fail) {
    std::lock_guard l(mu_);
    fail_writes_ = fail;
  }
  void Hang() {
    std::lock_guard l(mu_);
    hang_ = true;
  }
  // Waits until a Write() hangs.
  void AwaitHangingWrite() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return in_write_; });
  }
  void Release() {
    {
      std::lock_guard l(mu_);
      hang_ = false;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  state::KeyValues kv_;
  int write_calls_ = 0;
  bool fail_writes_ = false;
  bool hang_ = false;
  bool in_write_ = false;
  std::condition_variable cv_;
  std::vector<state::KeyValues> written_;
};

// What the store held when a round began: the outcome of every round before it.
struct Seen {
  std::string failed;
  std::string serving;
  int write_calls;
};

// One round per Observe(): the regions named in the script's entry fail, the others answer 200.
// After the last entry the loop is stopped (Run returns once that round is done).
class ScriptedSource final : public ObservationSource {
 public:
  ScriptedSource(FakeClock& clock, MemoryStore& store, std::vector<std::string> script)
      : clock_(clock), store_(store), script_(std::move(script)) {}

  std::map<std::string, failover::Observation> Observe() override {
    clock_.advance(std::chrono::seconds(1));
    seen.push_back({Csv(store_.Get(failover::kFailedRegionsKey)),
                    Csv(store_.Get(failover::kServingRegionsKey)), store_.WriteCalls()});
    if (before_round) before_round(rounds_);
    const auto down =
        rounds_ < script_.size() ? Split(script_[rounds_]) : std::vector<std::string>{};
    ++rounds_;
    if (rounds_ >= script_.size() && stop) stop->Stop();
    std::map<std::string, failover::Observation> obs;
    for (const char* r : {"a", "b", "p"}) {
      const bool ok = std::find(down.begin(), down.end(), r) == down.end();
      obs[r] =
          failover::Observation{ok, 1.0, ok ? "HTTP 200" : "connection refused", clock_.wall()};
    }
    return obs;
  }

  Stopper* stop = nullptr;
  std::function<void(size_t round)> before_round;
  std::vector<Seen> seen;

 private:
  // A stored region list ("a\nb\n") as "a,b".
  static std::string Csv(const std::string& lines) {
    std::string out;
    for (char ch : lines)
      out += ch == '\n' ? ',' : ch;
    if (!out.empty() && out.back() == ',') out.pop_back();
    return out;
  }
  FakeClock& clock_;
  MemoryStore& store_;
  std::vector<std::string> script_;
  size_t rounds_ = 0;
};

class SwitchLeadership final : public Leadership {
 public:
  bool IsLeader() const override { return leading; }
  std::string Holder() const override { return leading ? "me" : "other"; }
  std::string Identity() const override { return "me"; }
  uint64_t Term() const override { return term; }
  std::atomic<bool> leading{false};
  std::atomic<uint64_t> term{0};
};

std::string Events(const std::vector<failover::Transition>& ts) {
  std::string out;
  for (const auto& t : ts) {
    out += (out.empty() ? "" : ",") + std::string(failover::TransitionName(t.kind)) +
           (t.region.empty() ? "" : ":" + t.region);
  }
  return out;
}

class ControllerLoop : public ::testing::Test {
 protected:
  config::ControllerConfig cfg = Cfg();
  FakeClock clock;
  MemoryStore store;
  metrics::Registry reg;
  std::vector<std::string> sunk;  // transitions passed to the sink, one string per round

  void RunScript(Controller& c, ScriptedSource& src) {
    Stopper stop;
    src.stop = &stop;
    c.SetTransitionSink(
        [&](const std::vector<failover::Transition>& ts) { sunk.push_back(Events(ts)); });
    c.Run(stop);
  }
};

TEST_F(ControllerLoop, StartWritesTheReconciledStateBeforeAnyProbe) {
  ScriptedSource src(clock, store, {});
  Controller c(cfg, store, src, clock, reg);
  ASSERT_TRUE(c.Start().ok());
  EXPECT_EQ(store.Get(failover::kServingRegionsKey), "a\nb\n");
  EXPECT_EQ(store.Get(failover::kFailedRegionsKey), "");
  auto st = failover::StateFromJson(store.Get(failover::kStateJsonKey));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(st->generation, 1u);
  EXPECT_FALSE(c.Ready()) << "no round has completed yet";
  EXPECT_TRUE(src.seen.empty()) << "Start does not probe";
}

TEST_F(ControllerLoop, RunFailsOverAfterTheThresholdAndFailsBackAfterRecovery) {
  ScriptedSource src(clock, store, {"", "a", "a", "a", "", "", "", "", "", "", ""});
  Controller c(cfg, store, src, clock, reg);
  ASSERT_TRUE(c.Start().ok());
  RunScript(c, src);
  ASSERT_EQ(src.seen.size(), 11u);
  // What the store held at the start of each round, i.e. after the round before it.
  std::vector<std::pair<std::string, std::string>> want = {
      {"", "a,b"},    // after Start
      {"", "a,b"},    // round 0: all healthy
      {"", "a,b"},    // round 1: a down once, below the threshold
      {"a", "b,p"},   // round 2: a failed, p promoted
      {"a", "b,p"},   // round 3
      {"a", "b,p"},   // round 4: one success
      {"", "a,b,p"},  // round 5: a recovered; p stays until failback
      {"", "a,b,p"},  // round 6
      {"", "a,b,p"},  // round 7
      {"", "a,b"},    // round 8: 3 s after recovery, p demoted
      {"", "a,b"},    // round 9
  };
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("round " + std::to_string(i));
    EXPECT_EQ(src.seen[i].failed, want[i].first);
    EXPECT_EQ(src.seen[i].serving, want[i].second);
  }
  EXPECT_EQ(sunk, (std::vector<std::string>{"RegionFailed:a,RegionPromoted:p", "RegionRecovered:a",
                                            "RegionDemoted:p"}));
  EXPECT_TRUE(c.Ready());
  const json status = c.StatusJson();
  EXPECT_EQ(status["lastRound"], FormatTime(clock.wall()));
  EXPECT_TRUE(status["lastWriteError"].is_null());
}

TEST_F(ControllerLoop, QuietRoundsWriteNothingAfterTheFirstObservation) {
  ScriptedSource src(clock, store, {"", "", "", "", ""});
  Controller c(cfg, store, src, clock, reg);
  ASSERT_TRUE(c.Start().ok());
  RunScript(c, src);
  ASSERT_EQ(src.seen.size(), 5u);
  // Start writes once; the first round that observed the regions writes once (state.json must
  // not keep "not observed yet"); healthy rounds after it write nothing.
  EXPECT_EQ(src.seen[0].write_calls, 1);
  EXPECT_EQ(src.seen[1].write_calls, 2);
  EXPECT_EQ(src.seen[4].write_calls, 2);
  EXPECT_EQ(store.WriteCalls(), 2);
  EXPECT_TRUE(sunk.empty());
}

TEST_F(ControllerLoop, AFailedWriteIsRetriedEveryRoundAndReadyWaitsForIt) {
  ScriptedSource src(clock, store, {"a", "a", "a", "a"});
  Controller c(cfg, store, src, clock, reg);
  c.SetTransitionSink(
      [&](const std::vector<failover::Transition>& ts) { sunk.push_back(Events(ts)); });
  ASSERT_TRUE(c.Start().ok());
  store.FailWrites(true);
  // Rounds by hand: Ready, the status page and the Event sink between rounds.
  c.Tick();
  c.Tick();  // a fails: the write is refused
  EXPECT_FALSE(c.Ready());
  EXPECT_EQ(c.StatusJson()["lastWriteError"], "disk full");
  EXPECT_EQ(store.Get(failover::kFailedRegionsKey), "") << "nothing reached the store";
  EXPECT_TRUE(sunk.empty()) << "no Event for a decision the store does not hold";
  const int calls = store.WriteCalls();
  c.Tick();  // nothing new decided, but the state is dirty: tried again
  EXPECT_EQ(store.WriteCalls(), calls + 1);
  EXPECT_TRUE(sunk.empty());
  store.FailWrites(false);
  c.Tick();  // writes succeed again
  EXPECT_TRUE(c.Ready());
  EXPECT_EQ(store.Get(failover::kFailedRegionsKey), "a\n");
  EXPECT_TRUE(c.StatusJson()["lastWriteError"].is_null());
  EXPECT_EQ(sunk, std::vector<std::string>{"RegionFailed:a,RegionPromoted:p"})
      << "the failed round's transitions are delivered after the write that persisted them";
}

TEST_F(ControllerLoop, TransitionsOfFailedWritesAreDeliveredInOrderOnce) {
  // a fails while writes fail, recovers, and p is demoted: all while the store refuses writes.
  cfg.policy.failback_seconds = 1;
  ScriptedSource src(clock, store, {"a", "a", "", "", "", "", ""});
  Controller c(cfg, store, src, clock, reg);
  c.SetTransitionSink(
      [&](const std::vector<failover::Transition>& ts) { sunk.push_back(Events(ts)); });
  ASSERT_TRUE(c.Start().ok());
  store.FailWrites(true);
  for (int i = 0; i < 6; ++i)
    c.Tick();
  EXPECT_TRUE(sunk.empty());
  store.FailWrites(false);
  c.Tick();
  EXPECT_EQ(sunk, std::vector<std::string>{
                      "RegionFailed:a,RegionPromoted:p,RegionRecovered:a,RegionDemoted:p"});
  c.Tick();
  EXPECT_EQ(sunk.size(), 1u) << "delivered once";
}

TEST_F(ControllerLoop, UndeliveredTransitionsAreDroppedWhenLeadershipIsLost) {
  SwitchLeadership lead;
  lead.leading = true;
  ScriptedSource src(clock, store, {"a", "a", "a", "", ""});
  Controller c(cfg, store, src, clock, reg);
  c.SetLeadership(&lead);
  c.SetTransitionSink(
      [&](const std::vector<failover::Transition>& ts) { sunk.push_back(Events(ts)); });
  ASSERT_TRUE(c.Start().ok());
  store.FailWrites(true);
  c.Tick();
  c.Tick();  // a failed, not written
  lead.leading = false;
  c.Tick();  // a standby: another leader's state is the truth now
  store.FailWrites(false);
  lead.leading = true;
  c.Tick();  // new term: reloads, writes
  c.Tick();
  EXPECT_TRUE(sunk.empty()) << sunk.front();
}

TEST_F(ControllerLoop, AHangingStateWriteDoesNotBlockStatusOrReadiness) {
  ScriptedSource src(clock, store, {"a", "a"});
  Controller c(cfg, store, src, clock, reg);
  ASSERT_TRUE(c.Start().ok());
  c.Tick();
  store.Hang();
  std::thread loop([&] { c.Tick(); });  // a fails: the write hangs
  store.AwaitHangingWrite();
  // Each of these takes the controller's lock; they must answer while the write hangs. If one
  // blocked, the watchdog below releases the write after a minute and the test fails.
  auto answered = std::async(std::launch::async, [&] {
    const json status = c.StatusJson();
    const bool ready = c.Ready();
    const std::string obs = c.ObservationsJson();
    return std::make_tuple(status, ready, obs);
  });
  const bool in_time = answered.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  store.Release();
  loop.join();
  ASSERT_TRUE(in_time) << "status, readiness or observations waited for the state write";
  auto [status, ready, obs] = answered.get();
  EXPECT_EQ(status["failedRegions"], json::array({"a"})) << "the decision is visible at once";
  EXPECT_FALSE(ready) << "not ready while the decision is not written";
  EXPECT_FALSE(obs.empty());
  EXPECT_TRUE(c.Ready()) << "ready once the write returned";
  EXPECT_EQ(store.Get(failover::kFailedRegionsKey), "a\n");
}

// Driven round by round (Tick, and Start as Run calls it on a new term): leadership changes
// between rounds here, which Run cannot be made to do deterministically from the source.
TEST_F(ControllerLoop, AStandbyDecidesButWritesNothingAndReloadsWhenItLeads) {
  SwitchLeadership lead;
  ScriptedSource src(clock, store, {"a", "a", "a", ""});
  Controller c(cfg, store, src, clock, reg);
  c.SetLeadership(&lead);
  c.SetTransitionSink(
      [&](const std::vector<failover::Transition>& ts) { sunk.push_back(Events(ts)); });
  ASSERT_TRUE(c.Start().ok());
  c.Tick();
  c.Tick();
  auto d = c.Tick();
  EXPECT_EQ(d.next.Failed(), std::vector<std::string>{"a"}) << "a standby decides";
  EXPECT_EQ(store.WriteCalls(), 0) << "but writes nothing";
  EXPECT_TRUE(sunk.empty());
  EXPECT_TRUE(c.Ready()) << "a standby is ready once it observes";
  // Another leader's decisions are in the store (a not failed); this replica takes over.
  failover::State other;
  other.generation = 7;
  ASSERT_TRUE(store
                  .Write({{failover::kStateJsonKey,
                           failover::StateToJson(other, {{"a", true}, {"b", true}, {"p", false}})}})
                  .ok());
  lead.leading = true;
  ASSERT_TRUE(c.Start().ok());
  EXPECT_EQ(store.Get(failover::kFailedRegionsKey), "") << "the private view is not published";
  EXPECT_EQ(store.Get(failover::kServingRegionsKey), "a\nb\n");
  d = c.Tick();
  EXPECT_TRUE(d.next.Failed().empty());
  EXPECT_TRUE(sunk.empty()) << "no RegionRecovered for a failure only the standby saw";
  auto st = failover::StateFromJson(store.Get(failover::kStateJsonKey));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_GE(st->generation, 7u) << "continues the other leader's generation";
}

// Leadership gained while a round probes: that round decided from the standby's private view (a
// failed, seen only by the standby), so it must not write it over the previous leader's state.
TEST_F(ControllerLoop, LeadershipGainedDuringARoundWritesOnlyFromTheReloadedState) {
  SwitchLeadership lead;
  ScriptedSource src(clock, store, {"a", "a", "a", "", ""});
  Controller c(cfg, store, src, clock, reg);
  c.SetLeadership(&lead);
  ASSERT_TRUE(c.Start().ok());
  // The previous leader's decisions: generation 7, nothing failed.
  failover::State other;
  other.generation = 7;
  const std::map<std::string, bool> active{{"a", true}, {"b", true}, {"p", false}};
  ASSERT_TRUE(store
                  .Write({{failover::kStateJsonKey, failover::StateToJson(other, active)},
                          {failover::kFailedRegionsKey, ""},
                          {failover::kServingRegionsKey, "a\nb\n"}})
                  .ok());
  const size_t before = store.Written().size();
  src.before_round = [&](size_t round) {
    if (round == 3) lead.leading = true;  // inside round 3's Observe()
  };
  RunScript(c, src);
  EXPECT_EQ(c.StatusJson()["failedRegions"], json::array()) << "a standby's view was not kept";
  const auto written = store.Written();
  ASSERT_GT(written.size(), before) << "the new leader wrote";
  for (size_t i = before; i < written.size(); ++i) {
    SCOPED_TRACE("write " + std::to_string(i - before) + " after gaining leadership");
    auto kv = written[i];
    auto st = failover::StateFromJson(kv[failover::kStateJsonKey]);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_GE(st->generation, 7u) << "continues the previous leader's generation";
    EXPECT_EQ(kv[failover::kFailedRegionsKey], "") << "a was failed only in the standby's view";
    EXPECT_EQ(kv[failover::kServingRegionsKey], "a\nb\n");
  }
  EXPECT_TRUE(sunk.empty()) << sunk.front();
}

// Leadership lost and regained inside one round's Observe(): another leader wrote meanwhile, so
// that round's decision (from the state of the old term) must not be written over it; the next
// round reloads the other leader's state.
TEST_F(ControllerLoop, LeadershipLostAndRegainedDuringARoundIsANewTerm) {
  SwitchLeadership lead;
  lead.leading = true;
  lead.term = 1;
  ScriptedSource src(clock, store, {"", "a", "a", "", ""});
  Controller c(cfg, store, src, clock, reg);
  c.SetLeadership(&lead);
  ASSERT_TRUE(c.Start().ok());
  const std::map<std::string, bool> active{{"a", true}, {"b", true}, {"p", false}};
  size_t before = 0;
  src.before_round = [&](size_t round) {
    if (round != 2) return;
    // Inside round 2's Observe(): the lease lapses, another replica leads and writes generation 40
    // (a healthy), then this replica wins the lease back.
    lead.leading = false;
    failover::State other;
    other.generation = 40;
    ASSERT_TRUE(store
                    .Write({{failover::kStateJsonKey, failover::StateToJson(other, active)},
                            {failover::kFailedRegionsKey, ""},
                            {failover::kServingRegionsKey, "a\nb\n"}})
                    .ok());
    before = store.Written().size();
    lead.term = 2;
    lead.leading = true;
  };
  RunScript(c, src);
  const auto written = store.Written();
  ASSERT_GT(before, 0u);
  for (size_t i = before; i < written.size(); ++i) {
    SCOPED_TRACE("write " + std::to_string(i - before) + " after the other leader's");
    auto kv = written[i];
    auto st = failover::StateFromJson(kv[failover::kStateJsonKey]);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_GE(st->generation, 40u) << "continues the other leader's generation";
    EXPECT_EQ(kv[failover::kFailedRegionsKey], "") << "a failed only in the old term's view";
  }
  EXPECT_TRUE(sunk.empty()) << sunk.front();
}

TEST_F(ControllerLoop, ARestartKeepsAFailedRegionFailedWithoutANewTransition) {
  {
    ScriptedSource src(clock, store, {"a", "a"});
    Controller c(cfg, store, src, clock, reg);
    ASSERT_TRUE(c.Start().ok());
    RunScript(c, src);
  }
  ASSERT_EQ(sunk, (std::vector<std::string>{"RegionFailed:a,RegionPromoted:p"}));
  sunk.clear();
  ScriptedSource src(clock, store, {"a", "a", "a"});
  Controller c(cfg, store, src, clock, reg);
  ASSERT_TRUE(c.Start().ok());
  EXPECT_EQ(store.Get(failover::kFailedRegionsKey), "a\n");
  RunScript(c, src);
  EXPECT_TRUE(sunk.empty()) << sunk.front();
  EXPECT_EQ(store.Get(failover::kFailedRegionsKey), "a\n");
  EXPECT_EQ(store.Get(failover::kServingRegionsKey), "b\np\n");
}

// ---- verdict push: a pushed peer report is decided on at once -----------------------------------

// Region a always fails, the others answer 200. Counts probe rounds; never moves the clock.
class DownA final : public ObservationSource {
 public:
  explicit DownA(FakeClock& clock) : clock_(clock) {}
  std::map<std::string, failover::Observation> Observe() override {
    ++rounds;
    std::map<std::string, failover::Observation> obs;
    for (const char* r : {"a", "b", "p"}) {
      const bool ok = std::string(r) != "a";
      obs[r] =
          failover::Observation{ok, 1.0, ok ? "HTTP 200" : "connection refused", clock_.wall()};
    }
    return obs;
  }
  std::atomic<int> rounds{0};

 private:
  FakeClock& clock_;
};

// This controller observes from b with one peer x; quorum 2 of 2, so a fails only when x votes it
// down too. Probe interval 10 s (FakeClock), failure threshold 2.
TEST_F(ControllerLoop, APushedPeerVerdictIsDecidedAtOnceWithoutAProbeRound) {
  cfg.probe.interval_seconds = 10;
  cfg.quorum.region = "b";
  cfg.quorum.size = 2;
  cfg.quorum.staleness_seconds = 60;
  cfg.quorum.peer_timeout_seconds = 1;
  config::PeerConfig x;
  x.name = "x";
  x.url = "http://127.0.0.1:9/v1/observations";
  cfg.peers.push_back(x);
  DownA src(clock);
  Controller c(cfg, store, src, clock, reg);
  std::mutex mu;
  failover::PeerReport peer;  // x's latest report, as the poller would hold it
  peer.observer = "x";
  peer.received_at = clock.wall();
  peer.regions["a"] = failover::PeerVote{false, clock.wall(), "HTTP 200"};
  peer.regions["p"] = failover::PeerVote{false, clock.wall(), "HTTP 200"};  // a quorum for p
  c.SetPeerSource([&] {
    std::lock_guard l(mu);
    return std::vector<failover::PeerReport>{peer};
  });
  std::vector<std::string> pushed;  // reports handed to the verdict sink
  c.SetVerdictSink([&](std::string report) {
    std::lock_guard l(mu);
    pushed.push_back(std::move(report));
  });
  std::promise<std::string> failed;
  c.SetTransitionSink([&](const std::vector<failover::Transition>& ts) {
    const std::string e = Events(ts);
    if (e.find("RegionFailed:a") != std::string::npos) failed.set_value(e);
  });
  ASSERT_TRUE(c.Start().ok());
  Stopper stop;
  std::thread t([&] { c.Run(stop); });

  ASSERT_TRUE(clock.WaitForSleepers(1));  // round 1: a down once
  clock.advance(std::chrono::seconds(10));
  ASSERT_TRUE(clock.WaitForSleepers(1));  // round 2: b's own verdict on a is down; x says up
  EXPECT_EQ(src.rounds, 2);
  EXPECT_EQ(store.Get(failover::kFailedRegionsKey), "") << "1 of 2 votes: a keeps serving";
  {
    std::lock_guard l(mu);
    ASSERT_EQ(pushed.size(), 1u) << "b's verdict on a changed in round 2: pushed once";
    auto r = quorum::ReportFromJson(pushed[0]);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE(r->regions.at("a").down);
    EXPECT_EQ(r->generation, 2u);
  }

  // x's down vote arrives as a push: decided now, not at the next probe round 10 s later.
  const MonoTime before = clock.mono();
  {
    std::lock_guard l(mu);
    peer.received_at = clock.wall();
    peer.regions["a"].down = true;
  }
  c.NotifyPeerReport();
  auto f = failed.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(f.get(), "RegionFailed:a,RegionPromoted:p");
  EXPECT_EQ(store.Get(failover::kFailedRegionsKey), "a\n");
  EXPECT_EQ(store.Get(failover::kServingRegionsKey), "b\np\n");
  EXPECT_EQ(src.rounds, 2) << "a decide-only round probes nothing";
  EXPECT_EQ(clock.mono(), before) << "no waiting for the clock";
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_EQ(json::parse(c.ObservationsJson())["generation"], 2)
      << "the report generation counts probe rounds only";
  {
    std::lock_guard l(mu);
    EXPECT_EQ(pushed.size(), 1u) << "the decision changed, b's own verdict did not";
  }
  // The probe schedule is unchanged: the next round comes a full interval after round 2.
  clock.advance(std::chrono::seconds(10));
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_EQ(src.rounds, 3);
  stop.Stop();
  t.join();
  std::lock_guard l(mu);
  EXPECT_EQ(pushed.size(), 1u) << "round 3 changed no verdict: nothing pushed";
}

}  // namespace
}  // namespace aha::controller
