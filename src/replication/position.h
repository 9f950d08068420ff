// Position: what a replication sidecar reports about its volume (docs/WRITER.md "Position").
//
// The sidecar writes it atomically to a file (`handoff.positionFile`) on every change; the gate
// reads that file: `/ready` needs `dataReady` when a position file is configured (a promoted
// region never serves data it has not applied yet), and `/health` carries the short form in the
// `X-Agency-Data` header so the controller, which already probes `/health`, learns whether a
// recovered region has caught up with its lineage before it fails back.
//
// The file comes from another process: the parser type-checks every field and never throws.
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/result.h"

namespace aha::replication {

enum class Role { kStarting, kWriter, kFollower, kFenced };
const char* RoleName(Role r);

struct Divergent {
  uint64_t files = 0, bytes = 0;
  std::string path;  // the newest preserved tail ("" when none)
  bool operator==(const Divergent&) const = default;
};

struct Position {
  std::string lineage;
  Role role = Role::kStarting;
  int64_t epoch = 0;       // the epoch this sidecar writes at (writer) or last applied
  std::string snapshot;    // the snapshot the volume holds
  int64_t head_epoch = 0;  // the newest (epoch, id) seen on the remotes
  std::string head;
  bool caught_up = false;   // the volume holds the head (a writer: always)
  bool data_ready = false;  // the gate may let this pod serve
  WallTime updated_at{};
  Divergent divergent;
  std::string error;

  bool operator==(const Position&) const = default;
};

std::string PositionToJson(const Position& p);
// Every field type-checked; unknown fields ignored (newer writers), `lineage` and `role` required.
Result<Position> PositionFromJson(const std::string& text);

// "role=follower; lineage=us-east-1; epoch=3; caught-up=1; ready=0" (the X-Agency-Data header).
std::string PositionHeader(const Position& p);

// What the controller needs from that header.
struct DataReport {
  bool present = false;  // the endpoint reports data at all
  bool caught_up = false;
  std::string role, lineage;
  int64_t epoch = 0;
};
// Lenient on unknown attributes, strict on the ones it reads; a malformed header reads as
// present and not caught up (a region must not fail back on a report it cannot read).
DataReport ParseDataHeader(const std::string& value);

Status WritePositionFile(const std::string& path, const Position& p);
Result<Position> ReadPositionFile(const std::string& path);

inline constexpr const char* kDataHeader = "X-Agency-Data";

}  // namespace aha::replication
