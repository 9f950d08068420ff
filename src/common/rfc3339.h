// RFC 3339 timestamps: the one parser of the binary. ParseTime (clock.h) is this parser with
// TimeZones::kUtcOnly; the AWS credential endpoints (objectstore/aws_http.h) use kAnyOffset.
#pragma once

#include <string>

#include "common/clock.h"

namespace aha {

// YYYY-MM-DDTHH:MM:SS[.fraction] and a zone. It reads untrusted text (state documents, drills,
// snapshot records, AWS credential expiries): digits exactly where they belong (no signs or
// spaces, which sscanf would accept), fields in range, and only years WallTime's nanosecond count
// can hold (1970..2261; past 2262 it overflows: the fuzzer found year 9999, and the AWS copy of
// this parser had the same overflow until the two became this one). Fractions keep milliseconds.
// False on anything else; *out is then untouched.
enum class TimeZones {
  kUtcOnly,    // "Z" only: what FormatTime writes and every state document stores
  kAnyOffset,  // also "z" and "+hh:mm" / "-hh:mm" (AWS credential endpoints)
};
bool ParseRfc3339(const std::string& s, WallTime* out, TimeZones zones);

}  // namespace aha
