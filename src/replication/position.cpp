#include "replication/position.h"

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/json_get.h"
#include "common/printable.h"
#include "replication/snapshot.h"

namespace aha::replication {

using nlohmann::json;

const char* RoleName(Role r) {
  switch (r) {
    case Role::kStarting:
      return "starting";
    case Role::kWriter:
      return "writer";
    case Role::kFollower:
      return "follower";
    case Role::kFenced:
      return "fenced";
  }
  return "starting";
}

namespace {

bool ParseRole(const std::string& s, Role* out) {
  for (Role r : {Role::kStarting, Role::kWriter, Role::kFollower, Role::kFenced}) {
    if (s == RoleName(r)) {
      *out = r;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string PositionToJson(const Position& p) {
  json j = {
      {"lineage", p.lineage},
      {"role", RoleName(p.role)},
      {"epoch", p.epoch},
      {"snapshot", p.snapshot},
      {"headEpoch", p.head_epoch},
      {"head", p.head},
      {"caughtUp", p.caught_up},
      {"dataReady", p.data_ready},
      {"updatedAt", FormatTime(p.updated_at)},
      {"divergent",
       {{"files", p.divergent.files}, {"bytes", p.divergent.bytes}, {"path", p.divergent.path}}},
      {"error", p.error}};
  return jsonget::Dump(j) + "\n";
}

Result<Position> PositionFromJson(const std::string& text) {
  namespace jg = jsonget;
  if (text.size() > (1 << 20)) return Err("position: larger than 1 MiB");
  const std::string top = "position";
  auto parsed = jg::Parse(text, top);
  if (!parsed) return Err(parsed.message() + ": not a JSON object");
  const json& j = *parsed;
  if (!j.is_object()) return Err("position: not a JSON object");
  Position p;
  std::string role, updated;
  uint64_t files = 0, bytes = 0;
  const json* divergent = nullptr;
  for (Status s :
       {jg::OptString(j, "lineage", &p.lineage, top), jg::OptString(j, "role", &role, top),
        jg::OptInt64(j, "epoch", &p.epoch, top), jg::OptString(j, "snapshot", &p.snapshot, top),
        jg::OptInt64(j, "headEpoch", &p.head_epoch, top), jg::OptString(j, "head", &p.head, top),
        jg::OptBool(j, "caughtUp", &p.caught_up, top),
        jg::OptBool(j, "dataReady", &p.data_ready, top),
        jg::OptString(j, "updatedAt", &updated, top), jg::OptString(j, "error", &p.error, top),
        jg::OptObject(j, "divergent", &divergent, top)}) {
    if (!s) return s.error();
  }
  if (p.epoch < 0) return Err("position.epoch: must be >= 0");
  if (p.head_epoch < 0) return Err("position.headEpoch: must be >= 0");
  if (divergent) {
    const std::string where = top + ".divergent";
    for (Status s : {jg::OptUint64(*divergent, "files", &files, where),
                     jg::OptUint64(*divergent, "bytes", &bytes, where),
                     jg::OptString(*divergent, "path", &p.divergent.path, where)}) {
      if (!s) return s.error();
    }
  }
  p.divergent.files = files;
  p.divergent.bytes = bytes;
  if (p.lineage.empty()) return Err("position.lineage: required");
  if (!ParseRole(role, &p.role)) {
    return Err("position.role: unknown role \"" + Printable(role) + "\"");
  }
  if (!updated.empty()) {
    if (!ParseTime(updated, &p.updated_at)) return Err("position.updatedAt: not an RFC 3339 time");
  }
  return p;
}

std::string PositionHeader(const Position& p) {
  std::string h = std::string("role=") + RoleName(p.role) + "; lineage=" + p.lineage +
                  "; epoch=" + std::to_string(p.epoch) +
                  "; caught-up=" + (p.caught_up ? "1" : "0") +
                  "; ready=" + (p.data_ready ? "1" : "0");
  if (IsSnapshotId(p.snapshot)) h += "; snapshot=" + p.snapshot;
  if (IsSnapshotId(p.head)) {
    h += "; head-epoch=" + std::to_string(p.head_epoch) + "; head=" + p.head;
  }
  return h;
}

namespace {

bool Decimal(const std::string& v, int64_t* out) {
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *out = std::stoll(v);
  return true;
}

bool Token(const std::string& v, size_t max, const char* extra) {
  if (v.empty() || v.size() > max) return false;
  for (char c : v) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    std::string_view(extra).find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

}  // namespace

DataReport ParseDataHeader(const std::string& value) {
  DataReport r;
  if (value.empty()) return r;
  r.present = true;
  bool caught = false, seen_caught = false, bad = false;
  size_t i = 0;
  while (i <= value.size()) {
    size_t end = value.find(';', i);
    if (end == std::string::npos) end = value.size();
    std::string part = value.substr(i, end - i);
    i = end + 1;
    while (!part.empty() && part.front() == ' ')
      part.erase(0, 1);
    while (!part.empty() && part.back() == ' ')
      part.pop_back();
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string::npos) {
      bad = true;
      continue;
    }
    const std::string k = part.substr(0, eq), v = part.substr(eq + 1);
    if (k == "caught-up" || k == "ready") {
      if (v != "0" && v != "1") {
        bad = true;
        continue;
      }
      if (k == "ready") {
        r.ready = v == "1";
      } else {
        caught = v == "1";
        seen_caught = true;
      }
    } else if (k == "role") {
      if (Token(v, 32, "")) {
        r.role = v;
      } else {
        bad = true;
      }
    } else if (k == "lineage") {
      if (Token(v, 128, "._")) {
        r.lineage = v;
      } else {
        bad = true;
      }
    } else if (k == "epoch" || k == "head-epoch") {
      int64_t n = 0;
      if (!Decimal(v, &n)) {
        bad = true;
      } else {
        (k == "epoch" ? r.epoch : r.head_epoch) = n;
      }
    } else if (k == "snapshot" || k == "head") {
      if (IsSnapshotId(v)) {
        (k == "snapshot" ? r.snapshot : r.head) = v;
      } else {
        bad = true;
      }
    }
  }
  r.malformed = bad;
  r.caught_up = !bad && seen_caught && caught;
  return r;
}

Status WritePositionFile(const std::string& path, const Position& p) {
  return WriteFileAtomic(path, PositionToJson(p));
}

Result<Position> ReadPositionFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return text.error();
  return PositionFromJson(*text);
}

}  // namespace aha::replication
