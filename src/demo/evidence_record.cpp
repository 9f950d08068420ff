// The evidence record of a demo drill (see report.h): built from the DemoResult's measured
// steps and data check only.
#include <cmath>

#include "common/clock.h"
#include "demo/report.h"

namespace aha::demo {

using json = nlohmann::json;

namespace {

json Ms(double ms) {
  return static_cast<int64_t>(std::llround(ms));
}

json Ms(const json& v) {
  return v.is_number() ? Ms(v.get<double>()) : json(nullptr);
}

const Step* StepNamed(const DemoResult& r, const std::string& prefix) {
  for (const auto& s : r.steps)
    if (s.name.rfind(prefix, 0) == 0) return &s;
  return nullptr;
}

}  // namespace

json EvidenceRecord(const DemoResult& r, const std::string& version) {
  const bool started = r.t0 != Mono{};
  auto wall = [&](double at_ms) {
    return FormatTime(r.t0_wall + std::chrono::duration_cast<WallTime::duration>(
                                      std::chrono::duration<double, std::milli>(at_ms)));
  };
  json timeline = json::array();
  for (const auto& s : r.steps) {
    json e = {{"step", s.name}, {"atMs", Ms(s.at_ms)}, {"detail", s.detail}};
    if (started) e["at"] = wall(s.at_ms);
    timeline.push_back(std::move(e));
  }
  // Injection: the demo's own step for pod|network|node; the MCP call at t0 for health.
  const Step* injected = StepNamed(r, "fault injected");
  const double inject_ms = injected ? injected->at_ms : 0.0;
  const Step* served = StepNamed(r, r.passive + " serving clients");
  const Step* reverted = StepNamed(r, "fault reverted");
  json rpo = nullptr;
  if (const json& l = r.lost_at_failover; l.is_object()) {
    const uint64_t count = l.value("count", uint64_t{0});
    rpo = {{"lostWrites", count},
           {"lostRows", l.value("rows", uint64_t{0})},
           {"acknowledgedWrites", l.value("acknowledged", uint64_t{0})},
           // The oldest lost write's age at the injection (0: none lost).
           {"dataLossWindowMs", count == 0 ? json(0) : Ms(l["oldestAgeMs"])},
           {"rpoBoundMs", Ms(r.rpo_bound_ms)},
           {"snapshot", l.value("snapshot", std::string())}};
  }
  return {
      {"kind", "agency-ha demo drill"},
      {"binaryVersion", version},
      {"fault", {{"type", r.fault_type}, {"region", r.failing}}},
      {"promotedRegion", r.passive},
      {"durationSeconds", r.drill_seconds},
      {"startedAt", started ? json(FormatTime(r.t0_wall)) : json(nullptr)},
      {"injectedAt", started ? json(wall(inject_ms)) : json(nullptr)},
      {"revertedAt", reverted ? json(wall(reverted->at_ms)) : json(nullptr)},
      {"timeline", timeline},
      {"rtoMs", served ? Ms(served->at_ms - inject_ms) : json(nullptr)},
      {"rpo", rpo},
      {"lostAtFailbackRows", r.lost_at_failback},
      {"dataCheckOk", r.data.ok},
      {"result", r.failed_step.empty() && started ? "passed" : "failed"},
      {"failedStep", r.failed_step.empty() ? json(nullptr) : json(r.failed_step)},
  };
}

}  // namespace aha::demo
