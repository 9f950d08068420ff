// The failover state: what the controller believes about every region, and how it is persisted.
//
// The controller owns this state; Decide() computes the next one from the previous one plus one
// round of observations. The persisted form is three keys of the state store:
//   failedRegions   exact names, one per line, sorted, "" when none
//   servingRegions  same format: the regions that should take traffic now
//   state.json      per-region detail, generation, panic flag, recent transitions
// Readers (the gate, the MCP server, people with `kubectl get cm`) match names exactly, line by
// line; never by substring (upstream's `grep -q eu` matched "eu-west-1").
// This file is the state format. Where the keys are stored (a directory or a ConfigMap) and how
// readers follow them is src/state/ (store.h, source.h); the replication sidecar's own
// bookkeeping is a different thing, replication/local_state.h.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/clock.h"
#include "common/result.h"

namespace aha::failover {

enum class Health { kHealthy, kFailed };
const char* HealthName(Health h);

// One probe round's verdict for one region (the prober's output, reduced to what decides).
struct Observation {
  bool ok = false;
  double latency_ms = 0.0;
  std::string detail;  // "HTTP 200", "connection refused", "1/3 endpoints healthy (need 2)"
  WallTime at{};
  // Data position from the region's endpoints (docs/WRITER.md): failback waits until a region
  // that reports data reports it caught up with its lineage.
  bool data_reported = false;
  bool data_caught_up = false;
};

struct RegionState {
  Health health = Health::kHealthy;
  WallTime since{};    // when `health` last changed (or when the region was first seen)
  std::string reason;  // why the region has its current health
  int consecutive_failures = 0;
  int consecutive_successes = 0;
  WallTime streak_since{};  // when the current run of equal probe results began (its first probe)
  // Passive regions only: promoted while standing in for failed active regions.
  bool promoted = false;
  WallTime promoted_since{};
  std::vector<std::string> promoted_for;  // sorted active region names
  std::optional<Observation> last;        // last probe result
  // This controller's own hysteresis verdict (failed after failureThreshold failed probes,
  // healthy after successThreshold good ones). Without peers `health` follows it; with an
  // observer quorum it is this observer's vote and `health` is what a quorum of votes decided.
  bool local_failed = false;
  int votes_down = 0;  // quorum only: fresh observers (incl. self) voting down / up last round
  int votes_up = 0;
};

enum class TransitionKind {
  kRegionFailed,
  kRegionRecovered,
  kRegionPromoted,
  kRegionDemoted,
  kPanicEntered,
  kPanicExited,
};
// "RegionFailed", ... : also the Kubernetes Event reasons.
const char* TransitionName(TransitionKind k);
std::optional<TransitionKind> ParseTransitionName(const std::string& s);

struct Transition {
  TransitionKind kind;
  std::string region;  // empty for panic transitions
  WallTime at{};
  std::string reason;
  // Failed/Recovered: when the first probe of the streak that caused it was taken (so a drill
  // report can show "first failed probe" as a measured time, not an estimate).
  WallTime first_probe_at{};
  bool operator==(const Transition&) const = default;
};

struct State {
  uint64_t generation = 0;
  WallTime updated_at{};
  bool panic = false;
  WallTime panic_since{};
  std::vector<std::string> serving;  // sorted
  std::map<std::string, RegionState> regions;
  std::deque<Transition> recent;  // newest last, bounded by kMaxRecentTransitions
  // Observer quorum (only with peers configured; see decide.h).
  bool quorum = false;       // decisions are taken by a quorum of observers
  bool partitioned = false;  // fewer than quorum_size observers (incl. self) are reachable
  WallTime partitioned_since{};
  int quorum_size = 0;
  int observers = 0;            // configured observers incl. self
  int observers_reachable = 0;  // self + peers with fresh observations, last round

  std::vector<std::string> Failed() const;  // sorted names with health == kFailed
};

inline constexpr size_t kMaxRecentTransitions = 50;

// True when the two states differ in anything that is persisted as a decision: health and
// since, promotion, serving set, panic, partitioned. Probe counters and latencies are not
// decisions; they are persisted along with a decision but do not by themselves cause a write (a
// write every probe round would turn the ConfigMap into a write hot spot).
bool DecisionEqual(const State& a, const State& b);

// Persisted keys.
inline constexpr const char* kFailedRegionsKey = "failedRegions";
inline constexpr const char* kServingRegionsKey = "servingRegions";
inline constexpr const char* kStateJsonKey = "state.json";

// Times in the state documents (state.json, quorum observations): RFC 3339 UTC, or null for
// "never". TimeFromJson reads obj[key] (absent or null = WallTime{}), errors name where.key.
nlohmann::json TimeToJson(WallTime t);
Result<WallTime> TimeFromJson(const nlohmann::json& obj, const char* key, const std::string& where);

// "a\nb\n" for {a, b}; "" for none.
std::string FormatRegionList(const std::vector<std::string>& names);
// Parses the region list format: one exact name per line; blank lines and surrounding spaces
// ignored. Errors on a line that is not a valid region name (a reader must fail static rather than
// guess).
Result<std::vector<std::string>> ParseRegionList(const std::string& text);
// Exact membership test on a parsed list.
bool ContainsRegion(const std::vector<std::string>& list, const std::string& name);

// What a region's current state is, in words, from its health and current probe streak:
// "healthy: 41 consecutive successes", "healthy: 2 consecutive failed probes, last: HTTP 503",
// "failed: 7 consecutive failed probes, last: HTTP 503", "failed: 1 consecutive success". With
// `quorum` the decided health is a quorum's, so the decision reason is kept in front and this
// observer's streak follows ("failed: isolated: ...; this observer: 12 consecutive successes",
// "healthy: 3 observers report it up, 0 down; this observer: 5 consecutive successes").
// Before any probe of this process (no counters yet) it is the decision reason.
std::string DescribeRegion(const RegionState& rs, bool quorum);

// state.json. `active` tells the serializer which regions are active (for readers' convenience).
// Per region `reason` is DescribeRegion at the time of writing and `statusReason` the reason of
// the decision that gave it its status (RegionState::reason; read back into it).
std::string StateToJson(const State& s, const std::map<std::string, bool>& active);
// Reads back what StateToJson wrote. Counters are reset to zero on load: a counter persisted with
// an older decision is stale, and acting on it after a restart could fail a region early.
Result<State> StateFromJson(const std::string& text);

}  // namespace aha::failover
