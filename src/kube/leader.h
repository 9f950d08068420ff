// LeaderElector: one leader among controller replicas, through a coordination.k8s.io/v1 Lease,
// with client-go's algorithm and defaults (15 s lease, 10 s renew deadline, 2 s retry period).
//
// - Expiry is judged on the local monotonic clock from when this replica last saw the lease
//   record change, never by comparing our clock with another node's renewTime (clock skew).
// - IsLeader() is true only while the last successful renewal is younger than the renew
//   deadline, which is shorter than the lease: a leader that cannot renew stops acting before any
//   other replica may take over.
// - Release() (on SIGTERM) clears holderIdentity so the next replica takes over at once.
// - spec.leaseTransitions counts acquisitions by a replica that was not the holder (after expiry
//   or after a release alike), exactly as client-go's tryAcquireOrRenew does.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/leadership.h"
#include "common/stopper.h"
#include "kube/client.h"

namespace aha::kube {

struct LeaderConfig {
  std::string ns;
  std::string name;
  std::string identity;  // unique per replica: pod name, or hostname_pid
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
};

class LeaderElector final : public Leadership {
 public:
  LeaderElector(std::shared_ptr<Client> client, LeaderConfig cfg, const Clock& clock);

  // Tries to acquire, then renews, every retry_period until `stop`. Does not release.
  void Run(Stopper& stop);
  // One acquire-or-renew attempt; true when we hold the lease afterwards.
  bool TryAcquireOrRenew();
  bool IsLeader() const override;
  std::string Holder() const override;  // the holder last observed ("" when none)
  std::string Identity() const override { return cfg_.identity; }
  // Gives the lease up if we hold it.
  Status Release();
  // Monotonically increasing count of leadership acquisitions by this replica.
  uint64_t Term() const override { return terms_.load(); }

 private:
  // The steps of TryAcquireOrRenew.
  bool CreateLease(int lease_seconds, WallTime now_wall, MonoTime now);
  // Notes the lease record seen; true while another holder's lease is live (then not leading).
  bool HeldByAnother(const std::string& holder, const std::string& record, int their_seconds,
                     MonoTime now);
  bool UpdateLease(const nlohmann::json& lease, int lease_seconds, MonoTime now);
  void Lead(MonoTime now);  // with mu_ held: this replica holds the lease as of `now`

  std::shared_ptr<Client> client_;
  LeaderConfig cfg_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::string observed_record_;  // holder|renewTime|resourceVersion last seen
  MonoTime observed_at_{};
  std::string holder_;
  MonoTime last_renew_{};
  bool leading_ = false;
  std::atomic<uint64_t> terms_{0};
};

}  // namespace aha::kube
