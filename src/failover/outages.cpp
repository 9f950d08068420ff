#include "failover/outages.h"

#include <nlohmann/json.hpp>

namespace aha::failover {

using nlohmann::json;

std::string OutagesToJson(const std::vector<SimulatedOutage>& outages) {
  json list = json::array();
  for (const auto& o : outages) {
    list.push_back({{"id", o.id},
                    {"region", o.region},
                    {"failureType", o.failure_type},
                    {"startedAt", FormatTime(o.started_at)},
                    {"expiresAt", FormatTime(o.expires_at)},
                    {"by", o.by}});
  }
  return json{{"apiVersion", "agency-ha/v1"}, {"outages", list}}.dump(2) + "\n";
}

Result<std::vector<SimulatedOutage>> ParseOutages(const std::string& text) {
  std::vector<SimulatedOutage> out;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("outages") ||
      !doc["outages"].is_array()) {
    return Err("simulatedOutages: expected {\"outages\": [...]}");
  }
  for (const auto& o : doc["outages"]) {
    if (!o.is_object()) return Err("simulatedOutages: outage entries must be objects");
    SimulatedOutage s;
    s.id = o.value("id", "");
    s.region = o.value("region", "");
    s.failure_type = o.value("failureType", "health");
    s.by = o.value("by", "");
    if (s.region.empty()) return Err("simulatedOutages: entry without region");
    if (!ParseTime(o.value("expiresAt", ""), &s.expires_at)) {
      return Err("simulatedOutages: entry for " + s.region + " has no valid expiresAt");
    }
    ParseTime(o.value("startedAt", ""), &s.started_at);
    out.push_back(std::move(s));
  }
  return out;
}

const SimulatedOutage* ActiveOutage(const std::vector<SimulatedOutage>& outages,
                                    const std::string& region, WallTime now) {
  for (const auto& o : outages) {
    if (o.region == region && now < o.expires_at) return &o;
  }
  return nullptr;
}

}  // namespace aha::failover
