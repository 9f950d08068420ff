// net::BackoffDelay / ParseRetryAfter: the retry waits of the S3 store and the Kubernetes client.
// Draws come from a seeded generator, so every expectation is deterministic.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "common/clock.h"
#include "net/backoff.h"

namespace aha::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(NetBackoff, FullJitterWithinTheDoublingCap) {
  std::mt19937_64 rng(42);
  const Backoff b{milliseconds(100), milliseconds(5000)};
  for (int attempt = 1; attempt <= 8; ++attempt) {
    const long long cap = std::min<long long>(5000, 100LL << attempt);
    std::set<long long> seen;
    for (int i = 0; i < 200; ++i) {
      const auto d = BackoffDelay(b, attempt, milliseconds(0), rng);
      ASSERT_GE(d.count(), 0) << "attempt " << attempt;
      ASSERT_LE(d.count(), cap) << "attempt " << attempt;
      seen.insert(d.count());
    }
    // Full jitter: spread over the range, not clustered at the cap.
    EXPECT_GT(seen.size(), 50u) << "attempt " << attempt;
    EXPECT_LT(*seen.begin(), cap / 4) << "attempt " << attempt;
  }
}

TEST(NetBackoff, LargeAttemptsAndTinyBasesStayInRange) {
  std::mt19937_64 rng(7);
  const Backoff b{milliseconds(200), milliseconds(10000)};
  for (int attempt : {20, 21, 63, 64, 1000, 2147483647}) {
    const auto d = BackoffDelay(b, attempt, milliseconds(0), rng);
    EXPECT_GE(d.count(), 0) << attempt;
    EXPECT_LE(d.count(), 10000) << attempt;
  }
  const Backoff zero{milliseconds(0), milliseconds(0)};
  const auto d = BackoffDelay(zero, 3, milliseconds(0), rng);
  EXPECT_GE(d.count(), 0);
  EXPECT_LE(d.count(), 1) << "a zero policy still draws from [0, 1 ms]";
}

TEST(NetBackoff, RetryAfterRaisesTheWaitUpToTheMax) {
  std::mt19937_64 rng(1);
  const Backoff b{milliseconds(100), milliseconds(5000)};
  EXPECT_EQ(BackoffDelay(b, 1, seconds(3), rng), seconds(3));
  EXPECT_EQ(BackoffDelay(b, 1, seconds(60), rng), milliseconds(5000)) << "capped at max";
  // A Retry-After shorter than the draw does not shorten it.
  for (int i = 0; i < 50; ++i) {
    const auto d = BackoffDelay(b, 5, milliseconds(1), rng);
    EXPECT_GE(d.count(), 1);
    EXPECT_LE(d.count(), 3200);
  }
}

WallTime At(const char* rfc3339) {
  WallTime t;
  EXPECT_TRUE(ParseTime(rfc3339, &t)) << rfc3339;
  return t;
}

TEST(NetRetryAfter, DeltaSeconds) {
  const WallTime now = At("2026-11-06T08:49:30Z");
  EXPECT_EQ(ParseRetryAfter("120", now), seconds(120));
  EXPECT_EQ(ParseRetryAfter("0", now), seconds(0));
  EXPECT_EQ(ParseRetryAfter(" 7 \r\n", now), seconds(7)) << "surrounding blanks ignored";
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", now), seconds(86400))
      << "saturates at a day instead of overflowing";
  for (const char* bad : {"", "  ", "-5", "+5", "1.5", "5s", "5 5", "0x10", "abc"}) {
    EXPECT_FALSE(ParseRetryAfter(bad, now).has_value()) << "'" << bad << "'";
  }
}

TEST(NetRetryAfter, HttpDate) {
  const WallTime now = At("2026-11-06T08:49:30Z");
  EXPECT_EQ(ParseRetryAfter("Fri, 06 Nov 2026 08:49:37 GMT", now), seconds(7));
  EXPECT_EQ(ParseRetryAfter("Sat, 07 Nov 2026 08:49:30 GMT", now), seconds(86400));
  EXPECT_EQ(ParseRetryAfter("Fri, 06 Nov 2026 08:49:37 GMT\r\n", now), seconds(7));
  EXPECT_EQ(ParseRetryAfter("Fri, 06 Nov 2026 08:49:00 GMT", now), seconds(0)) << "past: no wait";
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), seconds(0));
  EXPECT_EQ(ParseRetryAfter("Fri, 06 Nov 2099 08:49:37 GMT", now), seconds(86400))
      << "a far future date saturates at a day";
  const WallTime later = At("2026-11-06T08:49:36.500Z");
  EXPECT_EQ(ParseRetryAfter("Fri, 06 Nov 2026 08:49:37 GMT", later), milliseconds(500));
  for (const char* bad : {"Fri, 06 Nov 2026 08:49:37 UTC", "Friday, 06-Nov-26 08:49:37 GMT",
                          "Fri Nov  6 08:49:37 2026", "Xyz, 06 Nov 2026 08:49:37 GMT",
                          "Fri, 06 Foo 2026 08:49:37 GMT", "Fri, 6 Nov 2026 08:49:37 GMT",
                          "Fri, 06 Nov 2026 24:49:37 GMT", "Fri, 00 Nov 2026 08:49:37 GMT",
                          "Fri, 06 Nov 2026 08:49:3x GMT", "Fri, 06 Nov -026 08:49:37 GMT"}) {
    EXPECT_FALSE(ParseRetryAfter(bad, now).has_value()) << bad;
  }
}

}  // namespace
}  // namespace aha::net
