// Replication scanner: the LanceDB manifest rule, torn-read retries, the hash cache, pinning of
// hot files (and the uploader shipping the pinned bytes).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "objectstore/file_store.h"
#include "replication/publish.h"
#include "replication/scanner.h"
#include "support/temp_dir.h"

namespace aha::replication {
namespace {

namespace fs = std::filesystem;

void Write(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

bool Has(const Capture& c, const std::string& path) {
  for (const auto& f : c.files)
    if (f.path == path) return true;
  return false;
}

// A LanceDB-shaped dataset: data/, _versions/, _deletions/, _indices/.
void MakeDataset(const std::string& root) {
  const std::string d = root + "/brain/memory.lance";
  Write(d + "/data/0001.lance", std::string(5000, 'x'));
  Write(d + "/_versions/1.manifest", "manifest v1 -> data/0001.lance");
  Write(d + "/_deletions/0-1.arrow", "deleted rows");
  Write(d + "/_indices/abc/index.idx", "index");
  Write(root + "/notes.txt", "hello");
  // Aged like a real source, so the racily-clean guard (no caching of files modified in the last
  // 50 ms) does not apply to them.
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) {
      fs::last_write_time(e.path(), fs::file_time_type::clock::now() - std::chrono::seconds(10));
    }
  }
}

TEST(ReplicationScanner, LanceManifestCommittedDuringCaptureWaitsForNextSnapshot) {
  aha::testing::TempDir t;
  MakeDataset(t.path());
  const std::string d = t.path() + "/brain/memory.lance";
  HashCache cache;
  ScanOptions o;
  bool committed = false;
  o.after_read = [&](const std::string& rel, int) {
    // A writer commits version 2 while the data files are being captured.
    if (!committed && rel.find("/data/") != std::string::npos) {
      committed = true;
      Write(d + "/data/0002.lance", "new rows");
      Write(d + "/_versions/2.manifest", "manifest v2 -> data/0001,0002");
    }
  };
  auto c = CaptureTree(t.path(), &cache, o);
  ASSERT_TRUE(c) << c.message();
  EXPECT_TRUE(committed);
  EXPECT_TRUE(Has(*c, "brain/memory.lance/_versions/1.manifest"));
  EXPECT_FALSE(Has(*c, "brain/memory.lance/_versions/2.manifest"));
  EXPECT_TRUE(Has(*c, "brain/memory.lance/data/0001.lance"));
  EXPECT_TRUE(Has(*c, "brain/memory.lance/_deletions/0-1.arrow"));
  EXPECT_TRUE(Has(*c, "brain/memory.lance/_indices/abc/index.idx"));
  ASSERT_EQ(c->datasets.size(), 1u);
  EXPECT_EQ(c->datasets[0].versions, std::vector<std::string>{"1.manifest"});
  // Manifests come after every other file of the dataset in capture order; the next snapshot
  // has version 2 and the data it references.
  auto c2 = CaptureTree(t.path(), &cache, {});
  ASSERT_TRUE(c2);
  EXPECT_TRUE(Has(*c2, "brain/memory.lance/_versions/2.manifest"));
  EXPECT_TRUE(Has(*c2, "brain/memory.lance/data/0002.lance"));
}

TEST(ReplicationScanner, StaleLatestManifestIsDropped) {
  aha::testing::TempDir t;
  MakeDataset(t.path());
  const std::string d = t.path() + "/brain/memory.lance";
  Write(d + "/_latest.manifest", "manifest v1 -> data/0001.lance");
  HashCache cache;
  auto c = CaptureTree(t.path(), &cache, {});
  ASSERT_TRUE(c);
  EXPECT_TRUE(Has(*c, "brain/memory.lance/_latest.manifest"));
  Write(d + "/_latest.manifest", "manifest v9, not in _versions");
  c = CaptureTree(t.path(), &cache, {});
  ASSERT_TRUE(c);
  EXPECT_FALSE(Has(*c, "brain/memory.lance/_latest.manifest"));
}

TEST(ReplicationScanner, VanishedDataFileRecapturesDataset) {
  aha::testing::TempDir t;
  MakeDataset(t.path());
  const std::string d = t.path() + "/brain/memory.lance";
  Write(d + "/data/0000.lance", "old");
  HashCache cache;
  ScanOptions o;
  bool cleaned = false;
  o.after_read = [&](const std::string& rel, int) {
    if (!cleaned && rel.ends_with("data/0000.lance")) {
      cleaned = true;  // a cleanup removes a listed data file before it is captured
      fs::remove(d + "/data/0001.lance");
    }
  };
  auto c = CaptureTree(t.path(), &cache, o);
  ASSERT_TRUE(c) << c.message();
  EXPECT_EQ(c->stats.dataset_retries, 1u);
  EXPECT_EQ(c->datasets[0].attempts, 2);
  EXPECT_FALSE(Has(*c, "brain/memory.lance/data/0001.lance"));
  EXPECT_TRUE(Has(*c, "brain/memory.lance/data/0000.lance"));
}

TEST(ReplicationScanner, TornReadIsReadAgain) {
  aha::testing::TempDir t;
  Write(t.path() + "/f.bin", "first");
  HashCache cache;
  ScanOptions o;
  o.after_read = [&](const std::string&, int attempt) {
    if (attempt == 1) {
      ::usleep(2000);
      Write(t.path() + "/f.bin", "second, longer");
    }
  };
  auto c = CaptureTree(t.path(), &cache, o);
  ASSERT_TRUE(c) << c.message();
  ASSERT_EQ(c->files.size(), 1u);
  EXPECT_EQ(c->files[0].size, 14u);
  EXPECT_EQ(c->stats.torn_retries, 1u);

  o.after_read = [&](const std::string&, int attempt) {
    Write(t.path() + "/f.bin", std::string(static_cast<size_t>(attempt), 'z'));
  };
  cache.clear();
  auto bad = CaptureTree(t.path(), &cache, o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("torn"), std::string::npos) << bad.message();
}

TEST(ReplicationScanner, CacheAvoidsRereadingUnchangedFiles) {
  aha::testing::TempDir t;
  MakeDataset(t.path());
  fs::create_directories(t.path() + "/.agency-ha");
  Write(t.path() + "/.agency-ha/replication-state.json", "{}");
  HashCache cache;
  ScanOptions o;
  o.exclude = {t.path() + "/.agency-ha"};
  auto c = CaptureTree(t.path(), &cache, o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stats.hashed_files, 5u);
  EXPECT_FALSE(Has(*c, ".agency-ha/replication-state.json"));
  Write(t.path() + "/notes.txt", "changed");
  c = CaptureTree(t.path(), &cache, o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stats.hashed_files, 1u);
  EXPECT_EQ(c->stats.cache_hits, 4u);
}

}  // namespace
}  // namespace aha::replication

namespace aha::replication {
namespace {

TEST(ReplicationScanner, FreshlyModifiedFilesAreNotCachedRacilyClean) {
  // A file hashed within the timestamp granularity of its last write could be rewritten with the
  // same size and mtime; its hash must not be trusted by the next capture.
  aha::testing::TempDir t;
  Write(t.path() + "/fresh.txt", "v1");
  HashCache cache;
  ScanOptions o;
  auto c = CaptureTree(t.path(), &cache, o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stats.hashed_files, 1u);
  EXPECT_EQ(cache.count("fresh.txt"), 0u) << "fresh file cached";
  c = CaptureTree(t.path(), &cache, o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stats.hashed_files, 1u) << "re-read while its mtime is still racy";
}

// A file rewritten faster than a snapshot uploads (an agent's session file) must not starve
// snapshots: the capture pins the bytes it hashed and the uploader ships exactly those.
TEST(ReplicationScanner, HotSmallFilesArePinnedColdFilesAreNot) {
  testing::TempDir tmp;
  const std::string src = tmp.path() + "/src";
  Write(src + "/cold.txt", "cold");
  fs::last_write_time(src + "/cold.txt",
                      fs::file_time_type::clock::now() - std::chrono::seconds(60));
  Write(src + "/hot.json", "{\"turn\": 1}");
  Write(src + "/big.bin", std::string(3000, 'b'));  // hot but over pin_max_file
  HashCache cache;
  ScanOptions o;
  o.pin_max_file = 1000;
  auto c = CaptureTree(src, &cache, o);
  ASSERT_TRUE(c) << c.message();
  ASSERT_EQ(c->files.size(), 3u);
  std::map<std::string, std::string> sha;
  for (const auto& f : c->files)
    sha[f.path] = f.sha256;
  ASSERT_EQ(c->pinned.size(), 1u);
  ASSERT_TRUE(c->pinned.count(sha["hot.json"]));
  EXPECT_EQ(c->pinned.at(sha["hot.json"]), "{\"turn\": 1}");
  EXPECT_EQ(c->stats.pinned_files, 1u);
  EXPECT_EQ(c->stats.pinned_bytes, 11u);

  // The budget bounds what is pinned in all.
  HashCache cache2;
  o.pin_budget = 5;
  auto c2 = CaptureTree(src, &cache2, o);
  ASSERT_TRUE(c2);
  EXPECT_TRUE(c2->pinned.empty());
}

TEST(ReplicationPublish, HotFileRewrittenAfterCaptureShipsTheCapturedBytes) {
  testing::TempDir tmp;
  const std::string src = tmp.path() + "/src";
  Write(src + "/session.json", "{\"turn\": 1}");
  Write(src + "/notes.txt", "notes v1");
  fs::last_write_time(src + "/notes.txt",
                      fs::file_time_type::clock::now() - std::chrono::seconds(60));
  HashCache cache;
  auto c = CaptureTree(src, &cache, ScanOptions{});
  ASSERT_TRUE(c) << c.message();
  // Both files change before the upload: the hot one was pinned, the cold one was not.
  Write(src + "/session.json", "{\"turn\": 2, \"longer\": true}");
  Record r;
  r.id = MakeSnapshotId(SystemClock::instance().wall(), 1);
  r.region = "r1";
  r.generation = "g";
  r.created_at = FormatTime(SystemClock::instance().wall());
  r.files = c->files;
  objectstore::FileObjectStore store(tmp.path() + "/remote");
  RemoteState rs;
  std::mutex mu;
  PublishOptions po;
  po.source_root = src;
  po.tmp_dir = tmp.path();
  po.pinned = &c->pinned;
  auto rep = Publish(
      store, r, &rs, &mu, [] { return Status::Ok(); }, po);
  ASSERT_TRUE(rep.ok) << rep.error;
  for (const auto& f : r.files) {
    auto blob = store.Get(BlobKey("r1", f.sha256));
    ASSERT_TRUE(blob) << f.path;
    EXPECT_EQ(*blob, f.path == "session.json" ? "{\"turn\": 1}" : "notes v1");
  }

  // Without the pinned bytes the same change is refused for this snapshot (never shipped torn).
  Write(src + "/notes.txt", "notes v2");
  HashCache cache2;
  auto c2 = CaptureTree(src, &cache2, ScanOptions{});
  ASSERT_TRUE(c2);
  Write(src + "/notes.txt", "notes v3, changed after capture");
  Record r2 = r;
  r2.id = MakeSnapshotId(SystemClock::instance().wall(), 2);
  r2.region = "r2";  // a lineage of its own: only the upload path is under test
  r2.files = c2->files;
  po.pinned = nullptr;
  RemoteState rs2;
  auto rep2 = Publish(
      store, r2, &rs2, &mu, [] { return Status::Ok(); }, po);
  EXPECT_FALSE(rep2.ok);
  EXPECT_TRUE(rep2.changed) << rep2.error;
}

}  // namespace
}  // namespace aha::replication
