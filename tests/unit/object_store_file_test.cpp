// The ObjectStore conformance suite against FileObjectStore, plus file-specific behaviour.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "object_store_conformance.h"
#include "objectstore/file_store.h"
#include "support/temp_dir.h"

namespace aha::objectstore::testing {
namespace {

std::unique_ptr<ObjectStore> MakeFileStore() {
  // Each store owns its temp dir for the test's lifetime.
  struct Owned : FileObjectStore {
    explicit Owned(std::unique_ptr<aha::testing::TempDir> d)
        : FileObjectStore(d->path() + "/replica"), dir(std::move(d)) {}
    std::unique_ptr<aha::testing::TempDir> dir;
  };
  return std::make_unique<Owned>(std::make_unique<aha::testing::TempDir>());
}

INSTANTIATE_TEST_SUITE_P(File, ObjectStoreConformance,
                         ::testing::Values(ObjectStoreFactory{"file", MakeFileStore}),
                         [](const auto& param_info) { return param_info.param.name; });

TEST(FileObjectStore, LeavesNoTempFilesAndListSkipsForeignNames) {
  aha::testing::TempDir dir;
  FileObjectStore s(dir.path());
  ASSERT_TRUE(s.Put("a/b", "x").ok());
  ASSERT_TRUE(s.Put("a/b", "y").ok());
  int files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir.path())) {
    if (e.is_regular_file()) ++files;
  }
  EXPECT_EQ(files, 1) << "temp files left behind";
  // A crashed writer's temp file and a foreign file are not objects.
  { std::ofstream(dir.path() + "/a/.aha~b.1.2") << "partial"; }
  { std::ofstream(dir.path() + "/a/has space") << "foreign"; }
  auto l = s.List("");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].key, "a/b");
  EXPECT_EQ(s.Describe(), "file://" + dir.path());
}

TEST(FileObjectStore, UnwritableRootIsAClearError) {
  aha::testing::TempDir dir;
  { std::ofstream(dir.path() + "/file") << "not a dir"; }
  FileObjectStore s(dir.path() + "/file/sub");
  auto r = s.Put("k", "v");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("file store"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("\"k\""), std::string::npos) << r.message();
}

}  // namespace
}  // namespace aha::objectstore::testing
