#include "common/clock.h"

#include <cstdio>
#include <ctime>
#include <string>

#include "common/rfc3339.h"

namespace aha {

UtcFields ToUtc(WallTime t) {
  const long long ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  long long secs = ns / 1000000000, frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    secs -= 1;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac};
}

std::string FormatTime(WallTime t) {
  const UtcFields u = ToUtc(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", u.year, u.month, u.day,
                u.hour, u.minute, u.second, static_cast<int>(u.nanos / 1000000));
  return buf;
}

namespace {

// The zone suffix: seconds east of UTC, or false.
bool ParseZone(const std::string& zone, TimeZones zones, long long* offset_s) {
  if (zone == "Z" || (zones == TimeZones::kAnyOffset && zone == "z")) {
    *offset_s = 0;
    return true;
  }
  if (zones != TimeZones::kAnyOffset || zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') ||
      zone[3] != ':') {
    return false;
  }
  for (size_t i : {1, 2, 4, 5})
    if (zone[i] < '0' || zone[i] > '9') return false;
  const int oh = (zone[1] - '0') * 10 + (zone[2] - '0');
  const int om = (zone[4] - '0') * 10 + (zone[5] - '0');
  if (oh > 23 || om > 59) return false;
  *offset_s = (oh * 3600LL + om * 60LL) * (zone[0] == '-' ? -1 : 1);
  return true;
}

}  // namespace

bool ParseRfc3339(const std::string& s, WallTime* out, TimeZones zones) {
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
  size_t i = kLen;
  if (s[i] == '.') {
    int digits = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
    }
    if (digits == 0) return false;
    for (int d = digits; d < 3; ++d)
      ms *= 10;
  }
  long long offset_s = 0;
  if (!ParseZone(s.substr(i), zones, &offset_s)) return false;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t secs = timegm(&tm);
  if (secs == static_cast<std::time_t>(-1)) return false;
  *out = WallTime{} + std::chrono::seconds(static_cast<long long>(secs) - offset_s) + Millis(ms);
  return true;
}

bool ParseTime(const std::string& s, WallTime* out) {
  return ParseRfc3339(s, out, TimeZones::kUtcOnly);
}

}  // namespace aha
