// Simulated outages (DR drills): the `simulatedOutages` state key.
//
// Written by the Security Monitor MCP server, read by every gate. Gates fail /health for
// failureType "health" only: a "pod" or "network" entry marks a real-fault drill (one drill per
// region, its expiry) while the real fault does the damage. Each entry carries its own
// expiry, and readers judge expiry on their own clock, so a drill ends on time even if the
// process that started it dies.
//   {"apiVersion": "agency-ha/v1", "outages": [
//     {"id": "...", "region": "us-east-1", "failureType": "health",
//      "startedAt": "2026-...Z", "expiresAt": "2026-...Z", "by": "mcp"}]}
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace aha::failover {

inline constexpr const char* kSimulatedOutagesKey = "simulatedOutages";

struct SimulatedOutage {
  std::string id;
  std::string region;
  std::string failure_type = "health";
  WallTime started_at{};
  WallTime expires_at{};
  std::string by;
};

std::string OutagesToJson(const std::vector<SimulatedOutage>& outages);
// "" parses to no outages. Malformed content is an error (readers fail static on it).
Result<std::vector<SimulatedOutage>> ParseOutages(const std::string& text);
// The active outage for `region` at `now`, if any.
const SimulatedOutage* ActiveOutage(const std::vector<SimulatedOutage>& outages,
                                    const std::string& region, WallTime now);

}  // namespace aha::failover
