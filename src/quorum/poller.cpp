#include "quorum/poller.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "quorum/peer_http.h"

namespace aha::quorum {

QuorumMetrics::QuorumMetrics(metrics::Registry& reg)
    : peer_polls(reg.DefineCounter("agency_ha_peer_polls_total",
                                   "Polls of peer controllers' observations by result.")),
      pushes_received(reg.DefineCounter(
          "agency_ha_peer_pushes_received_total",
          "Reports pushed by peer controllers (POST /v1/observations) by result: accepted, "
          "malformed, unknown_peer, stale (401 and 413 are refused before the body is read).")),
      pushes_sent(reg.DefineCounter(
          "agency_ha_peer_pushes_total",
          "Pushes of this controller's report to a peer after one of its verdicts changed, by "
          "peer and result.")),
      peer_reachable(reg.DefineGauge("agency_ha_peer_reachable",
                                     "1 when the last poll of the peer's observations succeeded.")),
      partitioned(reg.DefineGauge(
          "agency_ha_partitioned",
          "1 when fewer than a quorum of observers (self + fresh peers) are reachable: no new "
          "failover decisions (fail-static).")),
      observers_reachable(
          reg.DefineGauge("agency_ha_quorum_observers_reachable",
                          "Observers (self + peers with fresh observations) in the last round.")),
      size(reg.DefineGauge("agency_ha_quorum_size",
                           "Observers that must agree before a region fails or recovers.")),
      votes_down(reg.DefineGauge("agency_ha_region_votes_down",
                                 "Fresh observers (incl. self) reporting the region down.")) {}

namespace {
constexpr size_t kMaxReportBody = 1 << 20;
}  // namespace

struct PeerPoller::Impl {
  Impl(const std::vector<config::PeerConfig>& peers,
       const std::map<std::string, std::string>& tokens, PeerRequests::Options o)
      : requests(peers, tokens, std::move(o)) {}
  PeerRequests requests;
};

PeerPoller::PeerPoller(const config::ControllerConfig& cfg,
                       std::map<std::string, std::string> tokens, const Clock& clock,
                       metrics::Registry* reg)
    : cfg_(cfg), clock_(clock), m_(reg ? QuorumMetrics(*reg) : QuorumMetrics()) {
  for (const auto& pc : cfg_.peers) {
    Peer p;
    p.cfg = pc;
    p.token = tokens[pc.name];
    peers_.push_back(std::move(p));
  }
  PeerRequests::Options o;
  o.timeout_seconds = cfg_.quorum.peer_timeout_seconds;
  o.headers = {"Accept: application/json"};
  o.max_body = kMaxReportBody;  // a larger answer fails the poll
  impl_ = std::make_unique<Impl>(cfg_.peers, tokens, std::move(o));
}

PeerPoller::~PeerPoller() = default;

void PeerPoller::Accept(Peer& p, const std::string& body, long http_status,
                        const std::string& error) {
  const WallTime now = clock_.wall();
  p.last_attempt = now;
  std::string err = error;
  if (err.empty() && http_status != 200) {
    err = "HTTP " + std::to_string(http_status);
    if (http_status == 401) err += " (token rejected)";
  }
  Report r;
  if (err.empty()) {
    auto parsed = ReportFromJson(body);
    if (!parsed) {
      err = parsed.message();
    } else if (parsed->observer != p.cfg.name) {
      err = "identity mismatch: the report is from observer \"" + parsed->observer +
            "\", expected \"" + p.cfg.name + "\"";
    } else {
      r = std::move(*parsed);
    }
  }
  m_.peer_polls.Add({{"peer", p.cfg.name}, {"result", err.empty() ? "success" : "failure"}});
  m_.peer_reachable.Set({{"peer", p.cfg.name}}, err.empty() ? 1 : 0);
  if (!err.empty()) {
    if (err != p.last_error) {
      log::Warn("peer observations unavailable",
                {{"peer", p.cfg.name}, {"url", p.cfg.url}, {"error", err}});
    }
    p.last_error = err;
    return;
  }
  if (!p.last_error.empty() || !p.have) {
    log::Info("peer observations received", {{"peer", p.cfg.name}, {"generation", r.generation}});
  }
  p.last_error.clear();
  p.last_success = now;
  const bool newer =
      !p.have || r.instance != p.report.instance || r.generation > p.report.generation;
  if (newer) {
    p.report = std::move(r);
    p.received_at = now;
    p.have = true;
  }
}

PeerPoller::PushResult PeerPoller::AcceptPush(const std::string& body) {
  auto result = [this](PushResult::Kind k, std::string err) {
    static const char* const kNames[] = {"accepted", "malformed", "unknown_peer", "stale"};
    m_.pushes_received.Add({{"result", kNames[k]}});
    // A stale push is routine (the poll can fetch a generation before its push arrives).
    if (k == PushResult::kStale) {
      log::Debug("peer push refused", {{"error", err}});
    } else if (!err.empty()) {
      log::Warn("peer push refused", {{"error", err}});
    }
    return PushResult{k, std::move(err)};
  };
  auto parsed = ReportFromJson(body);
  if (!parsed) return result(PushResult::kMalformed, parsed.message());
  Report& r = *parsed;
  std::lock_guard l(mu_);
  auto it = std::find_if(peers_.begin(), peers_.end(),
                         [&](const Peer& p) { return p.cfg.name == r.observer; });
  if (it == peers_.end()) {
    return result(PushResult::kUnknownPeer,
                  "observer \"" + r.observer + "\" is not a configured peer");
  }
  Peer& p = *it;
  if (p.have) {
    const bool same = r.instance == p.report.instance;
    if (same && r.generation <= p.report.generation) {
      return result(PushResult::kStale, "stale report from \"" + r.observer + "\": generation " +
                                            std::to_string(r.generation) + " is not newer than " +
                                            std::to_string(p.report.generation));
    }
    if (!same && r.produced_at <= p.report.produced_at) {
      return result(PushResult::kStale,
                    "stale report from \"" + r.observer + "\": instance " + r.instance +
                        " produced at " + FormatTime(r.produced_at) + ", not after " +
                        FormatTime(p.report.produced_at) + " (instance " + p.report.instance + ")");
    }
  }
  const WallTime now = clock_.wall();
  log::Debug("peer push accepted", {{"peer", p.cfg.name}, {"generation", r.generation}});
  p.report = std::move(r);
  p.received_at = now;
  p.last_push = now;
  p.have = true;
  return result(PushResult::kAccepted, "");
}

void PeerPoller::PollOnce() {
  // Answers are collected first and applied under the lock, so readers never wait for the network.
  const std::vector<PeerRequests::Answer> answers = impl_->requests.RunAll();
  std::lock_guard l(mu_);
  for (const auto& a : answers)
    Accept(peers_[a.index], a.body, a.status, a.error);
}

void PeerPoller::Run(Stopper& stop) {
  const auto interval = std::chrono::duration_cast<MonoTime::duration>(
      std::chrono::duration<double>(cfg_.probe.interval_seconds));
  auto next = clock_.mono();
  while (!stop.stopped()) {
    PollOnce();
    next += interval;
    const auto now = clock_.mono();
    if (next < now) next = now;
    if (stop.WaitUntil(clock_, next)) break;
  }
}

std::vector<failover::PeerReport> PeerPoller::Reports() const {
  std::lock_guard l(mu_);
  std::vector<failover::PeerReport> out;
  for (const auto& p : peers_) {
    if (p.have) out.push_back(ToPeerReport(p.report, p.received_at));
  }
  return out;
}

nlohmann::json PeerPoller::StatusJson() const {
  auto t = [](WallTime w) {
    return w == WallTime{} ? nlohmann::json(nullptr) : nlohmann::json(FormatTime(w));
  };
  std::lock_guard l(mu_);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : peers_) {
    out.push_back(
        {{"name", p.cfg.name},
         {"url", p.cfg.url},
         {"lastAttempt", t(p.last_attempt)},
         {"lastSuccess", t(p.last_success)},
         {"receivedAt", t(p.received_at)},
         {"lastPushReceived", t(p.last_push)},
         {"generation", p.have ? nlohmann::json(p.report.generation) : nlohmann::json(nullptr)},
         {"peerPartitioned",
          p.have ? nlohmann::json(p.report.partitioned) : nlohmann::json(nullptr)},
         {"lastError",
          p.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.last_error)}});
  }
  return out;
}

}  // namespace aha::quorum
