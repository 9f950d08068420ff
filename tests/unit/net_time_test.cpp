// The one RFC 3339 parser (common/rfc3339.h ParseRfc3339) as the network clients use it: AWS
// credential expiries come with offsets, and untrusted text must not overflow WallTime (the
// fuzzer found year 9999 in ParseTime; the AWS copy had the same overflow until both became one).
#include <gtest/gtest.h>

#include "common/rfc3339.h"
#include "objectstore/aws_http.h"

namespace aha {
namespace {

TEST(NetRfc3339, OffsetsAndLowercaseZWithAnyOffset) {
  WallTime utc, t;
  ASSERT_TRUE(ParseRfc3339("2026-11-27T19:50:27Z", &utc, TimeZones::kAnyOffset));
  ASSERT_TRUE(ParseRfc3339("2026-11-27T19:50:27z", &t, TimeZones::kAnyOffset));
  EXPECT_EQ(t, utc);
  ASSERT_TRUE(ParseRfc3339("2026-11-27T21:50:27+02:00", &t, TimeZones::kAnyOffset));
  EXPECT_EQ(t, utc);
  ASSERT_TRUE(ParseRfc3339("2026-11-27T19:00:27-00:50", &t, TimeZones::kAnyOffset));
  EXPECT_EQ(t, utc);
  ASSERT_TRUE(ParseRfc3339("2026-11-27T19:50:27.250+00:00", &t, TimeZones::kAnyOffset));
  EXPECT_EQ(t - utc, std::chrono::milliseconds(250));
}

TEST(NetRfc3339, UtcOnlyRefusesOffsets) {
  WallTime t;
  EXPECT_FALSE(ParseRfc3339("2026-11-27T21:50:27+02:00", &t, TimeZones::kUtcOnly));
  EXPECT_FALSE(ParseRfc3339("2026-11-27T19:50:27z", &t, TimeZones::kUtcOnly));
  EXPECT_TRUE(ParseRfc3339("2026-11-27T19:50:27Z", &t, TimeZones::kUtcOnly));
}

TEST(NetRfc3339, YearOverflowRejectedInBothModes) {
  WallTime t = WallTime{} + std::chrono::seconds(5);
  const WallTime before = t;
  for (const char* bad : {"9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00",
                          "2262-04-12T00:00:00Z", "2262-04-12T00:00:00-01:00"}) {
    EXPECT_FALSE(ParseRfc3339(bad, &t, TimeZones::kAnyOffset)) << bad;
    EXPECT_FALSE(ParseRfc3339(bad, &t, TimeZones::kUtcOnly)) << bad;
    EXPECT_FALSE(objectstore::aws::ParseIso8601(bad, &t)) << bad;
  }
  EXPECT_EQ(t, before) << "a rejected time leaves *out untouched";
  EXPECT_TRUE(objectstore::aws::ParseIso8601("2261-12-31T23:59:59+23:59", &t));
}

TEST(NetRfc3339, ShapeIsStrictWithOffsetsToo) {
  WallTime t;
  for (const char* bad :
       {" 2026-11-27T19:50:27Z", "+026-11-27T19:50:27Z", "2026-11-27T19:50:27+2:00",
        "2026-11-27T19:50:27+02:0", "2026-11-27T19:50:27+0200", "2026-11-27T19:50:27+24:00",
        "2026-11-27T19:50:27+02:60", "2026-11-27T19:50:27 +02:00", "2026-11-27T19:50:27+02:00 ",
        "2026-11-27T19:50:27.+02:00", "2026-11-27T19:50:27", "2026-11-27 19:50:27Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad, &t, TimeZones::kAnyOffset)) << bad;
  }
}

}  // namespace
}  // namespace aha
