// File names that are not valid UTF-8 (issue 13): a snapshot record is JSON and cannot hold them.
// The capture refuses them loudly, naming the path escaped (before: files were skipped silently,
// so the snapshot restored as complete without them, and a `.lance` directory with such a name
// made RecordToJson throw, which aborted the publisher). Valid non-ASCII names replicate.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>

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

Result<Capture> Scan(const std::string& root) {
  HashCache cache;
  return CaptureTree(root, &cache, ScanOptions{});
}

TEST(ReplicationNames, InvalidUtf8NamesFailTheCaptureNamingThePathEscaped) {
  struct Case {
    std::string rel, shown;
  };
  for (const Case& c : std::vector<Case>{
           {"bad-\xff\xfe.txt", "bad-\\xff\\xfe.txt"},              // a file
           {"dir-\xc3/inner.txt", "dir-\\xc3"},                     // a directory
           {"brain/x\xc3.lance/data/1.bin", "brain/x\\xc3.lance"},  // a dataset directory
           {"brain/m.lance/_versions/\xff.manifest", "brain/m.lance/_versions/\\xff.manifest"},
           {"brain/m.lance/data/\x80.bin", "brain/m.lance/data/\\x80.bin"},  // inside a dataset
       }) {
    SCOPED_TRACE(c.shown);
    aha::testing::TempDir t;
    Write(t.path() + "/ok.txt", "fine");
    Write(t.path() + "/brain/m.lance/_versions/1.manifest", "m");
    Write(t.path() + "/" + c.rel, "x");
    auto cap = Scan(t.path());
    ASSERT_FALSE(cap.ok()) << "captured " << (cap.ok() ? cap->files.size() : 0) << " files";
    EXPECT_EQ(cap.code(), kBadNameCode);
    EXPECT_NE(cap.message().find("\"" + c.shown + "\""), std::string::npos) << cap.message();
    EXPECT_NE(cap.message().find("not valid UTF-8"), std::string::npos) << cap.message();
    for (unsigned char ch : cap.message())
      EXPECT_TRUE(ch >= 0x20 && ch != 0x7f) << "raw byte in " << cap.message();
  }
}

TEST(ReplicationNames, ValidNonAsciiNamesRoundTripThroughTheRecord) {
  aha::testing::TempDir t;
  const std::string name = "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt";  // café/日本.txt
  Write(t.path() + "/" + name, "x");
  auto cap = Scan(t.path());
  ASSERT_TRUE(cap.ok()) << cap.message();
  ASSERT_EQ(cap->files.size(), 1u);
  EXPECT_EQ(cap->files[0].path, name);
  Record r;
  r.id = "20261127T181500.123Z-000042";
  r.files = cap->files;
  auto back = RecordFromJson(RecordToJson(r));
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->files[0].path, name);
}

// Defense in depth: whatever reaches the serializer, it never throws (nlohmann's dump() throws
// type_error 316 on invalid UTF-8; uncaught, that aborted `replicate` after a capture).
TEST(ReplicationNames, RecordToJsonNeverThrows) {
  Record r;
  r.id = "20261127T181500.123Z-000042";
  r.host = "h\xff";
  r.files.push_back(FileEntry{"a\xff\xfe", std::string(64, 'a'), 1, 0644, 0});
  r.datasets.push_back(DatasetInfo{"x\xc3.lance", {"1.manifest"}, 1});
  std::optional<std::string> text;
  ASSERT_NO_THROW(text = RecordToJson(r));
  EXPECT_NE(text->find("\xef\xbf\xbd"), std::string::npos) << "replaced by U+FFFD";
  LatestPointer p;
  p.id = r.id;
  p.writer = "w\xff";
  ASSERT_NO_THROW((void)LatestToJson(p));
}

}  // namespace
}  // namespace aha::replication
