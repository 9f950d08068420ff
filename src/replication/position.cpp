#include "replication/position.h"

#include <nlohmann/json.hpp>

#include "common/fs.h"

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

std::string TypeName(const json& v) {
  return v.type_name();
}

// Type-checked field readers: absent keeps the default, a wrong type is an error naming the key.
Status Str(const json& o, const char* key, std::string* out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return {};
  if (!it->is_string()) return Err(std::string(key) + ": expected string, got " + TypeName(*it));
  *out = it->get<std::string>();
  return {};
}
Status Int(const json& o, const char* key, int64_t* out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return {};
  if (!it->is_number_integer()) {
    return Err(std::string(key) + ": expected integer, got " + TypeName(*it));
  }
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return Err(std::string(key) + ": out of range");
  }
  *out = it->get<int64_t>();
  if (*out < 0) return Err(std::string(key) + ": must be >= 0");
  return {};
}
Status Bool(const json& o, const char* key, bool* out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return {};
  if (!it->is_boolean()) return Err(std::string(key) + ": expected boolean, got " + TypeName(*it));
  *out = it->get<bool>();
  return {};
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
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<Position> PositionFromJson(const std::string& text) {
  if (text.size() > (1 << 20)) return Err("position: larger than 1 MiB");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Err("position: not a JSON object");
  Position p;
  std::string role, updated;
  int64_t files = 0, bytes = 0;
  for (Status s : {Str(j, "lineage", &p.lineage), Str(j, "role", &role), Int(j, "epoch", &p.epoch),
                   Str(j, "snapshot", &p.snapshot), Int(j, "headEpoch", &p.head_epoch),
                   Str(j, "head", &p.head), Bool(j, "caughtUp", &p.caught_up),
                   Bool(j, "dataReady", &p.data_ready), Str(j, "updatedAt", &updated),
                   Str(j, "error", &p.error)}) {
    if (!s) return Err("position: " + s.message());
  }
  if (auto it = j.find("divergent"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Err("position: divergent: expected object");
    for (Status s : {Int(*it, "files", &files), Int(*it, "bytes", &bytes),
                     Str(*it, "path", &p.divergent.path)}) {
      if (!s) return Err("position: divergent." + s.message());
    }
  }
  p.divergent.files = static_cast<uint64_t>(files);
  p.divergent.bytes = static_cast<uint64_t>(bytes);
  if (p.lineage.empty()) return Err("position: lineage: required");
  if (!ParseRole(role, &p.role)) return Err("position: role: unknown role \"" + role + "\"");
  if (!updated.empty()) {
    if (!ParseTime(updated, &p.updated_at)) return Err("position: updatedAt: not an RFC 3339 time");
  }
  return p;
}

std::string PositionHeader(const Position& p) {
  return std::string("role=") + RoleName(p.role) + "; lineage=" + p.lineage +
         "; epoch=" + std::to_string(p.epoch) + "; caught-up=" + (p.caught_up ? "1" : "0") +
         "; ready=" + (p.data_ready ? "1" : "0");
}

DataReport ParseDataHeader(const std::string& value) {
  DataReport r;
  if (value.empty()) return r;
  r.present = true;
  bool caught = false, seen_caught = false, bad = false;
  size_t i = 0;
  while (i <= value.size() && !bad) {
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
      break;
    }
    const std::string k = part.substr(0, eq), v = part.substr(eq + 1);
    if (k == "caught-up") {
      if (v != "0" && v != "1") bad = true;
      caught = v == "1";
      seen_caught = true;
    } else if (k == "role") {
      r.role = v;
    } else if (k == "lineage") {
      r.lineage = v;
    } else if (k == "epoch") {
      if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
        bad = true;
      } else {
        r.epoch = std::stoll(v);
      }
    }
  }
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
