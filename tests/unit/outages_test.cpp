#include "failover/outages.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace aha::failover {
namespace {

TEST(Outages, RoundTripAndExpiry) {
  WallTime t0;
  ASSERT_TRUE(ParseTime("2026-11-27T17:00:00.000Z", &t0));
  std::vector<SimulatedOutage> in = {
      {"d1", "us-east-1", "health", t0, t0 + std::chrono::seconds(300), "mcp"},
      {"d2", "eu-west-1", "health", t0, t0 + std::chrono::seconds(10), "mcp"}};
  auto out = ParseOutages(OutagesToJson(in));
  ASSERT_TRUE(out.ok()) << out.message();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].expires_at, in[0].expires_at);
  EXPECT_NE(ActiveOutage(*out, "us-east-1", t0 + std::chrono::seconds(299)), nullptr);
  EXPECT_EQ(ActiveOutage(*out, "us-east-1", t0 + std::chrono::seconds(300)), nullptr);
  EXPECT_EQ(ActiveOutage(*out, "us-east", t0), nullptr) << "exact names only";
  EXPECT_EQ(ActiveOutage(*out, "eu-west-1", t0 + std::chrono::seconds(11)), nullptr);
}

TEST(Outages, EmptyAndMalformed) {
  EXPECT_TRUE(ParseOutages("").ok());
  EXPECT_TRUE(ParseOutages("\n").value().empty());
  EXPECT_FALSE(ParseOutages("[]").ok());
  EXPECT_FALSE(ParseOutages("{\"outages\": [{\"region\": \"a\"}]}").ok()) << "no expiry";
  EXPECT_FALSE(ParseOutages("{\"outages\": [{\"expiresAt\": \"2026-11-27T17:00:00Z\"}]}").ok());
}

// Hostile input: every field with a wrong type, nested wrong types, huge numbers, invalid UTF-8,
// deep nesting. Each is a clear error naming the key (never a throw): a gate fails static on it.
TEST(Outages, HostileInputIsAnErrorNamingTheKey) {
  const std::string good =
      R"({"id": "d", "region": "eu-west-1", "failureType": "health",)"
      R"( "startedAt": "2026-11-27T17:00:00Z", "expiresAt": "2026-11-27T17:05:00Z", "by": "x"})";
  auto with = [&](const std::string& field, const std::string& value) {
    nlohmann::json e = nlohmann::json::parse(good);
    e[field] = nlohmann::json::parse(value);
    return R"({"outages": [)" + good + "," + e.dump() + "]}";
  };
  struct Case {
    std::string text, want;
  };
  const std::vector<Case> cases = {
      {with("id", "5"), "simulatedOutages.outages[1].id: expected string, got number 5"},
      {with("region", "[\"a\"]"), "simulatedOutages.outages[1].region: expected string, got array"},
      {with("region", "null"), "simulatedOutages.outages[1].region: expected string, got null"},
      {with("failureType", "7"), "simulatedOutages.outages[1].failureType: expected string"},
      {with("by", "{}"), "simulatedOutages.outages[1].by: expected string, got object"},
      {R"({"outages": [{"region": "a", "expiresAt": 1e999}]})", "simulatedOutages: not valid JSON"},
      {with("expiresAt", "18446744073709551616"),
       "simulatedOutages.outages[1].expiresAt: expected string, got number"},
      {with("expiresAt", "-1"), "simulatedOutages.outages[1].expiresAt: expected string"},
      {with("expiresAt", "\"tomorrow\""),
       "simulatedOutages.outages[1].expiresAt: not an RFC 3339 UTC time: \"tomorrow\""},
      {with("startedAt", "\"\\u001b[2J\""),
       R"(simulatedOutages.outages[1].startedAt: not an RFC 3339 UTC time: "\x1b[2J")"},
      {with("startedAt", "false"), "simulatedOutages.outages[1].startedAt: expected string"},
      {R"({"outages": [5]})", "simulatedOutages.outages[0]: expected object, got number 5"},
      {R"({"outages": {"a": 1}})", "simulatedOutages.outages: expected array, got object"},
      {R"({"outages": "x"})", "simulatedOutages.outages: expected array, got string"},
      {R"({})", "simulatedOutages.outages: missing"},
      {R"([])", "simulatedOutages: expected object, got array"},
      {"\"\xff\xfe\"", "simulatedOutages: not valid JSON"},
      {"\xff\xfe", "simulatedOutages: not valid JSON"},
      {std::string(10000, '['), "simulatedOutages: nested deeper than 64 levels"},
      {R"({"outages": [)" + std::string(200, '[') + std::string(200, ']') + "]}",
       "simulatedOutages: nested deeper than 64 levels"},
      {R"({"outages": [{"region": "", "expiresAt": "2026-11-27T17:05:00Z"}]})",
       "simulatedOutages.outages[0].region: empty"},
  };
  for (const auto& c : cases) {
    Result<std::vector<SimulatedOutage>> r = std::vector<SimulatedOutage>{};
    ASSERT_NO_THROW(r = ParseOutages(c.text)) << c.text;
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.message().substr(0, c.want.size()), c.want) << c.text;
  }
  // Unknown fields and an optional field left out are fine.
  auto ok = ParseOutages(R"({"outages": [{"region": "a", "expiresAt": "2026-11-27T17:05:00Z",)"
                         R"( "extra": [1, {"x": null}]}]})");
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ((*ok)[0].failure_type, "health");
}

}  // namespace
}  // namespace aha::failover
