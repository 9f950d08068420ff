// The drill's final checks (src/demo/drill.h): the single-writer check of a lineage's history on
// the remote (records, the sidecars' publish reports, sampled latest), refused publishes counted
// from the sidecars' logs, and the RPO bound on writes lost at failover. A real file:// remote,
// real log files; records and log lines written the way the sidecars write them.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "demo/drill.h"
#include "objectstore/file_store.h"
#include "replication/snapshot.h"
#include "support/temp_dir.h"

namespace aha::demo {
namespace {

using nlohmann::json;

class DemoChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<objectstore::FileObjectStore>(tmp_.path() + "/bucket");
    w_.remote = store_.get();
    for (const auto& [name, active] : std::vector<std::pair<std::string, bool>>{
             {"us-east-1", true}, {"ap-southeast-1", false}}) {
      RegionRuntime r;
      r.name = name;
      r.active = active;
      r.sidecar_log = tmp_.path() + "/sidecar-" + name + ".log";
      std::ofstream(r.sidecar_log).flush();
      w_.regions.push_back(r);
    }
    w_.failing = "us-east-1";
    w_.passive = "ap-southeast-1";
  }

  // A record of lineage us-east-1 on the remote; `second` orders creation times.
  std::string Put(int second, int64_t epoch, const std::string& writer) {
    replication::Record r;
    const WallTime t = WallTime(std::chrono::seconds(1796400000 + second));
    r.id = replication::MakeSnapshotId(t, static_cast<uint64_t>(second));
    r.region = "us-east-1";
    r.generation = "g";
    r.created_at = FormatTime(t);
    r.host = "h";
    r.epoch = epoch;
    r.writer = writer;
    EXPECT_TRUE(store_->Put(replication::RecordKey("us-east-1", r.id), RecordToJson(r)));
    return r.id;
  }

  // A sidecar's "snapshot" log line for `id`: published (ok) or refused as fenced.
  void Log(const std::string& region, const std::string& id, bool ok) {
    json line = {{"msg", "snapshot"},
                 {"ts", "2026-12-04T18:00:00.000Z"},
                 {"lineage", "us-east-1"},
                 {"snapshot", id},
                 {"ok", ok},
                 {"remotes",
                  {{{"remote", "file://bucket"},
                    {"ok", ok},
                    {"fenced", !ok},
                    {"error", ok ? "" : "fenced: lineage us-east-1 moved to a higher epoch"}}}}};
    for (const auto& r : w_.regions) {
      if (r.name == region) std::ofstream(r.sidecar_log, std::ios::app) << line.dump() << "\n";
    }
  }

  aha::testing::TempDir tmp_;
  std::unique_ptr<objectstore::FileObjectStore> store_;
  World w_;
};

const std::string kEast = "us-east-1/aaa", kStandIn = "ap-southeast-1/bbb",
                  kEastAgain = "us-east-1/ccc";

TEST_F(DemoChecks, AHandoffAndFailbackIsOneWriterPerEpochInOrder) {
  Log("us-east-1", Put(1, 1, kEast), true);
  Log("us-east-1", Put(2, 1, kEast), true);
  Log("ap-southeast-1", Put(3, 2, kStandIn), true);
  Log("us-east-1", Put(4, 3, kEastAgain), true);
  json c = CheckLineages(w_, {});
  EXPECT_TRUE(c["ok"].get<bool>()) << c.dump(2);
  EXPECT_EQ(c["lineages"]["us-east-1"]["records"], 4);
  EXPECT_EQ(c["lineages"]["us-east-1"]["published"], 4);
  EXPECT_EQ(c["lineages"]["us-east-1"]["epochs"].size(), 3u);
}

TEST_F(DemoChecks, ALowerEpochPublishedAfterAHigherOneIsTwoWriters) {
  Log("us-east-1", Put(1, 1, kEast), true);
  Log("ap-southeast-1", Put(2, 2, kStandIn), true);
  const std::string late = Put(3, 1, kEast);  // the old writer went on publishing
  Log("us-east-1", late, true);
  json c = CheckLineages(w_, {});
  EXPECT_FALSE(c["ok"].get<bool>()) << c.dump(2);
  ASSERT_EQ(c["violations"].size(), 1u) << c.dump(2);
  EXPECT_NE(c["violations"][0].get<std::string>().find(late), std::string::npos);

  DemoResult out;
  EXPECT_EQ(FinalChecks(w_, 0, &out), 1);
  EXPECT_EQ(out.failed_step, "single writer per lineage");
  EXPECT_NE(out.failure.find(late), std::string::npos) << out.failure;
}

TEST_F(DemoChecks, ARefusedPublishIsCountedAndIsNoSecondWriter) {
  Log("us-east-1", Put(1, 1, kEast), true);
  Log("ap-southeast-1", Put(2, 2, kStandIn), true);
  Log("us-east-1", Put(3, 1, kEast), false);  // record uploaded, latest refused: fenced
  json c = CheckLineages(w_, {});
  EXPECT_TRUE(c["ok"].get<bool>()) << c.dump(2);
  EXPECT_EQ(c["lineages"]["us-east-1"]["published"], 2);
  json f = FencedPublishes(w_);
  EXPECT_EQ(f["count"], 1);
  EXPECT_EQ(f["byRegion"]["us-east-1"], 1);
  EXPECT_EQ(f["byRegion"]["ap-southeast-1"], 0);
  DemoResult out;
  EXPECT_EQ(FinalChecks(w_, 0, &out), 0) << out.failure;
  EXPECT_EQ(out.fenced_publishes["count"], 1);
}

TEST_F(DemoChecks, TwoWritersAtOneEpochOrLatestGoingBackAreViolations) {
  Log("us-east-1", Put(1, 2, kEast), true);
  Log("ap-southeast-1", Put(2, 2, kStandIn), true);
  EXPECT_FALSE(CheckLineages(w_, {})["ok"].get<bool>());

  const Mono t = std::chrono::steady_clock::now();
  std::vector<LineageMonitor::Sample> seen = {
      {"us-east-1", "20261204T180000.000Z-000001", kStandIn, 2, false, t},
      {"us-east-1", "20261204T180001.000Z-000002", kEast, 1, false, t}};
  json c = CheckLineages(w_, seen);
  bool named = false;
  for (const auto& v : c["violations"])
    named = named || v.get<std::string>().find("latest went from") != std::string::npos;
  EXPECT_TRUE(named) << c.dump(2);
}

TEST_F(DemoChecks, AWriteLostAtFailoverOlderThanTheRpoBoundFailsTheRun) {
  Log("us-east-1", Put(1, 1, kEast), true);
  DemoResult out;
  out.rpo_bound_ms = 2000;
  out.lost_at_failover = {{"count", 1}, {"oldestAgeMs", 1500.0}};
  EXPECT_EQ(FinalChecks(w_, 0, &out), 0) << out.failure;
  out.lost_at_failover["oldestAgeMs"] = 2500.0;
  EXPECT_EQ(FinalChecks(w_, 0, &out), 1);
  EXPECT_EQ(out.failed_step, "lost at failover within the RPO bound");
  // A drill that already failed keeps its own failure.
  DemoResult failed;
  failed.rpo_bound_ms = 2000;
  failed.lost_at_failover = {{"count", 1}, {"oldestAgeMs", 9000.0}};
  EXPECT_EQ(FinalChecks(w_, 130, &failed), 130);
}

}  // namespace
}  // namespace aha::demo
