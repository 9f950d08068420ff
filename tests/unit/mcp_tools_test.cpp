// The Security Monitor's tools against real file state stores (two clients of one directory play
// two MCP servers): conditional drill writes, and drills that outlive the server that ran them.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "config/controller_config.h"
#include "failover/failover_state.h"
#include "failover/outages.h"
#include "mcp/tools.h"
#include "metrics/registry.h"
#include "state/store.h"
#include "support/temp_dir.h"

namespace aha::mcp {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

config::ControllerConfig Config(const std::string& state_dir) {
  auto c = config::ParseControllerConfig(
      "regions:\n"
      "  - {name: us-east-1, endpoint: \"http://127.0.0.1:9/health\"}\n"
      "  - {name: eu-west-1, endpoint: \"http://127.0.0.1:9/health\"}\n"
      "  - {name: ap-southeast-1, active: false, endpoint: \"http://127.0.0.1:9/health\"}\n"
      "state: {file: \"" +
          state_dir + "\"}\nmcp: {minDurationSeconds: 1, maxDurationSeconds: 600}\n",
      "test.yaml");
  EXPECT_TRUE(c.ok()) << c.message();
  return *c;
}

// One "server": its own store client, registry and audit log.
struct Server {
  Server(const config::ControllerConfig& cfg, const std::string& dir, const Clock& clock)
      : store(dir),
        monitor(cfg, store, clock, reg, [this](const json& j) { audit.push_back(j); }) {}
  ToolResult Call(const std::string& name, const json& args) {
    auto r = monitor.Call(name, args);
    EXPECT_TRUE(r.has_value()) << name;
    return r ? *r : ToolResult{};
  }
  state::FileStateStore store;
  metrics::Registry reg;
  std::vector<json> audit;
  SecurityMonitor monitor;
};

class ToolsTest : public ::testing::Test {
 protected:
  aha::testing::TempDir tmp;
  std::string dir = tmp.path() + "/state";
  config::ControllerConfig cfg = Config(dir);
  FakeClock clock;
  state::FileStateStore writer{dir};  // plays the controller

  void SetUp() override {
    ASSERT_TRUE(writer
                    .Write({{failover::kFailedRegionsKey, ""},
                            {failover::kServingRegionsKey, "eu-west-1\nus-east-1\n"}})
                    .ok());
  }
  std::vector<failover::SimulatedOutage> Outages() {
    auto kv = writer.Read();
    EXPECT_TRUE(kv.ok());
    auto o = failover::ParseOutages((*kv)[failover::kSimulatedOutagesKey]);
    EXPECT_TRUE(o.ok());
    return o.ok() ? *o : std::vector<failover::SimulatedOutage>{};
  }
  void Feed(Server& s) {
    auto kv = writer.Read();
    ASSERT_TRUE(kv.ok());
    s.monitor.Observe(*kv, clock.wall());
  }
};

TEST_F(ToolsTest, TwoServersDrillDifferentRegionsAtOnceAndBothLand) {
  Server a(cfg, dir, clock), b(cfg, dir, clock);
  ToolResult ra, rb;
  std::thread ta([&] { ra = a.Call("simulate_regional_outage", {{"region", "us-east-1"}}); });
  std::thread tb([&] { rb = b.Call("simulate_regional_outage", {{"region", "eu-west-1"}}); });
  ta.join();
  tb.join();
  ASSERT_FALSE(ra.is_error) << ra.text;
  ASSERT_FALSE(rb.is_error) << rb.text;
  auto outages = Outages();
  ASSERT_EQ(outages.size(), 2u) << "a read-modify-write lost the other server's drill";
  std::set<std::string> regions = {outages[0].region, outages[1].region};
  EXPECT_EQ(regions, (std::set<std::string>{"us-east-1", "eu-west-1"}));
  auto kv = writer.Read();
  auto drills = ParseDrills((*kv)[kDrillsKey]);
  ASSERT_TRUE(drills.ok()) << drills.message();
  EXPECT_EQ(drills->size(), 2u);
}

TEST_F(ToolsTest, TwoServersDrillTheSameRegionAndExactlyOneWins) {
  Server a(cfg, dir, clock), b(cfg, dir, clock);
  for (int round = 0; round < 5; ++round) {
    ToolResult ra, rb;
    std::atomic<bool> go{false};
    std::thread ta([&] {
      while (!go) {
      }
      ra = a.Call("simulate_regional_outage", {{"region", "us-east-1"}, {"duration_seconds", 60}});
    });
    std::thread tb([&] {
      while (!go) {
      }
      rb = b.Call("simulate_regional_outage", {{"region", "us-east-1"}, {"duration_seconds", 60}});
    });
    go = true;
    ta.join();
    tb.join();
    ASSERT_NE(ra.is_error, rb.is_error) << ra.text << "\n" << rb.text;
    const ToolResult& lost = ra.is_error ? ra : rb;
    EXPECT_NE(lost.text.find("drill already running for region us-east-1"), std::string::npos)
        << lost.text;
    ASSERT_EQ(Outages().size(), 1u);
    // The loser's audit log has no DrillStarted; the winner's has exactly one more.
    ToolResult end = a.Call("end_regional_outage", {{"region", "us-east-1"}});
    ASSERT_FALSE(end.is_error) << end.text;
    clock.advance(milliseconds(5));
  }
  size_t started = 0;
  for (const auto* s : {&a, &b}) {
    for (const auto& j : s->audit)
      started += j["event"] == "DrillStarted";
  }
  EXPECT_EQ(started, 5u);
}

TEST_F(ToolsTest, ARestartedServerReportsEarlierDrillsAndMarksWhatItDidNotSee) {
  const WallTime t0 = clock.wall();
  std::string id;
  json before;
  {
    Server a(cfg, dir, clock);
    Feed(a);
    auto r = a.Call("simulate_regional_outage", {{"region", "us-east-1"}, {"duration_seconds", 3}});
    ASSERT_FALSE(r.is_error) << r.text;
    id = r.structured["drillId"];
    Feed(a);  // its own write: nothing changed in failed/serving
    // The controller fails the region 700 ms later; the server sees it.
    clock.advance(milliseconds(700));
    failover::State st;
    st.recent.push_back({failover::TransitionKind::kRegionFailed, "us-east-1", clock.wall(),
                         "3 failed probes", t0 + milliseconds(200)});
    ASSERT_TRUE(writer
                    .Write({{failover::kFailedRegionsKey, "us-east-1\n"},
                            {failover::kServingRegionsKey, "eu-west-1\n"},
                            {failover::kStateJsonKey, failover::StateToJson(st, {})}})
                    .ok());
    clock.advance(milliseconds(10));
    Feed(a);  // records the observation in the shared state
    Feed(a);
    auto rep = a.Call("get_drill_report", {{"drill_id", id}});
    ASSERT_FALSE(rep.is_error) << rep.text;
    before = rep.structured;
    EXPECT_EQ(before["phase"], "failed-over");
    EXPECT_EQ(before["timeline"]["servingChangedAt"], FormatTime(t0 + milliseconds(710)));
  }
  // No server runs while the outage expires and the region recovers.
  clock.advance(milliseconds(3000));
  failover::State st;
  st.recent.push_back({failover::TransitionKind::kRegionFailed, "us-east-1", t0 + milliseconds(700),
                       "3 failed probes", t0 + milliseconds(200)});
  st.recent.push_back({failover::TransitionKind::kRegionRecovered, "us-east-1", clock.wall(),
                       "2 ok probes", t0 + milliseconds(3300)});
  ASSERT_TRUE(writer
                  .Write({{failover::kFailedRegionsKey, ""},
                          {failover::kServingRegionsKey, "eu-west-1\nus-east-1\n"},
                          {failover::kStateJsonKey, failover::StateToJson(st, {})}})
                  .ok());
  clock.advance(milliseconds(500));
  Server b(cfg, dir, clock);
  auto early = b.Call("get_drill_report", {{"drill_id", id}});
  ASSERT_FALSE(early.is_error) << early.text;
  EXPECT_EQ(early.structured["timeline"]["servingChangedAt"],
            before["timeline"]["servingChangedAt"])
      << "what the first server observed survives it";
  Feed(b);  // first snapshot after the restart: the recovery happened unobserved
  Feed(b);
  Feed(b);
  auto rep = b.Call("get_drill_report", {{"region", "us-east-1"}});
  ASSERT_FALSE(rep.is_error) << rep.text;
  const json& r = rep.structured;
  EXPECT_EQ(r["drillId"], id);
  EXPECT_TRUE(r["complete"]) << r.dump(2);
  EXPECT_EQ(r["timeline"]["regionRecoveredAt"], FormatTime(t0 + milliseconds(3710)));
  EXPECT_EQ(r["regional_failover_recovery_time"], 0.71);
  EXPECT_TRUE(r["timeline"]["recoveredObservedAt"].is_null()) << "not seen happen: not guessed";
  // Not seen either, but dated by the controller's persisted decision (the recovery put
  // us-east-1 back into the serving set in that same state write); the report says so.
  EXPECT_EQ(r["timeline"]["servingRestoredAt"], FormatTime(t0 + milliseconds(3710)));
  EXPECT_EQ(r["timelineSources"]["servingRestoredAt"], "controller-decision");
  EXPECT_EQ(r["timelineSources"]["servingChangedAt"], "observed");
  EXPECT_EQ(r["notes"].size(), 2u);
  size_t completed = 0;
  for (const auto& j : b.audit)
    completed += j["event"] == "DrillCompleted";
  EXPECT_EQ(completed, 1u);
  EXPECT_NE(b.reg.Render().find("regional_failover_recovery_time{region=\"us-east-1\"} 0.71"),
            std::string::npos)
      << b.reg.Render();
}

TEST_F(ToolsTest, ANewerDrillOfTheRegionSupersedesOneThatNeverCompleted) {
  Server a(cfg, dir, clock);
  Feed(a);
  auto first =
      a.Call("simulate_regional_outage", {{"region", "us-east-1"}, {"duration_seconds", 60}});
  ASSERT_FALSE(first.is_error) << first.text;
  ASSERT_FALSE(a.Call("end_regional_outage", {{"region", "us-east-1"}}).is_error);
  clock.advance(milliseconds(100));
  auto second =
      a.Call("simulate_regional_outage", {{"region", "us-east-1"}, {"duration_seconds", 60}});
  ASSERT_FALSE(second.is_error) << second.text;
  clock.advance(milliseconds(100));
  ASSERT_TRUE(writer
                  .Write({{failover::kFailedRegionsKey, "us-east-1\n"},
                          {failover::kServingRegionsKey, "eu-west-1\n"}})
                  .ok());
  Feed(a);
  Feed(a);
  auto kv = writer.Read();
  auto drills = ParseDrills((*kv)[kDrillsKey]);
  ASSERT_TRUE(drills.ok());
  ASSERT_EQ(drills->size(), 2u);
  EXPECT_TRUE((*drills)[0].observations.empty()) << "the superseded drill is no longer followed";
  EXPECT_EQ((*drills)[1].observations.size(), 1u);
  auto r = a.Call("get_drill_report", {{"drill_id", first.structured["drillId"]}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["phase"], "outage-ended");
  ASSERT_EQ(r.structured["notes"].size(), 1u);
  EXPECT_NE(r.structured["notes"][0].get<std::string>().find(
                "superseded by drill " + second.structured["drillId"].get<std::string>()),
            std::string::npos);
}

TEST_F(ToolsTest, ReplicationStatusWithoutRemotesSaysHowToConfigureThem) {
  Server a(cfg, dir, clock);
  auto r = a.Call("get_replication_status", json::object());
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("mcp.replication.remotes"), std::string::npos) << r.text;
}

// An operator's hand edit of the state (a wrong type in drills or state.json) must not take the
// server down: every tool answers (a tool error naming the key where it needs the bad key), and
// the watcher's Observe() keeps going.
TEST_F(ToolsTest, CorruptDrillsOrStateJsonAnswerToolErrorsAndNeverThrow) {
  Server a(cfg, dir, clock);
  const std::string bad_drills =
      R"({"drills": [{"id": "d", "region": "us-east-1", "failureType": 5,)"
      R"( "injectedAt": "2026-11-27T17:00:00Z", "expiresAt": "2026-11-27T17:01:00Z"}]})";
  ASSERT_TRUE(writer.Write({{kDrillsKey, bad_drills}}).ok());
  ASSERT_NO_THROW(Feed(a));
  ToolResult r;
  ASSERT_NO_THROW(r = a.Call("get_drill_report", {{"region", "us-east-1"}}));
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("drills.drills[0].failureType: expected string, got number 5"),
            std::string::npos)
      << r.text;
  ASSERT_NO_THROW(r = a.Call("simulate_regional_outage", {{"region", "eu-west-1"}}));
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("drills.drills[0].failureType"), std::string::npos) << r.text;
  ASSERT_TRUE(writer.Write({{kDrillsKey, ""}}).ok());

  for (const char* state_json :
       {R"({"regions": {"us-east-1": 5}})",
        R"({"apiVersion": "agency-ha/v1", "generation": 1, "panic": "yes", "servingRegions": [],)"
        R"( "regions": {}})",
        R"({"apiVersion": "agency-ha/v1", "generation": 1, "panic": false, "servingRegions": [],)"
        R"( "regions": {"us-east-1": {"status": 5}}, "transitions": [{"type": 5}]})"}) {
    SCOPED_TRACE(state_json);
    ASSERT_TRUE(writer.Write({{failover::kStateJsonKey, state_json}}).ok());
    ASSERT_NO_THROW(Feed(a));
    ASSERT_NO_THROW(r = a.Call("get_failover_status", json::object()));
    EXPECT_TRUE(r.is_error);
    EXPECT_NE(r.text.find("state.json"), std::string::npos) << r.text;
    ASSERT_NO_THROW(r = a.Call("list_regions", json::object()));
    EXPECT_FALSE(r.is_error) << r.text;
    ASSERT_NO_THROW(r = a.Call("get_drill_report", {{"region", "us-east-1"}}));
  }
  // A stored report of the wrong shape is refused when read, never dereferenced.
  ASSERT_TRUE(writer.Write({{failover::kStateJsonKey, ""}}).ok());
  const std::string bad_report =
      R"({"drills": [{"id": "d", "region": "us-east-1", "injectedAt": "2026-11-27T17:00:00Z",)"
      R"( "expiresAt": "2026-11-27T17:01:00Z", "completedAt": "2026-11-27T17:02:00Z",)"
      R"( "report": {"timeline": {"injectedAt": 5}, "regional_failover_recovery_time": "x"}}]})";
  ASSERT_TRUE(writer.Write({{kDrillsKey, bad_report}}).ok());
  ASSERT_NO_THROW(Feed(a));
  ASSERT_NO_THROW(r = a.Call("get_drill_report", {{"region", "us-east-1"}}));
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("drills.drills[0].report.timeline.injectedAt"), std::string::npos)
      << r.text;
}

TEST_F(ToolsTest, DurationBeyondInt64IsReportedAsGivenNotWrapped) {
  Server a(cfg, dir, clock);
  for (const char* d : {"18446744073709551615", "9223372036854775808", "1e300", "-1e300"}) {
    auto r = a.Call("simulate_regional_outage",
                    {{"region", "us-east-1"}, {"duration_seconds", json::parse(d)}});
    EXPECT_TRUE(r.is_error) << d;
    EXPECT_NE(r.text.find("is out of bounds"), std::string::npos) << r.text;
    EXPECT_EQ(r.text.find("-1 is out of bounds"), std::string::npos) << r.text;
    EXPECT_NE(r.text.find("duration_seconds: " + json::parse(d).dump()), std::string::npos)
        << r.text;
  }
}

}  // namespace
}  // namespace aha::mcp
