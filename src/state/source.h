// StateSource: keeps an up-to-date copy of the state keys for readers (the gate, the MCP server,
// the replication sidecar's handoff, the demo's simulated apps).
//
// - FileSource watches the state directory with inotify (the controller's atomic ..data swap is
//   one IN_MOVED_TO event), re-reading on every change, with a periodic re-read as safety net.
// - ConfigMapSource lists the ConfigMap (fieldSelector metadata.name=, so RBAC can be restricted
//   to that one name) and watches it from the list's resourceVersion: changes arrive within
//   milliseconds, not kubelet's 60–90 s volume sync. It resumes after a cut stream from the last
//   resourceVersion seen (bookmarks keep it fresh), relists on 410 Gone, and backs off on errors.
// Both fail static: when the source is unreachable the last snapshot stays in force, and
// Snapshot::error says why (readers report it; they do not drop to a default).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "common/stopper.h"
#include "config/state_config.h"
#include "kube/client.h"
#include "state/store.h"

namespace aha::state {

struct Snapshot {
  KeyValues kv;
  bool synced = false;    // at least one successful read
  uint64_t version = 0;   // increases on every change of kv
  WallTime updated_at{};  // when kv last changed (local clock)
  std::string error;      // last error while (re)syncing; empty when healthy
};

class StateSource {
 public:
  virtual ~StateSource() = default;
  // Keeps the snapshot fresh until `stop`.
  virtual void Run(Stopper& stop) = 0;
  virtual std::string Describe() const = 0;

  Snapshot Get() const;
  // Waits until the snapshot version exceeds `after` (or the deadline); returns the snapshot.
  Snapshot WaitNewer(uint64_t after, std::chrono::steady_clock::time_point deadline) const;
  // Watch restarts and relists so far (observability).
  uint64_t restarts() const;

 protected:
  void Publish(KeyValues kv);
  void SetError(std::string error);
  void CountRestart();

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Snapshot snap_;
  uint64_t restarts_ = 0;
};

class FileSource final : public StateSource {
 public:
  // Resync timing runs on `clock`; the inotify poll() between resyncs is a kernel I/O wait.
  explicit FileSource(std::string dir, std::chrono::milliseconds resync = std::chrono::seconds(5),
                      const Clock& clock = SystemClock::instance());
  void Run(Stopper& stop) override;
  std::string Describe() const override { return "dir " + dir_; }

 private:
  void Reload();
  std::string dir_;
  std::chrono::milliseconds resync_;
  const Clock& clock_;
};

class ConfigMapSource final : public StateSource {
 public:
  ConfigMapSource(std::shared_ptr<kube::Client> client, std::string ns, std::string name);
  void Run(Stopper& stop) override;
  std::string Describe() const override { return "configmap " + ns_ + "/" + name_; }

 private:
  struct Backoff;  // between failed attempts (source.cpp)
  // Lists the ConfigMap and publishes its data; returns the list's resourceVersion, or nullopt
  // after a failure, reported and waited out (or `stop` requested meanwhile).
  std::optional<std::string> ListAndPublish(const std::string& selector, Backoff& backoff,
                                            Stopper& stop);
  // Watches from `rv` (advancing it) until a relist is needed or `stop`.
  void WatchFrom(const std::string& selector, std::string rv, Backoff& backoff, Stopper& stop);
  void OnWatchEvent(const kube::WatchEvent& ev, std::string* rv);

  std::shared_ptr<kube::Client> client_;
  std::string ns_, name_;
};

// The source a config names: a watched ConfigMap (kubeconfig, else in-cluster) or a directory.
Result<std::unique_ptr<StateSource>> OpenStateSource(const config::StateSourceConfig& state,
                                                     const std::string& kubeconfig);

}  // namespace aha::state
