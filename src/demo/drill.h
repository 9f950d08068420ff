// The drill of `agency-ha demo`: the step sequence run against the world demo.cpp set up. The
// data handoff is the product's (`agency-ha sidecar` in every region); the drill only observes
// it (position files, sidecar logs, gates, the remote) and checks the data.
//
// Every step waits for a real event with a deadline (generous: CI machines are slow) and records
// when this process observed it, relative to the moment the drill was started through MCP. A step
// that does not happen in time ends the drill: RunDrill returns 1 and names it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/stopper.h"
#include "demo/app.h"
#include "demo/children.h"
#include "demo/entry.h"
#include "demo/fault.h"
#include "demo/mcp_client.h"
#include "objectstore/store.h"
#include "state/source.h"

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

// The data check at promotion: the promoted region's volume vs. the failed region's snapshot its
// sidecar took over (the "from" of its "writer" log line). The app keeps adding files, so the
// immutable files of the record (all but session.json, which the app rewrites) are compared.
struct DataCheck {
  bool done = false, ok = false;
  std::string snapshot_id, error;
  double restore_ms = 0;  // the sidecar's own takeoverMs (its "writer" log line)
  uint64_t record_files = 0, record_bytes = 0, restored_files = 0, restored_bytes = 0;
  uint64_t captured_version = 0;  // brain manifest version in the snapshot
  uint64_t expected_rows = 0;     // rows the failed region's app had committed at that version
  uint64_t restored_rows = 0;     // rows counted in the fragments of that manifest, on disk
  uint64_t restored_manifest_rows = 0;
  uint64_t failed_app_version = 0;  // the failed app's last committed version
  std::vector<std::string> mismatches;
};

struct RegionRuntime {
  std::string name;
  bool active = true;
  int gate_port = 0, app_port = 0;
  // What the controller and the entry point reach: the gate's and the app's own ports, or, with
  // --fault network, the drilled region's endpoint proxies (src/demo/fault.h).
  int endpoint_gate_port = 0, endpoint_app_port = 0;
  std::string agent_dir, position_file, sidecar_log;
};

// Samples `<lineage>/latest` of the drill's lineages every `every` on its own store handle (the
// drill's is not shared across threads): what a reader saw, in order, for the single-writer
// check. Consecutive equal values are stored once.
class LineageMonitor {
 public:
  struct Sample {
    std::string lineage, id, writer;
    int64_t epoch = 0;
    bool released = false;
    Mono at{};
  };
  LineageMonitor(std::unique_ptr<objectstore::ObjectStore> store, std::vector<std::string> lineages,
                 std::chrono::milliseconds every);
  ~LineageMonitor();
  void Start();
  void Stop();
  std::vector<Sample> Samples() const;
  uint64_t errors() const;

 private:
  std::unique_ptr<objectstore::ObjectStore> store_;
  std::vector<std::string> lineages_;
  std::chrono::milliseconds every_;
  Stopper stop_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Sample> samples_;
  uint64_t errors_ = 0;
};

struct World {
  // Settings.
  std::vector<RegionRuntime> regions;
  std::string failing, passive;
  int drill_seconds = 5;
  double interval_seconds = 0.5, failback_seconds = 3;
  double baseline_seconds = 2, tail_seconds = 1.5;
  double rpo_bound_seconds = 2;  // a write lost at failover older than this fails the run
  std::string remote_desc, state_dir, status_url;
  // Components.
  ChildSet* children = nullptr;
  Child* mcp = nullptr;
  int controller_port = 0;
  std::vector<SimulatedApp*> apps;
  EntryPoint* entry = nullptr;
  LoadGenerator* load = nullptr;
  state::StateSource* state = nullptr;
  objectstore::ObjectStore* remote = nullptr;
  LineageMonitor* monitor = nullptr;
  Stopper* stop = nullptr;
  // --fault other than health: the demo injects and reverts it (no MCP drill); null for health.
  Fault* fault = nullptr;
  std::string fault_type = "health";
};

struct DemoResult {
  std::vector<RegionRuntime> regions;
  std::vector<std::string> locations;
  std::string failing, passive, remote_desc, status_url;
  int drill_seconds = 0;
  double interval_seconds = 0, failback_seconds = 0;
  Mono t0{};           // drill started
  WallTime t0_wall{};  // the same moment on the wall clock (the evidence record's times)
  std::string fault_type = "health";
  Mono load_start{};
  std::vector<Step> steps;
  std::vector<Phase> phases;
  std::vector<Outcome> outcomes;
  std::map<std::string, std::map<std::string, double>> latency_ms;  // location -> region
  DataCheck data;
  // The handoff, from observed events only (null: not observed).
  nlohmann::json takeover_ms;          // promotion seen in the state -> promoted position dataReady
  nlohmann::json lost_at_failback;     // rows the promoted app committed, missing after failback
  nlohmann::json failback_check;       // the details of that count
  nlohmann::json divergent_preserved;  // the failed region's position: {files, bytes, path}
  nlohmann::json writer_changes = nlohmann::json::array();  // the sidecars' "writer" log lines
  nlohmann::json failback_pause_ms;  // promoted gate /ready 503 -> recovered gate /ready 200
  // The failed region's acknowledged writes the promoted region does not hold after its takeover:
  // {count, rows, oldestAgeMs (before the outage began), rpoBoundMs, writes: [...]}.
  nlohmann::json lost_at_failover;
  nlohmann::json fenced_publishes;  // refused publishes, from the sidecars' logs: {count, ...}
  nlohmann::json lineage_check;     // single-writer check of every lineage's history: {ok, ...}
  double rpo_bound_ms = 0;
  std::map<std::string, std::vector<double>>
      writes_ms;  // region -> its app's commits (t0-relative)
  nlohmann::json mcp_report;
  std::string failed_step, failure;
};

// Every takeover the sidecars logged ("writer" lines: ts, region, lineage, epoch, from, planned,
// takeoverMs), oldest first.
nlohmann::json WriterChanges(const World& w);

// The phases (before the drill, outage not yet detected, failed over, recovered before failback,
// after failback) from the steps that happened; a phase whose end did not happen runs to the end.
void FillPhases(DemoResult* r);

// Runs the drill; returns the exit code (0 ok, 1 a step failed, 130 interrupted).
int RunDrill(World& w, McpClient& mcp, DemoResult* out);

// The failback's three events, each in ms since t0 when the drill first saw it (unset: not yet):
// the promoted region demoted by failback (with the state it was seen in), its gate /ready 503,
// the recovered region's gate /ready 200.
struct FailbackTimes {
  std::optional<double> demoted, passive_503, failing_200;
  std::string demoted_detail;
};

// The reason of the last RegionDemoted transition of `region` in the controller's state JSON
// (failover::kStateJsonKey), "?" when there is none (no state, malformed, no such transition).
// A demotion whose reason does not start with "failback" is no failback.
std::string DemotionReason(const state::KeyValues& kv, const std::string& region);

// The failback's steps, in the order they happened (stable: ties keep demoted, 503, 200).
std::vector<Step> FailbackSteps(const std::string& passive, const std::string& failing,
                                const FailbackTimes& t);

// The promoted app's commits against what the recovered region's volume holds (`holds(fragment)`):
// rows and last version committed, and the commits missing ({version, fragment, rows}).
struct FailbackTally {
  uint64_t rows = 0, missing_rows = 0, last_version = 0;
  nlohmann::json missing = nlohmann::json::array();
};
FailbackTally TallyFailback(const std::vector<Commit>& commits,
                            const std::function<bool(const std::string&)>& holds);

// Publishes refused to a writer (fencing), counted from the sidecars' "snapshot" log lines whose
// publish a remote refused as fenced: {count, byRegion, events: [{ts, region, lineage, why}]}.
nlohmann::json FencedPublishes(const World& w);

// The single-writer check, after the drill, from the remote and the sidecars' logs:
// - every record of each lineage on the remote (epoch, writer, createdAt): one writer per epoch;
// - the records that were published (a sidecar logged their publish ok, or the monitor saw them
//   as latest), by creation time: epochs never go down (no snapshot of a lower epoch published
//   after a higher epoch's);
// - the monitor's samples of latest: the epoch never goes down, one writer per epoch.
// {ok, violations: [text], lineages: {name: {records, published, epochs}}}.
nlohmann::json CheckLineages(const World& w, const std::vector<LineageMonitor::Sample>& samples);

// After RunDrill: fills fencedPublishes and the lineage check and judges them with
// lostAtFailover: returns `rc`, or 1 (failed_step named) when two writers advanced a lineage or
// a write lost at failover is older than the RPO bound.
int FinalChecks(const World& w, int rc, DemoResult* out);

}  // namespace aha::demo
