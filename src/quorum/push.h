// Verdict push: a controller tells its peers about a changed verdict as it happens, instead of
// letting them find out at their next poll (docs/ARCHITECTURE.md, "Observer quorum").
//
// Sender (VerdictPusher): after a probe round in which one of this controller's own verdicts
// (RegionState::local_failed) changed, the controller hands its report (the document it serves
// at GET /v1/observations) to Push(). Run(), on its own thread, POSTs it to every peer's
// configured observations URL concurrently, with the poller's authentication (the peer's bearer
// token, peers[].tls) and timeout (quorum.peerTimeoutSeconds), so a hanging peer never delays
// the controller's loop nor another peer. A report queued while one is being sent replaces any
// older queued one (only the latest report matters). Nothing is retried: a lost push is covered
// by the peer's next poll.
//
// Receiver (AddPushRoute): POST /v1/observations on the controller's HttpServer. The bearer
// token is checked before any body byte is read (401); the body is bounded by kMaxPushBody
// (413, before it is read); the report is type-checked and accepted only for a configured peer
// and when newer than what is held (PeerPoller::AcceptPush: 400 malformed, 403 unknown peer,
// 409 stale or replayed; none of them changes any state). An accepted push wakes the
// controller's loop for a decide-only round (Controller::NotifyPeerReport).
//
// Trust: a push is authenticated with the observations token, so whoever holds that token can
// now submit votes, where before it could only read them. `quorum.push: false` turns pushing
// and accepting off (the poll alone then carries the votes).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/stopper.h"
#include "config/controller_config.h"
#include "httpd/server.h"
#include "metrics/registry.h"
#include "quorum/poller.h"

namespace aha::quorum {

// The largest pushed report accepted (a report is a few hundred bytes per region).
constexpr size_t kMaxPushBody = 256 * 1024;

class VerdictPusher {
 public:
  // `tokens`: the bearer token sent to each peer, by peer name (as PeerPoller's).
  VerdictPusher(const config::ControllerConfig& cfg, std::map<std::string, std::string> tokens,
                const Clock& clock, metrics::Registry* reg = nullptr);
  ~VerdictPusher();
  VerdictPusher(const VerdictPusher&) = delete;
  VerdictPusher& operator=(const VerdictPusher&) = delete;

  // Queues `report_json` for Run (replacing a queued report not sent yet) and wakes it. Never
  // waits for the network.
  void Push(std::string report_json);
  // Sends `report_json` to every peer at once and waits for all answers (each bounded by the
  // peer timeout). Returns, per peer name, "" when the peer took it (200) or already had it
  // (409: its poll was faster), else the error.
  std::map<std::string, std::string> PushOnce(const std::string& report_json);
  // Sends each queued report until `stop` is stopped.
  void Run(Stopper& stop);
  // Reports handed to PushOnce by Run so far (tests).
  uint64_t sent() const { return sent_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const config::ControllerConfig cfg_;
  const Clock& clock_;
  QuorumMetrics m_;
  std::mutex mu_;  // guards queued_
  std::string queued_;
  std::atomic<bool> pending_{false};
  std::atomic<uint64_t> sent_{0};
  std::map<std::string, std::string> last_error_;  // Run/PushOnce thread only: logged once
};

// Registers POST /v1/observations on `http` (whose options must allow kMaxPushBody): checks the
// bearer `token`, hands the body to poller.AcceptPush and calls `on_accepted` (from an HTTP worker
// thread) for each accepted report.
void AddPushRoute(httpd::HttpServer& http, PeerPoller& poller, std::string token,
                  std::function<void()> on_accepted);

}  // namespace aha::quorum
