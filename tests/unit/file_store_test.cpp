// FileStateStore: the conformance suite plus what is specific to the directory layout.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "common/fs.h"
#include "state/store.h"
#include "state_store_conformance.h"
#include "support/temp_dir.h"

namespace aha::state {
namespace {

namespace fs = std::filesystem;
using testing::StateStoreConformance;
using testing::StoreEnv;
using testing::StoreFactory;

struct FileEnv : StoreEnv {
  aha::testing::TempDir tmp;
  std::unique_ptr<StateStore> Client() override {
    return std::make_unique<FileStateStore>(tmp.path() + "/state");
  }
};

INSTANTIATE_TEST_SUITE_P(File, StateStoreConformance,
                         ::testing::Values(StoreFactory{
                             "file", [] { return std::make_unique<FileEnv>(); }}),
                         [](const auto& p) { return p.param.name; });

TEST(FileStore, LayoutMatchesAMountedConfigMap) {
  aha::testing::TempDir tmp;
  const std::string dir = tmp.path() + "/state";
  FileStateStore s(dir);
  ASSERT_TRUE(s.Write({{"failedRegions", "a\n"}, {"servingRegions", "b\n"}}).ok());
  // Each key is a symlink into ..data, which points at a version directory.
  EXPECT_EQ(fs::read_symlink(dir + "/failedRegions").string(), "..data/failedRegions");
  auto version = fs::read_symlink(dir + "/..data").string();
  EXPECT_EQ(version.rfind("..", 0), 0u);
  EXPECT_TRUE(fs::is_directory(dir + "/" + version));
  // Plain readers (cat, a mounted-volume reader) see the content through the key path.
  EXPECT_EQ(*ReadFile(dir + "/failedRegions"), "a\n");
  // After many writes only one version directory remains and no temp files are left.
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(s.Write({{"failedRegions", std::to_string(i)}}).ok());
  int versions = 0, others = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.rfind("..", 0) == 0 && fs::is_directory(e.symlink_status())) {
      ++versions;
    } else if (n != "..data" && n != "..lock" && n != "failedRegions" && n != "servingRegions") {
      ++others;
      ADD_FAILURE() << "unexpected entry " << n;
    }
  }
  EXPECT_EQ(versions, 1);
  EXPECT_EQ(others, 0);
}

// The version directory is named after the injected clock's wall time (UTC, nanoseconds), then
// mkdtemp's unique suffix: a store driven by FakeClock never reads the real clock.
TEST(FileStore, VersionDirectoryIsNamedAfterTheInjectedClock) {
  aha::testing::TempDir tmp;
  const std::string dir = tmp.path() + "/state";
  WallTime t;
  ASSERT_TRUE(ParseTime("2031-02-03T04:05:06.789Z", &t));
  FakeClock clock(t);
  FileStateStore s(dir, clock);
  ASSERT_TRUE(s.Write({{"k", "1"}}).ok());
  std::string version = fs::read_symlink(dir + "/..data").string();
  EXPECT_EQ(version.rfind("..2031_02_03_04_05_06.789000000.", 0), 0u) << version;
  EXPECT_EQ(version.size(), std::string("..2031_02_03_04_05_06.789000000.XXXXXX").size());
  clock.advance(std::chrono::hours(24) + std::chrono::nanoseconds(1));
  ASSERT_TRUE(s.Write({{"k", "2"}}).ok());
  version = fs::read_symlink(dir + "/..data").string();
  EXPECT_EQ(version.rfind("..2031_02_04_04_05_06.789000001.", 0), 0u) << version;
  EXPECT_EQ(*ReadFile(dir + "/k"), "2");
}

TEST(FileStore, PlainFilesAreReadAndMigrated) {
  aha::testing::TempDir tmp;
  const std::string dir = tmp.path() + "/state";
  fs::create_directories(dir);
  std::ofstream(dir + "/simulatedOutages") << "x\n";
  FileStateStore s(dir);
  auto kv = s.Read();
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ((*kv)["simulatedOutages"], "x\n");
  ASSERT_TRUE(s.Write({{"failedRegions", ""}}).ok());
  kv = s.Read();
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(*kv, (KeyValues{{"failedRegions", ""}, {"simulatedOutages", "x\n"}}));
  EXPECT_TRUE(fs::is_symlink(dir + "/simulatedOutages"));
}

TEST(FileStore, UnwritableLocationIsAnErrorNotACrash) {
  aha::testing::TempDir tmp;
  std::ofstream(tmp.path() + "/file") << "not a dir";
  FileStateStore s(tmp.path() + "/file/state");
  auto w = s.Write({{"a", "b"}});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.message().find(tmp.path() + "/file/state"), std::string::npos) << w.message();
  EXPECT_FALSE(EnsureWritableDir(tmp.path() + "/file/state").ok());
  EXPECT_TRUE(EnsureWritableDir(tmp.path() + "/ok/state").ok());
}

}  // namespace
}  // namespace aha::state
