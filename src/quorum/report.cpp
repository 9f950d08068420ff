#include "quorum/report.h"

#include <nlohmann/json.hpp>

#include "common/json_get.h"
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
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Err("observations: not a JSON object");
  try {
    if (doc.value("apiVersion", "") != "agency-ha/v1" || doc.value("kind", "") != "Observations") {
      return Err("observations: not an agency-ha/v1 Observations document");
    }
    Report r;
    r.observer = doc.at("observer").get<std::string>();
    if (!config::IsDns1123Label(r.observer)) return Err("observations: bad observer name");
    r.instance = doc.at("instance").get<std::string>();
    r.generation = doc.at("generation").get<uint64_t>();
    auto produced = failover::TimeFromJson(doc, "producedAt", "observations");
    if (!produced) return produced.error();
    r.produced_at = *produced;
    r.partitioned = doc.value("partitioned", false);
    for (const auto& [name, j] : doc.at("regions").items()) {
      if (!config::IsDns1123Label(name)) return Err("observations: bad region name");
      const std::string where = "observations regions." + name;
      RegionReport rr;
      rr.up = j.at("up").get<bool>();
      rr.down = j.at("down").get<bool>();
      auto since = failover::TimeFromJson(j, "since", where);
      if (!since) return since.error();
      rr.since = *since;
      rr.consecutive_failures = j.value("consecutiveFailures", 0);
      rr.consecutive_successes = j.value("consecutiveSuccesses", 0);
      rr.detail = j.value("detail", "");
      rr.latency_ms = j.value("latencyMs", 0.0);
      auto at = failover::TimeFromJson(j, "at", where);
      if (!at) return at.error();
      rr.at = *at;
      r.regions.emplace(name, std::move(rr));
    }
    return r;
  } catch (const json::exception& e) {
    return Err(std::string("observations: ") + e.what());
  }
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
