// The readiness gate's configuration (`agency-ha gate --config FILE`).
//   region: us-east-1
//   appHealthUrl: http://127.0.0.1:3000/health   # the agency app's own health endpoint
//   appTimeoutSeconds: 1
//   listen: 0.0.0.0:8081                         # /health, /ready, /metrics, /v1/status
//   state: {configMap: {namespace: agency, name: simple-agency-failover}}   # or {file: DIR}
//   kubeconfig: ""                               # optional
//   positionFile: /run/agency-ha/position.json   # optional: the sidecar's data position
#pragma once

#include <string>

#include "common/result.h"
#include "config/state_config.h"

namespace aha::config {

struct GateConfig {
  std::string region;
  std::string app_health_url;  // empty: the pod's raw health is only the simulated-outage check
  double app_timeout_seconds = 1.0;
  std::string listen = "0.0.0.0:8081";
  StateSourceConfig state;
  std::string kubeconfig;
  std::string log_level = "info";
  // The replication sidecar's position file (docs/WRITER.md). When set, /ready also needs the
  // sidecar to report dataReady, and /health carries the position in X-Agency-Data.
  std::string position_file;
};

Result<GateConfig> ParseGateConfig(const std::string& yaml_text, const std::string& source);
Result<GateConfig> LoadGateConfig(const std::string& path);

}  // namespace aha::config
