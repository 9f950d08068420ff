// Observer reports (the /v1/observations document) and the bearer token helpers.
#include <gtest/gtest.h>

#include <fstream>

#include "quorum/report.h"
#include "quorum/token.h"
#include "support/temp_dir.h"

namespace aha::quorum {
namespace {

const WallTime kT0 = WallTime{} + std::chrono::hours(24 * 365 * 56);

WallTime T(int s) {
  return kT0 + std::chrono::seconds(s);
}

failover::State SampleState() {
  failover::State s;
  s.partitioned = true;
  failover::RegionState a;
  a.last = failover::Observation{true, 1.5, "HTTP 200", T(10)};
  a.consecutive_successes = 7;
  a.streak_since = T(4);
  failover::RegionState b;
  b.last = failover::Observation{false, 500, "connection refused", T(10)};
  b.consecutive_failures = 3;
  b.streak_since = T(8);
  b.local_failed = true;
  failover::RegionState c;  // never probed: not reported
  s.regions = {{"a", a}, {"b", b}, {"c", c}};
  return s;
}

TEST(QuorumReport, BuildSerializeParseRoundTrip) {
  Report r = BuildReport(SampleState(), "a", "inst-1", 42, T(11));
  ASSERT_EQ(r.regions.size(), 2u);
  EXPECT_EQ(r.regions.count("c"), 0u);
  auto back = ReportFromJson(ReportToJson(r));
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->observer, "a");
  EXPECT_EQ(back->instance, "inst-1");
  EXPECT_EQ(back->generation, 42u);
  EXPECT_EQ(back->produced_at, T(11));
  EXPECT_TRUE(back->partitioned);
  const RegionReport& b = back->regions.at("b");
  EXPECT_FALSE(b.up);
  EXPECT_TRUE(b.down);
  EXPECT_EQ(b.since, T(8));
  EXPECT_EQ(b.consecutive_failures, 3);
  EXPECT_EQ(b.detail, "connection refused");
  EXPECT_EQ(b.at, T(10));
  const RegionReport& a = back->regions.at("a");
  EXPECT_TRUE(a.up);
  EXPECT_FALSE(a.down);
  EXPECT_EQ(a.consecutive_successes, 7);
  EXPECT_DOUBLE_EQ(a.latency_ms, 1.5);
}

TEST(QuorumReport, VotesAreTheObserversVerdictsNotTheLastProbe) {
  failover::State s = SampleState();
  // b's last probe succeeded but the observer's verdict is still down (below successThreshold).
  s.regions.at("b").last->ok = true;
  failover::PeerReport p = ToPeerReport(BuildReport(s, "a", "i", 1, T(11)), T(12));
  EXPECT_EQ(p.observer, "a");
  EXPECT_EQ(p.received_at, T(12));
  EXPECT_TRUE(p.regions.at("b").down);
  EXPECT_EQ(p.regions.at("b").streak_since, T(8));
  EXPECT_FALSE(p.regions.at("a").down);
}

TEST(QuorumReport, MalformedReportsAreRejected) {
  EXPECT_FALSE(ReportFromJson("").ok());
  EXPECT_FALSE(ReportFromJson("[1]").ok());
  EXPECT_FALSE(ReportFromJson(R"({"apiVersion":"agency-ha/v1","kind":"FailoverState"})").ok());
  const std::string good = ReportToJson(BuildReport(SampleState(), "a", "i", 1, T(11)));
  ASSERT_TRUE(ReportFromJson(good).ok());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return s.replace(pos, from.size(), to);
  };
  EXPECT_FALSE(ReportFromJson(with("\"observer\": \"a\"", "\"observer\": \"A;x\"")).ok());
  EXPECT_FALSE(ReportFromJson(with("\"generation\": 1", "\"generation\": \"1\"")).ok());
  EXPECT_FALSE(ReportFromJson(with("\"down\": true", "\"down\": 1")).ok());
  auto bad_time = ReportFromJson(with("\"producedAt\": \"", "\"producedAt\": \"yesterday "));
  ASSERT_FALSE(bad_time.ok());
  EXPECT_NE(bad_time.message().find("producedAt"), std::string::npos) << bad_time.message();
}

TEST(QuorumToken, ReadTrimsAndValidates) {
  aha::testing::TempDir dir;
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir.path() + "/" + name) << content;
    return dir.path() + "/" + name;
  };
  auto t = ReadToken(write("ok", "  s3cr3t-Token_1\n"));
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(*t, "s3cr3t-Token_1");
  EXPECT_FALSE(ReadToken(write("empty", "\n\n")).ok());
  EXPECT_FALSE(ReadToken(write("space", "two words")).ok());
  EXPECT_FALSE(ReadToken(write("ctl", std::string("a\x01z"))).ok());
  auto missing = ReadToken(dir.path() + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope"), std::string::npos) << missing.message();
}

TEST(QuorumToken, BearerMatchesExactly) {
  EXPECT_TRUE(BearerMatches("Bearer abc", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer abd", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer abcd", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer ab", "abc"));
  EXPECT_TRUE(BearerMatches("bearer abc", "abc"));  // RFC 7235: the scheme is case-insensitive
  EXPECT_FALSE(BearerMatches("Basic abc", "abc"));
  EXPECT_FALSE(BearerMatches("", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer ", ""));
}

}  // namespace
}  // namespace aha::quorum
