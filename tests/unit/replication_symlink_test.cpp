// Symlinks inside the replicated tree: captured as links (never followed), recorded with their
// target (record format 2), restored/applied/followed as links only when the target stays inside
// the tree; a record with a link that could leave the tree is refused naming it, nothing written.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/fs.h"
#include "objectstore/file_store.h"
#include "objectstore/sigv4.h"
#include "replication/apply.h"
#include "replication/follow.h"
#include "replication/restore.h"
#include "replication/scanner.h"
#include "replication/snapshot.h"
#include "support/temp_dir.h"

namespace aha::replication {
namespace {

namespace fs = std::filesystem;

void Write(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

std::string Slurp(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string LinkText(const std::string& p) {
  std::error_code ec;
  if (!fs::is_symlink(fs::symlink_status(p, ec))) return "<not a symlink>";
  return fs::read_symlink(p, ec).string();
}

// Publishes files and links as snapshot `seq` of lineage r1 (blobs, record, latest).
Record Publish(objectstore::ObjectStore& store, const std::map<std::string, std::string>& files,
               const std::map<std::string, std::string>& links, int seq) {
  Record r;
  r.id = MakeSnapshotId(WallTime{} + std::chrono::seconds(1795805281 + seq), seq);
  r.region = "r1";
  r.generation = "gen";
  for (const auto& [path, data] : files) {
    const std::string sha = objectstore::sigv4::Sha256Hex(data);
    EXPECT_TRUE(store.Put(BlobKey("r1", sha), data));
    r.files.push_back({path, sha, data.size(), 0644, 1000000000LL * seq});
  }
  for (const auto& [path, target] : links)
    r.symlinks.push_back({path, target, 1000000000LL * seq});
  EXPECT_TRUE(store.Put(RecordKey("r1", r.id), RecordToJson(r)));
  EXPECT_TRUE(store.Put(LatestKey("r1"), LatestToJson({r.id, r.generation})));
  return r;
}

TEST(SymlinkProblem, OnlyTargetsThatStayInsideTheTree) {
  struct Case {
    const char* path;
    const char* target;
    bool ok;
  };
  const Case cases[] = {
      {"a", "b", true},
      {"a", "sub/deeper/file", true},
      {"a", "./b", true},
      {"d/a", "../b", true},
      {"d/e/a", "../../b", true},
      {"d/a", "..", true},  // the root itself
      {"a", "..", false},
      {"a", "../b", false},
      {"d/a", "../../b", false},
      {"a", "/etc/passwd", false},
      {"a", "", false},
      {"a", "sub/../b", false},  // `..` after a name: `sub` may itself be a link
      {"a", "b/..", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(SymlinkProblem(c.path, c.target).empty(), c.ok)
        << c.path << " -> " << c.target << ": " << SymlinkProblem(c.path, c.target);
  }
  EXPECT_FALSE(SymlinkProblem("a", std::string("b\0c", 3)).empty());
  EXPECT_FALSE(SymlinkProblem("a", "\xff").empty()) << "not UTF-8";
  EXPECT_FALSE(SymlinkProblem("a", std::string(5000, 'x')).empty());
}

TEST(ReplicationRecord, SymlinksRoundTripAsFormat2) {
  Record r;
  r.id = "20261127T181500.123Z-000042";
  r.files.push_back({"notes.md", std::string(64, 'a'), 3, 0644, 1});
  const std::string plain = RecordToJson(r);
  EXPECT_NE(plain.find("\"format\": 1"), std::string::npos) << "no symlink: still format 1";
  EXPECT_EQ(plain.find("symlinks"), std::string::npos);
  r.symlinks.push_back({"current", "notes.md", 7});
  r.symlinks.push_back({"d/up", "../notes.md", 8});
  const std::string text = RecordToJson(r);
  EXPECT_NE(text.find("\"format\": 2"), std::string::npos) << text;
  auto back = RecordFromJson(text);
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->symlinks, r.symlinks);
  EXPECT_EQ(back->files.size(), 1u);
}

TEST(ReplicationRecord, RefusesLinksLeavingTheTreeAndEntriesBelowALink) {
  auto parse = [](const std::string& links, const std::string& files = "[]") {
    return RecordFromJson(R"({"format":2,"id":"20261127T181500.123Z-000042","files":)" + files +
                          R"(,"symlinks":)" + links + "}");
  };
  auto ok = parse(R"([{"path":"a","target":"b"}])");
  ASSERT_TRUE(ok) << ok.message();
  auto out = parse(R"([{"path":"x/evil","target":"../../etc/passwd"}])");
  ASSERT_FALSE(out);
  EXPECT_NE(out.message().find("x/evil"), std::string::npos) << out.message();
  EXPECT_NE(out.message().find("outside the tree"), std::string::npos) << out.message();
  EXPECT_FALSE(parse(R"([{"path":"a","target":"/etc"}])"));
  EXPECT_FALSE(parse(R"([{"path":"../a","target":"b"}])"));
  EXPECT_FALSE(parse(R"([{"path":"a","target":7}])"));
  // A file below a link would be written through it.
  const std::string sha(64, 'a');
  auto below = parse(R"([{"path":"d","target":"e"}])",
                     R"([{"path":"d/f","sha256":")" + sha + R"(","size":1}])");
  ASSERT_FALSE(below);
  EXPECT_NE(below.message().find("below the symlink d"), std::string::npos) << below.message();
  EXPECT_FALSE(parse(R"([{"path":"d","target":"e"},{"path":"d/g","target":"h"}])"));
  // One path, two entries.
  EXPECT_FALSE(parse(R"([{"path":"d","target":"e"}])",
                     R"([{"path":"d","sha256":")" + sha + R"(","size":1}])"));
  // An older reader sees format 2 and refuses it: never a silent drop.
  EXPECT_FALSE(RecordFromJson(R"({"format":3,"id":"20261127T181500.123Z-000042","files":[]})"));
}

TEST(ReplicationScanner, CapturesSymlinksAsLinksNeverFollowed) {
  testing::TempDir tmp, outside;
  const std::string src = tmp.path() + "/src";
  Write(src + "/notes.md", "hello");
  Write(src + "/dir/inner.txt", "inner");
  Write(outside.path() + "/secret", "must not be read");
  fs::create_directories(outside.path() + "/tree");
  Write(outside.path() + "/tree/x", "x");
  fs::create_symlink("notes.md", src + "/current");
  fs::create_symlink("../notes.md", src + "/dir/up");
  fs::create_symlink(outside.path() + "/secret", src + "/escape");
  fs::create_symlink(outside.path() + "/tree", src + "/escdir");
  fs::create_symlink("missing", src + "/dangling");
  HashCache cache;
  auto cap = CaptureTree(src, &cache, ScanOptions{});
  ASSERT_TRUE(cap) << cap.message();
  std::vector<std::string> files;
  for (const auto& f : cap->files)
    files.push_back(f.path);
  EXPECT_EQ(files, (std::vector<std::string>{"dir/inner.txt", "notes.md"}))
      << "links are not files, and a link to a directory is not descended";
  std::map<std::string, std::string> links;
  for (const auto& l : cap->symlinks)
    links[l.path] = l.target;
  EXPECT_EQ(links, (std::map<std::string, std::string>{
                       {"current", "notes.md"},
                       {"dangling", "missing"},
                       {"dir/up", "../notes.md"},
                       {"escape", outside.path() + "/secret"},
                       {"escdir", outside.path() + "/tree"},
                   }));
  EXPECT_EQ(cap->stats.symlinks, 5u);
  EXPECT_EQ(cap->stats.skipped, 0u);
}

TEST(Restore, RecreatesSymlinksAsLinks) {
  testing::TempDir remote, out;
  objectstore::FileObjectStore store(remote.path());
  Publish(store, {{"notes.md", "hello"}, {"d/f.txt", "f"}},
          {{"current", "notes.md"}, {"d/up", "../notes.md"}, {"d/dangling", "nowhere"}}, 1);
  RestoreOptions o;
  o.region = "r1";
  o.target = out.path() + "/agent";
  auto rep = Restore({&store}, o);
  ASSERT_TRUE(rep) << rep.message();
  EXPECT_EQ(rep->symlinks, 3u);
  EXPECT_EQ(LinkText(o.target + "/current"), "notes.md");
  EXPECT_EQ(LinkText(o.target + "/d/up"), "../notes.md");
  EXPECT_EQ(LinkText(o.target + "/d/dangling"), "nowhere");
  EXPECT_EQ(Slurp(o.target + "/current"), "hello");
  struct stat st {};
  ASSERT_EQ(::lstat((o.target + "/current").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1) << "the link's own mtime is restored";
}

TEST(Restore, RefusesARecordWithALinkLeavingTheTreeNothingWritten) {
  testing::TempDir remote, out;
  objectstore::FileObjectStore store(remote.path());
  Record r = Publish(store, {{"notes.md", "hello"}}, {}, 1);
  // A hostile remote: the record names a link to a host file.
  std::string text = RecordToJson(r);
  text.replace(text.rfind('}'), 1,
               R"(,"symlinks":[{"path":"brain/evil","target":"../../../etc/shadow"}]})");
  text.replace(text.find("\"format\": 1"), 11, "\"format\": 2");
  ASSERT_TRUE(store.Put(RecordKey("r1", r.id), text));
  RestoreOptions o;
  o.region = "r1";
  o.target = out.path() + "/agent";
  auto rep = Restore({&store}, o);
  ASSERT_FALSE(rep);
  EXPECT_NE(rep.message().find("brain/evil"), std::string::npos) << rep.message();
  EXPECT_FALSE(fs::exists(o.target)) << "nothing written";
  EXPECT_TRUE(fs::is_empty(out.path())) << "no staging left behind";
}

TEST(ApplyInPlace, CreatesReplacesAndRemovesSymlinks) {
  testing::TempDir remote, vol;
  objectstore::FileObjectStore store(remote.path());
  const std::string dir = vol.path() + "/agent";
  ApplyOptions o{dir, dir + "/.agency-ha"};
  Write(dir + "/notes.md", "hello");
  fs::create_symlink("notes.md", dir + "/same");
  fs::create_symlink("old-target", dir + "/changed");
  fs::create_symlink("notes.md", dir + "/stale");
  Write(dir + "/was-file", "x");
  Record r = Publish(store, {{"notes.md", "hello"}},
                     {{"same", "notes.md"},
                      {"changed", "notes.md"},
                      {"new/link", "../notes.md"},
                      {"was-file", "notes.md"}},
                     1);
  struct stat before {};
  ::lstat((dir + "/same").c_str(), &before);
  auto rep = ApplyInPlace(r, {&store}, o);
  ASSERT_TRUE(rep) << rep.message();
  EXPECT_EQ(LinkText(dir + "/same"), "notes.md");
  EXPECT_EQ(LinkText(dir + "/changed"), "notes.md");
  EXPECT_EQ(LinkText(dir + "/new/link"), "../notes.md");
  EXPECT_EQ(LinkText(dir + "/was-file"), "notes.md");
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir + "/stale"))) << "a link not in the record goes";
  struct stat after {};
  ::lstat((dir + "/same").c_str(), &after);
  EXPECT_EQ(before.st_ino, after.st_ino) << "an unchanged link is left alone";
  EXPECT_EQ(Slurp(dir + "/notes.md"), "hello");
  // Applying it again changes nothing.
  auto again = ApplyInPlace(r, {&store}, o);
  ASSERT_TRUE(again) << again.message();
  EXPECT_EQ(again->written, 0u);
  EXPECT_EQ(again->removed, 0u);
}

TEST(ApplyInPlace, RefusesALinkLeavingTheTreeBeforeWritingAnything) {
  testing::TempDir remote, vol;
  objectstore::FileObjectStore store(remote.path());
  const std::string dir = vol.path() + "/agent";
  Write(dir + "/notes.md", "old");
  Record r = Publish(store, {{"notes.md", "new"}}, {}, 1);
  r.symlinks.push_back({"evil", "/etc/passwd", 0});  // built in memory, not parsed
  auto rep = ApplyInPlace(r, {&store}, ApplyOptions{dir, dir + "/.agency-ha"});
  ASSERT_FALSE(rep);
  EXPECT_NE(rep.message().find("evil"), std::string::npos) << rep.message();
  EXPECT_EQ(Slurp(dir + "/notes.md"), "old") << "nothing written";
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir + "/evil")));
}

TEST(Follow, FollowsSymlinksAndTellsALocallyChangedLinkFromItsOwn) {
  testing::TempDir remote, vol;
  objectstore::FileObjectStore store(remote.path());
  Publish(store, {{"notes.md", "v1"}}, {{"current", "notes.md"}}, 1);
  FollowOptions fo;
  fo.region = "r1";
  fo.target = vol.path() + "/agent";
  Follower f({&store}, fo);
  ASSERT_TRUE(f.Init()) << "init";
  auto r1 = f.RunOnce();
  ASSERT_TRUE(r1.ok) << r1.error;
  EXPECT_EQ(LinkText(fo.target + "/current"), "notes.md");
  // The next snapshot: the pristine copy (with its link) is followed.
  Publish(store, {{"notes.md", "v2"}, {"other.md", "o"}}, {{"current", "other.md"}}, 2);
  auto r2 = f.RunOnce();
  ASSERT_TRUE(r2.ok) << r2.error;
  EXPECT_EQ(LinkText(fo.target + "/current"), "other.md");
  // A link changed locally is a local write: refused, naming it.
  fs::remove(fo.target + "/current");
  fs::create_symlink("notes.md", fo.target + "/current");
  Publish(store, {{"notes.md", "v3"}}, {{"current", "notes.md"}}, 3);
  auto r3 = f.RunOnce();
  EXPECT_FALSE(r3.ok);
  EXPECT_NE(r3.error.find("current was modified"), std::string::npos) << r3.error;
}

}  // namespace
}  // namespace aha::replication
