#include "common/clock.h"

#include <cstdio>
#include <ctime>
#include <string>

namespace aha {

std::string FormatTime(WallTime t) {
  const long long ms = EpochMillis(t);
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int frac = static_cast<int>(ms % 1000);
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

bool ParseTime(const std::string& s, WallTime* out) {
  // Strict RFC 3339 UTC: YYYY-MM-DDTHH:MM:SS[.fff...]Z, digits exactly where they belong (no
  // signs or spaces, which sscanf would accept) and fields in range, and a year WallTime's
  // nanosecond count can hold (it overflows after 2262; the fuzzer found year 9999).
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:dd";
  constexpr size_t kLen = sizeof(kShape) - 1;
  if (s.size() < kLen + 1) return false;
  for (size_t i = 0; i < kLen; ++i) {
    const bool digit = s[i] >= '0' && s[i] <= '9';
    if (kShape[i] == 'd' ? !digit : s[i] != kShape[i]) return false;
  }
  auto num = [&](size_t pos, size_t n) {
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i)
      v = v * 10 + (s[i] - '0');
    return v;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4);
  tm.tm_mon = num(5, 2);
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_year < 1970 || tm.tm_year > 2261 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return false;
  }
  int ms = 0;
  std::string rest = s.substr(kLen);
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    int digits = 0;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
      if (digits < 3) ms = ms * 10 + (rest[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return false;
    for (int d = digits; d < 3; ++d)
      ms *= 10;
    rest = rest.substr(i);
  }
  if (rest != "Z") return false;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t secs = timegm(&tm);
  if (secs == static_cast<std::time_t>(-1)) return false;
  *out = WallTime{} + std::chrono::seconds(secs) + Millis(ms);
  return true;
}

}  // namespace aha
