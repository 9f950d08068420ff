// Drill reports: a pure function of real timestamps; steps that did not happen are null.
#include <gtest/gtest.h>

#include "mcp/report.h"

namespace aha::mcp {
namespace {

using failover::Transition;
using failover::TransitionKind;
using nlohmann::json;
using std::chrono::milliseconds;

class ReportTest : public ::testing::Test {
 protected:
  WallTime t0 = WallTime{} + std::chrono::hours(24 * 365 * 56);
  WallTime At(int ms) { return t0 + milliseconds(ms); }
  Drill D() {
    Drill d;
    d.id = "drill-us-1";
    d.region = "us";
    d.duration_seconds = 3;
    d.injected_at = At(0);
    d.expires_at = At(3000);
    d.serving_before = {"eu", "us"};
    return d;
  }
};

TEST_F(ReportTest, NothingHappenedYet) {
  json r = BuildDrillReport(D(), {}, {}, At(100));
  EXPECT_EQ(r["phase"], "injected");
  EXPECT_FALSE(r["complete"]);
  EXPECT_EQ(r["timeline"]["injectedAt"], FormatTime(At(0)));
  EXPECT_TRUE(r["timeline"]["regionFailedAt"].is_null());
  EXPECT_TRUE(r["timeline"]["outageEndedAt"].is_null()) << "not expired yet";
  EXPECT_TRUE(r["durationsSeconds"]["injectedToRegionFailed"].is_null());
  EXPECT_TRUE(r["regional_failover_recovery_time"].is_null());
}

TEST_F(ReportTest, FullDrillWithPromotionAndFailback) {
  std::vector<Transition> ts = {
      // Before the drill and another region's: ignored.
      {TransitionKind::kRegionFailed, "us", At(-5000), "old", At(-5600)},
      {TransitionKind::kRegionFailed, "eu", At(500), "other", At(100)},
      {TransitionKind::kRegionFailed, "us", At(650), "3 failed probes", At(210)},
      {TransitionKind::kRegionPromoted, "ap", At(650), "standing in", {}},
      {TransitionKind::kRegionRecovered, "us", At(3450), "2 ok probes", At(3210)},
      {TransitionKind::kRegionDemoted, "ap", At(3960), "failback", {}},
  };
  std::vector<Observation> obs = {
      {At(-100), {}, {"eu", "us"}},
      {At(660), {"us"}, {"ap", "eu"}},
      {At(3460), {}, {"ap", "eu", "us"}},
      {At(3970), {}, {"eu", "us"}},
  };
  json r = BuildDrillReport(D(), ts, obs, At(5000));
  const json& tl = r["timeline"];
  EXPECT_EQ(tl["firstFailedProbeAt"], FormatTime(At(210)));
  EXPECT_EQ(tl["regionFailedAt"], FormatTime(At(650)));
  EXPECT_EQ(tl["failedObservedAt"], FormatTime(At(660)));
  EXPECT_EQ(tl["promotedAt"], FormatTime(At(650)));
  EXPECT_EQ(tl["servingChangedAt"], FormatTime(At(660)));
  EXPECT_EQ(tl["outageEndedAt"], FormatTime(At(3000)));
  EXPECT_EQ(tl["firstHealthyProbeAt"], FormatTime(At(3210)));
  EXPECT_EQ(tl["regionRecoveredAt"], FormatTime(At(3450)));
  EXPECT_EQ(tl["recoveredObservedAt"], FormatTime(At(3460)));
  EXPECT_EQ(tl["demotedAt"], FormatTime(At(3960)));
  EXPECT_EQ(tl["servingRestoredAt"], FormatTime(At(3970)));
  const json& du = r["durationsSeconds"];
  EXPECT_DOUBLE_EQ(du["injectedToFirstFailedProbe"].get<double>(), 0.21);
  EXPECT_DOUBLE_EQ(du["injectedToRegionFailed"].get<double>(), 0.65);
  EXPECT_DOUBLE_EQ(du["injectedToServingChanged"].get<double>(), 0.66);
  EXPECT_DOUBLE_EQ(du["outage"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(du["outageEndedToRegionRecovered"].get<double>(), 0.45);
  EXPECT_DOUBLE_EQ(du["outageEndedToServingRestored"].get<double>(), 0.97);
  EXPECT_DOUBLE_EQ(r["regional_failover_recovery_time"].get<double>(), 0.45);
  EXPECT_EQ(r["promotedRegion"], "ap");
  EXPECT_EQ(r["servingDuring"], json({"ap", "eu"}));
  EXPECT_EQ(r["endedBy"], "expired");
  EXPECT_EQ(r["phase"], "complete");
  EXPECT_TRUE(r["complete"]);
}

TEST_F(ReportTest, EndedEarlyAndNotYetRecovered) {
  Drill d = D();
  d.ended_early_at = At(1200);
  std::vector<Transition> ts = {{TransitionKind::kRegionFailed, "us", At(650), "", At(210)}};
  std::vector<Observation> obs = {{At(660), {"us"}, {"eu"}}};
  json r = BuildDrillReport(d, ts, obs, At(1300));
  EXPECT_EQ(r["timeline"]["outageEndedAt"], FormatTime(At(1200)));
  EXPECT_EQ(r["endedBy"], "ended");
  EXPECT_EQ(r["phase"], "outage-ended");
  EXPECT_TRUE(r["timeline"]["regionRecoveredAt"].is_null());
  EXPECT_TRUE(r["durationsSeconds"]["outageEndedToRegionRecovered"].is_null());
  EXPECT_DOUBLE_EQ(r["durationsSeconds"]["outage"].get<double>(), 1.2);
}

TEST_F(ReportTest, AGapObservationAdvancesThePhaseButLeavesItsTimeNull) {
  std::vector<Observation> obs = {{At(660), {"us"}, {"eu"}}, {At(9000), {}, {"eu", "us"}, true}};
  json r = BuildDrillReport(D(), {}, obs, At(9000));
  EXPECT_EQ(r["timeline"]["failedObservedAt"], FormatTime(At(660)));
  EXPECT_TRUE(r["timeline"]["recoveredObservedAt"].is_null());
  EXPECT_TRUE(r["timeline"]["servingRestoredAt"].is_null());
  EXPECT_EQ(r["phase"], "complete");
  EXPECT_EQ(r["notes"].size(), 1u);
  EXPECT_TRUE(BuildDrillReport(D(), {}, {obs[0]}, At(9000))["notes"].empty());
}

TEST_F(ReportTest, DrillsRoundTripThroughTheStateKey) {
  Drill d = D();
  d.ended_early_at = At(1200);
  d.failed_before = {"ap"};
  d.observations = {{At(660), {"us"}, {"eu"}}, {At(5000), {}, {"eu", "us"}, true}};
  d.completed_at = At(5001);
  d.report = {{"phase", "complete"}};
  auto back = ParseDrills(DrillsToJson({D(), d}));
  ASSERT_TRUE(back.ok()) << back.message();
  ASSERT_EQ(back->size(), 2u);
  const Drill& x = (*back)[1];
  EXPECT_EQ(x.id, d.id);
  EXPECT_EQ(x.injected_at, d.injected_at);
  EXPECT_EQ(x.expires_at, d.expires_at);
  EXPECT_EQ(x.ended_early_at, d.ended_early_at);
  EXPECT_EQ(x.completed_at, d.completed_at);
  EXPECT_EQ(x.serving_before, d.serving_before);
  EXPECT_EQ(x.failed_before, d.failed_before);
  ASSERT_EQ(x.observations.size(), 2u);
  EXPECT_EQ(x.observations[1].at, At(5000));
  EXPECT_TRUE(x.observations[1].gap);
  EXPECT_FALSE(x.observations[0].gap);
  EXPECT_EQ(x.report, d.report);
  EXPECT_FALSE((*back)[0].completed_at.has_value());
  EXPECT_TRUE(ParseDrills("").ok());
}

TEST_F(ReportTest, DrillsKeyKeepsTheNewestAndRejectsMalformedContent) {
  std::vector<Drill> many;
  for (int i = 0; i < 30; ++i) {
    Drill d = D();
    d.id = "drill-" + std::to_string(i);
    many.push_back(d);
  }
  auto back = ParseDrills(DrillsToJson(many));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), kMaxStoredDrills);
  EXPECT_EQ(back->back().id, "drill-29");
  EXPECT_EQ(back->front().id, "drill-10");
  auto bad = ParseDrills("{\"drills\": [{\"id\": \"x\", \"region\": \"us\", \"injectedAt\": 5}]}");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "drills.drills[0].injectedAt: expected string, got number 5");
  EXPECT_FALSE(ParseDrills("[]").ok());
  EXPECT_FALSE(ParseDrills("{").ok());
}

}  // namespace
}  // namespace aha::mcp
