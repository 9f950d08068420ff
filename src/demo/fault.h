// The faults `agency-ha demo --fault` injects into the drilled region, and reverts.
//
//   health   the Security Monitor's simulate_regional_outage (MCP): the region's gates report
//            unhealthy for the drill's duration. The MCP server injects and reverts it; no Fault
//            object is made for it.
//   pod      the region's app is killed (its listener and open connections closed, its writer
//            stopped at once) and restarted on the same port after the drill's duration, like a
//            StatefulSet recreating the pod after `--duration` s. The demo's app runs inside the
//            demo process (src/demo/app.h), so "kill" is stopping it, not a SIGKILL.
//   network  the region's endpoints (its gate, which the controller probes and the entry point
//            health-checks, and its app, which the entry point forwards clients to) are reached
//            through loopback TCP proxies owned by the demo (TcpProxy); for the drill's duration
//            they refuse new connections (accept and reset) and cut the open ones. The region's
//            processes keep running and see nothing.
//   node     the whole region stops: its gate and its replication sidecar are frozen (SIGSTOP)
//            and its app is killed; after the drill's duration they are continued (SIGCONT) and
//            the app restarted.
// The demo only injects and reverts: detection, failover, data takeover and failback are the
// product's (controller, gates, sidecars, entry point target health).
//
// Revert() runs at injection + duration on the Fault's own timer thread, and again (a no-op then)
// from the destructor, which the demo runs on every exit path (failure, Ctrl-C): no fault is left
// behind.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/stopper.h"
#include "demo/app.h"
#include "demo/children.h"

namespace aha::demo {

// "health", "pod", "network", "node".
bool IsFaultType(const std::string& type);

// A loopback TCP proxy 127.0.0.1:port() -> 127.0.0.1:upstream. SetDown(true) resets every open
// connection and every new one until SetDown(false).
class TcpProxy {
 public:
  explicit TcpProxy(int upstream_port);
  ~TcpProxy();
  Status Start();
  void Stop();
  int port() const { return port_; }
  void SetDown(bool down);
  uint64_t refused() const { return refused_; }

 private:
  void Loop();
  int upstream_;
  int port_ = 0, listen_fd_ = -1, wake_[2] = {-1, -1};
  std::atomic<bool> down_{false}, quit_{false};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

class Fault {
 public:
  // `app`: the region's app; `children`: the region's gate and sidecar (node); `proxies`: the
  // region's endpoint proxies (network).
  Fault(std::string type, std::string region, SimulatedApp* app, std::vector<Child*> children,
        std::vector<TcpProxy*> proxies);
  ~Fault();
  Fault(const Fault&) = delete;
  Fault& operator=(const Fault&) = delete;

  // Injects now; reverts after `duration` (timer thread). What it did, for the timeline.
  Result<std::string> Inject(std::chrono::milliseconds duration);
  // Idempotent. What it did, or an error (the app could not be restarted).
  Result<std::string> Revert();

  const std::string& type() const { return type_; }
  const std::string& region() const { return region_; }
  // When the fault was injected / reverted (nullopt: not yet).
  std::optional<std::chrono::steady_clock::time_point> injected_at() const;
  std::optional<std::chrono::steady_clock::time_point> reverted_at() const;
  std::string revert_detail() const;

 private:
  std::string type_, region_;
  SimulatedApp* app_;
  std::vector<Child*> children_;
  std::vector<TcpProxy*> proxies_;
  mutable std::mutex mu_;
  bool injected_ = false, reverted_ = false;
  std::optional<std::chrono::steady_clock::time_point> injected_at_, reverted_at_;
  std::string revert_detail_;
  Stopper timer_stop_;
  std::thread timer_;
};

}  // namespace aha::demo
