// The drill of `agency-ha demo`: the step sequence run against the world demo.cpp set up, and
// the restore a promoted passive region performs.
//
// Every step waits for a real event with a deadline (generous: CI machines are slow) and records
// when this process observed it, relative to the moment the drill was started through MCP. A step
// that does not happen in time ends the drill: RunDrill returns 1 and names it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/stopper.h"
#include "demo/app.h"
#include "demo/children.h"
#include "demo/entry.h"
#include "demo/mcp_client.h"
#include "gate/source.h"
#include "objectstore/store.h"

namespace aha::demo {

struct Step {
  std::string name;
  double at_ms = 0;  // since the drill was started (negative: before)
  std::string detail;
};

struct Phase {
  std::string name;
  double from_ms = 0, to_ms = 0;
};

// The data check: what the promoted region restored vs. the failed region's last snapshot.
struct DataCheck {
  bool done = false, ok = false;
  std::string snapshot_id, error;
  double restore_ms = 0;
  uint64_t record_files = 0, record_bytes = 0, restored_files = 0, restored_bytes = 0;
  uint64_t captured_version = 0;  // brain manifest version in the snapshot
  uint64_t expected_rows = 0;     // rows the failed region's app had committed at that version
  uint64_t restored_rows = 0;     // rows counted in the restored fragments
  uint64_t restored_manifest_rows = 0;
  uint64_t failed_app_version = 0;  // the failed app's last committed version
  std::vector<std::string> mismatches;
};

struct RegionRuntime {
  std::string name;
  bool active = true;
  int gate_port = 0, app_port = 0;
  std::string agent_dir;
};

struct World {
  // Settings.
  std::vector<RegionRuntime> regions;
  std::string failing, passive;
  int drill_seconds = 5;
  double interval_seconds = 0.5, failback_seconds = 3;
  double baseline_seconds = 2, tail_seconds = 1.5;
  std::string remote_desc, state_dir, status_url, restore_scratch;
  // Components.
  ChildSet* children = nullptr;
  Child* mcp = nullptr;
  int controller_port = 0;
  std::vector<SimulatedApp*> apps;
  EntryPoint* entry = nullptr;
  LoadGenerator* load = nullptr;
  gate::StateSource* state = nullptr;
  objectstore::ObjectStore* remote = nullptr;
  Stopper* stop = nullptr;
  // Replication sidecar of the passive region, (re)started after each restore.
  std::function<Status()> start_passive_sidecar;
  std::function<void()> stop_passive_sidecar;
  // Filled by RestoreForPromotion (app watcher thread) and read by the drill.
  std::mutex mu;
  DataCheck data;
  std::optional<Mono> restore_started, restore_done;
};

struct DemoResult {
  std::vector<RegionRuntime> regions;
  std::vector<std::string> locations;
  std::string failing, passive, remote_desc, status_url;
  int drill_seconds = 0;
  double interval_seconds = 0, failback_seconds = 0;
  Mono t0{};  // drill started
  Mono load_start{};
  std::vector<Step> steps;
  std::vector<Phase> phases;
  std::vector<Outcome> outcomes;
  std::map<std::string, std::map<std::string, double>> latency_ms;  // location -> region
  DataCheck data;
  nlohmann::json mcp_report;
  std::string failed_step, failure;
};

// The promote hook of the passive app: stops its sidecar, restores `failed_region`'s latest
// snapshot into its agent dir with the replication restore code, runs the data check, starts the
// sidecar again. Records everything in world.data.
Status RestoreForPromotion(World& w, const std::string& failed_region);

// The phases (before the drill, outage not yet detected, failed over, recovered before failback,
// after failback) from the steps that happened; a phase whose end did not happen runs to the end.
void FillPhases(DemoResult* r);

// Runs the drill; returns the exit code (0 ok, 1 a step failed, 130 interrupted).
int RunDrill(World& w, McpClient& mcp, DemoResult* out);

}  // namespace aha::demo
