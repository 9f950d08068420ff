#include "failover/outages.h"

#include <nlohmann/json.hpp>

#include "common/json_get.h"
#include "common/printable.h"

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
  return jsonget::Dump(json{{"apiVersion", "agency-ha/v1"}, {"outages", list}}, 2) + "\n";
}

Result<std::vector<SimulatedOutage>> ParseOutages(const std::string& text) {
  namespace jg = jsonget;
  std::vector<SimulatedOutage> out;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  auto doc = jg::Parse(text, kSimulatedOutagesKey);
  if (!doc) return doc.error();
  const json* list = nullptr;
  if (Status s = jg::GetArray(*doc, "outages", &list, kSimulatedOutagesKey); !s) return s.error();
  for (size_t i = 0; i < list->size(); ++i) {
    const json& o = (*list)[i];
    const std::string where = jg::IndexPath(std::string(kSimulatedOutagesKey) + ".outages", i);
    if (Status s = jg::ExpectObject(o, where); !s) return s.error();
    SimulatedOutage so;
    std::string started, expires;
    for (Status s :
         {jg::OptString(o, "id", &so.id, where), jg::GetString(o, "region", &so.region, where),
          jg::OptString(o, "failureType", &so.failure_type, where),
          jg::OptString(o, "by", &so.by, where), jg::GetString(o, "expiresAt", &expires, where),
          jg::OptString(o, "startedAt", &started, where)}) {
      if (!s) return s.error();
    }
    if (so.region.empty()) return Err(where + ".region: empty");
    if (!ParseTime(expires, &so.expires_at)) {
      return Err(where + ".expiresAt: not an RFC 3339 UTC time: \"" + Printable(expires) + "\"");
    }
    if (!started.empty() && !ParseTime(started, &so.started_at)) {
      return Err(where + ".startedAt: not an RFC 3339 UTC time: \"" + Printable(started) + "\"");
    }
    out.push_back(std::move(so));
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
