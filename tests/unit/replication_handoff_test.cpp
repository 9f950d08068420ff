// The pieces of the writer handoff (docs/WRITER.md) that have no I/O or only local I/O:
// DecideRole (table), the position file and X-Agency-Data header (round trip, hostile input),
// in-place apply against a real FileObjectStore (the directory inode is kept, only changed files
// are written, LanceDB manifests last) and the divergent tail.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/fs.h"
#include "objectstore/file_store.h"
#include "objectstore/sigv4.h"
#include "replication/apply.h"
#include "replication/position.h"
#include "replication/role.h"
#include "support/temp_dir.h"

namespace aha::replication {
namespace {

namespace fs = std::filesystem;

failover::State StateWith(std::map<std::string, std::vector<std::string>> promoted_for) {
  failover::State s;
  for (const char* r : {"us-east-1", "eu-west-1", "us-west-2", "ap-south-1"})
    s.regions[r];
  for (auto& [p, f] : promoted_for) {
    s.regions[p].promoted = !f.empty();
    s.regions[p].promoted_for = f;
  }
  return s;
}

TEST(DecideRole, Table) {
  struct Case {
    const char* name;
    std::optional<failover::State> state;
    RoleInputs in;
    Role role;
    std::string lineage;
    bool planned;
  };
  const RoleInputs active{"us-east-1", true, ""};
  const RoleInputs passive{"us-west-2", false, "us-east-1"};
  const std::vector<Case> cases = {
      {"no state yet: wait", std::nullopt, active, Role::kStarting, "", false},
      {"no state yet, passive: wait", std::nullopt, passive, Role::kStarting, "", false},
      {"active, nobody promoted", StateWith({}), active, Role::kWriter, "us-east-1", true},
      {"active, stand-in promoted for it", StateWith({{"us-west-2", {"us-east-1"}}}), active,
       Role::kFollower, "us-east-1", false},
      {"active, stand-in promoted for another region", StateWith({{"us-west-2", {"eu-west-1"}}}),
       active, Role::kWriter, "us-east-1", true},
      {"passive, not promoted: follows its configured lineage", StateWith({}), passive,
       Role::kFollower, "us-east-1", false},
      {"passive, promoted: writes the failed region's lineage",
       StateWith({{"us-west-2", {"eu-west-1"}}}), passive, Role::kWriter, "eu-west-1", false},
      {"passive, promoted for two: the first lineage",
       StateWith({{"us-west-2", {"eu-west-1", "us-east-1"}}}), passive, Role::kWriter, "eu-west-1",
       false},
      {"passive, another passive promoted", StateWith({{"ap-south-1", {"us-east-1"}}}), passive,
       Role::kFollower, "us-east-1", false},
  };
  for (const auto& c : cases) {
    RoleDecision d = DecideRole(c.state, c.in);
    EXPECT_EQ(d.role, c.role) << c.name;
    EXPECT_EQ(d.lineage, c.lineage) << c.name;
    if (c.role == Role::kWriter) {
      EXPECT_EQ(d.planned, c.planned) << c.name;
    }
    EXPECT_FALSE(d.why.empty()) << c.name;
  }
}

TEST(Position, RoundTripAndHeader) {
  Position p;
  p.lineage = "us-east-1";
  p.role = Role::kFollower;
  p.epoch = 3;
  p.snapshot = "20261203T221500.123Z-000042";
  p.head_epoch = 4;
  p.head = "20261203T221501.000Z-000001";
  p.caught_up = false;
  p.data_ready = false;
  p.updated_at = WallTime{} + std::chrono::milliseconds(1795805281123);
  p.divergent = {2, 10, "/data/.agency-ha-divergent/x"};
  p.error = "boom";
  auto back = PositionFromJson(PositionToJson(p));
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(*back, p);
  EXPECT_EQ(PositionHeader(p),
            "role=follower; lineage=us-east-1; epoch=3; caught-up=0; ready=0; "
            "snapshot=20261203T221500.123Z-000042; head-epoch=4; head=20261203T221501.000Z-000001");
  p.caught_up = true;
  DataReport d = ParseDataHeader(PositionHeader(p));
  EXPECT_TRUE(d.present);
  EXPECT_TRUE(d.caught_up);
  EXPECT_EQ(d.role, "follower");
  EXPECT_EQ(d.lineage, "us-east-1");
  EXPECT_EQ(d.epoch, 3);
}

TEST(Position, HostileInputIsAnErrorNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[]", "not a JSON object"},
      {"{", "not a JSON object"},
      {R"({"role":"writer"})", "lineage: required"},
      {R"({"lineage":5,"role":"writer"})", "lineage: expected string"},
      {R"({"lineage":"a","role":"boss"})", "role: unknown role"},
      {R"({"lineage":"a","role":"writer","epoch":"3"})", "epoch: expected integer"},
      {R"({"lineage":"a","role":"writer","epoch":-1})", "epoch: must be >= 0"},
      {R"({"lineage":"a","role":"writer","epoch":1e300})", "epoch: expected integer"},
      {R"({"lineage":"a","role":"writer","dataReady":"yes"})", "dataReady: expected boolean"},
      {R"({"lineage":"a","role":"writer","divergent":[1]})", "divergent: expected object"},
      {R"({"lineage":"a","role":"writer","divergent":{"files":"x"}})", "divergent.files"},
      {R"({"lineage":"a","role":"writer","updatedAt":"yesterday"})", "updatedAt"},
  };
  for (const auto& [text, want] : cases) {
    auto p = PositionFromJson(text);
    ASSERT_FALSE(p) << text;
    EXPECT_NE(p.message().find(want), std::string::npos) << text << " -> " << p.message();
  }
}

TEST(Position, MalformedHeaderIsNeverCaughtUp) {
  for (const char* h : {"caught-up=1; epoch=x", "caught-up=2", "caught-up", "role=writer",
                        "caught-up=1; garbage", "epoch=99999999999999999999; caught-up=1"}) {
    DataReport d = ParseDataHeader(h);
    EXPECT_TRUE(d.present) << h;
    EXPECT_FALSE(d.caught_up) << h;
  }
  EXPECT_FALSE(ParseDataHeader("").present);
  EXPECT_TRUE(ParseDataHeader(" caught-up=1 ;future=thing").caught_up);
}

// ---- in-place apply ----

struct Lineage {
  objectstore::FileObjectStore store;
  explicit Lineage(const std::string& root) : store(root) {}
  Record Publish(const std::map<std::string, std::string>& files, int seq) {
    Record r;
    r.id = MakeSnapshotId(WallTime{} + std::chrono::seconds(1795805281 + seq), seq);
    r.region = "us-east-1";
    r.generation = "gen";
    r.created_at = FormatTime(WallTime{} + std::chrono::seconds(1795805281 + seq));
    for (const auto& [path, data] : files) {
      const std::string sha = objectstore::sigv4::Sha256Hex(data);
      EXPECT_TRUE(store.Put(BlobKey("us-east-1", sha), data));
      r.files.push_back({path, sha, data.size(), 0644, 1000000000LL * seq});
    }
    EXPECT_TRUE(store.Put(RecordKey("us-east-1", r.id), RecordToJson(r)));
    return r;
  }
};

std::string Slurp(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Write(const std::string& p, const std::string& data) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p) << data;
}

std::map<std::string, std::string> Tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string rel = fs::relative(e.path(), dir).generic_string();
    if (rel.rfind(".agency-ha", 0) == 0 || !e.is_regular_file()) continue;
    out[rel] = Slurp(e.path());
  }
  return out;
}

ino_t Inode(const std::string& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_ino;
}

TEST(ApplyInPlace, KeepsTheDirectoryAndWritesOnlyWhatChanged) {
  testing::TempDir remote, vol;
  Lineage l(remote.path());
  const std::string dir = vol.path() + "/agent";
  ApplyOptions o{dir, dir + "/.agency-ha"};
  Write(dir + "/keep.txt", "same");
  Write(dir + "/old.txt", "gone soon");
  Write(dir + "/sub/deep/x.txt", "also gone");
  const ino_t dir_ino = Inode(dir);
  std::map<std::string, std::string> want = {{"keep.txt", "same"},
                                             {"new/file.txt", "fresh"},
                                             {"mem.lance/data/a.lance", "rows"},
                                             {"mem.lance/_versions/2.manifest", "v2"},
                                             {"mem.lance/_latest.manifest", "v2"}};
  Record r = l.Publish(want, 1);
  const ino_t keep_ino = Inode(dir + "/keep.txt");
  auto rep = ApplyInPlace(r, {&l.store}, o);
  ASSERT_TRUE(rep) << rep.message();
  EXPECT_EQ(Tree(dir), want);
  EXPECT_EQ(Inode(dir), dir_ino) << "the directory an app has mounted must stay the same inode";
  EXPECT_EQ(Inode(dir + "/keep.txt"), keep_ino) << "unchanged content is not rewritten";
  EXPECT_EQ(rep->written, 4u);
  EXPECT_EQ(rep->removed, 2u);
  EXPECT_FALSE(fs::exists(dir + "/sub")) << "directories left empty are removed";
  auto applied = LoadAppliedRecord(o.state_dir);
  ASSERT_TRUE(applied);
  EXPECT_EQ(applied->id, r.id);

  // A second apply of the same record writes nothing.
  auto again = ApplyInPlace(r, {&l.store}, o);
  ASSERT_TRUE(again) << again.message();
  EXPECT_EQ(again->written, 0u);
  EXPECT_EQ(again->removed, 0u);
  EXPECT_EQ(again->fetched, 0u);
}

// The app keeps running while the sidecar applies (a fenced old writer in a partition): a file it
// writes during the fetch is not in the record, but it is a write, never deleted unseen.
TEST(ApplyInPlace, AFileWrittenDuringTheApplyIsPreservedNotDeleted) {
  testing::TempDir remote, vol;
  Lineage l(remote.path());
  const std::string dir = vol.path() + "/agent";
  ApplyOptions o{dir, dir + "/.agency-ha"};
  Write(dir + "/old.txt", "removed by the lineage");
  Record r = l.Publish({{"a.txt", "from the lineage"}}, 1);
  bool wrote = false;
  o.cancelled = [&] {  // called while the blobs are fetched, after the first capture
    if (!wrote) {
      wrote = true;
      Write(dir + "/notes/late.md", "written during the apply");
    }
    return false;
  };
  auto rep = ApplyInPlace(r, {&l.store}, o);
  ASSERT_TRUE(rep) << rep.message();
  ASSERT_TRUE(wrote) << "the hook ran during the apply";
  EXPECT_EQ(Tree(dir), (std::map<std::string, std::string>{{"a.txt", "from the lineage"}}));
  EXPECT_EQ(rep->removed, 2u) << "old.txt (the lineage's removal) and late.md (preserved first)";
  ASSERT_FALSE(rep->late.path.empty()) << "the late write was set aside";
  EXPECT_EQ(rep->late.files, 1u);
  EXPECT_EQ(Slurp(rep->late.path + "/files/notes/late.md"), "written during the apply");
  EXPECT_TRUE(rep->late.deleted.empty());
  EXPECT_FALSE(fs::exists(rep->late.path + "/files/old.txt"))
      << "a file the first capture saw is the lineage's to remove, not a late write";

  // Without writes during the apply there is no late tail.
  o.cancelled = nullptr;
  Record next = l.Publish({{"a.txt", "next"}}, 2);
  auto quiet = ApplyInPlace(next, {&l.store}, o);
  ASSERT_TRUE(quiet) << quiet.message();
  EXPECT_TRUE(quiet->late.path.empty());
}

TEST(ApplyInPlace, HeldLocksAreNeitherRestoredNorRemoved) {
  testing::TempDir remote, src, vol;
  Lineage l(remote.path());
  // The writer's brain held a proper-lockfile lock (an empty directory) while it was captured:
  // records hold files only, so it is not in the snapshot. The follower's own brain holds a lock
  // of its own: an apply must not remove it.
  const std::string dir = vol.path() + "/agent";
  fs::create_directories(dir + "/brain/memory.lance.lock");
  Record r = l.Publish({{"brain/memory.lance/_versions/1.manifest", "v1"}}, 1);
  auto rep = ApplyInPlace(r, {&l.store}, ApplyOptions{dir, dir + "/.agency-ha"});
  ASSERT_TRUE(rep) << rep.message();
  EXPECT_TRUE(fs::is_directory(dir + "/brain/memory.lance.lock"));
  EXPECT_EQ(Slurp(dir + "/brain/memory.lance/_versions/1.manifest"), "v1");
}

TEST(ApplyInPlace, LanceManifestsGoLast) {
  EXPECT_LT(ApplyRank("brain/mem.lance/data/x.lance"),
            ApplyRank("brain/mem.lance/_versions/3.manifest"));
  EXPECT_LT(ApplyRank("brain/mem.lance/_versions/3.manifest"),
            ApplyRank("brain/mem.lance/_latest.manifest"));
  EXPECT_EQ(ApplyRank("notes/_versions.txt"), 0);
}

TEST(ApplyInPlace, CorruptBlobLeavesTheVolumeUnchanged) {
  testing::TempDir remote, vol;
  Lineage l(remote.path());
  const std::string dir = vol.path() + "/agent";
  Write(dir + "/a.txt", "mine");
  Record r = l.Publish({{"a.txt", "theirs"}}, 1);
  ASSERT_TRUE(l.store.Put(BlobKey("us-east-1", r.files[0].sha256), "tampered"));
  auto rep = ApplyInPlace(r, {&l.store}, ApplyOptions{dir, dir + "/.agency-ha"});
  ASSERT_FALSE(rep);
  EXPECT_EQ(Slurp(dir + "/a.txt"), "mine");
}

TEST(ApplyInPlace, ARecordCannotWriteIntoTheStateDir) {
  testing::TempDir remote, vol;
  Lineage l(remote.path());
  const std::string dir = vol.path() + "/agent";
  Record r = l.Publish({{".agency-ha/replication-state.json", "{}"}, {"ok.txt", "1"}}, 1);
  auto rep = ApplyInPlace(r, {&l.store}, ApplyOptions{dir, dir + "/.agency-ha"});
  ASSERT_TRUE(rep) << rep.message();
  EXPECT_EQ(Slurp(dir + "/ok.txt"), "1");
  EXPECT_NE(Slurp(dir + "/.agency-ha/replication-state.json"), "{}");
  ASSERT_EQ(rep->warnings.size(), 1u);
}

TEST(PreserveDivergent, CopiesAddedAndChangedFilesAndListsDeletedOnes) {
  testing::TempDir remote, vol;
  Lineage l(remote.path());
  const std::string dir = vol.path() + "/agent";
  ApplyOptions o{dir, dir + "/.agency-ha"};
  Record base = l.Publish({{"a.txt", "1"}, {"b.txt", "2"}, {"c.txt", "3"}}, 1);
  ASSERT_TRUE(ApplyInPlace(base, {&l.store}, o));
  Write(dir + "/a.txt", "1 changed");
  Write(dir + "/new/d.txt", "4");
  fs::remove(dir + "/c.txt");
  auto t = PreserveDivergent(base, 7, "test", o);
  ASSERT_TRUE(t) << t.message();
  EXPECT_EQ(t->files, 2u);
  EXPECT_EQ(t->bytes, 10u);
  EXPECT_EQ(t->deleted, std::vector<std::string>{"c.txt"});
  ASSERT_FALSE(t->path.empty());
  EXPECT_EQ(fs::path(t->path).parent_path(), fs::path(vol.path()) / ".agency-ha-divergent");
  EXPECT_NE(t->path.find("-epoch7"), std::string::npos);
  EXPECT_EQ(Slurp(t->path + "/files/a.txt"), "1 changed");
  EXPECT_EQ(Slurp(t->path + "/files/new/d.txt"), "4");
  const std::string manifest = Slurp(t->path + "/manifest.json");
  EXPECT_NE(manifest.find("\"c.txt\""), std::string::npos);
  EXPECT_NE(manifest.find(base.id), std::string::npos);

  // Applying the lineage afterwards replaces the volume; the preserved copy stays.
  Record next = l.Publish({{"a.txt", "1"}, {"b.txt", "2"}, {"z.txt", "9"}}, 2);
  ASSERT_TRUE(ApplyInPlace(next, {&l.store}, o));
  EXPECT_EQ(Tree(dir),
            (std::map<std::string, std::string>{{"a.txt", "1"}, {"b.txt", "2"}, {"z.txt", "9"}}));
  EXPECT_EQ(Slurp(t->path + "/files/a.txt"), "1 changed");

  // Nothing diverged: nothing written.
  auto none = PreserveDivergent(next, 8, "test", o);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->path.empty());
  EXPECT_EQ(none->files, 0u);
}

}  // namespace
}  // namespace aha::replication
