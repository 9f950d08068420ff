// Restore progress throttling (FakeClock) and the warm standby's Follower against a real
// FileObjectStore: incremental apply, hard links, idle cost, the local-writes refusal, stale
// staging cleanup and the per-directory lock.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/fs.h"
#include "objectstore/file_store.h"
#include "objectstore/sigv4.h"
#include "replication/follow.h"
#include "replication/restore.h"
#include "support/temp_dir.h"

namespace aha::replication {
namespace {

namespace fs = std::filesystem;

// Publishes `files` (path -> content) as snapshot number `seq` of region r1, like `replicate`
// does: blobs, then the record, then latest.
std::string Publish(objectstore::ObjectStore& store,
                    const std::map<std::string, std::string>& files, int seq) {
  Record r;
  r.id = MakeSnapshotId(WallTime{} + std::chrono::seconds(1795805281 + seq), seq);
  r.region = "r1";
  r.generation = "gen";
  r.created_at = FormatTime(WallTime{} + std::chrono::seconds(1795805281 + seq));
  for (const auto& [path, data] : files) {
    const std::string sha = objectstore::sigv4::Sha256Hex(data);
    EXPECT_TRUE(store.Put(BlobKey("r1", sha), data));
    r.files.push_back({path, sha, data.size(), 0644, 1000000000LL * seq});
  }
  EXPECT_TRUE(store.Put(RecordKey("r1", r.id), RecordToJson(r)));
  EXPECT_TRUE(store.Put(LatestKey("r1"), LatestToJson({r.id, r.generation})));
  return r.id;
}

std::string Slurp(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Advances a FakeClock by 300 ms per blob fetched: "time passes while downloading".
class SlowStore : public objectstore::FileObjectStore {
 public:
  SlowStore(std::string root, FakeClock* clock) : FileObjectStore(std::move(root)), clock_(clock) {}
  Status GetToFile(const std::string& key, const std::string& path, bool durable,
                   uint64_t expected_size) override {
    clock_->advance(std::chrono::milliseconds(300));
    return FileObjectStore::GetToFile(key, path, durable, expected_size);
  }

 private:
  FakeClock* clock_;
};

TEST(Restore, ProgressIsThrottledAndEndsWithAFinalReport) {
  testing::TempDir tmp;
  FakeClock clock;
  SlowStore store(tmp.path() + "/remote", &clock);
  std::map<std::string, std::string> files;
  for (int i = 0; i < 10; ++i)
    files["f" + std::to_string(i)] = std::string(100 + i, 'a' + i);
  Publish(store, files, 1);
  RestoreOptions o;
  o.region = "r1";
  o.target = tmp.path() + "/out";
  o.clock = &clock;
  o.progress_interval = std::chrono::milliseconds(1000);
  o.parallelism = 1;  // the FakeClock steps per fetch: one at a time keeps the counts exact
  std::vector<RestoreProgress> seen;
  o.progress = [&](const RestoreProgress& p) { seen.push_back(p); };
  auto r = Restore({&store}, o);
  ASSERT_TRUE(r) << r.message();
  // At 0 ms (nothing done), 1200 ms (4 files), 2400 ms (8 files), then the final report.
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].files_done, 0u);
  EXPECT_EQ(seen[1].files_done, 4u);
  EXPECT_EQ(seen[2].files_done, 8u);
  EXPECT_EQ(seen[3].files_done, 10u);
  EXPECT_TRUE(seen[3].final);
  EXPECT_EQ(seen[3].bytes_done, seen[3].bytes_total);
  EXPECT_EQ(seen[3].bytes_total, 1045u);
  EXPECT_FALSE(seen[2].final);
}

std::string ListDir(const std::string& d) {
  std::string out;
  for (const auto& e : fs::directory_iterator(d))
    out += e.path().filename().string() + " ";
  return out;
}

// Parallel fetches with per-blob fallback: the first remote lacks a third of the blobs and holds
// a corrupt copy of another; every file still comes out intact, from the second remote, and the
// warnings name the files in record order.
TEST(Restore, ParallelFetchFallsBackPerBlobToTheNextRemote) {
  testing::TempDir tmp;
  objectstore::FileObjectStore a(tmp.path() + "/a"), b(tmp.path() + "/b");
  std::map<std::string, std::string> files;
  for (int i = 0; i < 60; ++i)
    files["d" + std::to_string(i % 5) + "/f" + std::to_string(i)] = "content " + std::to_string(i);
  files["dup1"] = files["dup2"] = "same bytes";  // one fetch, one copy
  Publish(a, files, 1);
  Publish(b, files, 1);
  size_t missing = 0;
  for (int i = 0; i < 60; i += 3, ++missing) {
    const std::string sha = objectstore::sigv4::Sha256Hex("content " + std::to_string(i));
    ASSERT_TRUE(a.Delete(BlobKey("r1", sha)));
  }
  ASSERT_TRUE(a.Put(BlobKey("r1", objectstore::sigv4::Sha256Hex("content 1")), "corrupt"));
  RestoreOptions o;
  o.region = "r1";
  o.target = tmp.path() + "/out";
  o.parallelism = 8;
  auto r = Restore({&a, &b}, o);
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->files, files.size());
  EXPECT_EQ(r->fallbacks, missing + 1);
  EXPECT_EQ(r->copied, 1u);
  ASSERT_EQ(r->warnings.size(), missing + 1);
  EXPECT_TRUE(std::is_sorted(
      r->warnings.begin(), r->warnings.end(), [&](const std::string& x, const std::string& y) {
        auto pos = [&](const std::string& w) {
          return std::distance(files.begin(), files.find(w.substr(0, w.find(':'))));
        };
        return pos(x) < pos(y);
      }));
  for (const auto& [path, data] : files)
    EXPECT_EQ(Slurp(tmp.path() + "/out/" + path), data) << path;
  // Nothing left next to the target but the target itself.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    entries += e.path().filename() != "a" && e.path().filename() != "b";
  EXPECT_EQ(entries, 1u) << ListDir(tmp.path());

  // A blob neither remote has: restore fails naming it, the target is not created, no staging
  // or download dir is left behind, whatever the other workers were doing.
  const std::string sha7 = objectstore::sigv4::Sha256Hex("content 7");
  ASSERT_TRUE(a.Delete(BlobKey("r1", sha7)));
  ASSERT_TRUE(b.Delete(BlobKey("r1", sha7)));
  o.target = tmp.path() + "/out2";
  auto bad = Restore({&a, &b}, o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("d2/f7"), std::string::npos) << bad.message();
  EXPECT_NE(bad.message().find("1 file(s)"), std::string::npos) << bad.message();
  EXPECT_FALSE(fs::exists(tmp.path() + "/out2"));
  entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    entries += e.path().filename() != "a" && e.path().filename() != "b";
  EXPECT_EQ(entries, 1u) << ListDir(tmp.path());
}

TEST(Follow, AppliesOnlyChangesLinksTheRestAndIdlesOnOneRequest) {
  testing::TempDir tmp;
  objectstore::FileObjectStore store(tmp.path() + "/remote");
  const std::string big(100000, 'b');
  Publish(store, {{"a.txt", "one"}, {"big.bin", big}, {"d/c.txt", "three"}}, 1);
  FollowOptions fo;
  fo.region = "r1";
  fo.target = tmp.path() + "/agent";
  Follower f({&store}, fo);
  ASSERT_TRUE(f.Init());
  auto r1 = f.RunOnce();
  ASSERT_TRUE(r1.ok) << r1.error;
  EXPECT_TRUE(r1.applied);
  EXPECT_EQ(r1.blobs_fetched, 3u);
  EXPECT_EQ(Slurp(fo.target + "/big.bin"), big);
  struct stat before {};
  ASSERT_EQ(::stat((fo.target + "/big.bin").c_str(), &before), 0);

  auto idle = f.RunOnce();
  ASSERT_TRUE(idle.ok) << idle.error;
  EXPECT_FALSE(idle.applied);
  EXPECT_EQ(idle.requests, 1u);

  // The next snapshot: the same record with a.txt changed (the other files keep mode and mtime).
  Record r;
  auto text = store.Get(RecordKey("r1", r1.snapshot));
  ASSERT_TRUE(text);
  r = *RecordFromJson(*text);
  r.id = MakeSnapshotId(WallTime{} + std::chrono::seconds(1795805290), 2);
  for (auto& e : r.files) {
    if (e.path == "a.txt") {
      e.sha256 = objectstore::sigv4::Sha256Hex("uno");
      e.size = 3;
      ASSERT_TRUE(store.Put(BlobKey("r1", e.sha256), "uno"));
    }
  }
  ASSERT_TRUE(store.Put(RecordKey("r1", r.id), RecordToJson(r)));
  ASSERT_TRUE(store.Put(LatestKey("r1"), LatestToJson({r.id, r.generation})));
  auto r2 = f.RunOnce();
  ASSERT_TRUE(r2.ok) << r2.error;
  EXPECT_TRUE(r2.applied);
  EXPECT_EQ(r2.snapshot, r.id);
  EXPECT_EQ(r2.blobs_fetched, 1u);
  EXPECT_EQ(r2.bytes_fetched, 3u);
  EXPECT_EQ(r2.linked, 2u);
  EXPECT_EQ(Slurp(fo.target + "/a.txt"), "uno");
  struct stat after {};
  ASSERT_EQ(::stat((fo.target + "/big.bin").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino) << "hard-linked, not fetched";
  EXPECT_EQ(after.st_nlink, 1u) << "the old tree is gone";

  // A local write: the next snapshot is refused and nothing changes.
  { std::ofstream(fo.target + "/d/local.txt") << "promoted"; }
  Publish(store, {{"a.txt", "zwei"}}, 20);  // newer than r (seq 2 at +9 s)
  auto r3 = f.RunOnce();
  EXPECT_FALSE(r3.ok);
  EXPECT_TRUE(r3.refused);
  EXPECT_NE(r3.error.find("d/local.txt was added"), std::string::npos) << r3.error;
  EXPECT_EQ(Slurp(fo.target + "/a.txt"), "uno");
  EXPECT_EQ(r3.snapshot, r.id);
}

TEST(Follow, InitRemovesStaleStagingAndHoldsTheLock) {
  testing::TempDir tmp;
  objectstore::FileObjectStore store(tmp.path() + "/remote");
  Publish(store, {{"a.txt", "one"}}, 1);
  fs::create_directories(tmp.path() + "/.agent.aha-follow-AbC123/x");
  std::ofstream(tmp.path() + "/.agent.aha-follow-AbC123.download") << "partial";
  std::ofstream(tmp.path() + "/.other.aha-follow-AbC123") << "not ours";
  FollowOptions fo;
  fo.region = "r1";
  fo.target = tmp.path() + "/agent";
  Follower f({&store}, fo);
  ASSERT_TRUE(f.Init());
  EXPECT_FALSE(fs::exists(tmp.path() + "/.agent.aha-follow-AbC123"));
  EXPECT_FALSE(fs::exists(tmp.path() + "/.agent.aha-follow-AbC123.download"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/.other.aha-follow-AbC123"));
  Follower second({&store}, fo);
  Status s = second.Init();
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("another follow"), std::string::npos);
  // An unknown non-empty directory is never taken over.
  fs::create_directories(tmp.path() + "/foreign");
  std::ofstream(tmp.path() + "/foreign/keep.txt") << "precious";
  FollowOptions fo2 = fo;
  fo2.target = tmp.path() + "/foreign";
  Follower g({&store}, fo2);
  ASSERT_TRUE(g.Init());
  auto r = g.RunOnce();
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.refused);
  EXPECT_EQ(Slurp(tmp.path() + "/foreign/keep.txt"), "precious");
}

}  // namespace
}  // namespace aha::replication
