// Drill reports: the measured timeline of one simulated regional outage, as a pure function of
// timestamps that really happened. Nothing is estimated: a step that has not happened (yet) is
// null, and so is every duration that needs it.
//
// Sources of the timestamps:
// - the drill itself (written by this server into `simulatedOutages`): injected at = startedAt;
//   outage ended = the time end_regional_outage removed it, else expiresAt once it has passed
//   (gates judge expiry on their own clock, so that instant is when they stop failing);
// - the controller's transitions in state.json (decision time `at`, written with the state, and
//   `firstProbeAt` = the first probe of the streak that caused a RegionFailed/RegionRecovered);
// - this server's own observations of the state keys changing (StateSource snapshot times):
//   when failedRegions first contained the region, when servingRegions first differed from its
//   value at injection, when failedRegions no longer contained the region, and when
//   servingRegions was back to its value at injection. Observations are kept with the drill in the
//   shared state (see DrillsToJson), so a restarted server reports what its predecessor saw. A
//   change first seen right after a restart (`gap`) happened at an unknown time while no server
//   was watching: it advances the phase, but its time stays null (and `notes` says why);
// - servingChangedAt / servingRestoredAt that no server observed live (a gap, or no observation:
//   a fresh process per tool call) come from the controller's persisted decisions: the
//   RegionFailed of a serving region (not under panic) or the RegionPromoted of a stand-in, and
//   back with its RegionRecovered and the stand-in's RegionDemoted. `timelineSources` says which
//   ("observed" or "controller-decision"), and `notes` says so.
//
// Persistence: the `drills` state key holds the last kMaxStoredDrills drills (the record written
// with the drill's simulatedOutages entry, the observations, and the final report once complete):
//   {"apiVersion": "agency-ha/v1", "drills": [{"id", "region", "failureType", "durationSeconds",
//     "injectedAt", "expiresAt", "endedEarlyAt", "servingBefore", "failedBefore",
//     "observations": [{"at", "failed", "serving", "gap"}], "completedAt", "report",
//     "positionsAtInjection", "fault"}]}   (fault: pod/network drills only, mcp/faults.h)
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "failover/failover_state.h"
#include "mcp/faults.h"

namespace aha::mcp {

// The state keys as this server saw them change.
struct Observation {
  WallTime at{};
  std::vector<std::string> failed;
  std::vector<std::string> serving;
  bool gap = false;  // first seen after a restart: happened at an unknown time before `at`
};

struct Drill {
  std::string id;
  std::string region;
  std::string failure_type = "health";
  int duration_seconds = 0;
  WallTime injected_at{};
  WallTime expires_at{};
  std::optional<WallTime> ended_early_at;  // end_regional_outage
  std::vector<std::string> serving_before;
  std::vector<std::string> failed_before;
  std::vector<Observation> observations;  // changes of failed/serving after injection
  std::optional<WallTime> completed_at;   // when a server saw the drill complete
  nlohmann::json report;                  // the final report once complete (else null)
  // The data position every region reported (controller live view) when the drill was
  // injected: {region: controller::DataJson or null}, or null when the controller did not answer.
  nlohmann::json positions_at_injection;
  // pod and network drills: what was touched and whether it is reverted (mcp/faults.h). The
  // outage of such a drill ends when the fault stops acting (Fault::EndedAt), not at expiry.
  std::optional<Fault> fault;
};

inline constexpr const char* kDrillsKey = "drills";
inline constexpr size_t kMaxStoredDrills = 20;
inline constexpr size_t kMaxObservationsPerDrill = 50;

// The `drills` state key. Keeps the newest kMaxStoredDrills.
std::string DrillsToJson(const std::vector<Drill>& drills);
// "" parses to no drills; malformed content is an error naming what is wrong.
Result<std::vector<Drill>> ParseDrills(const std::string& text);

// The report (JSON, the `get_drill_report` structured content). `transitions` may contain
// anything (other regions, older drills): only this region's transitions at or after injection
// are used. `now` decides whether expiresAt has passed.
nlohmann::json BuildDrillReport(const Drill& d,
                                const std::vector<failover::Transition>& transitions,
                                const std::vector<Observation>& observed, WallTime now);

// Seconds between two report timestamps (strings or null); null when either is null.
nlohmann::json SecondsBetween(const nlohmann::json& from, const nlohmann::json& to);

}  // namespace aha::mcp
