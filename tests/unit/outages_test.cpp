#include "failover/outages.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace aha::failover
