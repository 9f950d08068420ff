#include "gate/gate.h"

#include <curl/curl.h>

#include <chrono>

#include "common/log.h"
#include "failover/failover_state.h"
#include "replication/position.h"

namespace aha::gate {

using nlohmann::json;

namespace {
size_t Discard(char*, size_t size, size_t n, void*) {
  return size * n;
}
}  // namespace

Gate::Gate(config::GateConfig cfg, state::StateSource& source, const Clock& clock)
    : cfg_(std::move(cfg)), source_(source), clock_(clock) {
  net::CurlGlobalInit();
}

Gate::~Gate() = default;

Gate::View Gate::Refresh() {
  state::Snapshot snap = source_.Get();
  std::lock_guard l(mu_);
  view_.source_error = snap.error;
  if (!snap.synced || snap.version == view_.version) return view_;
  View next = view_;
  next.synced = true;
  next.version = snap.version;
  next.problems.clear();
  auto serving = snap.kv.find(failover::kServingRegionsKey);
  next.has_serving = serving != snap.kv.end();
  if (serving == snap.kv.end()) {
    next.serving = true;  // the controller has not written yet: nothing to drain us for
  } else if (auto list = failover::ParseRegionList(serving->second); list) {
    next.serving = failover::ContainsRegion(*list, cfg_.region);
  } else {
    next.problems += "servingRegions malformed (" + list.message() + "); ";
    log::Error("servingRegions is malformed; keeping the last known value (fail-static)",
               {{"error", list.message()}, {"source", source_.Describe()}});
  }
  auto outages = snap.kv.find(failover::kSimulatedOutagesKey);
  if (outages == snap.kv.end()) {
    next.outages.clear();
  } else if (auto parsed = failover::ParseOutages(outages->second); parsed) {
    next.outages = *parsed;
  } else {
    next.problems += "simulatedOutages malformed (" + parsed.message() + "); ";
    log::Error("simulatedOutages is malformed; keeping the last known value (fail-static)",
               {{"error", parsed.message()}, {"source", source_.Describe()}});
  }
  view_ = next;
  return view_;
}

Verdict Gate::AppHealth() {
  if (cfg_.app_health_url.empty()) return {true, "no app health URL configured", {}};
  std::lock_guard l(curl_mu_);  // one check at a time; the handle keeps the connection alive
  if (!curl_) curl_ = net::NewEasy();
  if (!curl_) return {false, "app health check failed: curl_easy_init failed", {}};
  CURL* c = curl_.get();
  curl_easy_setopt(c, CURLOPT_URL, cfg_.app_health_url.c_str());
  net::EasyOptions opts;
  opts.user_agent = "agency-ha-gate/" AHA_VERSION;
  opts.timeout = std::chrono::milliseconds(static_cast<long>(cfg_.app_timeout_seconds * 1000));
  net::ApplyOptions(c, opts);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK)
    return {false, std::string("app health check failed: ") + curl_easy_strerror(rc), {}};
  if (status < 200 || status >= 300) {
    return {false, "app health check returned HTTP " + std::to_string(status), {}};
  }
  return {true, "app healthy", {}};
}

Verdict Gate::Health() {
  View v = Refresh();
  // Only a simulated (health) outage fails the gate: a pod or network drill's entry only marks
  // the drill; the real fault (deleted pods, a NetworkPolicy) is what the controller must detect.
  const auto* o = failover::ActiveOutage(v.outages, cfg_.region, clock_.wall());
  if (o && (o->failure_type == "health" || o->failure_type.empty())) {
    return {false,
            "simulated outage " + o->id + " (" + o->failure_type + ") active until " +
                FormatTime(o->expires_at),
            {{"outage", o->id}}};
  }
  return AppHealth();
}

Verdict Gate::Ready() {
  Verdict h = Health();
  if (!h.ok) return {false, "unhealthy: " + h.reason, {}};
  View v = Refresh();
  std::string note;
  if (!v.synced) {
    note = " (state not read yet: serving by default)";
  } else if (!v.has_serving) {
    note = " (servingRegions not written yet: serving by default)";
  }
  if (!v.source_error.empty())
    note += " (state source error, last known state in force: " + v.source_error + ")";
  if (!v.problems.empty()) note += " (fail-static: " + v.problems + ")";
  if (!v.serving) return {false, "region " + cfg_.region + " is not in servingRegions" + note, {}};
  if (!cfg_.position_file.empty()) {
    auto pos = replication::ReadPositionFile(cfg_.position_file);
    if (!pos) return {false, "data not ready: position " + pos.message(), {}};
    if (!pos->data_ready) {
      return {false,
              std::string("data not ready: sidecar is ") + replication::RoleName(pos->role) +
                  " of " + pos->lineage + (pos->error.empty() ? "" : " (" + pos->error + ")"),
              {}};
    }
  }
  return {true, "serving" + note, {}};
}

std::string Gate::DataHeader() {
  if (cfg_.position_file.empty()) return "";
  auto pos = replication::ReadPositionFile(cfg_.position_file);
  if (!pos) return "role=unknown; caught-up=0";
  return replication::PositionHeader(*pos);
}

json Gate::Status() {
  View v = Refresh();
  state::Snapshot snap = source_.Get();
  json outages = json::array();
  for (const auto& o : v.outages) {
    outages.push_back({{"id", o.id},
                       {"region", o.region},
                       {"expiresAt", FormatTime(o.expires_at)},
                       {"active", clock_.wall() < o.expires_at}});
  }
  return {{"region", cfg_.region},
          {"source", source_.Describe()},
          {"synced", v.synced},
          {"serving", v.serving},
          {"outages", outages},
          {"stateVersion", snap.version},
          {"stateUpdatedAt",
           snap.updated_at == WallTime{} ? json(nullptr) : json(FormatTime(snap.updated_at))},
          {"sourceError", v.source_error.empty() ? json(nullptr) : json(v.source_error)},
          {"problems", v.problems.empty() ? json(nullptr) : json(v.problems)},
          {"watchRestarts", source_.restarts()}};
}

}  // namespace aha::gate
