// FormatTime/ParseTime: the RFC 3339 UTC times in every state document (state.json,
// simulatedOutages, drills, snapshot records). ParseTime reads untrusted text, so it must reject
// what it cannot represent instead of overflowing (the JSON-RPC fuzzer found year 9999).
#include <gtest/gtest.h>

#include "common/clock.h"

#include <atomic>
#include <thread>

#include "common/stopper.h"

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

TEST(Clock, ToUtcSplitsFieldsAndKeepsTheFractionPositiveBefore1970) {
  const UtcFields u = ToUtc(WallTime(std::chrono::nanoseconds(1764979200123456789LL)));
  EXPECT_EQ(u.year, 2025);
  EXPECT_EQ(u.month, 12);
  EXPECT_EQ(u.day, 6);
  EXPECT_EQ(u.hour, 0);
  EXPECT_EQ(u.second, 0);
  EXPECT_EQ(u.nanos, 123456789);
  // 1.5 s before the epoch is 23:59:58.5 on the last day of 1969, not a negative fraction.
  const UtcFields b = ToUtc(WallTime(std::chrono::milliseconds(-1500)));
  EXPECT_EQ(b.year, 1969);
  EXPECT_EQ(b.month, 12);
  EXPECT_EQ(b.day, 31);
  EXPECT_EQ(b.minute, 59);
  EXPECT_EQ(b.second, 58);
  EXPECT_EQ(b.nanos, 500000000);
  EXPECT_EQ(FormatTime(WallTime(std::chrono::milliseconds(-1500))), "1969-12-31T23:59:58.500Z");
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

// ---- Sleeping in fake time: Stopper and FakeClock ----
// Each step waits until the sleeper has seen the latest advance (WaitForSleepers), so what is
// asserted does not depend on how fast a thread runs; no real-time threshold anywhere.

TEST(FakeClockSleep, StopperWaitForEndsWhenFakeTimeReachesTheDeadline) {
  FakeClock clock;
  Stopper stop(clock);
  std::atomic<int> returned{-1};
  std::thread t([&] { returned = stop.WaitFor(std::chrono::seconds(10)) ? 1 : 0; });
  ASSERT_TRUE(clock.WaitForSleepers(1));
  clock.advance(std::chrono::seconds(9));
  ASSERT_TRUE(clock.WaitForSleepers(1)) << "9 s of 10: still asleep";
  EXPECT_EQ(returned, -1);
  clock.advance(std::chrono::seconds(1));
  t.join();
  EXPECT_EQ(returned, 0) << "deadline reached, not stopped";
}

TEST(FakeClockSleep, StopInterruptsAFakeSleep) {
  FakeClock clock;
  Stopper stop(clock);
  std::atomic<int> returned{-1};
  std::thread t([&] { returned = stop.WaitFor(std::chrono::hours(1)) ? 1 : 0; });
  ASSERT_TRUE(clock.WaitForSleepers(1));
  stop.Stop();
  t.join();
  EXPECT_EQ(returned, 1);
  EXPECT_TRUE(stop.WaitFor(std::chrono::hours(1))) << "stopped: returns at once";
}

TEST(FakeClockSleep, StopInterruptsASleepOnAnotherClockThanTheStoppers) {
  FakeClock clock;
  Stopper stop;  // SystemClock for WaitFor; the loop sleeps on its own fake clock
  std::atomic<int> returned{-1};
  std::thread t(
      [&] { returned = stop.WaitUntil(clock, clock.mono() + std::chrono::hours(1)) ? 1 : 0; });
  ASSERT_TRUE(clock.WaitForSleepers(1));
  stop.Stop();
  t.join();
  EXPECT_EQ(returned, 1);
}

TEST(FakeClockSleep, AutoAdvanceMovesTheClockBySleepInsteadOfBlocking) {
  FakeClock clock;
  clock.set_auto_advance(true);
  const MonoTime m0 = clock.mono();
  const WallTime w0 = clock.wall();
  clock.SleepFor(std::chrono::milliseconds(250));
  clock.SleepFor(std::chrono::milliseconds(750));
  EXPECT_EQ(clock.mono() - m0, std::chrono::seconds(1));
  EXPECT_EQ(clock.wall() - w0, std::chrono::seconds(1));
  Stopper stop(clock);
  EXPECT_FALSE(stop.WaitFor(std::chrono::seconds(2)));
  EXPECT_EQ(clock.mono() - m0, std::chrono::seconds(3));
  stop.Stop();
  EXPECT_TRUE(stop.WaitFor(std::chrono::seconds(2)));
  EXPECT_EQ(clock.mono() - m0, std::chrono::seconds(3)) << "a stopped sleep does not move time";
}

}  // namespace
}  // namespace aha
