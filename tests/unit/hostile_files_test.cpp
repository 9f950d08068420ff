// Hostile input on the file side of replication: mode bits from a record (no setuid/setgid/
// sticky), symlinks planted in a file:// remote (never followed, the target never read), lock
// files that are symlinks (refused, the target never created), and size mismatches reported as
// such.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/fs.h"
#include "objectstore/file_store.h"
#include "objectstore/sigv4.h"
#include "replication/follow.h"
#include "replication/restore.h"
#include "state/store.h"
#include "support/temp_dir.h"

namespace aha::replication {
namespace {

namespace fs = std::filesystem;
using objectstore::sigv4::Sha256Hex;

struct File {
  std::string data;
  uint32_t mode = 0644;
  uint64_t size_override = UINT64_MAX;  // a record that lies about the size
};

// Publishes `files` as snapshot `seq` of region r1 (blobs, record, latest), as `replicate` does.
Record Publish(objectstore::ObjectStore& store, const std::map<std::string, File>& files, int seq) {
  Record r;
  r.id = MakeSnapshotId(WallTime{} + std::chrono::seconds(1795805281 + seq), seq);
  r.region = "r1";
  r.generation = "gen";
  r.created_at = FormatTime(WallTime{} + std::chrono::seconds(1795805281 + seq));
  for (const auto& [path, f] : files) {
    const std::string sha = Sha256Hex(f.data);
    EXPECT_TRUE(store.Put(BlobKey("r1", sha), f.data));
    const uint64_t size = f.size_override != UINT64_MAX ? f.size_override : f.data.size();
    r.files.push_back({path, sha, size, f.mode, 1000000000LL * seq});
  }
  EXPECT_TRUE(store.Put(RecordKey("r1", r.id), RecordToJson(r)));
  EXPECT_TRUE(store.Put(LatestKey("r1"), LatestToJson({r.id, r.generation})));
  return r;
}

uint32_t ModeOf(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(HostileRestore, SetuidSetgidAndStickyBitsFromARecordAreNeverApplied) {
  testing::TempDir tmp;
  objectstore::FileObjectStore store(tmp.path() + "/remote");
  Publish(store,
          {{"suid", {"#!/bin/sh\n", 07755}},
           {"sgid", {"x", 02750}},
           {"sticky", {"y", 01777}},
           {"plain", {"z", 0640}}},
          1);
  RestoreOptions o;
  o.region = "r1";
  o.target = tmp.path() + "/out";
  auto r = Restore({&store}, o);
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(ModeOf(o.target + "/suid"), 0755u);
  EXPECT_EQ(ModeOf(o.target + "/sgid"), 0750u);
  EXPECT_EQ(ModeOf(o.target + "/sticky"), 0777u);
  EXPECT_EQ(ModeOf(o.target + "/plain"), 0640u);

  // `follow` takes the restored copy over (masked modes count as pristine) and applies the next
  // snapshot with the same mask: a file that stays hard-linked keeps 0755, a new one too.
  Publish(store,
          {{"suid", {"#!/bin/sh\n", 07755}}, {"new-suid", {"new", 04711}}, {"plain", {"z", 0640}}},
          2);
  FollowOptions fo;
  fo.region = "r1";
  fo.target = o.target;
  Follower f({&store}, fo);
  ASSERT_TRUE(f.Init());
  auto round = f.RunOnce();
  ASSERT_TRUE(round.ok) << round.error;
  EXPECT_TRUE(round.applied);
  EXPECT_EQ(ModeOf(o.target + "/new-suid"), 0711u);
  EXPECT_EQ(ModeOf(o.target + "/suid"), 0755u);
  EXPECT_FALSE(fs::exists(o.target + "/sgid"));
  // And it stays followable: a third round has nothing to refuse.
  auto again = f.RunOnce();
  EXPECT_TRUE(again.ok) << again.error;
}

// A blob in a file:// remote replaced by a symlink to a host file: the restore fails naming the
// link, never copies the target, and never prints the target's hash.
TEST(HostileRestore, SymlinkedBlobInAFileRemoteIsRefusedAndItsTargetNotRead) {
  testing::TempDir tmp;
  const std::string remote = tmp.path() + "/remote";
  objectstore::FileObjectStore store(remote);
  auto rec = Publish(store, {{"a.txt", {"public"}}}, 1);
  const std::string secret = "host secret\n";
  { std::ofstream(tmp.path() + "/secret") << secret; }
  const std::string blob = remote + "/" + BlobKey("r1", rec.files[0].sha256);
  ASSERT_TRUE(fs::remove(blob));
  fs::create_symlink(tmp.path() + "/secret", blob);

  RestoreOptions o;
  o.region = "r1";
  o.target = tmp.path() + "/out";
  auto r = Restore({&store}, o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("symbolic link"), std::string::npos) << r.message();
  EXPECT_EQ(r.message().find(Sha256Hex(secret)), std::string::npos) << r.message();
  EXPECT_FALSE(fs::exists(o.target));

  // The store's own operations: Get/GetToFile refuse, Exists says no, List does not show it.
  auto g = store.Get(BlobKey("r1", rec.files[0].sha256));
  ASSERT_FALSE(g);
  EXPECT_NE(g.code(), Code::kNotFound);
  EXPECT_NE(g.message().find("symbolic link"), std::string::npos) << g.message();
  Status gf = store.GetToFile(BlobKey("r1", rec.files[0].sha256), tmp.path() + "/copy");
  ASSERT_FALSE(gf);
  EXPECT_FALSE(fs::exists(tmp.path() + "/copy"));
  auto e = store.Exists(BlobKey("r1", rec.files[0].sha256));
  ASSERT_TRUE(e) << e.message();
  EXPECT_FALSE(*e);
  auto l = store.List("r1/blobs/");
  ASSERT_TRUE(l) << l.message();
  EXPECT_TRUE(l->empty());
}

// A directory of the remote replaced by a symlink (r1 -> elsewhere): reads refuse to walk
// through it and writes do not land outside the remote.
TEST(HostileRestore, SymlinkedDirectoryInAFileRemoteIsNeverWalked) {
  testing::TempDir tmp;
  const std::string remote = tmp.path() + "/remote";
  objectstore::FileObjectStore real(tmp.path() + "/elsewhere");
  Publish(real, {{"a.txt", {"data"}}}, 1);
  fs::create_directories(remote);
  fs::create_symlink(tmp.path() + "/elsewhere/r1", remote + "/r1");
  objectstore::FileObjectStore store(remote);
  auto latest = store.Get(LatestKey("r1"));
  ASSERT_FALSE(latest);
  EXPECT_NE(latest.message().find("symbolic link"), std::string::npos) << latest.message();
  Status put = store.Put("r1/planted", "x");
  ASSERT_FALSE(put);
  EXPECT_NE(put.message().find("symbolic link"), std::string::npos) << put.message();
  EXPECT_FALSE(fs::exists(tmp.path() + "/elsewhere/r1/planted"));
  auto l = store.List("r1/");
  EXPECT_FALSE(l) << "listing through a symlink";
  Status d = store.Delete(LatestKey("r1"));
  EXPECT_FALSE(d);
  EXPECT_TRUE(fs::exists(tmp.path() + "/elsewhere/" + LatestKey("r1")));
}

TEST(HostileRestore, ASizeMismatchIsReportedAsOne) {
  testing::TempDir tmp;
  objectstore::FileObjectStore store(tmp.path() + "/remote");
  File lie{"six b!", 0644, 4};  // right hash, wrong size
  Publish(store, {{"f", lie}}, 1);
  RestoreOptions o;
  o.region = "r1";
  o.target = tmp.path() + "/out";
  auto r = Restore({&store}, o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("size mismatch"), std::string::npos) << r.message();
  EXPECT_EQ(r.message().find("SHA-256 mismatch"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("6 bytes"), std::string::npos) << r.message();
}

TEST(HostileFileStore, GetToFileStopsAtTheExpectedSize) {
  testing::TempDir tmp;
  objectstore::FileObjectStore store(tmp.path() + "/remote");
  ASSERT_TRUE(store.Put("k", std::string(1000, 'x')));
  Status s = store.GetToFile("k", tmp.path() + "/out", true, 6);
  ASSERT_FALSE(s);
  EXPECT_NE(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("size mismatch"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("\"k\""), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(tmp.path() + "/out"));
  ASSERT_TRUE(store.GetToFile("k", tmp.path() + "/out", true, 1000));
  EXPECT_EQ(fs::file_size(tmp.path() + "/out"), 1000u);
}

TEST(HostileLockFiles, FollowRefusesASymlinkedLockAndCreatesNothingAtItsTarget) {
  testing::TempDir tmp;
  objectstore::FileObjectStore store(tmp.path() + "/remote");
  Publish(store, {{"a.txt", {"one"}}}, 1);
  const std::string victim = tmp.path() + "/victim-does-not-exist";
  fs::create_symlink(victim, tmp.path() + "/.agent.aha-follow.lock");
  FollowOptions fo;
  fo.region = "r1";
  fo.target = tmp.path() + "/agent";
  Follower f({&store}, fo);
  Status s = f.Init();
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("symbolic link"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(victim));
  EXPECT_FALSE(fs::exists(fs::symlink_status(victim)));
}

TEST(HostileLockFiles, StateDirRefusesASymlinkedLockAndCreatesNothingAtItsTarget) {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/state";
  fs::create_directories(dir);
  const std::string victim = tmp.path() + "/victim-does-not-exist";
  fs::create_symlink(victim, dir + "/..lock");
  state::FileStateStore st(dir);
  auto w = st.Write({{"k", "v"}});
  ASSERT_FALSE(w);
  EXPECT_NE(w.message().find("symbolic link"), std::string::npos) << w.message();
  EXPECT_FALSE(fs::exists(victim));
  // A lock path that is not a regular file (a FIFO: opening it must not block) is refused too.
  fs::remove(dir + "/..lock");
  ASSERT_EQ(::mkfifo((dir + "/..lock").c_str(), 0600), 0);
  auto w2 = st.Write({{"k", "v"}});
  ASSERT_FALSE(w2);
  EXPECT_NE(w2.message().find("not a regular file"), std::string::npos) << w2.message();
}

TEST(HostileLockFiles, OpenLockFileMakesARegularFile) {
  testing::TempDir tmp;
  auto fd = OpenLockFile(tmp.path() + "/x.lock");
  ASSERT_TRUE(fd) << fd.message();
  ::close(*fd);
  EXPECT_TRUE(fs::is_regular_file(tmp.path() + "/x.lock"));
  auto again = OpenLockFile(tmp.path() + "/x.lock");
  ASSERT_TRUE(again) << again.message();
  ::close(*again);
}

}  // namespace
}  // namespace aha::replication
