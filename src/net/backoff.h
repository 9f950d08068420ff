// Retry waits for HTTP clients (the S3 store, the Kubernetes client): full-jitter exponential
// backoff with a cap, stretched to what the server asks for in Retry-After.
//
// Why full jitter: many replicas retrying the same overloaded server at the same moments (plain
// exponential backoff) keep it overloaded; a uniform draw in [0, cap] spreads them out. Why
// Retry-After wins over the draw (up to the cap): a server that says "come back in 5 s" (S3's
// SlowDown, the API server's 429 with priority and fairness) has told us when it can take us.
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string_view>

#include "common/clock.h"

namespace aha::net {

struct Backoff {
  std::chrono::milliseconds base{100};  // the cap of the first retry's draw, doubled per attempt
  std::chrono::milliseconds max{5000};  // no wait is longer, whatever Retry-After says
};

// The wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed: uniform in
// [0, min(max, base * 2^attempt)] (at least a range of 1 ms), then raised to `retry_after` when
// that is longer, but never above `max`. The shift is bounded, so large attempts do not overflow.
std::chrono::milliseconds BackoffDelay(const Backoff& b, int attempt,
                                       std::chrono::milliseconds retry_after, std::mt19937_64& rng);

// The same with a per-thread generator seeded from std::random_device (jitter needs no secrecy).
std::chrono::milliseconds BackoffDelay(const Backoff& b, int attempt,
                                       std::chrono::milliseconds retry_after);

// A Retry-After header value (RFC 9110 section 10.2.3), surrounding blanks ignored:
//   - delta-seconds, digits only ("120"); very long numbers saturate at one day,
//   - an HTTP-date in the IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT"), taken relative to
//     `now`; a date in the past means no wait (0).
// nullopt for anything else (signs, fractions, the obsolete RFC 850 and asctime date forms,
// which no server this binary talks to sends): the caller then waits its own backoff.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, WallTime now);

}  // namespace aha::net
