// Observer reports: what one controller tells its peers about the regions it probes.
//
// GET /v1/observations answers with ReportToJson(BuildReport(...)):
//   {"apiVersion": "agency-ha/v1", "kind": "Observations",
//    "observer": "us-east-1",            the reporting controller's region (quorum.region)
//    "instance": "2026-11-27T19:00:00.000Z/4711",   one per controller process
//    "generation": 42,                   +1 per probe round; with `instance`, monotonic
//    "producedAt": "...",                when the round that produced it ended (its clock)
//    "partitioned": false,
//    "regions": {"eu-west-1": {"up": true, "down": false, "since": "...",
//                              "consecutiveFailures": 0, "consecutiveSuccesses": 12,
//                              "detail": "HTTP 200", "latencyMs": 1.2, "at": "..."}}}
// `up` is the last probe's result; `down` is the observer's verdict after its thresholds (its
// vote); `since` is the first probe of the current streak. Regions it has not probed yet are
// absent. A reader accepts only what it can check: the schema, names, times.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "failover/decide.h"
#include "failover/failover_state.h"

namespace aha::quorum {

struct RegionReport {
  bool up = false;
  bool down = false;
  WallTime since{};
  int consecutive_failures = 0;
  int consecutive_successes = 0;
  std::string detail;
  double latency_ms = 0;
  WallTime at{};
};

struct Report {
  std::string observer;
  std::string instance;
  uint64_t generation = 0;
  WallTime produced_at{};
  bool partitioned = false;
  std::map<std::string, RegionReport> regions;
};

// This controller's report from its current state (regions it has probed at least once).
Report BuildReport(const failover::State& s, const std::string& observer,
                   const std::string& instance, uint64_t generation, WallTime produced_at);

std::string ReportToJson(const Report& r);
Result<Report> ReportFromJson(const std::string& text);

// The votes Decide reads from a peer's report received (as a new generation) at `received_at`.
failover::PeerReport ToPeerReport(const Report& r, WallTime received_at);

}  // namespace aha::quorum
