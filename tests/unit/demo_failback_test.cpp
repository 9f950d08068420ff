// The drill's pure failback decisions (src/demo/drill.h): which demotion counts as a failback
// (the reason in the controller's state JSON), the order the failback's steps are recorded in, and
// the tally of the promoted app's writes the recovered region must hold.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "demo/drill.h"
#include "failover/failover_state.h"

namespace aha::demo {
namespace {

using nlohmann::json;

TEST(DemotionReason, LastDemotionOfTheRegionOrUnknown) {
  const json failback = {{"type", "RegionDemoted"}, {"region", "ap"}, {"reason", "failback: x"}};
  const json failed = {{"type", "RegionDemoted"}, {"region", "ap"}, {"reason", "region failed"}};
  const json other = {{"type", "RegionDemoted"}, {"region", "us"}, {"reason", "failback"}};
  const json promoted = {{"type", "RegionPromoted"}, {"region", "ap"}, {"reason", "failback"}};
  const struct {
    const char* name;
    std::optional<std::string> state;  // nullopt: no state.json key
    std::string want;
  } cases[] = {
      {"no state", std::nullopt, "?"},
      {"malformed", "{not json", "?"},
      {"not an object", "[1]", "?"},
      {"no transitions", "{}", "?"},
      {"transitions not an array", R"({"transitions":{}})", "?"},
      {"only other regions and types", json{{"transitions", {other, promoted}}}.dump(), "?"},
      {"failback", json{{"transitions", {other, failback}}}.dump(), "failback: x"},
      {"last one wins", json{{"transitions", {failback, failed}}}.dump(), "region failed"},
      {"no reason field",
       json{{"transitions", {{{"type", "RegionDemoted"}, {"region", "ap"}}}}}.dump(), "?"},
  };
  for (const auto& c : cases) {
    state::KeyValues kv{{"other", "x"}};
    if (c.state) kv[failover::kStateJsonKey] = *c.state;
    EXPECT_EQ(DemotionReason(kv, "ap"), c.want) << c.name;
  }
}

TEST(FailbackSteps, RecordedInTheOrderSeenTiesKeepTheirOrder) {
  const struct {
    double demoted, p503, f200;
    std::vector<std::string> want;  // first word of each step after the region
  } cases[] = {
      {1, 2, 3, {"demoted", "503", "200"}}, {3, 2, 1, {"200", "503", "demoted"}},
      {2, 1, 3, {"503", "demoted", "200"}}, {5, 5, 5, {"demoted", "503", "200"}},
      {5, 4, 4, {"503", "200", "demoted"}},
  };
  for (const auto& c : cases) {
    FailbackTimes t;
    t.demoted = c.demoted;
    t.passive_503 = c.p503;
    t.failing_200 = c.f200;
    t.demoted_detail = "servingRegions=us (failback)";
    auto steps = FailbackSteps("ap", "us", t);
    ASSERT_EQ(steps.size(), 3u);
    std::vector<std::string> got;
    for (const auto& s : steps) {
      if (s.name == "ap demoted (failback)") {
        got.push_back("demoted");
        EXPECT_EQ(s.at_ms, c.demoted);
        EXPECT_EQ(s.detail, "servingRegions=us (failback)");
      } else if (s.name == "ap gate /ready 503 (failback)") {
        got.push_back("503");
        EXPECT_EQ(s.at_ms, c.p503);
      } else if (s.name == "us gate /ready 200 (data ready again)") {
        got.push_back("200");
        EXPECT_EQ(s.at_ms, c.f200);
        EXPECT_EQ(s.detail, "its sidecar writes us's lineage again");
      } else {
        ADD_FAILURE() << "unexpected step " << s.name;
      }
    }
    EXPECT_EQ(got, c.want) << c.demoted << "," << c.p503 << "," << c.f200;
  }
}

TEST(TallyFailback, CountsRowsLastVersionAndMissingWrites) {
  auto commit = [](uint64_t version, uint64_t rows, std::string fragment) {
    Commit c;
    c.version = version;
    c.rows = rows;
    c.fragment = std::move(fragment);
    return c;
  };
  const struct {
    const char* name;
    std::vector<Commit> commits;
    std::set<std::string> held;
    uint64_t rows, missing_rows, last_version;
    json missing;
  } cases[] = {
      {"nothing committed", {}, {}, 0, 0, 0, json::array()},
      {"all held", {commit(3, 10, "a"), commit(4, 5, "b")}, {"a", "b"}, 15, 0, 4, json::array()},
      {"one missing",
       {commit(3, 10, "a"), commit(4, 5, "b")},
       {"a"},
       15,
       5,
       4,
       json::array({{{"version", 4}, {"fragment", "b"}, {"rows", 5}}})},
      {"versions out of order, none held",
       {commit(7, 1, "x"), commit(2, 2, "y")},
       {},
       3,
       3,
       7,
       json::array({{{"version", 7}, {"fragment", "x"}, {"rows", 1}},
                    {{"version", 2}, {"fragment", "y"}, {"rows", 2}}})},
  };
  for (const auto& c : cases) {
    auto t = TallyFailback(c.commits, [&](const std::string& f) { return c.held.count(f) > 0; });
    EXPECT_EQ(t.rows, c.rows) << c.name;
    EXPECT_EQ(t.missing_rows, c.missing_rows) << c.name;
    EXPECT_EQ(t.last_version, c.last_version) << c.name;
    EXPECT_EQ(t.missing, c.missing) << c.name;
  }
}

}  // namespace
}  // namespace aha::demo
