#include "net/backoff.h"

#include <algorithm>
#include <array>
#include <ctime>
#include <string>

namespace aha::net {

using std::chrono::milliseconds;

milliseconds BackoffDelay(const Backoff& b, int attempt, milliseconds retry_after,
                          std::mt19937_64& rng) {
  const long long cap =
      std::min<long long>(b.max.count(), b.base.count() << std::clamp(attempt, 0, 20));
  std::uniform_int_distribution<long long> dist(0, std::max<long long>(cap, 1));
  milliseconds wait(dist(rng));
  if (retry_after > wait) wait = std::min(retry_after, b.max);
  return wait;
}

milliseconds BackoffDelay(const Backoff& b, int attempt, milliseconds retry_after) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return BackoffDelay(b, attempt, retry_after, rng);
}

namespace {

constexpr long long kMaxSeconds = 24 * 3600;

bool Digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int Number(std::string_view s) {
  int v = 0;
  for (char c : s)
    v = v * 10 + (c - '0');
  return v;
}

// "Sun, 06 Nov 1994 08:49:37 GMT" -> seconds since the epoch; false for any other shape.
bool ParseImfFixdate(std::string_view s, long long* out) {
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                            "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // 0123456789012345678901234567890
  // Sun, 06 Nov 1994 08:49:37 GMT
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return false;
  }
  if (std::find(kDays.begin(), kDays.end(), s.substr(0, 3)) == kDays.end()) return false;
  const auto month = std::find(kMonths.begin(), kMonths.end(), s.substr(8, 3));
  if (month == kMonths.end()) return false;
  const std::string_view day = s.substr(5, 2), year = s.substr(12, 4), hh = s.substr(17, 2),
                         mm = s.substr(20, 2), ss = s.substr(23, 2);
  if (!Digits(day) || !Digits(year) || !Digits(hh) || !Digits(mm) || !Digits(ss)) return false;
  std::tm tm{};
  tm.tm_year = Number(year) - 1900;
  tm.tm_mon = static_cast<int>(month - kMonths.begin());
  tm.tm_mday = Number(day);
  tm.tm_hour = Number(hh);
  tm.tm_min = Number(mm);
  tm.tm_sec = Number(ss);
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return false;
  }
  *out = static_cast<long long>(timegm(&tm));
  return true;
}

}  // namespace

std::optional<milliseconds> ParseRetryAfter(std::string_view value, WallTime now) {
  const size_t b = value.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return std::nullopt;
  const std::string_view v = value.substr(b, value.find_last_not_of(" \t\r\n") - b + 1);
  if (Digits(v)) {
    long long secs = 0;
    for (char c : v) {
      secs = secs * 10 + (c - '0');
      if (secs > kMaxSeconds) {
        secs = kMaxSeconds;
        break;
      }
    }
    return std::chrono::seconds(secs);
  }
  long long at = 0;
  if (!ParseImfFixdate(v, &at)) return std::nullopt;
  const long long now_ms = EpochMillis(now);
  const long long wait_ms = std::clamp(at * 1000 - now_ms, 0LL, kMaxSeconds * 1000);
  return milliseconds(wait_ms);
}

}  // namespace aha::net
