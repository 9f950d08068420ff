#include "failover/state.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/json_get.h"
#include "common/printable.h"
#include "config/controller_config.h"

namespace aha::failover {

using nlohmann::json;

const char* HealthName(Health h) {
  return h == Health::kHealthy ? "healthy" : "failed";
}

namespace {
constexpr std::pair<TransitionKind, const char*> kTransitionNames[] = {
    {TransitionKind::kRegionFailed, "RegionFailed"},
    {TransitionKind::kRegionRecovered, "RegionRecovered"},
    {TransitionKind::kRegionPromoted, "RegionPromoted"},
    {TransitionKind::kRegionDemoted, "RegionDemoted"},
    {TransitionKind::kPanicEntered, "PanicEntered"},
    {TransitionKind::kPanicExited, "PanicExited"},
};
}  // namespace

const char* TransitionName(TransitionKind k) {
  for (const auto& [kind, name] : kTransitionNames) {
    if (kind == k) return name;
  }
  return "Unknown";
}

std::optional<TransitionKind> ParseTransitionName(const std::string& s) {
  for (const auto& [kind, name] : kTransitionNames) {
    if (s == name) return kind;
  }
  return std::nullopt;
}

std::vector<std::string> State::Failed() const {
  std::vector<std::string> out;
  for (const auto& [name, rs] : regions) {
    if (rs.health == Health::kFailed) out.push_back(name);
  }
  return out;  // std::map iterates in sorted order
}

bool DecisionEqual(const State& a, const State& b) {
  if (a.panic != b.panic || a.serving != b.serving || a.regions.size() != b.regions.size() ||
      a.partitioned != b.partitioned) {
    return false;
  }
  for (const auto& [name, ra] : a.regions) {
    auto it = b.regions.find(name);
    if (it == b.regions.end()) return false;
    const RegionState& rb = it->second;
    if (ra.health != rb.health || ra.since != rb.since || ra.promoted != rb.promoted ||
        ra.promoted_for != rb.promoted_for || ra.promoted_since != rb.promoted_since) {
      return false;
    }
  }
  return true;
}

std::string FormatRegionList(const std::vector<std::string>& names) {
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto& n : sorted)
    out += n + "\n";
  return out;
}

Result<std::vector<std::string>> ParseRegionList(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    auto e = line.find_last_not_of(" \t\r");
    std::string name = line.substr(b, e - b + 1);
    if (!config::IsDns1123Label(name)) {
      return Err("line " + std::to_string(lineno) + ": not a region name: \"" + Printable(name) +
                 "\"");
    }
    out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool ContainsRegion(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

json TimeToJson(WallTime t) {
  return t == WallTime{} ? json(nullptr) : json(FormatTime(t));
}

Result<WallTime> TimeFromJson(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return WallTime{};
  WallTime t;
  if (!j.at(key).is_string() || !ParseTime(j.at(key).get<std::string>(), &t)) {
    return Err(where + "." + key + ": not an RFC 3339 UTC time");
  }
  return t;
}

std::string StateToJson(const State& s, const std::map<std::string, bool>& active) {
  json regions = json::object();
  for (const auto& [name, rs] : s.regions) {
    json r;
    auto a = active.find(name);
    r["active"] = a == active.end() ? true : a->second;
    r["status"] = HealthName(rs.health);
    r["serving"] = ContainsRegion(s.serving, name);
    r["since"] = TimeToJson(rs.since);
    r["reason"] = rs.reason;
    r["consecutiveFailures"] = rs.consecutive_failures;
    r["consecutiveSuccesses"] = rs.consecutive_successes;
    r["promoted"] = rs.promoted;
    r["promotedFor"] = rs.promoted_for;
    r["promotedSince"] = TimeToJson(rs.promoted_since);
    if (rs.last) {
      r["lastProbe"] = {{"ok", rs.last->ok},
                        {"latencyMs", rs.last->latency_ms},
                        {"detail", rs.last->detail},
                        {"at", TimeToJson(rs.last->at)}};
    } else {
      r["lastProbe"] = nullptr;
    }
    if (s.quorum) {
      r["localStatus"] = rs.local_failed ? "failed" : "healthy";
      r["votesDown"] = rs.votes_down;
      r["votesUp"] = rs.votes_up;
    }
    regions[name] = r;
  }
  json transitions = json::array();
  for (const auto& t : s.recent) {
    json tj = {{"type", TransitionName(t.kind)},
               {"region", t.region},
               {"at", TimeToJson(t.at)},
               {"reason", t.reason}};
    if (t.first_probe_at != WallTime{}) tj["firstProbeAt"] = TimeToJson(t.first_probe_at);
    transitions.push_back(tj);
  }
  json doc = {{"apiVersion", "agency-ha/v1"},
              {"kind", "FailoverState"},
              {"generation", s.generation},
              {"updatedAt", TimeToJson(s.updated_at)},
              {"panic", s.panic},
              {"panicSince", TimeToJson(s.panic_since)},
              {"failedRegions", s.Failed()},
              {"servingRegions", s.serving},
              {"regions", regions},
              {"transitions", transitions}};
  if (s.quorum) {
    doc["partitioned"] = s.partitioned;
    doc["partitionedSince"] = TimeToJson(s.partitioned_since);
    doc["quorum"] = {
        {"size", s.quorum_size}, {"observers", s.observers}, {"reachable", s.observers_reachable}};
  }
  return doc.dump(2) + "\n";
}

Result<State> StateFromJson(const std::string& text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Err("state.json: not a JSON object");
  try {
    if (doc.value("apiVersion", "") != "agency-ha/v1") {
      return Err("state.json: unsupported apiVersion " + doc.value("apiVersion", "<missing>"));
    }
    State s;
    s.generation = doc.at("generation").get<uint64_t>();
    auto upd = TimeFromJson(doc, "updatedAt", "state.json");
    if (!upd) return upd.error();
    s.updated_at = *upd;
    s.panic = doc.at("panic").get<bool>();
    auto ps = TimeFromJson(doc, "panicSince", "state.json");
    if (!ps) return ps.error();
    s.panic_since = *ps;
    s.serving = doc.at("servingRegions").get<std::vector<std::string>>();
    if (doc.contains("partitioned") && doc.at("partitioned").is_boolean()) {
      s.quorum = true;
      s.partitioned = doc.at("partitioned").get<bool>();
      auto pts = TimeFromJson(doc, "partitionedSince", "state.json");
      if (!pts) return pts.error();
      s.partitioned_since = *pts;
    }
    std::sort(s.serving.begin(), s.serving.end());
    for (const auto& [name, r] : doc.at("regions").items()) {
      if (!config::IsDns1123Label(name)) return Err("state.json: bad region name \"" + name + "\"");
      const std::string where = "state.json regions." + name;
      RegionState rs;
      const std::string status = r.at("status").get<std::string>();
      if (status == "healthy") {
        rs.health = Health::kHealthy;
      } else if (status == "failed") {
        rs.health = Health::kFailed;
      } else {
        return Err(where + ".status: unknown status \"" + status + "\"");
      }
      auto since = TimeFromJson(r, "since", where);
      if (!since) return since.error();
      rs.since = *since;
      rs.reason = r.value("reason", "");
      rs.promoted = r.value("promoted", false);
      rs.promoted_for = r.value("promotedFor", std::vector<std::string>{});
      std::sort(rs.promoted_for.begin(), rs.promoted_for.end());
      auto psince = TimeFromJson(r, "promotedSince", where);
      if (!psince) return psince.error();
      rs.promoted_since = *psince;
      if (r.contains("lastProbe") && r.at("lastProbe").is_object()) {
        const json& lp = r.at("lastProbe");
        Observation o;
        o.ok = lp.value("ok", false);
        o.latency_ms = lp.value("latencyMs", 0.0);
        o.detail = lp.value("detail", "");
        auto at = TimeFromJson(lp, "at", where + ".lastProbe");
        if (!at) return at.error();
        o.at = *at;
        rs.last = o;
      }
      // Counters deliberately left at zero (see header). This observer's own verdict is read
      // back; a state written without a quorum has none, and then it is the decided health.
      rs.local_failed = r.contains("localStatus") && r.at("localStatus").is_string()
                            ? r.at("localStatus").get<std::string>() == "failed"
                            : rs.health == Health::kFailed;
      s.regions.emplace(name, std::move(rs));
    }
    if (doc.contains("transitions")) {
      for (const auto& t : doc.at("transitions")) {
        auto kind = ParseTransitionName(t.value("type", ""));
        if (!kind) continue;
        auto at = TimeFromJson(t, "at", "state.json transitions");
        if (!at) return at.error();
        auto first = TimeFromJson(t, "firstProbeAt", "state.json transitions");
        if (!first) return first.error();
        s.recent.push_back(
            Transition{*kind, t.value("region", ""), *at, t.value("reason", ""), *first});
      }
      while (s.recent.size() > kMaxRecentTransitions)
        s.recent.pop_front();
    }
    return s;
  } catch (const json::exception& e) {
    return Err(std::string("state.json: ") + e.what());
  }
}

}  // namespace aha::failover
