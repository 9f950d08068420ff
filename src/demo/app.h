// The simulated agency app of one demo region: an HTTP server plus a writer that keeps changing
// the region's `.agent` directory the way the agency does:
//   .agent/session.json                     replaced (atomic rename) every 10 writes
//   .agent/notes/<n>.md                     a new note every 10 writes
//   .agent/brain/memory.lance/data/*.lance  one immutable data fragment per write (1-3 rows),
//                                           written as a dot-temp file and renamed
//   .agent/brain/memory.lance/_versions/<v>.manifest   written last: {version, rows, fragments}
// so the brain is laid out like a LanceDB dataset and replication captures it as one.
//
// It honours the state the controller and the MCP server write (read through a StateSource):
//   - while a simulated outage (drill) is active for its region, the region is "down": client
//     requests and /health answer 503 and the writer stops (the region's last snapshot is then
//     its final state, which the data check compares against);
//   - a passive region's app stands by (no state, not writing) until servingRegions contains it;
//     then its promote hook restores the failed region's latest snapshot, and client requests that
//     arrive meanwhile wait for it (up to 10 s, then 503): they are answered from the restored
//     state, never from an empty one. /health stays 200 meanwhile: the process is healthy, and a
//     failing /health would make the controller fail the very region it just promoted when the
//     restore takes longer than its failure threshold. Then it writes; on demotion it stands by.
// Client requests (/work) carry X-Client-Location; the app answers after the simulated network
// distance from that location, so the entry point's latency measurements have something real to
// measure.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/result.h"
#include "common/stopper.h"
#include "gate/source.h"

namespace httplib {
class Server;
}

namespace aha::demo {

struct AppOptions {
  std::string region;
  bool active = true;
  std::string agent_dir;                   // the region's .agent directory
  std::map<std::string, int> distance_ms;  // client location -> simulated round trip
  std::chrono::milliseconds write_every{100};
};

// The brain dataset as found on disk: the newest manifest and the rows its fragments hold.
struct BrainCount {
  uint64_t version = 0;        // newest manifest (0: none)
  uint64_t manifest_rows = 0;  // rows the manifest claims
  uint64_t counted_rows = 0;   // rows counted in the fragments it lists
  uint64_t fragments = 0;
};
Result<BrainCount> CountBrain(const std::string& agent_dir);

class SimulatedApp {
 public:
  // Called (on the app's watcher thread) when a passive app is promoted: restore state for
  // `failed_region` into the agent dir. An error leaves the app answering 503.
  using PromoteHook = std::function<Status(const std::string& failed_region)>;
  using DemoteHook = std::function<void()>;

  SimulatedApp(AppOptions opts, gate::StateSource& state);
  ~SimulatedApp();
  void SetHooks(PromoteHook promote, DemoteHook demote);
  Status Start();
  void Stop();

  const std::string& region() const { return opts_.region; }
  const AppOptions& options() const { return opts_; }
  int port() const { return port_; }
  // Rows the brain held when manifest `version` was committed (0 when unknown).
  uint64_t RowsAtVersion(uint64_t version) const;
  uint64_t version() const;
  bool writing() const { return writing_; }
  std::string last_error() const;

 private:
  bool RegionDown(const gate::Snapshot& s) const;
  bool Serving(const gate::Snapshot& s) const;
  std::vector<std::string> PromotedFor(const gate::Snapshot& s) const;
  Status WriteOnce();
  void WriterLoop();
  void WatchLoop();

  AppOptions opts_;
  gate::StateSource& state_;
  PromoteHook promote_;
  DemoteHook demote_;
  std::unique_ptr<httplib::Server> server_;
  std::thread server_thread_, writer_, watcher_;
  Stopper stop_;
  int port_ = 0;
  std::atomic<bool> writing_{false};
  std::atomic<bool> restored_{false};  // passive: state restored for the current promotion

  mutable std::mutex mu_;
  std::condition_variable restored_cv_;
  uint64_t version_ = 0, rows_ = 0, seq_ = 0;
  std::vector<std::pair<std::string, uint64_t>> fragments_;  // file, rows
  std::map<uint64_t, uint64_t> rows_at_;
  std::string error_;
};

}  // namespace aha::demo
