// FormatTime/ParseTime: the RFC 3339 UTC times in every state document (state.json,
// simulatedOutages, drills, snapshot records). ParseTime reads untrusted text, so it must reject
// what it cannot represent instead of overflowing (the JSON-RPC fuzzer found year 9999).
#include <gtest/gtest.h>

#include "common/clock.h"

namespace aha {
namespace {

TEST(Clock, ParseTimeRoundTripsFormatTime) {
  WallTime t;
  ASSERT_TRUE(ParseTime("2026-11-27T17:00:00.123Z", &t));
  EXPECT_EQ(FormatTime(t), "2026-11-27T17:00:00.123Z");
  ASSERT_TRUE(ParseTime("2026-11-27T17:00:00Z", &t));
  EXPECT_EQ(FormatTime(t), "2026-11-27T17:00:00.000Z");
  ASSERT_TRUE(ParseTime("2026-11-27T17:00:00.5Z", &t));
  EXPECT_EQ(FormatTime(t), "2026-11-27T17:00:00.500Z");
  ASSERT_TRUE(ParseTime("1970-01-01T00:00:00Z", &t));
  EXPECT_EQ(t, WallTime{});
  ASSERT_TRUE(ParseTime("2261-12-31T23:59:59.999Z", &t));
}

TEST(Clock, ParseTimeRejectsWhatItCannotRepresent) {
  WallTime t;
  for (const char* bad : {"9999-12-31T23:59:59Z", "2262-04-12T00:00:00Z", "1969-12-31T23:59:59Z",
                          "-999-01-01T00:00:00Z", "+026-01-01T00:00:00Z", " 2026-01-01T00:00:00Z",
                          "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-32T00:00:00Z",
                          "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:61Z",
                          "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z",
                          "2026-01-01T00:00:00+01:00", "2026-1-01T00:00:00Z", "", "2026-01-01"}) {
    EXPECT_FALSE(ParseTime(bad, &t)) << bad;
  }
}

}  // namespace
}  // namespace aha
