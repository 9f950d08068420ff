// Status surfaces tell the current truth: reasons describe the current state, data positions
// (X-Agency-Data) are parsed strictly and shown per region, the MCP server takes the controller's
// live observations (type-checked) and falls back to the state, and a drill report dates a serving
// change nobody watched from the controller's persisted decisions.
#include <gtest/gtest.h>

#include "config/controller_config.h"
#include "controller/controller.h"
#include "failover/failover_state.h"
#include "mcp/controller_status.h"
#include "mcp/report.h"
#include "mcp/tools.h"
#include "metrics/registry.h"
#include "replication/position.h"
#include "replication/snapshot.h"
#include "state/store.h"
#include "support/temp_dir.h"

namespace aha {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

WallTime T0() {
  return WallTime{} + milliseconds(1796378410500);  // 2026-12-04T10:00:10.500Z
}

// ---- reasons ----

TEST(DescribeRegion, SaysWhatIsTrueNowNotWhatTheFirstProbeSaw) {
  failover::RegionState rs;
  rs.reason = "first probe failed: HTTP 503";
  EXPECT_EQ(failover::DescribeRegion(rs, false), "first probe failed: HTTP 503")
      << "no streak yet (e.g. just restarted): the decision reason";
  rs.last = failover::Observation{true, 1.0, "HTTP 200", T0()};
  rs.consecutive_successes = 41;
  EXPECT_EQ(failover::DescribeRegion(rs, false), "healthy: 41 consecutive successes");
  rs.consecutive_successes = 0;
  rs.consecutive_failures = 2;
  rs.last = failover::Observation{false, 1.0, "HTTP 503", T0()};
  EXPECT_EQ(failover::DescribeRegion(rs, false),
            "healthy: 2 consecutive failed probes, last: HTTP 503");
  rs.health = failover::Health::kFailed;
  rs.reason = "isolated: 1/3 observers reachable, quorum is 2";
  rs.consecutive_failures = 0;
  rs.consecutive_successes = 1;
  EXPECT_EQ(failover::DescribeRegion(rs, false), "failed: 1 consecutive success");
  EXPECT_EQ(failover::DescribeRegion(rs, true),
            "failed: isolated: 1/3 observers reachable, quorum is 2; this observer: 1 consecutive "
            "success");
  rs.health = failover::Health::kHealthy;
  rs.votes_up = 3;
  EXPECT_EQ(failover::DescribeRegion(rs, true),
            "healthy: 3 observers report it up, 0 down; this observer: 1 consecutive success");
}

TEST(DescribeRegion, StateJsonCarriesBothAndReadsTheDecisionReasonBack) {
  failover::State s;
  failover::RegionState rs;
  rs.reason = "first probe failed: HTTP 503";
  rs.last = failover::Observation{true, 1.0, "HTTP 200", T0()};
  rs.consecutive_successes = 5;
  s.regions["a"] = rs;
  const std::string text = failover::StateToJson(s, {});
  const json j = json::parse(text);
  EXPECT_EQ(j["regions"]["a"]["reason"], "healthy: 5 consecutive successes");
  EXPECT_EQ(j["regions"]["a"]["statusReason"], "first probe failed: HTTP 503");
  auto back = failover::StateFromJson(text);
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->regions.at("a").reason, "first probe failed: HTTP 503");
  // A state.json written before statusReason existed: its reason is the decision reason.
  json old = j;
  old["regions"]["a"].erase("statusReason");
  old["regions"]["a"]["reason"] = "3 consecutive failed probes";
  auto back_old = failover::StateFromJson(old.dump());
  ASSERT_TRUE(back_old) << back_old.message();
  EXPECT_EQ(back_old->regions.at("a").reason, "3 consecutive failed probes");
  old["regions"]["a"]["statusReason"] = 7;
  EXPECT_FALSE(failover::StateFromJson(old.dump()));
}

// ---- the data position header ----

TEST(DataHeader, CarriesSnapshotAndHeadAndIsParsedStrictly) {
  replication::Position p;
  p.lineage = "us-east-1";
  p.role = replication::Role::kFollower;
  p.epoch = 3;
  p.snapshot = replication::MakeSnapshotId(T0() - milliseconds(4500), 7);
  p.head_epoch = 4;
  p.head = replication::MakeSnapshotId(T0(), 1);
  p.caught_up = false;
  const std::string h = replication::PositionHeader(p);
  EXPECT_LE(h.size(), 512u);
  replication::DataReport d = replication::ParseDataHeader(h);
  EXPECT_TRUE(d.present);
  EXPECT_FALSE(d.malformed);
  EXPECT_EQ(d.role, "follower");
  EXPECT_EQ(d.lineage, "us-east-1");
  EXPECT_EQ(d.epoch, 3);
  EXPECT_EQ(d.snapshot, p.snapshot);
  EXPECT_EQ(d.head, p.head);
  EXPECT_EQ(d.head_epoch, 4);
  // A 63-character lineage with the brain suffix still fits the prober's limit.
  p.lineage = std::string(57, 'a') + "-brain";
  EXPECT_LE(replication::PositionHeader(p).size(), 300u);

  for (const char* bad : {"role=Writer<script>; caught-up=1", "lineage=../../etc; caught-up=1",
                          "snapshot=yesterday; caught-up=1", "head-epoch=-1; caught-up=1",
                          "ready=yes; caught-up=1", "lineage=; caught-up=1"}) {
    replication::DataReport x = replication::ParseDataHeader(bad);
    EXPECT_TRUE(x.malformed) << bad;
    EXPECT_FALSE(x.caught_up) << bad;
    EXPECT_EQ(x.role.find('<'), std::string::npos) << bad;
    EXPECT_EQ(x.lineage.find('/'), std::string::npos) << bad;
  }
}

TEST(DataJson, ShowsWhoWritesAndHowFarBehindAFollowerIs) {
  auto report = [](const std::string& h, const std::string& addr, bool ok) {
    return controller::EndpointData{addr, ok, replication::ParseDataHeader(h), T0()};
  };
  const std::string head = replication::MakeSnapshotId(T0(), 1);
  const std::string old = replication::MakeSnapshotId(T0() - milliseconds(4500), 7);
  EXPECT_TRUE(controller::DataJson({}).is_null());
  json f =
      controller::DataJson({report("role=follower; lineage=us-east-1; epoch=4; caught-up=0; "
                                   "snapshot=" +
                                       old + "; head-epoch=4; head=" + head,
                                   "127.0.0.1", true)});
  EXPECT_EQ(f["role"], "follower");
  EXPECT_EQ(f["fenced"], false);
  EXPECT_DOUBLE_EQ(f["behindSeconds"].get<double>(), 4.5);
  EXPECT_EQ(f["headEpoch"], 4);
  EXPECT_FALSE(f.contains("endpoints"));
  json w = controller::DataJson(
      {report("role=fenced; lineage=us-east-1; epoch=3; caught-up=0", "10.0.0.2", false),
       report("role=writer; lineage=us-east-1; epoch=4; caught-up=1; snapshot=" + head +
                  "; head=" + head,
              "10.0.0.9", true)});
  EXPECT_EQ(w["role"], "writer") << "a healthy endpoint's report comes first";
  EXPECT_DOUBLE_EQ(w["behindSeconds"].get<double>(), 0.0);
  ASSERT_EQ(w["endpoints"].size(), 2u);
  EXPECT_EQ(w["endpoints"][1]["fenced"], true);
  EXPECT_TRUE(controller::DataJson(
                  {report("role=follower; lineage=x; caught-up=0", "a", true)})["behindSeconds"]
                  .is_null());
}

// ---- the controller's /v1/status as the MCP server reads it ----

TEST(ControllerStatus, KnownFieldsTypeCheckedUnknownDroppedBadRegionsReported) {
  const json doc = {
      {"lastRound", "2026-12-04T10:00:10.500Z"},
      {"regions",
       {{"us-east-1",
         {{"status", "healthy"},
          {"reason", "healthy: 3 consecutive successes"},
          {"consecutiveSuccesses", 3},
          {"lastProbe",
           {{"ok", true},
            {"latencyMs", 1.5},
            {"detail", "HTTP 200"},
            {"at", "2026-12-04T10:00:10.400Z"}}},
          {"data", {{"role", "writer"}, {"lineage", "us-east-1"}, {"epoch", 4}, {"evil", "<x>"}}},
          {"extra", {{"nested", 1}}}}},
        {"eu-west-1", {{"status", "healthy"}, {"consecutiveSuccesses", -1}}},
        {"ap-southeast-1", {{"status", "healthy"}, {"lastProbe", {{"at", "yesterday"}}}}},
        {"x", {{"status", "healthy"}, {"data", {{"epoch", "4"}}}}}}}};
  auto s = mcp::ParseControllerStatus(doc.dump());
  ASSERT_TRUE(s) << s.message();
  EXPECT_EQ(s->last_round, "2026-12-04T10:00:10.500Z");
  ASSERT_EQ(s->regions.size(), 1u);
  const json& us = s->regions.at("us-east-1");
  EXPECT_FALSE(us.contains("extra"));
  EXPECT_FALSE(us["data"].contains("evil"));
  EXPECT_EQ(us["data"]["epoch"], 4);
  EXPECT_EQ(us["lastProbe"]["detail"], "HTTP 200");
  EXPECT_NE(s->problems.find("consecutiveSuccesses: must be >= 0"), std::string::npos)
      << s->problems;
  EXPECT_NE(s->problems.find("lastProbe.at"), std::string::npos) << s->problems;
  EXPECT_NE(s->problems.find("data.epoch"), std::string::npos) << s->problems;
  for (const char* bad :
       {"", "[]", "{\"regions\": []}", "not json", "{\"regions\": {}, \"lastRound\": 5}"}) {
    auto r = mcp::ParseControllerStatus(bad);
    if (std::string(bad).find("lastRound") != std::string::npos) {
      ASSERT_TRUE(r) << bad;
      EXPECT_FALSE(r->problems.empty());
      EXPECT_TRUE(r->last_round.is_null());
    } else {
      EXPECT_FALSE(r) << bad;
    }
  }
  EXPECT_FALSE(mcp::ControllerClient("").enabled());
  EXPECT_FALSE(mcp::ControllerClient("").Fetch(SystemClock::instance()));
  auto refused = mcp::ControllerClient("http://127.0.0.1:9").Fetch(SystemClock::instance());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.message().find("http://127.0.0.1:9/v1/status"), std::string::npos)
      << refused.message();
}

// ---- drill reports: a serving change nobody watched ----

class DrillDecisions : public ::testing::Test {
 protected:
  WallTime At(int ms) { return T0() + milliseconds(ms); }
  mcp::Drill D() {
    mcp::Drill d;
    d.id = "drill-us-1";
    d.region = "us";
    d.injected_at = At(0);
    d.expires_at = At(3000);
    d.serving_before = {"eu", "us"};
    return d;
  }
  std::vector<failover::Transition> ts = {
      {failover::TransitionKind::kRegionFailed, "us", At(650), "3 failed", At(210)},
      {failover::TransitionKind::kRegionPromoted, "ap", At(650), "stand in", {}},
      {failover::TransitionKind::kRegionRecovered, "us", At(3450), "2 ok", At(3210)},
      {failover::TransitionKind::kRegionDemoted, "ap", At(3960), "failback", {}},
  };
};

TEST_F(DrillDecisions, NoObservationAtAllTheControllersDecisionsDateTheServingChange) {
  json r = mcp::BuildDrillReport(D(), ts, {}, At(5000));
  EXPECT_EQ(r["timeline"]["servingChangedAt"], FormatTime(At(650)));
  EXPECT_EQ(r["timeline"]["servingRestoredAt"], FormatTime(At(3960)));
  EXPECT_DOUBLE_EQ(r["durationsSeconds"]["injectedToServingChanged"].get<double>(), 0.65);
  EXPECT_EQ(r["timelineSources"]["servingChangedAt"], "controller-decision");
  EXPECT_EQ(r["phase"], "complete");
  EXPECT_EQ(r["notes"].size(), 1u);
  EXPECT_TRUE(r["servingDuring"].is_null()) << "what the set was is not known";
}

TEST_F(DrillDecisions, AGapIsFilledAnObservedTimeIsKept) {
  std::vector<mcp::Observation> gap = {{At(9000), {}, {"eu", "us"}, true}};
  json r = mcp::BuildDrillReport(D(), ts, {{At(700), {"us"}, {"ap", "eu"}}, gap[0]}, At(9000));
  EXPECT_EQ(r["timeline"]["servingChangedAt"], FormatTime(At(700)));
  EXPECT_EQ(r["timelineSources"]["servingChangedAt"], "observed");
  EXPECT_EQ(r["timeline"]["servingRestoredAt"], FormatTime(At(3960)));
  EXPECT_EQ(r["timelineSources"]["servingRestoredAt"], "controller-decision");
}

TEST_F(DrillDecisions, AWatchingServerWaitsForItsOwnObservation) {
  // Watched live (no gap): the restore is not dated by a decision before this server saw it, so
  // the report does not change its times once the observation is recorded.
  json r = mcp::BuildDrillReport(D(), ts, {{At(700), {"us"}, {"ap", "eu"}}}, At(5000));
  EXPECT_TRUE(r["timeline"]["servingRestoredAt"].is_null());
  EXPECT_FALSE(r["complete"]);
  EXPECT_TRUE(r["notes"].empty());
}

TEST_F(DrillDecisions, PanicKeepsTheServingSetSoNoChangeIsInvented) {
  mcp::Drill d = D();
  d.serving_before = {"us"};
  std::vector<failover::Transition> p = {
      {failover::TransitionKind::kRegionFailed, "us", At(650), "3 failed", At(210)},
      {failover::TransitionKind::kPanicEntered, "", At(650), "all failed", {}}};
  json r = mcp::BuildDrillReport(d, p, {}, At(1000));
  EXPECT_TRUE(r["timeline"]["servingChangedAt"].is_null());
  EXPECT_FALSE(r["timelineSources"].contains("servingChangedAt"));
}

TEST_F(DrillDecisions, StoredPositionsAreTypeChecked) {
  mcp::Drill d = D();
  d.positions_at_injection = {{"us", {{"role", "writer"}, {"epoch", 3}}}, {"eu", nullptr}};
  auto back = mcp::ParseDrills(mcp::DrillsToJson({d}));
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ((*back)[0].positions_at_injection["us"]["epoch"], 3);
  EXPECT_TRUE((*back)[0].positions_at_injection["eu"].is_null());
  json doc = json::parse(mcp::DrillsToJson({d}));
  doc["drills"][0]["positionsAtInjection"]["us"]["epoch"] = "three";
  auto bad = mcp::ParseDrills(doc.dump());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("positionsAtInjection"), std::string::npos) << bad.message();
}

// ---- get_failover_status: live when the controller answers, labelled state when not ----

TEST(LiveTools, FailoverStatusTakesObservationsFromTheControllerAndEscapesThem) {
  aha::testing::TempDir tmp;
  const std::string dir = tmp.path() + "/state";
  auto cfg = config::ParseControllerConfig(
      "regions:\n"
      "  - {name: us-east-1, endpoint: \"http://127.0.0.1:9/health\"}\n"
      "  - {name: eu-west-1, endpoint: \"http://127.0.0.1:9/health\"}\n"
      "state: {file: \"" +
          dir + "\"}\n",
      "test.yaml");
  ASSERT_TRUE(cfg) << cfg.message();
  state::FileStateStore store(dir);
  failover::State s;
  s.generation = 2;
  s.updated_at = T0();
  s.serving = {"eu-west-1", "us-east-1"};
  failover::RegionState rs;
  rs.reason = "first probe failed: HTTP 503";
  s.regions["us-east-1"] = rs;
  s.regions["eu-west-1"] = rs;
  ASSERT_TRUE(store
                  .Write({{failover::kStateJsonKey, failover::StateToJson(s, {})},
                          {failover::kServingRegionsKey, "eu-west-1\nus-east-1\n"},
                          {failover::kFailedRegionsKey, ""}})
                  .ok());
  FakeClock clock;
  metrics::Registry reg;
  mcp::SecurityMonitor m(*cfg, store, clock, reg, [](const json&) {});
  // No live source: the state's view, labelled.
  auto r = m.Call("get_failover_status", json::object());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->structured["observations"]["source"], "state");
  EXPECT_EQ(r->structured["observations"]["asOf"], FormatTime(T0()));
  EXPECT_EQ(r->structured["regions"][0]["reason"], "first probe failed: HTTP 503");

  int calls = 0;
  m.SetLiveSource([&]() -> Result<mcp::LiveStatus> {
    ++calls;
    json doc = {{"lastRound", "2026-12-04T10:00:10.500Z"},
                {"regions",
                 {{"us-east-1",
                   {{"status", "healthy"},
                    {"reason", "healthy: 41 consecutive successes\x1b[2J"},
                    {"consecutiveSuccesses", 41},
                    {"lastProbe", {{"ok", true}, {"at", "2026-12-04T10:00:10.400Z"}}},
                    {"data",
                     {{"role", "follower"},
                      {"lineage", "eu-west-1\x1b]0;pwn"},
                      {"epoch", 2},
                      {"behindSeconds", 1.5}}}}}}}};
    auto p = mcp::ParseControllerStatus(doc.dump());
    if (p) p->url = "http://controller/v1/status";
    return p;
  });
  r = m.Call("get_failover_status", json::object());
  ASSERT_TRUE(r);
  EXPECT_EQ(calls, 1);
  const json& out = r->structured;
  EXPECT_EQ(out["observations"]["source"], "controller");
  EXPECT_EQ(out["regions"][0]["name"], "us-east-1");
  EXPECT_EQ(out["regions"][0]["consecutiveSuccesses"], 41);
  EXPECT_EQ(out["regions"][0]["data"]["epoch"], 2);
  EXPECT_EQ(out["regions"][0]["statusReason"], nullptr) << "only what the controller said";
  EXPECT_TRUE(out["regions"][1]["lastProbe"].is_null()) << "eu-west-1: not in the live answer";
  EXPECT_EQ(r->text.find('\x1b'), std::string::npos) << "terminal escapes are escaped";
  EXPECT_NE(r->text.find("healthy: 41 consecutive successes"), std::string::npos) << r->text;
  EXPECT_NE(r->text.find("follower of eu-west-1"), std::string::npos) << r->text;
  EXPECT_NE(r->text.find("1.5 s behind"), std::string::npos) << r->text;
}

}  // namespace
}  // namespace aha
