// get_replication_status's decisions as pure functions (src/mcp/replication_status.h): the head
// among the remotes' answers, its description, which remotes hold it, the summary line, and the
// regions whose gates report the lineage with how far behind the head they are.
#include "mcp/replication_status.h"

#include <gtest/gtest.h>

#include <map>

namespace aha::mcp {
namespace {

using nlohmann::json;

WallTime At(long long ms) {
  return WallTime(std::chrono::milliseconds(ms));
}

const long long kT0 = 1'790'000'000'000;  // 2026-09-21

RemoteHead Remote(const std::string& url, int64_t epoch, long long created_ms,
                  const std::string& writer = "us-east-1/i-1", size_t files = 2) {
  RemoteHead h;
  h.url = url;
  h.latest_id = replication::MakeSnapshotId(At(created_ms), 1);
  h.latest_epoch = epoch;
  h.writer = writer;
  replication::Record r;
  r.id = h.latest_id;
  r.created_at = FormatTime(At(created_ms));
  r.generation = "g1";
  r.files.resize(files);
  for (auto& f : r.files)
    f.size = 10;
  h.record = r;
  return h;
}

RemoteHead Failed(const std::string& url, const std::string& error) {
  RemoteHead h;
  h.url = url;
  h.error = error;
  return h;
}

TEST(LineageHead, NewestEpochThenIdAmongReadRecords) {
  const struct {
    const char* name;
    std::vector<RemoteHead> remotes;
    int want;  // index, -1: none
  } cases[] = {
      {"none", {}, -1},
      {"only failures", {Failed("a", "x"), Failed("b", "y")}, -1},
      {"higher epoch wins over a newer id", {Remote("a", 2, kT0), Remote("b", 1, kT0 + 5000)}, 0},
      {"same epoch: newer id", {Remote("a", 1, kT0), Remote("b", 1, kT0 + 5000)}, 1},
      {"equal: the first", {Remote("a", 1, kT0), Remote("b", 1, kT0)}, 0},
      {"a failure is skipped", {Failed("a", "x"), Remote("b", 1, kT0)}, 1},
  };
  for (const auto& c : cases) {
    const RemoteHead* h = LineageHead(c.remotes);
    if (c.want < 0) {
      EXPECT_EQ(h, nullptr) << c.name;
    } else {
      EXPECT_EQ(h, &c.remotes[c.want]) << c.name;
    }
  }
}

TEST(HeadJson, AgeFromCreatedAtAndWriterRegion) {
  const struct {
    const char* name;
    std::string writer, created_at;
    json age, writer_region;
  } cases[] = {
      {"age and region", "eu-west-1/i-9", FormatTime(At(kT0)), 2.5, "eu-west-1"},
      {"no instance part", "eu-west-1", FormatTime(At(kT0)), 2.5, "eu-west-1"},
      {"no writer (format 1)", "", FormatTime(At(kT0)), 2.5, nullptr},
      {"unparseable createdAt", "eu-west-1/i", "yesterday", nullptr, "eu-west-1"},
  };
  for (const auto& c : cases) {
    RemoteHead h = Remote("a", 3, kT0, c.writer, 4);
    h.record->created_at = c.created_at;
    h.released = true;
    const json j = HeadJson(h, At(kT0 + 2500));
    EXPECT_EQ(j["ageSeconds"], c.age) << c.name;
    EXPECT_EQ(j["writerRegion"], c.writer_region) << c.name;
    EXPECT_EQ(j["writer"], c.writer) << c.name;
    EXPECT_EQ(j["id"], h.latest_id) << c.name;
    EXPECT_EQ(j["epoch"], 3) << c.name;
    EXPECT_EQ(j["files"], 4) << c.name;
    EXPECT_EQ(j["bytes"], 40) << c.name;
    EXPECT_EQ(j["released"], true) << c.name;
  }
}

TEST(TallyRemotes, WhoHoldsTheHead) {
  const std::vector<RemoteHead> remotes = {Remote("a", 2, kT0 + 1000), Remote("b", 1, kT0),
                                           Failed("c", "timeout"), Remote("d", 1, kT0)};
  const RemoteHead* head = &remotes[0];
  // What `holds` answers for the remotes whose latest is not the head.
  const struct {
    const char* name;
    const RemoteHead* head;
    std::map<std::string, Result<bool>> holds;
    std::vector<std::string> have, missing, failed;
  } cases[] = {
      {"b holds it, d does not", head, {{"b", true}, {"d", false}}, {"a", "b"}, {"d"}, {"c"}},
      {"d's answer fails", head, {{"b", false}, {"d", Err("403")}}, {"a"}, {"b"}, {"c", "d"}},
      {"no head: every answering remote misses it", nullptr, {}, {}, {"a", "b", "d"}, {"c"}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> asked;
    const RemoteTally t = TallyRemotes(remotes, c.head, [&](const RemoteHead& p) {
      asked.push_back(p.url);
      return c.holds.at(p.url);
    });
    auto urls = [](const json& a) {
      std::vector<std::string> v;
      for (const auto& e : a)
        v.push_back(e.is_string() ? e.get<std::string>() : e["remote"].get<std::string>());
      return v;
    };
    EXPECT_EQ(urls(t.have), c.have) << c.name;
    EXPECT_EQ(urls(t.missing), c.missing) << c.name;
    EXPECT_EQ(urls(t.failed), c.failed) << c.name;
    ASSERT_EQ(t.rows.size(), remotes.size()) << c.name;
    EXPECT_EQ(t.rows[2]["ok"], false) << c.name;
    EXPECT_EQ(t.rows[2]["error"], "timeout") << c.name;
    EXPECT_EQ(asked.size(), c.head ? 2u : 0u) << c.name;  // never the head's own remote
  }
  const RemoteTally t = TallyRemotes(remotes, head, [](const RemoteHead&) { return Err("403"); });
  EXPECT_EQ(t.rows[1]["error"], "403");
  EXPECT_FALSE(t.rows[1].contains("hasLatest"));
  EXPECT_EQ(t.rows[0]["hasLatest"], true);
}

TEST(SummaryLine, HeadOrNone) {
  const std::vector<RemoteHead> remotes = {Remote("a", 1, kT0), Failed("b", "x")};
  const RemoteTally tally =
      TallyRemotes(remotes, &remotes[0], [](const RemoteHead&) -> Result<bool> { return true; });
  const json head = HeadJson(remotes[0], At(kT0 + 1500));
  EXPECT_EQ(SummaryLine("us", &remotes[0], head, tally, 2),
            "us: latest " + remotes[0].latest_id + " (" + FormatTime(At(kT0)) +
                ", age 1.5 s, 2 files, 20 bytes) on 1/2 remotes; 1 remote(s) failed\n");
  EXPECT_EQ(SummaryLine("us", nullptr, nullptr, RemoteTally{}, 2),
            "us: no snapshot on any remote\n");
}

TEST(PositionsOfLineage, RegionsReportingTheLineageAndHowFarBehind) {
  const RemoteHead head = Remote("a", 2, kT0 + 4000);
  const std::string older = replication::MakeSnapshotId(At(kT0 + 1000), 1);
  const std::string newer = replication::MakeSnapshotId(At(kT0 + 9000), 1);
  auto data = [](const std::string& lineage, const std::string& snapshot) {
    json d = {{"role", "follower"}, {"lineage", lineage}, {"epoch", 2}};
    if (!snapshot.empty()) d["snapshot"] = snapshot;
    return d;
  };
  const struct {
    const char* name;
    json region_status;
    bool with_head;
    std::vector<json> behind;  // per position reported
  } cases[] = {
      {"at the head", {{"data", data("us", head.latest_id)}}, true, {0.0}},
      {"3 s behind", {{"data", data("us", older)}}, true, {3.0}},
      {"ahead counts as 0", {{"data", data("us", newer)}}, true, {0.0}},
      {"malformed snapshot id", {{"data", data("us", "nope")}}, true, {nullptr}},
      {"no snapshot", {{"data", data("us", "")}}, true, {nullptr}},
      {"no head", {{"data", data("us", older)}}, false, {nullptr}},
      {"another lineage", {{"data", data("eu", older)}}, true, {}},
      {"no data", {{"data", nullptr}}, true, {}},
      {"endpoints, one of them this lineage",
       {{"data", {{"endpoints", {data("eu", older), data("us", older)}}}}},
       true,
       {3.0}},
  };
  for (const auto& c : cases) {
    LiveStatus live;
    live.regions["ap"] = c.region_status;
    live.regions["unconfigured"] = {{"data", data("us", head.latest_id)}};
    const auto got = PositionsOfLineage(
        live, [](const std::string& n) { return n == "ap"; }, "us", c.with_head ? &head : nullptr);
    ASSERT_EQ(got.positions.size(), c.behind.size()) << c.name;
    for (size_t i = 0; i < c.behind.size(); ++i) {
      EXPECT_EQ(got.positions[i]["region"], "ap") << c.name;
      EXPECT_EQ(got.positions[i]["behindLatestSeconds"], c.behind[i]) << c.name;
    }
    if (c.behind.empty()) {
      EXPECT_EQ(got.text, "") << c.name;
    }
  }
  LiveStatus live;
  live.regions["ap"] = {{"data", data("us", older)}};
  EXPECT_EQ(PositionsOfLineage(
                live, [](const std::string&) { return true; }, "us", &head)
                .text,
            "  ap: follower of us @ epoch 2, not caught up; 3.0 s behind the latest\n");
}

}  // namespace
}  // namespace aha::mcp
