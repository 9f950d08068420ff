// The pure steps of ApplyInPlace (src/replication/apply.h): what an apply fetches or only
// touches, and what the volume is expected to hold before late writes are looked for.
#include <gtest/gtest.h>

#include "replication/apply.h"

namespace aha::replication {
namespace {

FileEntry F(const std::string& path, const std::string& sha, uint64_t size = 1,
            uint32_t mode = 0644, int64_t mtime_ns = 7) {
  FileEntry f;
  f.path = path;
  f.sha256 = sha;
  f.size = size;
  f.mode = mode;
  f.mtime_ns = mtime_ns;
  return f;
}

SymlinkEntry L(const std::string& path, const std::string& target) {
  SymlinkEntry l;
  l.path = path;
  l.target = target;
  return l;
}

std::vector<std::string> Paths(const std::vector<FileEntry>& v) {
  std::vector<std::string> out;
  for (const auto& f : v)
    out.push_back(f.path);
  return out;
}

TEST(PlanApply, FetchesDifferingContentTouchesModeOrTimeSkipsTheStateDir) {
  const struct {
    const char* name;
    FileEntry wanted;
    std::optional<FileEntry> current;
    const char* want;  // "fetch", "touch", "none", "skip"
  } cases[] = {
      {"missing", F("a", "x"), std::nullopt, "fetch"},
      {"same", F("a", "x"), F("a", "x"), "none"},
      {"other content", F("a", "x"), F("a", "y"), "fetch"},
      {"same hash, other size", F("a", "x", 2), F("a", "x", 1), "fetch"},
      {"other mode", F("a", "x", 1, 0600), F("a", "x", 1, 0644), "touch"},
      {"mode beyond permission bits ignored", F("a", "x", 1, 0100644), F("a", "x", 1, 0644),
       "none"},
      {"other mtime", F("a", "x", 1, 0644, 8), F("a", "x", 1, 0644, 7), "touch"},
      {"inside the state dir", F(".agency-ha/lineage.json", "x"), std::nullopt, "skip"},
      {"a sibling named like the state dir", F(".agency-ha2/f", "x"), std::nullopt, "fetch"},
  };
  for (const auto& c : cases) {
    Record r;
    r.files = {c.wanted};
    std::map<std::string, FileEntry> current;
    if (c.current) current[c.current->path] = *c.current;
    const ApplyPlan plan = PlanApply(r, current, ".agency-ha/");
    const std::string want = c.want;
    EXPECT_EQ(plan.fetch.size(), want == "fetch" ? 1u : 0u) << c.name;
    EXPECT_EQ(plan.touch.size(), want == "touch" ? 1u : 0u) << c.name;
    if (want == "touch") {
      EXPECT_EQ(plan.touch[0], &r.files[0]) << c.name;
    }
    ASSERT_EQ(plan.warnings.size(), want == "skip" ? 1u : 0u) << c.name;
    if (want == "skip") {
      EXPECT_EQ(plan.warnings[0], ".agency-ha/lineage.json: inside the state dir; skipped");
    }
  }
  // Record order is kept for what is fetched.
  Record r;
  r.files = {F("z", "1"), F("a", "2"), F("m", "3")};
  EXPECT_EQ(Paths(PlanApply(r, {}, ".agency-ha/").fetch),
            (std::vector<std::string>{"z", "a", "m"}));
}

TEST(ExpectedAfterApply, TheRecordPlusWhatItDoesNotHaveYet) {
  Record r;
  r.id = "snap-1";
  r.files = {F("keep", "new"), F("added", "n"), F(".agency-ha/x", "h")};
  r.symlinks = {L("link", "keep")};
  const std::map<std::string, FileEntry> files = {
      {"keep", F("keep", "old")}, {"local", F("local", "l")}, {"link", F("link", "was a file")}};
  const std::map<std::string, SymlinkEntry> links = {{"other", L("other", "keep")},
                                                     {"added", L("added", "keep")}};
  const Record e = ExpectedAfterApply(r, files, links, ".agency-ha/");
  EXPECT_EQ(e.id, "snap-1");
  // The record's version wins where it has the path; the state dir is never expected.
  EXPECT_EQ(Paths(e.files), (std::vector<std::string>{"keep", "added", "local"}));
  EXPECT_EQ(e.files[0].sha256, "new");
  ASSERT_EQ(e.symlinks.size(), 2u);
  EXPECT_EQ(e.symlinks[0].path, "link");
  EXPECT_EQ(e.symlinks[1].path, "other");
}

}  // namespace
}  // namespace aha::replication
