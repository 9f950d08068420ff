// Replication scanner: the LanceDB manifest rule, torn-read retries, the hash cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace aha::replication
