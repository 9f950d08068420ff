#include "failover/failover_state.h"

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
  const json* v = jsonget::Find(j, key);
  if (!v || v->is_null()) return WallTime{};
  std::string text;
  const std::string path = where + "." + key;
  if (Status s = jsonget::AsString(*v, path, &text); !s) return s.error();
  WallTime t;
  if (!ParseTime(text, &t)) return Err(path + ": not an RFC 3339 UTC time");
  return t;
}

std::string DescribeRegion(const RegionState& rs, bool quorum) {
  auto plural = [](int n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  std::string streak;
  if (rs.consecutive_successes > 0) {
    streak = plural(rs.consecutive_successes, "consecutive success", "consecutive successes");
  } else if (rs.consecutive_failures > 0) {
    streak =
        plural(rs.consecutive_failures, "consecutive failed probe", "consecutive failed probes");
    if (rs.last && !rs.last->detail.empty()) streak += ", last: " + rs.last->detail;
  }
  if (streak.empty()) return rs.reason;  // no probe by this process yet
  const std::string health = HealthName(rs.health);
  if (quorum) {
    // Failed: the decision's reason (votes, isolation) explains it. Healthy: the last votes.
    std::string why = rs.health == Health::kFailed ? rs.reason
                      : rs.votes_up + rs.votes_down > 0
                          ? std::to_string(rs.votes_up) + " observers report it up, " +
                                std::to_string(rs.votes_down) + " down"
                          : std::string();
    return health + ": " + (why.empty() ? "" : why + "; ") + "this observer: " + streak;
  }
  return health + ": " + streak;
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
    r["reason"] = DescribeRegion(rs, s.quorum);
    r["statusReason"] = rs.reason;
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
      if (rs.last->data_reported) r["lastProbe"]["dataCaughtUp"] = rs.last->data_caught_up;
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
  return jsonget::Dump(doc, 2) + "\n";
}

namespace {

namespace jg = jsonget;

Status ReadTime(const json& obj, const char* key, const std::string& where, WallTime* out) {
  auto t = TimeFromJson(obj, key, where);
  if (!t) return Status(t.error());
  *out = *t;
  return Status::Ok();
}

// The document's top-level fields but the transitions; `regions` points into `doc`.
Status TopFromJson(const json& doc, const std::string& top, State* s, const json** regions) {
  for (Status st :
       {jg::GetUint64(doc, "generation", &s->generation, top),
        ReadTime(doc, "updatedAt", top, &s->updated_at), jg::GetBool(doc, "panic", &s->panic, top),
        ReadTime(doc, "panicSince", top, &s->panic_since),
        jg::GetStringList(doc, "servingRegions", &s->serving, top),
        jg::GetObject(doc, "regions", regions, top)}) {
    if (!st) return st;
  }
  if (const json* p = jg::Find(doc, "partitioned"); p && !p->is_null()) {
    s->quorum = true;  // written only by a controller with an observer quorum
    if (Status st = jg::AsBool(*p, top + ".partitioned", &s->partitioned); !st) return st;
    if (Status st = ReadTime(doc, "partitionedSince", top, &s->partitioned_since); !st) {
      return st;
    }
  }
  std::sort(s->serving.begin(), s->serving.end());
  return Status::Ok();
}

Result<Observation> LastProbeFromJson(const json& lp, const std::string& lw) {
  Observation o;
  for (Status st :
       {jg::OptBool(lp, "ok", &o.ok, lw), jg::OptDouble(lp, "latencyMs", &o.latency_ms, lw),
        jg::OptString(lp, "detail", &o.detail, lw), ReadTime(lp, "at", lw, &o.at)}) {
    if (!st) return st.error();
  }
  return o;
}

Result<RegionState> RegionFromJson(const std::string& name, const json& r, const std::string& top) {
  const std::string where = jg::MemberPath(top + ".regions", name);
  if (!config::IsDns1123Label(name)) return Err(where + ": not a region name");
  if (Status st = jg::ExpectObject(r, where); !st) return st.error();
  RegionState rs;
  std::string status;
  std::string local_status;
  const json* lp = nullptr;
  for (Status st :
       {jg::GetString(r, "status", &status, where), ReadTime(r, "since", where, &rs.since),
        jg::OptString(r, "reason", &rs.reason, where),
        jg::OptString(r, "statusReason", &rs.reason, where),
        jg::OptBool(r, "promoted", &rs.promoted, where),
        jg::OptStringList(r, "promotedFor", &rs.promoted_for, where),
        ReadTime(r, "promotedSince", where, &rs.promoted_since),
        jg::OptObject(r, "lastProbe", &lp, where),
        jg::OptString(r, "localStatus", &local_status, where)}) {
    if (!st) return st.error();
  }
  if (status == "healthy") {
    rs.health = Health::kHealthy;
  } else if (status == "failed") {
    rs.health = Health::kFailed;
  } else {
    return Err(where + ".status: unknown status \"" + Printable(status) + "\"");
  }
  std::sort(rs.promoted_for.begin(), rs.promoted_for.end());
  if (lp) {
    auto o = LastProbeFromJson(*lp, where + ".lastProbe");
    if (!o) return o.error();
    rs.last = *o;
  }
  // Counters deliberately left at zero (see header). This observer's own verdict is read
  // back; a state written without a quorum has none, and then it is the decided health.
  rs.local_failed = local_status.empty() ? rs.health == Health::kFailed : local_status == "failed";
  return rs;
}

// The recent transitions, oldest first, at most kMaxRecentTransitions; kinds this version does
// not know are skipped.
Status TransitionsFromJson(const json& doc, const std::string& top, State* s) {
  const json* transitions = nullptr;
  if (Status st = jg::OptArray(doc, "transitions", &transitions, top); !st) return st;
  if (!transitions) return Status::Ok();
  for (size_t i = 0; i < transitions->size(); ++i) {
    const json& t = (*transitions)[i];
    const std::string where = jg::IndexPath(top + ".transitions", i);
    if (Status st = jg::ExpectObject(t, where); !st) return st;
    std::string type;
    Transition tr{};
    for (Status st :
         {jg::OptString(t, "type", &type, where), jg::OptString(t, "region", &tr.region, where),
          jg::OptString(t, "reason", &tr.reason, where), ReadTime(t, "at", where, &tr.at),
          ReadTime(t, "firstProbeAt", where, &tr.first_probe_at)}) {
      if (!st) return st;
    }
    auto kind = ParseTransitionName(type);
    if (!kind) continue;  // a kind from a newer version: skipped, not an error
    tr.kind = *kind;
    s->recent.push_back(std::move(tr));
  }
  while (s->recent.size() > kMaxRecentTransitions)
    s->recent.pop_front();
  return Status::Ok();
}

}  // namespace

Result<State> StateFromJson(const std::string& text) {
  const std::string top = kStateJsonKey;
  auto parsed = jg::Parse(text, top);
  if (!parsed) return parsed.error();
  const json& doc = *parsed;
  if (!doc.is_object()) return Err("state.json: not a JSON object");
  std::string api = "<missing>";
  if (Status st = jg::OptString(doc, "apiVersion", &api, top); !st) return st.error();
  if (api != "agency-ha/v1") return Err("state.json: unsupported apiVersion " + Printable(api));
  State s;
  const json* regions = nullptr;
  if (Status st = TopFromJson(doc, top, &s, &regions); !st) return st.error();
  for (const auto& [name, r] : regions->items()) {
    auto rs = RegionFromJson(name, r, top);
    if (!rs) return rs.error();
    s.regions.emplace(name, std::move(rs).value());
  }
  if (Status st = TransitionsFromJson(doc, top, &s); !st) return st.error();
  return s;
}

}  // namespace aha::failover
