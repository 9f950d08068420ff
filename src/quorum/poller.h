// PeerPoller: reads every peer controller's GET /v1/observations, concurrently, every probe
// interval, on its own thread.
//
// Contract
// - One round polls all peers at once (one libcurl multi handle, connections kept alive) and
//   ends within quorum.peerTimeoutSeconds: a slow or hanging peer costs only its own timeout and
//   never delays another peer, nor the controller's probe round (which only reads the latest
//   reports, see Reports()).
// - A report counts as received when it parses, names the expected observer and carries a new
//   (instance, generation): `received_at` is the local time it first arrived. A peer that keeps
//   answering with the same generation (its loop is stuck) is therefore not refreshed and goes
//   stale in Decide like an unreachable one. Freshness never compares clocks across regions.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/stopper.h"
#include "config/controller_config.h"
#include "failover/decide.h"
#include "metrics/registry.h"
#include "quorum/report.h"

namespace aha::quorum {

// The observer quorum's metrics, declared once: the poller records the peer series, the
// controller each round's. Both build it from the one registry the controller exports (defining
// a name twice with one type returns the same family).
struct QuorumMetrics {
  QuorumMetrics() = default;  // unbound: records nothing (no quorum, or no registry)
  explicit QuorumMetrics(metrics::Registry& reg);
  metrics::Counter peer_polls, pushes_received, pushes_sent;
  metrics::Gauge peer_reachable, partitioned, observers_reachable, size, votes_down;
};

class PeerPoller {
 public:
  // `tokens`: the bearer token sent to each peer, by peer name (absent/empty: none).
  PeerPoller(const config::ControllerConfig& cfg, std::map<std::string, std::string> tokens,
             const Clock& clock, metrics::Registry* reg = nullptr);
  ~PeerPoller();
  PeerPoller(const PeerPoller&) = delete;
  PeerPoller& operator=(const PeerPoller&) = delete;

  void PollOnce();
  // Polls every probe.intervalSeconds until `stop` is stopped.
  void Run(Stopper& stop);

  // A report a peer pushed (POST /v1/observations, quorum/push.h), already authenticated.
  // Accepted only when it parses, names a configured peer and is newer than the report held for
  // that peer: the same instance with a higher generation, or another instance (the peer
  // restarted) with a later producedAt (both times are the peer's own clock). A replayed, older
  // or equal report changes nothing (kStale). An accepted push counts as received now, exactly as
  // a poll answer would; the poll stays the fallback (a push that was refused or lost is picked
  // up by the next poll).
  struct PushResult {
    enum Kind { kAccepted, kMalformed, kUnknownPeer, kStale } kind = kAccepted;
    std::string error;  // empty when accepted
  };
  PushResult AcceptPush(const std::string& body);

  // The latest accepted report of each peer that ever answered.
  std::vector<failover::PeerReport> Reports() const;
  // Per peer: url, last attempt/success, received generation, last error.
  nlohmann::json StatusJson() const;

 private:
  struct Peer {
    config::PeerConfig cfg;
    std::string token;
    // Latest accepted report and when it arrived.
    bool have = false;
    Report report;
    WallTime received_at{};
    WallTime last_attempt{};
    WallTime last_success{};
    std::string last_error;
    WallTime last_push{};  // last accepted push
  };
  void Accept(Peer& p, const std::string& body, long http_status, const std::string& error);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  const config::ControllerConfig cfg_;
  const Clock& clock_;
  QuorumMetrics m_;
  mutable std::mutex mu_;  // guards peers_ (read by the controller and HTTP threads)
  std::vector<Peer> peers_;
};

}  // namespace aha::quorum
