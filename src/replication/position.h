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

// "role=follower; lineage=us-east-1; epoch=3; caught-up=1; ready=0; snapshot=<id>;
// head-epoch=3; head=<id>" (the X-Agency-Data header; snapshot and head only when known). At most
// ~250 bytes for a 63-character lineage: the prober keeps headers up to 512 bytes.
std::string PositionHeader(const Position& p);

// What the controller needs from that header (and shows on its status surfaces: who writes
// which lineage at which epoch, who is fenced, how far behind its lineage's head a follower is).
struct DataReport {
  bool present = false;    // the endpoint reports data at all
  bool malformed = false;  // an attribute it reads has a bad value (then caught_up is false)
  bool caught_up = false;
  bool ready = false;
  std::string role, lineage;  // role: a lowercase token ("writer", "follower", "fenced", ...)
  int64_t epoch = 0;
  std::string snapshot, head;  // snapshot ids (IsSnapshotId) or ""
  int64_t head_epoch = 0;
};
// Lenient on unknown attributes, strict on the ones it reads (role: lowercase token; lineage:
// [a-z0-9._-], at most 128 bytes; epochs: decimal, at most 18 digits; snapshot/head: snapshot
// ids); a malformed header reads as present, malformed and not caught up (a region must not
// fail back on a report it cannot read), with the malformed value dropped.
DataReport ParseDataHeader(const std::string& value);

Status WritePositionFile(const std::string& path, const Position& p);
Result<Position> ReadPositionFile(const std::string& path);

inline constexpr const char* kDataHeader = "X-Agency-Data";

}  // namespace aha::replication
