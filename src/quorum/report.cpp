#include "quorum/report.h"

#include <nlohmann/json.hpp>

#include "common/json_get.h"
#include "common/printable.h"
#include "config/controller_config.h"

namespace aha::quorum {

using nlohmann::json;

Report BuildReport(const failover::State& s, const std::string& observer,
                   const std::string& instance, uint64_t generation, WallTime produced_at) {
  Report r;
  r.observer = observer;
  r.instance = instance;
  r.generation = generation;
  r.produced_at = produced_at;
  r.partitioned = s.partitioned;
  for (const auto& [name, rs] : s.regions) {
    if (!rs.last) continue;
    RegionReport rr;
    rr.up = rs.last->ok;
    rr.down = rs.local_failed;
    rr.since = rs.streak_since;
    rr.consecutive_failures = rs.consecutive_failures;
    rr.consecutive_successes = rs.consecutive_successes;
    rr.detail = rs.last->detail;
    rr.latency_ms = rs.last->latency_ms;
    rr.at = rs.last->at;
    r.regions.emplace(name, std::move(rr));
  }
  return r;
}

std::string ReportToJson(const Report& r) {
  json regions = json::object();
  for (const auto& [name, rr] : r.regions) {
    regions[name] = {{"up", rr.up},
                     {"down", rr.down},
                     {"since", failover::TimeToJson(rr.since)},
                     {"consecutiveFailures", rr.consecutive_failures},
                     {"consecutiveSuccesses", rr.consecutive_successes},
                     {"detail", rr.detail},
                     {"latencyMs", rr.latency_ms},
                     {"at", failover::TimeToJson(rr.at)}};
  }
  json doc = {{"apiVersion", "agency-ha/v1"}, {"kind", "Observations"},
              {"observer", r.observer},       {"instance", r.instance},
              {"generation", r.generation},   {"producedAt", failover::TimeToJson(r.produced_at)},
              {"partitioned", r.partitioned}, {"regions", regions}};
  return jsonget::Dump(doc, 2) + "\n";
}

Result<Report> ReportFromJson(const std::string& text) {
  namespace jg = jsonget;
  const std::string top = "observations";
  auto parsed = jg::Parse(text, top);
  if (!parsed) return parsed.error();
  const json& doc = *parsed;
  if (!doc.is_object()) return Err("observations: not a JSON object");
  std::string api, kind;
  for (Status s :
       {jg::GetString(doc, "apiVersion", &api, top), jg::GetString(doc, "kind", &kind, top)}) {
    if (!s) return s.error();
  }
  if (api != "agency-ha/v1") {
    return Err("observations.apiVersion: \"" + Printable(api) +
               "\" is not agency-ha/v1 (not an agency-ha/v1 Observations document)");
  }
  if (kind != "Observations") {
    return Err("observations.kind: \"" + Printable(kind) +
               "\" is not Observations (not an agency-ha/v1 Observations document)");
  }
  Report r;
  const json* regions = nullptr;
  for (Status s : {jg::GetString(doc, "observer", &r.observer, top),
                   jg::GetString(doc, "instance", &r.instance, top),
                   jg::GetUint64(doc, "generation", &r.generation, top),
                   jg::OptBool(doc, "partitioned", &r.partitioned, top),
                   jg::GetObject(doc, "regions", &regions, top)}) {
    if (!s) return s.error();
  }
  if (!config::IsDns1123Label(r.observer)) {
    return Err("observations.observer: bad observer name \"" + Printable(r.observer) + "\"");
  }
  auto produced = failover::TimeFromJson(doc, "producedAt", top);
  if (!produced) return produced.error();
  r.produced_at = *produced;
  for (const auto& [name, j] : regions->items()) {
    const std::string where = jg::MemberPath(top + ".regions", name);
    if (!config::IsDns1123Label(name)) return Err(where + ": bad region name");
    RegionReport rr;
    for (Status s : {jg::ExpectObject(j, where), jg::GetBool(j, "up", &rr.up, where),
                     jg::GetBool(j, "down", &rr.down, where),
                     jg::OptInt(j, "consecutiveFailures", &rr.consecutive_failures, where),
                     jg::OptInt(j, "consecutiveSuccesses", &rr.consecutive_successes, where),
                     jg::OptString(j, "detail", &rr.detail, where),
                     jg::OptDouble(j, "latencyMs", &rr.latency_ms, where)}) {
      if (!s) return s.error();
    }
    if (rr.consecutive_failures < 0) return Err(where + ".consecutiveFailures: negative");
    if (rr.consecutive_successes < 0) return Err(where + ".consecutiveSuccesses: negative");
    auto since = failover::TimeFromJson(j, "since", where);
    if (!since) return since.error();
    rr.since = *since;
    auto at = failover::TimeFromJson(j, "at", where);
    if (!at) return at.error();
    rr.at = *at;
    r.regions.emplace(name, std::move(rr));
  }
  return r;
}

failover::PeerReport ToPeerReport(const Report& r, WallTime received_at) {
  failover::PeerReport p;
  p.observer = r.observer;
  p.received_at = received_at;
  for (const auto& [name, rr] : r.regions) {
    p.regions.emplace(name, failover::PeerVote{rr.down, rr.since, rr.detail});
  }
  return p;
}

}  // namespace aha::quorum
