// Replication: record format, ids, upload planner, lineage refusal, retention, config errors.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "config/replication_config.h"
#include "replication/snapshot.h"

namespace aha::replication {
namespace {

const std::string kA(64, 'a'), kB(64, 'b');

TEST(ReplicationRecord, RoundTripsAndValidates) {
  Record r;
  r.id = MakeSnapshotId(WallTime{} + std::chrono::milliseconds(1795805281534LL), 7);
  EXPECT_EQ(r.id, "20261127T184801.534Z-000007");
  r.region = "us-east-1";
  r.generation = "g1";
  r.files = {{"brain/x.lance/data/1.lance", kA, 10, 0640, 123456789}, {"a.txt", kB, 0, 0600, 1}};
  r.datasets = {{"brain/x.lance", {"1.manifest"}, 1}};
  auto back = RecordFromJson(RecordToJson(r));
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->id, r.id);
  ASSERT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->files[0].path, "brain/x.lance/data/1.lance");
  EXPECT_EQ(back->files[0].mode, 0640u);
  EXPECT_EQ(back->files[0].mtime_ns, 123456789);
  EXPECT_EQ(back->total_bytes(), 10u);
  EXPECT_EQ(back->datasets[0].versions, std::vector<std::string>{"1.manifest"});

  std::string evil = RecordToJson(r);
  evil.replace(evil.find("a.txt"), 5, "../xx");
  EXPECT_FALSE(RecordFromJson(evil));
  EXPECT_FALSE(RecordFromJson("{}"));
  EXPECT_FALSE(SafeRelativePath("/etc/passwd"));
  EXPECT_FALSE(SafeRelativePath("a//b"));
  EXPECT_TRUE(SafeRelativePath("a/.b/c"));
}

TEST(ReplicationRecord, IdsSortByTime) {
  auto t = WallTime{} + std::chrono::seconds(1795805281);
  std::string a = MakeSnapshotId(t, 999999),
              b = MakeSnapshotId(t + std::chrono::milliseconds(1), 1);
  EXPECT_LT(a, b);
  EXPECT_TRUE(IsSnapshotId(a));
  EXPECT_FALSE(IsSnapshotId("20261127T184801.534Z-00000x"));
  EXPECT_EQ(BlobKey("r", kA), "r/blobs/aa/" + kA);
  EXPECT_EQ(RecordKey("r", a), "r/snapshots/" + a + ".json");
}

TEST(ReplicationPlanner, UploadsOnlyMissingDistinctBlobs) {
  std::vector<FileEntry> files = {{"a", kA, 5}, {"b", kA, 5}, {"c", kB, 7}};
  auto p = PlanUploads(files, {});
  ASSERT_EQ(p.uploads.size(), 2u);
  EXPECT_EQ(p.upload_bytes, 12u);
  p = PlanUploads(files, {kA});
  ASSERT_EQ(p.uploads.size(), 1u);
  EXPECT_EQ(p.uploads[0].path, "c");
  EXPECT_EQ(p.already_present, 1u);
}

TEST(ReplicationLineage, RefusesForeignOrNewerLatest) {
  RemoteLineage mine{"20261127T184801.534Z-000001", "", ""};
  EXPECT_TRUE(CheckLineage(std::nullopt, mine, "r"));
  EXPECT_TRUE(CheckLineage(LatestPointer{mine.last_published, "g"}, mine, "r"));
  auto s = CheckLineage(LatestPointer{"20261127T184901.000Z-000001", "other"}, mine, "r");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_NE(s.message().find("refusing to publish"), std::string::npos) << s.message();
  // Never published there: an existing lineage is not ours to continue...
  RemoteLineage fresh;
  EXPECT_FALSE(CheckLineage(LatestPointer{mine.last_published, "g"}, fresh, "r"));
  // ...unless this source was restored from exactly that snapshot.
  fresh.restored_from = mine.last_published;
  EXPECT_TRUE(CheckLineage(LatestPointer{mine.last_published, "g"}, fresh, "r"));
  // Crash between writing latest and saving local state.
  RemoteLineage pending{"20261127T184801.534Z-000001", "20261127T184901.000Z-000002", ""};
  EXPECT_TRUE(CheckLineage(LatestPointer{pending.pending, "g"}, pending, "r"));
}

TEST(ReplicationRetention, KeepsLastNOrYoungAndAlwaysLatest) {
  auto t0 = WallTime{} + std::chrono::seconds(1795805281);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(MakeSnapshotId(t0 + std::chrono::hours(i), static_cast<uint64_t>(i)));
  const auto now = t0 + std::chrono::hours(5);
  auto d = PlanRetention(ids, ids[4], now, {2, 3 * 3600.0 + 1});
  EXPECT_EQ(d, (std::vector<std::string>{ids[0], ids[1]}));
  d = PlanRetention(ids, ids[4], now, {1, 0});
  EXPECT_EQ(d.size(), 4u);
  EXPECT_TRUE(PlanRetention(ids, ids[4], now, {0, 0}).empty());
}

TEST(ReplicationConfig, StrictWithKeyPaths) {
  auto ok = config::ParseReplicationConfig(
      "source: /data\nregion: us-east-1\nremotes:\n  - url: s3://b/p\n    endpoint: "
      "http://127.0.0.1:9000\n    pathStyle: true\n  - url: file:///mnt/r\n",
      "t");
  ASSERT_TRUE(ok) << ok.message();
  EXPECT_EQ(ok->state_dir, "/data/.agency-ha");
  EXPECT_EQ(ok->sync_interval_seconds, 60);
  EXPECT_EQ(ok->remotes[0].path_style, std::optional<bool>(true));
  auto e = config::ParseReplicationConfig(
      "source: /data\nregion: r\nremotes: [{url: s3://b, pathStlye: true}]\n", "t");
  ASSERT_FALSE(e);
  EXPECT_NE(e.message().find("remotes[0].pathStlye"), std::string::npos) << e.message();
  e = config::ParseReplicationConfig("source: /d\nregion: r\nremotes: [{url: http://x}]\n", "t");
  ASSERT_FALSE(e);
  EXPECT_NE(e.message().find("remotes[0].url"), std::string::npos) << e.message();
  e = config::ParseReplicationConfig(
      "source: /d\nregion: r\nremotes: [{url: 'file:///x'}]\nretention: {keepLast: -1}\n", "t");
  ASSERT_FALSE(e);
  EXPECT_NE(e.message().find("retention.keepLast"), std::string::npos) << e.message();
  e = config::ParseReplicationConfig("source: rel\nregion: r\nremotes: [{url: 'file:///x'}]\n",
                                     "t");
  ASSERT_FALSE(e);
  EXPECT_NE(e.message().find("source"), std::string::npos);
}

// Each tuning key is bounded and a value out of bounds names the key; the bounds themselves load.
TEST(ReplicationConfig, TuningBoundsNameTheKey) {
  const std::string base = "source: /d/\nregion: r\nremotes: [{url: 'file:///x'}]\n";
  auto ok = config::ParseReplicationConfig(
      base + "syncIntervalSeconds: 86400\ndebounceMilliseconds: 0\nparallelism: 64\nlisten: ''\n",
      "t");
  ASSERT_TRUE(ok) << ok.message();
  EXPECT_EQ(ok->source, "/d");
  EXPECT_EQ(ok->parallelism, 64);
  EXPECT_EQ(ok->debounce_milliseconds, 0);
  EXPECT_EQ(ok->listen, "");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"syncIntervalSeconds: 0.5\n", "syncIntervalSeconds: must be between 1 and 86400"},
      {"debounceMilliseconds: 600001\n", "debounceMilliseconds: must be between 0 and 600000"},
      {"parallelism: 0\n", "parallelism: must be between 1 and 64"},
      {"listen: nope\n", "listen: invalid address"},
  };
  for (const auto& [yaml, want] : bad) {
    auto e = config::ParseReplicationConfig(base + yaml, "t");
    ASSERT_FALSE(e) << yaml;
    EXPECT_NE(e.message().find(want), std::string::npos) << e.message();
  }
}

// The handoff section's defaults and its cross-field checks against `region`.
TEST(ReplicationConfig, HandoffDefaultsAndCrossChecks) {
  const std::string base =
      "source: /d\nregion: us-east-1-brain\nremotes: [{url: 'file:///x'}]\nhandoff:\n"
      "  state: {file: /s}\n";
  auto ok = config::ParseReplicationConfig(base + "  lineageSuffix: -brain\n", "t");
  ASSERT_TRUE(ok) << ok.message();
  EXPECT_TRUE(ok->handoff.configured);
  EXPECT_TRUE(ok->handoff.active);
  EXPECT_EQ(ok->handoff.position_file, "/d/.agency-ha/position.json");
  EXPECT_EQ(ok->handoff.timeout_seconds, 30);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"  lineageSuffix: -other\n", "handoff.lineageSuffix: region"},
      {"  active: false\n", "handoff.followRegion: required when active is false"},
      {"  followRegion: Bad_Name\n", "handoff.followRegion: invalid region name"},
      {"  positionFile: rel\n", "handoff.positionFile: must be an absolute path"},
      {"  timeoutSeconds: 3601\n", "handoff.timeoutSeconds: must be between 0 and 3600"},
      {"  followIntervalSeconds: 0.01\n", "handoff.followIntervalSeconds: must be between"},
      {"  typo: 1\n", "handoff.typo"},
  };
  for (const auto& [yaml, want] : bad) {
    auto e = config::ParseReplicationConfig(base + yaml, "t");
    ASSERT_FALSE(e) << yaml;
    EXPECT_NE(e.message().find(want), std::string::npos) << e.message();
  }
  auto none =
      config::ParseReplicationConfig("source: /d\nregion: r\nremotes: [{url: 'file:///x'}]\n", "t");
  ASSERT_TRUE(none) << none.message();
  EXPECT_FALSE(none->handoff.configured);
}

}  // namespace
}  // namespace aha::replication
