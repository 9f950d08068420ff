// Table tests of failover::Decide. Each case is a config plus a script of probe rounds; after every
// round the failed set, serving set, panic flag and emitted transitions are checked.
#include "failover/decide.h"
#include "support/split.h"

#include <gtest/gtest.h>

#include <sstream>

namespace aha::failover {
namespace {

using config::ControllerConfig;
using config::RegionConfig;

using aha::testing::Split;

// "us-east-1" active, "~ap" passive; "~ap:5" passive with priority 5.
ControllerConfig Cfg(const std::string& regions, int fail = 3, int succeed = 2,
                     double failback = 10) {
  ControllerConfig c;
  for (auto spec : Split(regions)) {
    RegionConfig r;
    if (spec[0] == '~') {
      r.active = false;
      spec = spec.substr(1);
    }
    if (auto colon = spec.find(':'); colon != std::string::npos) {
      r.priority = std::stoi(spec.substr(colon + 1));
      spec = spec.substr(0, colon);
    }
    r.name = spec;
    r.endpoint = "http://127.0.0.1/health";
    c.regions.push_back(r);
  }
  c.probe.failure_threshold = fail;
  c.probe.success_threshold = succeed;
  c.policy.failback_seconds = failback;
  return c;
}

struct Round {
  double t;            // seconds since start
  std::string down;    // regions whose probe fails this round; every other region succeeds
  std::string failed;  // expected failedRegions after the round
  std::string serving;
  std::string events = "";  // expected transitions: "Failed:a,Promoted:p,PanicEntered"
  bool panic = false;
};

std::string Events(const std::vector<Transition>& ts) {
  std::string out;
  for (const auto& t : ts) {
    std::string n = TransitionName(t.kind);
    if (n.rfind("Region", 0) == 0) n = n.substr(6);
    out += (out.empty() ? "" : ",") + n + (t.region.empty() ? "" : ":" + t.region);
  }
  return out;
}

const WallTime kStart = WallTime{} + std::chrono::hours(24 * 365 * 56);

WallTime At(double t) {
  return kStart + std::chrono::duration_cast<WallTime::duration>(std::chrono::duration<double>(t));
}

State Play(const ControllerConfig& cfg, const std::vector<Round>& rounds, State s = {},
           const std::string& only = "") {
  s = Decide(s, {}, cfg, At(0)).next;  // reconcile, as Controller::Start does
  for (size_t i = 0; i < rounds.size(); ++i) {
    const Round& r = rounds[i];
    std::map<std::string, Observation> obs;
    auto down = Split(r.down);
    for (const auto& rc : cfg.regions) {
      if (!only.empty() && rc.name != only) continue;
      bool ok = std::find(down.begin(), down.end(), rc.name) == down.end();
      obs[rc.name] = Observation{ok, 1.0, ok ? "HTTP 200" : "connection refused", At(r.t)};
    }
    Decision d = Decide(s, obs, cfg, At(r.t));
    SCOPED_TRACE("round " + std::to_string(i) + " at t=" + std::to_string(r.t));
    EXPECT_EQ(d.next.Failed(), Split(r.failed));
    EXPECT_EQ(d.next.serving, Split(r.serving));
    EXPECT_EQ(d.next.panic, r.panic);
    EXPECT_EQ(Events(d.transitions), r.events);
    EXPECT_EQ(d.changed, d.next.generation == s.generation + 1);
    if (!d.transitions.empty()) {
      EXPECT_TRUE(d.changed) << "every transition is a change";
    }
    s = d.next;
  }
  return s;
}

TEST(Decide, InitialStateServesActiveRegionsOnly) {
  auto cfg = Cfg("us-east-1,eu-west-1,~ap-southeast-1");
  Decision d = Decide(State{}, {}, cfg, At(0));
  EXPECT_EQ(d.next.serving, Split("eu-west-1,us-east-1"));
  EXPECT_TRUE(d.next.Failed().empty());
  EXPECT_TRUE(d.changed);
  EXPECT_EQ(d.next.generation, 1u);
  EXPECT_FALSE(d.next.panic);
}

TEST(Decide, FailureNeedsThresholdConsecutiveFailures) {
  Play(Cfg("a,b"), {
                       {1, "a", "", "a,b"},
                       {2, "a", "", "a,b"},
                       {3, "a", "a", "b", "Failed:a"},
                       {4, "a", "a", "b"},
                   });
}

TEST(Decide, FlappingBelowThresholdNeverFails) {
  std::vector<Round> rounds;
  for (int i = 0; i < 40; ++i) {
    // down, down, up, repeat: never 3 in a row.
    rounds.push_back({double(i), i % 3 == 2 ? "" : "a", "", "a,b"});
  }
  Play(Cfg("a,b"), rounds);
}

TEST(Decide, RecoveryNeedsSuccessThreshold) {
  Play(Cfg("a,b", 2, 3), {
                             {1, "a", "", "a,b"},
                             {2, "a", "a", "b", "Failed:a"},
                             {3, "", "a", "b"},
                             {4, "", "a", "b"},
                             {5, "a", "a", "b"},  // a failure resets the success count
                             {6, "", "a", "b"},
                             {7, "", "a", "b"},
                             {8, "", "", "a,b", "Recovered:a"},
                         });
}

TEST(Decide, FlappingFailedRegionStaysFailed) {
  std::vector<Round> rounds = {{1, "a", "a", "b", "Failed:a"}};
  for (int i = 2; i < 40; ++i)
    rounds.push_back({double(i), i % 2 ? "a" : "", "a", "b"});
  Play(Cfg("a,b", 1, 2), rounds);
}

TEST(Decide, PassivePromotedWhenActiveFailsAndDemotedAfterFailback) {
  Play(Cfg("us-east-1,eu-west-1,~ap-southeast-1", 2, 2, 10),
       {
           {1, "us-east-1", "", "eu-west-1,us-east-1"},
           {2, "us-east-1", "us-east-1", "ap-southeast-1,eu-west-1",
            "Failed:us-east-1,Promoted:ap-southeast-1"},
           {3, "", "us-east-1", "ap-southeast-1,eu-west-1"},
           // Recovered at t=4: serves at once, the passive stays until failback (t >= 14).
           {4, "", "", "ap-southeast-1,eu-west-1,us-east-1", "Recovered:us-east-1"},
           {13.9, "", "", "ap-southeast-1,eu-west-1,us-east-1"},
           {14, "", "", "eu-west-1,us-east-1", "Demoted:ap-southeast-1"},
           {15, "", "", "eu-west-1,us-east-1"},
       });
}

TEST(Decide, ActiveFailingAgainBeforeFailbackKeepsThePassiveWithoutChurn) {
  Play(Cfg("a,~p", 1, 1, 10), {
                                  {1, "a", "a", "p", "Failed:a,Promoted:p"},
                                  {2, "", "", "a,p", "Recovered:a"},
                                  {5, "a", "a", "p", "Failed:a"},
                                  {6, "", "", "a,p", "Recovered:a"},
                                  {16, "", "", "a", "Demoted:p"},
                              });
}

TEST(Decide, PromotionOrderIsPriorityThenName) {
  Play(Cfg("a,b,~p3:3,~p1:1,~p0b:0,~p0a:0", 1, 1),
       {
           {1, "a", "a", "b,p0a", "Failed:a,Promoted:p0a"},
           {2, "a,b", "a,b", "p0a,p0b", "Failed:b,Promoted:p0b"},
           // p0a fails: demoted, and a is covered by the next free passive (p1).
           {3, "a,b,p0a", "a,b,p0a", "p0b,p1", "Failed:p0a,Demoted:p0a,Promoted:p1"},
       });
}

TEST(Decide, UnhealthyPassiveIsNotPromoted) {
  Play(Cfg("a,~p,~q:5", 1, 1), {
                                   {1, "p", "p", "a", "Failed:p"},
                                   {2, "a,p", "a,p", "q", "Failed:a,Promoted:q"},
                               });
}

TEST(Decide, OnePassiveCoversSeveralFailedActives) {
  Play(Cfg("a,b,c,~p", 1, 1, 5),
       {
           {1, "a", "a", "b,c,p", "Failed:a,Promoted:p"},
           {2, "a,b", "a,b", "c,p", "Failed:b"},
           {3, "b", "b", "a,c,p", "Recovered:a"},
           // a healthy since t=3; failback at 8 releases a, p stays for b.
           {8, "b", "b", "a,c,p"},
           {9, "", "", "a,b,c,p", "Recovered:b"},
           {14, "", "", "a,b,c", "Demoted:p"},
       });
}

TEST(Decide, EveryRegionDownKeepsLastServingSetAndPanics) {
  Play(Cfg("a,b,~p", 1, 1),
       {
           {1, "a", "a", "b,p", "Failed:a,Promoted:p"},
           {2, "a,b,p", "a,b,p", "b,p", "Failed:b,Failed:p,Demoted:p,PanicEntered", true},
           {3, "a,b,p", "a,b,p", "b,p", "", true},
           {4, "a,p", "a,p", "b", "Recovered:b,PanicExited"},
       });
}

TEST(Decide, PanicOnFirstRoundKeepsActiveRegions) {
  Play(Cfg("a,b,~p", 1, 1),
       {
           {1, "a,b,p", "a,b,p", "a,b", "Failed:a,Failed:b,Failed:p,PanicEntered", true},
       });
}

TEST(Decide, SingleRegionNeverDrains) {
  Play(Cfg("only", 2, 1), {
                              {1, "only", "", "only"},
                              {2, "only", "only", "only", "Failed:only,PanicEntered", true},
                              {3, "", "", "only", "Recovered:only,PanicExited"},
                          });
}

TEST(Decide, NamesThatArePrefixesOfOthersAreDistinct) {
  Play(Cfg("eu,eu-west-1,eu-west-10", 1, 1),
       {
           {1, "eu-west-1", "eu-west-1", "eu,eu-west-10", "Failed:eu-west-1"},
           {2, "eu", "eu", "eu-west-1,eu-west-10", "Failed:eu,Recovered:eu-west-1"},
       });
}

TEST(Decide, MissingObservationKeepsCounters) {
  auto cfg = Cfg("a,b", 2, 1);
  // Only "a" observed each round; "b" keeps its (zero) counters and stays healthy.
  State s = Play(cfg, {{1, "a", "", "a,b"}, {2, "a", "a", "b", "Failed:a"}}, {}, "a");
  EXPECT_EQ(s.regions.at("b").consecutive_failures, 0);
  EXPECT_EQ(s.regions.at("a").consecutive_failures, 2);
}

TEST(Decide, RestartFromSavedStateDoesNotFlap) {
  auto cfg = Cfg("us-east-1,eu-west-1,~ap-southeast-1", 2, 2, 30);
  State s = Play(cfg, {{1, "us-east-1", "", "eu-west-1,us-east-1"},
                       {2, "us-east-1", "us-east-1", "ap-southeast-1,eu-west-1",
                        "Failed:us-east-1,Promoted:ap-southeast-1"}});
  std::map<std::string, bool> active = {
      {"us-east-1", true}, {"eu-west-1", true}, {"ap-southeast-1", false}};
  auto loaded = StateFromJson(StateToJson(s, active));
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  EXPECT_EQ(loaded->generation, s.generation);
  EXPECT_TRUE(DecisionEqual(*loaded, s));
  // After the restart the first round (region still down) changes nothing, and one success is
  // not enough to recover.
  Decision d1 = Decide(*loaded, {}, cfg, At(3));
  EXPECT_FALSE(d1.changed);
  Decision d2 = Decide(d1.next, {{"us-east-1", {true, 1, "HTTP 200", At(4)}}}, cfg, At(4));
  EXPECT_FALSE(d2.changed);
  EXPECT_EQ(d2.next.Failed(), Split("us-east-1"));
}

TEST(Decide, ConfigChangesAreReconciled) {
  auto cfg = Cfg("a,b,~p", 1, 1);
  State s = Play(cfg, {{1, "a", "a", "b,p", "Failed:a,Promoted:p"}});
  // "a" is removed from the config: its coverage ends and p is demoted.
  auto cfg2 = Cfg("b,~p", 1, 1);
  Decision d = Decide(s, {}, cfg2, At(2));
  EXPECT_EQ(d.next.regions.count("a"), 0u);
  EXPECT_EQ(d.next.serving, Split("b"));
  EXPECT_EQ(Events(d.transitions), "Demoted:p");
  // A new region starts healthy and (if active) serving.
  auto cfg3 = Cfg("b,c,~p", 1, 1);
  Decision d3 = Decide(d.next, {}, cfg3, At(3));
  EXPECT_EQ(d3.next.serving, Split("b,c"));
}

TEST(Decide, RecentTransitionsAreBounded) {
  auto cfg = Cfg("a,b", 1, 1);
  State s = Decide(State{}, {}, cfg, At(0)).next;
  for (int i = 1; i < 200; ++i) {
    s = Decide(s, {{"a", {i % 2 == 0, 1, "x", At(i)}}}, cfg, At(i)).next;
  }
  EXPECT_EQ(s.recent.size(), kMaxRecentTransitions);
  EXPECT_EQ(s.recent.back().at, At(199));
}

TEST(StateFormat, RegionListsAreExactAndSorted) {
  EXPECT_EQ(FormatRegionList({"b", "a"}), "a\nb\n");
  EXPECT_EQ(FormatRegionList({}), "");
  auto l = ParseRegionList("eu-west-1\n  us-east-1 \n\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, Split("eu-west-1,us-east-1"));
  EXPECT_FALSE(ContainsRegion(*l, "eu"));
  EXPECT_FALSE(ContainsRegion(*l, "west"));
  EXPECT_TRUE(ContainsRegion(*l, "eu-west-1"));
  EXPECT_FALSE(ParseRegionList("eu-west-1; rm -rf /\n").ok());
  EXPECT_FALSE(ParseRegionList("EU-WEST-1\n").ok());
}

TEST(StateFormat, MalformedStateJsonIsAnError) {
  EXPECT_FALSE(StateFromJson("").ok());
  EXPECT_FALSE(StateFromJson("{").ok());
  EXPECT_FALSE(StateFromJson("[]").ok());
  EXPECT_FALSE(StateFromJson(R"({"apiVersion":"other/v9"})").ok());
  EXPECT_FALSE(
      StateFromJson(
          R"({"apiVersion":"agency-ha/v1","generation":1,"panic":false,"servingRegions":[],)"
          R"("regions":{"a":{"status":"sideways"}}})")
          .ok());
}

}  // namespace
}  // namespace aha::failover

namespace aha::failover {
namespace {

TEST(Decide, TransitionsCarryTheFirstProbeOfTheirStreak) {
  auto cfg = Cfg("a,b", 3, 2);
  State s = Decide(State{}, {}, cfg, At(0)).next;
  std::vector<Transition> all;
  auto round = [&](double t, bool ok) {
    Decision d = Decide(s, {{"a", {ok, 1, ok ? "HTTP 200" : "HTTP 503", At(t)}}}, cfg, At(t));
    all.insert(all.end(), d.transitions.begin(), d.transitions.end());
    s = d.next;
  };
  round(1, true);
  round(2, false);  // streak starts
  round(3, false);
  round(4, false);  // failed
  round(5, true);   // recovery streak starts
  round(6, true);   // recovered
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].kind, TransitionKind::kRegionFailed);
  EXPECT_EQ(all[0].first_probe_at, At(2));
  EXPECT_EQ(all[0].at, At(4));
  EXPECT_EQ(all[1].kind, TransitionKind::kRegionRecovered);
  EXPECT_EQ(all[1].first_probe_at, At(5));
  // And it survives the round trip through state.json.
  auto back = StateFromJson(StateToJson(s, {{"a", true}, {"b", true}}));
  ASSERT_TRUE(back.ok()) << back.message();
  ASSERT_EQ(back->recent.size(), 2u);
  EXPECT_EQ(back->recent[0].first_probe_at, At(2));
}

}  // namespace
}  // namespace aha::failover

// Observer quorum (rules 7-10). A script of rounds for one controller: its own probe results and
// the peers' latest reports with the (local) time each was received.
namespace aha::failover {
namespace {

// `self` is this controller's region; every other region of `regions` is a peer observer.
ControllerConfig QCfg(const std::string& regions, const std::string& self, int fail = 2,
                      int succeed = 2, double staleness = 5,
                      config::IsolationPolicy iso = config::IsolationPolicy::kKeepServing) {
  ControllerConfig c = Cfg(regions, fail, succeed, 10);
  c.quorum.region = self;
  for (const auto& r : c.regions) {
    if (r.name == self) continue;
    config::PeerConfig p;
    p.name = r.name;
    p.url = "http://" + r.name + ".test/v1/observations";
    c.peers.push_back(p);
  }
  c.quorum.size = c.Observers() / 2 + 1;
  c.quorum.staleness_seconds = staleness;
  c.quorum.isolation = iso;
  return c;
}

// A peer's report: `down` lists the regions it votes down; every other configured region up.
PeerReport Peer(const ControllerConfig& cfg, const std::string& observer, const std::string& down,
                double received_at) {
  PeerReport p;
  p.observer = observer;
  p.received_at = At(received_at);
  auto d = Split(down);
  for (const auto& r : cfg.regions) {
    bool is_down = std::find(d.begin(), d.end(), r.name) != d.end();
    p.regions[r.name] = PeerVote{is_down, At(0), is_down ? "connection refused" : "HTTP 200"};
  }
  return p;
}

std::map<std::string, Observation> Probes(const ControllerConfig& cfg, const std::string& down,
                                          double t) {
  std::map<std::string, Observation> obs;
  auto d = Split(down);
  for (const auto& r : cfg.regions) {
    bool ok = std::find(d.begin(), d.end(), r.name) == d.end();
    obs[r.name] = Observation{ok, 1.0, ok ? "HTTP 200" : "connection refused", At(t)};
  }
  return obs;
}

struct QRound {
  double t;
  std::string down;               // this controller's failing probes
  std::vector<PeerReport> peers;  // peers' latest reports
  std::string failed;             // expected
  std::string serving;
  std::string events = "";
  bool partitioned = false;
};

State QPlay(const ControllerConfig& cfg, const std::vector<QRound>& rounds, State s = {},
            double grace_until = 0) {
  if (s.regions.empty()) s = Decide(s, {}, QuorumInput{{}, At(grace_until)}, cfg, At(0)).next;
  for (size_t i = 0; i < rounds.size(); ++i) {
    const QRound& r = rounds[i];
    Decision d =
        Decide(s, Probes(cfg, r.down, r.t), QuorumInput{r.peers, At(grace_until)}, cfg, At(r.t));
    SCOPED_TRACE("round " + std::to_string(i) + " at t=" + std::to_string(r.t));
    EXPECT_EQ(d.next.Failed(), Split(r.failed));
    EXPECT_EQ(d.next.serving, Split(r.serving));
    EXPECT_EQ(Events(d.transitions), r.events);
    EXPECT_EQ(d.next.partitioned, r.partitioned);
    EXPECT_TRUE(d.next.quorum);
    EXPECT_EQ(d.changed, d.next.generation == s.generation + 1);
    s = d.next;
  }
  return s;
}

TEST(DecideQuorum, OneObserverAloneCannotFailARegion) {
  auto cfg = QCfg("a,b,~c", "a");
  // a sees b down for many rounds; its peers b and c (fresh) see b up.
  State s = QPlay(cfg, {{1, "b", {Peer(cfg, "b", "", 1), Peer(cfg, "c", "", 1)}, "", "a,b"},
                        {2, "b", {Peer(cfg, "b", "", 2), Peer(cfg, "c", "", 2)}, "", "a,b"},
                        {3, "b", {Peer(cfg, "b", "", 3), Peer(cfg, "c", "", 3)}, "", "a,b"},
                        {4, "b", {Peer(cfg, "b", "", 4), Peer(cfg, "c", "", 4)}, "", "a,b"}});
  EXPECT_TRUE(s.regions.at("b").local_failed) << "a's own vote is down";
  EXPECT_EQ(s.regions.at("b").votes_down, 1);
  EXPECT_EQ(s.regions.at("b").votes_up, 2);
  EXPECT_EQ(s.regions.at("b").health, Health::kHealthy);
}

TEST(DecideQuorum, QuorumOfDownVotesFailsAndPromotesOnce) {
  auto cfg = QCfg("a,b,~c", "a");
  State s = QPlay(cfg, {{1, "b", {Peer(cfg, "c", "", 1)}, "", "a,b"},
                        // a's own vote turns down at round 2 (threshold 2); c still says up
                        {2, "b", {Peer(cfg, "c", "", 2)}, "", "a,b"},
                        // c votes down too: 2 of 3 (b's controller is gone)
                        {3, "b", {Peer(cfg, "c", "b", 3)}, "b", "a,c", "Failed:b,Promoted:c"},
                        {4, "b", {Peer(cfg, "c", "b", 4)}, "b", "a,c"}});
  EXPECT_EQ(s.regions.at("b").votes_down, 2);
  EXPECT_NE(s.regions.at("b").reason.find("2/3 observers report it down (a, c)"), std::string::npos)
      << s.regions.at("b").reason;
  EXPECT_EQ(s.regions.at("c").promoted_for, Split("b"));
}

TEST(DecideQuorum, RecoveryNeedsAQuorumOfUpVotes) {
  auto cfg = QCfg("a,b,~c", "a");
  State s = QPlay(cfg, {{1, "b", {Peer(cfg, "c", "b", 1)}, "", "a,b"},
                        {2, "b", {Peer(cfg, "c", "b", 2)}, "b", "a,c", "Failed:b,Promoted:c"},
                        // a sees b up again (2 successes make its vote up), c still says down
                        {3, "", {Peer(cfg, "c", "b", 3)}, "b", "a,c"},
                        {4, "", {Peer(cfg, "c", "b", 4)}, "b", "a,c"},
                        {5, "", {Peer(cfg, "c", "b", 5)}, "b", "a,c"},
                        // c agrees: recovered (the passive stays until failback)
                        {6, "", {Peer(cfg, "c", "", 6)}, "", "a,b,c", "Recovered:b"}});
  EXPECT_FALSE(s.regions.at("b").local_failed);
  EXPECT_TRUE(s.regions.at("c").promoted);
}

TEST(DecideQuorum, StalePeerReportsDoNotCount) {
  auto cfg = QCfg("a,b,~c", "a", 2, 2, /*staleness=*/5);
  // c's report saying b down was received at t=1; by t=7 it is older than 5 s.
  const PeerReport old = Peer(cfg, "c", "b", 1);
  State s = QPlay(cfg, {{6, "b", {old, Peer(cfg, "b", "", 6)}, "", "a,b"},
                        {7, "b", {old, Peer(cfg, "b", "", 7)}, "", "a,b"},
                        {8, "b", {old, Peer(cfg, "b", "", 8)}, "", "a,b"}});
  EXPECT_EQ(s.regions.at("b").votes_down, 1);  // self only
  EXPECT_EQ(s.observers_reachable, 2);         // self + b
  // The same report received at t=7 counts at t=8: b fails.
  Decision d =
      Decide(s, Probes(cfg, "b", 8.5),
             QuorumInput{{Peer(cfg, "c", "b", 7), Peer(cfg, "b", "", 8)}, At(0)}, cfg, At(8.5));
  EXPECT_EQ(d.next.Failed(), Split("b"));
}

TEST(DecideQuorum, IsolatedObserverIsPartitionedAndFailStatic) {
  auto cfg = QCfg("a,b,~c", "a");
  // Everything is fine until t=2; then a hears from nobody and sees b and c down.
  const PeerReport b = Peer(cfg, "b", "", 2);
  const PeerReport c = Peer(cfg, "c", "", 2);
  State s = QPlay(cfg, {{1, "", {Peer(cfg, "b", "", 1), Peer(cfg, "c", "", 1)}, "", "a,b"},
                        {2, "", {b, c}, "", "a,b"},
                        {5, "b,c", {b, c}, "", "a,b"},
                        {7, "b,c", {b, c}, "", "a,b"},  // reports 5 s old: still fresh
                        {8, "b,c", {b, c}, "", "a,b", "", /*partitioned=*/true},
                        {9, "b,c", {b, c}, "", "a,b", "", true},
                        {30, "b,c", {b, c}, "", "a,b", "", true}});
  EXPECT_TRUE(s.partitioned);
  EXPECT_EQ(s.partitioned_since, At(8));
  EXPECT_EQ(s.observers_reachable, 1);
  EXPECT_TRUE(s.regions.at("b").local_failed);  // its own votes are still computed and reported
  // Back in touch: the peers still see everything up, so nothing fails.
  Decision d =
      Decide(s, Probes(cfg, "b,c", 31),
             QuorumInput{{Peer(cfg, "b", "", 31), Peer(cfg, "c", "", 31)}, At(0)}, cfg, At(31));
  EXPECT_FALSE(d.next.partitioned);
  EXPECT_EQ(d.next.partitioned_since, WallTime{});
  EXPECT_TRUE(d.next.Failed().empty());
  EXPECT_TRUE(d.changed) << "leaving the partition is a persisted change";
}

TEST(DecideQuorum, PartitionedMakesNoRecoveryAndNoPromotionOrDemotion) {
  auto cfg = QCfg("a,b,~c", "a");
  State s = QPlay(cfg, {{1, "b", {Peer(cfg, "c", "b", 1)}, "", "a,b"},
                        {2, "b", {Peer(cfg, "c", "b", 2)}, "b", "a,c", "Failed:b,Promoted:c"}});
  // a loses c; it sees b back up for a long time (well past failbackSeconds = 10): no recovery,
  // the passive stays promoted.
  const PeerReport stale = Peer(cfg, "c", "b", 2);
  s = QPlay(cfg, {{8, "", {stale}, "b", "a,c", "", true}, {30, "", {stale}, "b", "a,c", "", true}},
            s);
  EXPECT_TRUE(s.regions.at("c").promoted);
  EXPECT_FALSE(s.regions.at("b").local_failed);
}

TEST(DecideQuorum, PartitionedDoesNotPromoteForANewFailure) {
  auto cfg = QCfg("a,b,~c", "a");
  // a is isolated (no peers at all after the grace) and sees b down: b is not failed, c is not
  // promoted.
  State s = QPlay(cfg, {{1, "b", {}, "", "a,b", "", true},
                        {2, "b", {}, "", "a,b", "", true},
                        {3, "b", {}, "", "a,b", "", true}});
  EXPECT_FALSE(s.regions.at("c").promoted);
}

TEST(DecideQuorum, StopServingFencesOwnRegionWhileIsolated) {
  auto cfg = QCfg("a,b,~c", "a", 2, 2, 5, config::IsolationPolicy::kStopServing);
  const PeerReport b = Peer(cfg, "b", "", 1);
  const PeerReport c = Peer(cfg, "c", "", 1);
  // (A grace past the reconcile round at t=0, as Controller::Start gives, or a is fenced then.)
  State s = QPlay(cfg,
                  {{1, "", {b, c}, "", "a,b"},
                   {7, "b,c", {b, c}, "a", "b", "Failed:a", true},
                   {8, "b,c", {b, c}, "a", "b", "", true}},
                  {}, /*grace_until=*/0.5);
  EXPECT_NE(s.regions.at("a").reason.find("isolated: 1/3 observers reachable, quorum is 2"),
            std::string::npos)
      << s.regions.at("a").reason;
  // Peers reachable again and they (and a itself) see a up: a recovers on the quorum rule.
  s = QPlay(cfg,
            {{9, "", {Peer(cfg, "b", "", 9), Peer(cfg, "c", "", 9)}, "", "a,b", "Recovered:a"}}, s);
  EXPECT_FALSE(s.partitioned);
}

TEST(DecideQuorum, KeepServingLeavesOwnRegionAlone) {
  auto cfg = QCfg("a,b,~c", "a", 2, 2, 5, config::IsolationPolicy::kKeepServing);
  QPlay(cfg, {{1, "b,c", {}, "", "a,b", "", true}, {2, "a,b,c", {}, "", "a,b", "", true}});
}

TEST(DecideQuorum, StopServingNeverEmptiesTheServingSet) {
  // a is the only active region: fencing it would leave nothing serving, so panic keeps it.
  auto cfg = QCfg("a,~c", "a", 2, 2, 5, config::IsolationPolicy::kStopServing);
  Decision d = Decide(Decide(State{}, {}, QuorumInput{}, cfg, At(0)).next, Probes(cfg, "c", 1),
                      QuorumInput{}, cfg, At(1));
  EXPECT_TRUE(d.next.partitioned);
  EXPECT_EQ(d.next.Failed(), Split("a"));
  EXPECT_EQ(d.next.serving, Split("a"));
  EXPECT_TRUE(d.next.panic);
}

TEST(DecideQuorum, NotPartitionedDuringStartGrace) {
  auto cfg = QCfg("a,b,~c", "a", 2, 2, 5, config::IsolationPolicy::kStopServing);
  // No peer heard from yet, but within the grace: not partitioned, not fenced, and no failure
  // either (one vote is not a quorum).
  QPlay(
      cfg,
      {{1, "b", {}, "", "a,b"}, {4, "b", {}, "", "a,b"}, {6, "b", {}, "a", "b", "Failed:a", true}},
      {}, /*grace_until=*/5);
}

TEST(DecideQuorum, PromotionNeedsAQuorumOfUpVotesForThePassive) {
  auto cfg = QCfg("a,b,~p,~q", "a");  // 4 observers: quorum 3
  // b's controller and endpoint are gone; p and q see b down too. p's endpoint is seen down by
  // a only (a's vote): p has 2 up votes (p, q) < 3, so q is promoted, not p.
  State s = QPlay(cfg, {{1, "b,p", {Peer(cfg, "p", "b", 1), Peer(cfg, "q", "b", 1)}, "", "a,b"},
                        {2,
                         "b,p",
                         {Peer(cfg, "p", "b", 2), Peer(cfg, "q", "b", 2)},
                         "b",
                         "a,q",
                         "Failed:b,Promoted:q"}});
  EXPECT_FALSE(s.regions.at("p").promoted);
}

TEST(DecideQuorum, EveryObserverWithTheSameVotesPromotesTheSamePassive) {
  // Two surviving controllers (a and q) decide independently from the same votes.
  auto cfg_a = QCfg("a,b,~p,~q", "a");
  auto cfg_q = QCfg("a,b,~p,~q", "q");
  auto run = [](const ControllerConfig& cfg, const std::vector<std::string>& peers) {
    State s = Decide(State{}, {}, QuorumInput{}, cfg, At(0)).next;
    for (int t = 1; t <= 3; ++t) {
      std::vector<PeerReport> reports;
      for (const auto& p : peers)
        reports.push_back(Peer(cfg, p, "b", t));
      s = Decide(s, Probes(cfg, "b", t), QuorumInput{reports, At(0)}, cfg, At(t)).next;
    }
    return s;
  };
  State a = run(cfg_a, {"p", "q"});
  State q = run(cfg_q, {"a", "p"});
  EXPECT_EQ(a.Failed(), Split("b"));
  EXPECT_EQ(q.Failed(), Split("b"));
  EXPECT_EQ(a.serving, Split("a,p"));
  EXPECT_EQ(q.serving, Split("a,p"));
  int promoted = 0;
  for (const auto& t : a.recent)
    promoted += t.kind == TransitionKind::kRegionPromoted;
  EXPECT_EQ(promoted, 1);
}

TEST(DecideQuorum, ReportsFromUnknownObserversAreIgnored) {
  auto cfg = QCfg("a,b,~c", "a");
  // "z" is not a configured peer; "b" appears twice (the first report counts).
  QPlay(cfg, {{1, "b", {Peer(cfg, "z", "b", 1), Peer(cfg, "b", "", 1)}, "", "a,b"},
              {2, "b", {Peer(cfg, "z", "b", 2), Peer(cfg, "b", "", 2)}, "", "a,b"},
              {3, "b", {Peer(cfg, "b", "", 3), Peer(cfg, "b", "b", 3)}, "", "a,b"}});
}

TEST(DecideQuorum, WithoutPeersDecidesExactlyAsBefore) {
  auto cfg = Cfg("a,b,~p", 2, 2, 1);
  State x = Decide(State{}, {}, cfg, At(0)).next;
  State y = Decide(State{}, {}, QuorumInput{}, cfg, At(0)).next;
  const char* downs[] = {"a", "a", "a", "", "", "", "a,b,p", "a,b,p", "", "", "", ""};
  for (int i = 0; i < 12; ++i) {
    auto obs = Probes(cfg, downs[i], i + 1);
    Decision dx = Decide(x, obs, cfg, At(i + 1));
    Decision dy = Decide(y, obs, QuorumInput{{Peer(cfg, "b", "a", i + 1)}, At(0)}, cfg, At(i + 1));
    EXPECT_EQ(Events(dx.transitions), Events(dy.transitions)) << "round " << i;
    EXPECT_EQ(StateToJson(dx.next, {}), StateToJson(dy.next, {})) << "round " << i;
    x = dx.next;
    y = dy.next;
  }
  EXPECT_FALSE(y.quorum);
  EXPECT_EQ(StateToJson(y, {}).find("partitioned"), std::string::npos);
}

TEST(DecideQuorum, StateJsonRoundTripKeepsPartitionAndOwnVotes) {
  auto cfg = QCfg("a,b,~c", "a");
  State s = QPlay(cfg, {{1, "b", {}, "", "a,b", "", true}, {2, "b", {}, "", "a,b", "", true}});
  const std::string text = StateToJson(s, {{"a", true}, {"b", true}, {"c", false}});
  auto back = StateFromJson(text);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_TRUE(back->partitioned);
  EXPECT_EQ(back->partitioned_since, At(0));  // no peer ever heard from, no grace
  EXPECT_TRUE(back->regions.at("b").local_failed);
  EXPECT_FALSE(back->regions.at("a").local_failed);
  EXPECT_TRUE(DecisionEqual(*back, s));
  EXPECT_NE(text.find("\"partitioned\": true"), std::string::npos);
}

}  // namespace
}  // namespace aha::failover

namespace aha::failover {
namespace {

// A region's reason says what the controller has seen, from the first probe on (the status page
// and state.json show it); the first observation replaces the start-up placeholder.
TEST(DecideReason, FirstObservationReplacesNotObservedYet) {
  const auto cfg = Cfg("a,b");
  State s = Decide({}, {}, cfg, At(0)).next;
  EXPECT_EQ(s.regions.at("a").reason, "not observed yet");
  std::map<std::string, Observation> obs;
  obs["a"].ok = true;
  obs["a"].at = At(1);
  obs["b"].ok = false;
  obs["b"].detail = "connection refused";
  obs["b"].at = At(1);
  auto d = Decide(s, obs, cfg, At(1));
  EXPECT_EQ(d.next.regions.at("a").reason, "first probe healthy");
  EXPECT_EQ(d.next.regions.at("b").reason, "first probe failed: connection refused");
  EXPECT_FALSE(d.changed) << "a reason alone is not a decision change (no state write)";
  obs["b"].detail = "timeout";
  d = Decide(d.next, obs, cfg, At(2));
  EXPECT_EQ(d.next.regions.at("b").reason, "first probe failed: connection refused");
}

// docs/WRITER.md: a recovered region that reports its data position is released by its stand-in
// only once it reports caught up with its lineage (the stand-in's writes applied).
TEST(Decide, FailbackWaitsUntilTheRecoveredRegionReportsItsDataCaughtUp) {
  auto cfg = Cfg("a,~p", 1, 1, 10);
  State s = Decide(State{}, {}, cfg, At(0)).next;
  auto round = [&](double t, bool a_ok, bool reported, bool caught_up) {
    std::map<std::string, Observation> obs;
    obs["a"] = Observation{a_ok, 1.0, a_ok ? "HTTP 200" : "HTTP 503", At(t), reported, caught_up};
    obs["p"] = Observation{true, 1.0, "HTTP 200", At(t)};
    s = Decide(s, obs, cfg, At(t)).next;
  };
  round(1, false, false, false);
  ASSERT_TRUE(s.regions.at("p").promoted);
  round(2, true, true, false);  // recovered, still catching up
  round(20, true, true, false);
  EXPECT_TRUE(s.regions.at("p").promoted) << "failback must wait for the data";
  round(21, true, true, true);
  EXPECT_FALSE(s.regions.at("p").promoted);
  EXPECT_EQ(s.serving, Split("a"));

  // A region that does not report data at all fails back on time alone, as before.
  s = Decide(State{}, {}, cfg, At(0)).next;
  round(1, false, false, false);
  round(2, true, false, false);
  round(12, true, false, false);
  EXPECT_FALSE(s.regions.at("p").promoted);
}

}  // namespace
}  // namespace aha::failover
