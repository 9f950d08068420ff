// Replication TreeWatcher: recursive inotify, new directories, the excluded state dir.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "replication/watcher.h"
#include "support/temp_dir.h"

namespace aha::replication {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

void Write(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

bool Fires(TreeWatcher& w, int ms = 2000) {
  return w.WaitForEvent(steady_clock::now() + milliseconds(ms));
}

TEST(ReplicationWatcher, SeesChangesAnywhereInTheTreeButNotInTheStateDir) {
  testing::TempDir d;
  const std::string root = d.path();
  fs::create_directories(root + "/a/b");
  fs::create_directories(root + "/.agency-ha");
  TreeWatcher w(root, {root + "/.agency-ha"});
  ASSERT_TRUE(w.Start());
  EXPECT_EQ(w.watch_count(), 3u);  // root, a, a/b (not the state dir)
  EXPECT_FALSE(w.Take().pending);

  Write(root + "/.agency-ha/replication-state.json", "{}");
  EXPECT_FALSE(Fires(w, 300));

  Write(root + "/a/b/file", "x");
  ASSERT_TRUE(Fires(w));
  WatchBatch b = w.Take();
  EXPECT_TRUE(b.pending);
  EXPECT_GE(b.events, 1u);
  EXPECT_LE(b.first, b.last);
  EXPECT_GT(b.first_wall_s, 0);
  EXPECT_FALSE(w.Peek().pending);

  // A new nested directory is watched, so a file created deep inside it later is seen.
  fs::create_directories(root + "/n1/n2/n3");
  ASSERT_TRUE(Fires(w));
  // Let the reader add the watches for the new subtree, then drain.
  for (int i = 0; i < 100 && w.watch_count() < 6; ++i)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(w.watch_count(), 6u);
  (void)w.Take();
  Write(root + "/n1/n2/n3/deep", "y");
  ASSERT_TRUE(Fires(w));
  EXPECT_TRUE(w.Take().pending);

  // Deletions and renames count too.
  fs::rename(root + "/a/b/file", root + "/a/moved");
  ASSERT_TRUE(Fires(w));
  (void)w.Take();
  fs::remove(root + "/a/moved");
  ASSERT_TRUE(Fires(w));
  w.Stop();
}

}  // namespace
}  // namespace aha::replication
