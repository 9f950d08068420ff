// The global entry point and the client load generator of the demo.
//
// EntryPoint stands in for Route 53 latency routing with evaluate-target-health: a loopback HTTP
// server that forwards each client request to one region. Which region:
//   - only regions whose gate answers /ready 200 (health checked every `check_every`; an answer
//     counts at once, a check without answer only when the next one has none either), and
//   - among those, the lowest latency measured from the client's location (a second thread times
//     a /ping to every region's app per location each round; the minimum of the last 8 samples).
// When no region is ready the request fails (503). The answer carries X-Served-By.
//
// LoadGenerator: one client per location sending requests through the entry point at a fixed
// pace, recording every outcome (when, from where, served by which region or failed) so the
// drill can count requests per second, per region and per phase. Nothing is estimated.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/stopper.h"

namespace httplib {
class Server;
}

namespace aha::demo {

using Mono = std::chrono::steady_clock::time_point;

struct Backend {
  std::string region;
  int gate_port = 0;  // GET /ready
  int app_port = 0;   // GET /ping, /work
};

class EntryPoint {
 public:
  EntryPoint(std::vector<Backend> backends, std::vector<std::string> locations,
             std::chrono::milliseconds check_every);
  ~EntryPoint();
  Status Start();
  void Stop();
  int port() const { return port_; }
  // The regions the entry point currently routes to (gate /ready 200).
  std::vector<std::string> ReadySet() const;
  // Measured latency (ms, EWMA) from `location` to `region`; < 0 when not measured yet.
  double LatencyMs(const std::string& location, const std::string& region) const;
  // Number of completed health-check rounds.
  uint64_t rounds() const { return rounds_; }

 private:
  void CheckLoop();
  void LatencyLoop();
  std::string Choose(const std::string& location) const;

  std::vector<Backend> backends_;
  std::vector<std::string> locations_;
  std::chrono::milliseconds check_every_;
  std::unique_ptr<httplib::Server> server_;
  std::thread server_thread_, checker_, pinger_;
  Stopper stop_;
  int port_ = 0;
  std::atomic<uint64_t> rounds_{0};
  mutable std::mutex mu_;
  std::map<std::string, bool> ready_;
  std::map<std::string, int> unanswered_;  // consecutive checks without an answer
  std::map<std::string, std::map<std::string, double>> latency_;  // location -> region -> ms
  std::map<std::string, std::map<std::string, std::deque<double>>> samples_;
};

struct Outcome {
  Mono at;  // when the answer (or the failure) arrived
  int location = 0;
  std::string served_by;  // empty: failed
  std::string error;      // "HTTP 503", "connection refused", ...
  double ms = 0;          // request duration
};

class LoadGenerator {
 public:
  LoadGenerator(int entry_port, std::vector<std::string> locations,
                std::chrono::milliseconds every);
  ~LoadGenerator();
  void Start();
  void Stop();
  std::vector<Outcome> Outcomes() const;
  // First time at or after `from` that `region` served a request (nullopt: not yet).
  std::optional<Mono> FirstServedBy(const std::string& region, Mono from) const;
  const std::vector<std::string>& locations() const { return locations_; }

 private:
  int port_;
  std::vector<std::string> locations_;
  std::chrono::milliseconds every_;
  Stopper stop_;
  std::vector<std::thread> clients_;
  mutable std::mutex mu_;
  std::vector<Outcome> outcomes_;
};

}  // namespace aha::demo
