// The simulated agency app of one demo region: an HTTP server plus a writer that keeps changing
// the region's `.agent` directory the way the agency does:
//   .agent/session.json                     replaced (atomic rename) every 10 writes
//   .agent/notes/<n>-<region>.md            a new note every 10 writes
//   .agent/brain/memory.lance/data/*.lance  one immutable data fragment per write (1-3 rows),
//                                           written as a dot-temp file and renamed
//   .agent/brain/memory.lance/_versions/<v>.manifest   written last: {version, rows, fragments}
// so the brain is laid out like a LanceDB dataset and replication captures it as one.
//
// It honours the state the controller and the MCP server write (read through a StateSource) and
// its region's gate, like an app behind the gate would:
//   - while a simulated outage (drill) is active for its region, the region is "down": client
//     requests and /health answer 503 and the writer stops;
//   - it writes only while its region is in servingRegions AND its gate's /ready is 200 (with a
//     position file configured, the gate is ready only when the replication sidecar reports the
//     data in place: `agency-ha sidecar` hands the data over, in place, never the demo). Each time
//     it (re)starts writing it re-reads the dataset from disk (the newest manifest): after a role
//     change the sidecar may have replaced the volume's content under it. Client requests that
//     arrive before that reload wait for it (up to 10 s, then 503). /health stays 200 meanwhile
//     (the process is healthy; the gate, not the app, says whether the data is ready).
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
#include "state/source.h"

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
  int gate_port = 0;  // the region's gate: the app writes only while its /ready is 200
};

// The brain dataset as found on disk: the newest manifest and the rows its fragments hold.
struct BrainCount {
  uint64_t version = 0;        // newest manifest (0: none)
  uint64_t manifest_rows = 0;  // rows the manifest claims
  uint64_t counted_rows = 0;   // rows counted in the fragments it lists
  uint64_t fragments = 0;
};
// `version` 0: the newest manifest; else that manifest (an error when it is missing).
Result<BrainCount> CountBrain(const std::string& agent_dir, uint64_t version = 0);

// One write the app committed (its manifest written).
struct Commit {
  uint64_t version = 0, rows = 0;
  std::string fragment;  // data file name
  std::chrono::steady_clock::time_point at{};
};
// The app (re)started writing: what it re-read from disk.
struct Reload {
  std::chrono::steady_clock::time_point at{};
  uint64_t version = 0, rows = 0;
};

class SimulatedApp {
 public:
  SimulatedApp(AppOptions opts, state::StateSource& state);
  ~SimulatedApp();
  // Start() again after Stop() is a restart (the `pod` fault of src/demo/fault.h): the same port,
  // the in-memory dataset re-read from disk once the gate is ready again (as a new process would);
  // the record of commits and reloads (the demo's observations) is kept.
  Status Start();
  void Stop();

  const std::string& region() const { return opts_.region; }
  const AppOptions& options() const { return opts_; }
  int port() const { return port_; }
  // Rows the brain held when manifest `version` was committed (0 when unknown).
  uint64_t RowsAtVersion(uint64_t version) const;
  uint64_t version() const;
  bool writing() const { return writing_; }
  std::vector<Commit> commits() const;
  std::vector<Reload> reloads() const;
  std::string last_error() const;

 private:
  bool RegionDown(const state::Snapshot& s) const;
  bool Serving(const state::Snapshot& s) const;
  Status WriteOnce();
  void WriterLoop();
  void WatchLoop();

  AppOptions opts_;
  state::StateSource& state_;
  std::unique_ptr<httplib::Server> server_;
  std::thread server_thread_, writer_, watcher_;
  std::unique_ptr<Stopper> stop_;  // new per Start(): a Stopper cannot be reset
  int port_ = 0;
  std::atomic<bool> writing_{false};
  std::atomic<bool> loaded_{false};  // dataset re-read from disk since the gate became ready

  mutable std::mutex mu_;
  std::condition_variable loaded_cv_;
  uint64_t version_ = 0, rows_ = 0, seq_ = 0;
  std::vector<std::pair<std::string, uint64_t>> fragments_;  // file, rows
  std::map<uint64_t, uint64_t> rows_at_;
  std::vector<Commit> commits_;
  std::vector<Reload> reloads_;
  std::string error_;
};

}  // namespace aha::demo
