// The failover controller's live observations, as the MCP tools read them.
//
// Why: the state keys are written only when a decision changes (a quiet system does not write),
// so state.json's probe results, streaks and reasons are as old as the last decision, and it
// carries no data positions at all. The controller keeps its live view in memory and serves it
// at GET /v1/status (src/controller/controller.h says why it is not published into the state).
// The tools therefore take decisions (status, serving, promotion) from the state, which is what
// gates act on, and observations from the controller when it answers; when it does not, they
// fall back to state.json and say so (`observations.source`, its age, the error).
//
// The controller's answer is input from another process: bounded (1 s, 4 MiB), and every field
// used is type-checked (common/json_get.h). Only known fields with the right types are kept;
// anything else is dropped, a wrong-typed known field makes that region's entry absent (and the
// error is reported), never a crash.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/result.h"

namespace aha::mcp {

struct LiveStatus {
  std::string url;            // the /v1/status URL read
  WallTime fetched_at{};      // when the answer arrived (this process's clock)
  nlohmann::json last_round;  // the controller's last round time (string) or null
  // Per region (configured names only, matched exactly): a sanitized object with the fields
  // status, reason, statusReason, consecutiveSuccesses, consecutiveFailures, lastProbe {ok,
  // latencyMs, detail, at} and data (see controller::DataJson; null when not reported).
  std::map<std::string, nlohmann::json> regions;
  std::string problems;  // fields dropped because of a wrong type ("" when none)
};

// Parses a /v1/status body. Errors only when it is not a JSON object with a `regions` object.
Result<LiveStatus> ParseControllerStatus(const std::string& body);

// Sanitizes one `data` object (controller::DataJson) the same way; null when `v` is null;
// an error names the first wrong-typed field.
Result<nlohmann::json> SanitizeData(const nlohmann::json& v, const std::string& where);

class ControllerClient {
 public:
  // `base_url`: http(s)://host[:port] ("" = disabled: Fetch() always fails saying so).
  explicit ControllerClient(std::string base_url, double timeout_seconds = 1.0);
  bool enabled() const { return !base_.empty(); }
  const std::string& url() const { return url_; }
  Result<LiveStatus> Fetch(const Clock& clock) const;

 private:
  std::string base_;
  std::string url_;
  long timeout_ms_;
};

}  // namespace aha::mcp
