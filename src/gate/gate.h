// Gate: the readiness decision of one agent pod.
//
//   /health  raw health of this pod: the app's health URL answers 2xx AND no simulated outage is
//            active for this region. The controller probes this (through a Service that
//            publishes not-ready addresses), so a drained region's recovery stays visible.
//   /ready   serving decision: raw health AND this region is in servingRegions. The pod's
//            readinessProbe calls this, so a region the controller drained leaves the load
//            balancer within one kubelet probe period of the state change.
// State comes from a StateSource (watch), never from a mounted volume. Fail-static: if the state
// is unreachable or malformed, the last good values stay in force and the answer says so. Before
// the first successful read the region counts as serving (a missing control plane must not
// drain a healthy pod).
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/gate_config.h"
#include "failover/outages.h"
#include "net/curl.h"
#include "state/source.h"

namespace aha::gate {

struct Verdict {
  bool ok = false;
  std::string reason;
  nlohmann::json detail;
};

class Gate {
 public:
  Gate(config::GateConfig cfg, state::StateSource& source, const Clock& clock);
  ~Gate();
  Verdict Health();
  Verdict Ready();
  // The X-Agency-Data header for /health ("" when no position file is configured; a missing or
  // unreadable file reads as not caught up, so the controller never fails back on it).
  std::string DataHeader();
  // Parsed view of the state (for /v1/status): serving, outages, staleness.
  nlohmann::json Status();

 private:
  struct View {
    bool synced = false;
    bool serving = true;       // fail-open before the first read
    bool has_serving = false;  // servingRegions was present in the state
    std::vector<failover::SimulatedOutage> outages;
    std::string problems;  // malformed keys (fail-static)
    std::string source_error;
    uint64_t version = 0;
  };
  View Refresh();
  Verdict AppHealth();

  config::GateConfig cfg_;
  state::StateSource& source_;
  const Clock& clock_;
  std::mutex mu_;
  View view_;             // last good parsed values
  std::mutex curl_mu_;    // one app check at a time on the shared handle
  net::EasyHandle curl_;  // reused handle for the app health check (keep-alive)
};

}  // namespace aha::gate
