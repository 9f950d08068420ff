#include "quorum/push.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/json_get.h"
#include "common/log.h"
#include "quorum/peer_http.h"
#include "quorum/token.h"

namespace aha::quorum {

struct VerdictPusher::Impl {
  Impl(const std::vector<config::PeerConfig>& peers,
       const std::map<std::string, std::string>& tokens, PeerRequests::Options o)
      : requests(peers, tokens, std::move(o)) {}
  PeerRequests requests;
};

VerdictPusher::VerdictPusher(const config::ControllerConfig& cfg,
                             std::map<std::string, std::string> tokens, const Clock& clock,
                             metrics::Registry* reg)
    : cfg_(cfg), clock_(clock), m_(reg ? QuorumMetrics(*reg) : QuorumMetrics()) {
  PeerRequests::Options o;
  o.timeout_seconds = cfg_.quorum.peer_timeout_seconds;
  // No 100-continue round trip before the body.
  o.headers = {"Content-Type: application/json", "Accept: application/json", "Expect:"};
  o.max_body = 4096;  // a peer's answer is a short JSON object: the rest is read and dropped
  o.fail_over_max = false;
  impl_ = std::make_unique<Impl>(cfg_.peers, tokens, std::move(o));
}

VerdictPusher::~VerdictPusher() = default;

void VerdictPusher::Push(std::string report_json) {
  {
    std::lock_guard l(mu_);
    queued_ = std::move(report_json);
    pending_ = true;
  }
  clock_.Interrupt();  // wakes Run (its wake predicate reads pending_)
}

std::map<std::string, std::string> VerdictPusher::PushOnce(const std::string& report_json) {
  std::map<std::string, std::string> out;
  for (const PeerRequests::Answer& a : impl_->requests.RunAll(&report_json)) {
    const std::string& peer = cfg_.peers[a.index].name;
    std::string err = a.error;
    if (err.empty() && a.status != 200 && a.status != 409) {
      err = "HTTP " + std::to_string(a.status);
      auto j = nlohmann::json::parse(a.body, nullptr, false);
      if (j.is_object() && j.contains("error") && j["error"].is_string()) {
        err += ": " + j["error"].get<std::string>();
      } else if (a.status == 401) {
        err += " (token rejected)";
      }
    }
    const char* result = !err.empty() ? "failure" : a.status == 409 ? "stale" : "success";
    m_.pushes_sent.Add({{"peer", peer}, {"result", result}});
    out[peer] = err;
  }
  for (const auto& pc : cfg_.peers)
    out.emplace(pc.name, "no answer");  // only when the multi handle itself failed
  for (const auto& [peer, err] : out) {
    std::string& last = last_error_[peer];
    if (err != last && !err.empty()) {
      log::Warn("verdict push to peer failed (its poll still reads the report)",
                {{"peer", peer}, {"error", err}});
    }
    last = err;
  }
  return out;
}

void VerdictPusher::Run(Stopper& stop) {
  const auto wake = [this] { return pending_.load(); };
  while (!stop.stopped()) {
    if (stop.WaitUntil(clock_, clock_.mono() + std::chrono::hours(1), wake)) break;
    std::string body;
    {
      std::lock_guard l(mu_);
      if (!pending_) continue;
      body.swap(queued_);
      pending_ = false;
    }
    PushOnce(body);
    ++sent_;
  }
}

void AddPushRoute(httpd::HttpServer& http, PeerPoller& poller, std::string token,
                  std::function<void()> on_accepted) {
  http.PostWithAuthorization(
      "/v1/observations",
      [token = std::move(token)](const std::string& authorization) {
        return BearerMatches(authorization, token);
      },
      [&poller, on_accepted = std::move(on_accepted)](const std::string& body) {
        const PeerPoller::PushResult r = poller.AcceptPush(body);
        int status = 200;
        switch (r.kind) {
          case PeerPoller::PushResult::kAccepted:
            status = 200;
            break;
          case PeerPoller::PushResult::kMalformed:
            status = 400;
            break;
          case PeerPoller::PushResult::kUnknownPeer:
            status = 403;
            break;
          case PeerPoller::PushResult::kStale:
            status = 409;
            break;
        }
        if (r.kind == PeerPoller::PushResult::kAccepted && on_accepted) on_accepted();
        const nlohmann::json answer = r.error.empty() ? nlohmann::json{{"accepted", true}}
                                                      : nlohmann::json{{"error", r.error}};
        return httpd::Response{status, "application/json", jsonget::Dump(answer, -1) + "\n"};
      });
}

}  // namespace aha::quorum
