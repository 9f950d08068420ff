#include "quorum/push.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/json_get.h"
#include "common/log.h"
#include "net/curl.h"
#include "quorum/peer_http.h"
#include "quorum/token.h"

namespace aha::quorum {

namespace {

constexpr size_t kMaxAnswer = 4096;  // a peer's answer is a short JSON object

size_t OnAnswer(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t take = std::min(size * n, kMaxAnswer - std::min(kMaxAnswer, body->size()));
  body->append(data, take);
  return size * n;  // the rest is read and dropped
}

}  // namespace

struct VerdictPusher::Impl {
  CURLM* multi = nullptr;
  struct Slot {
    std::string peer;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::string answer;
    char errbuf[CURL_ERROR_SIZE] = {0};
  };
  std::vector<Slot> slots;
  ~Impl() {
    for (auto& s : slots) {
      if (s.easy != nullptr) curl_easy_cleanup(s.easy);
      curl_slist_free_all(s.headers);
    }
    if (multi != nullptr) curl_multi_cleanup(multi);
  }
};

VerdictPusher::VerdictPusher(const config::ControllerConfig& cfg,
                             std::map<std::string, std::string> tokens, const Clock& clock,
                             metrics::Registry* reg)
    : impl_(std::make_unique<Impl>()),
      cfg_(cfg),
      clock_(clock),
      m_(reg ? QuorumMetrics(*reg) : QuorumMetrics()) {
  net::CurlGlobalInit();
  impl_->multi = curl_multi_init();
  impl_->slots.resize(cfg_.peers.size());
  for (size_t i = 0; i < cfg_.peers.size(); ++i) {
    const config::PeerConfig& pc = cfg_.peers[i];
    auto& s = impl_->slots[i];
    s.peer = pc.name;
    s.easy = curl_easy_init();
    s.headers = curl_slist_append(s.headers, "Content-Type: application/json");
    s.headers = curl_slist_append(s.headers, "Accept: application/json");
    s.headers = curl_slist_append(s.headers, "Expect:");  // no 100-continue round trip
    s.headers = SetUpPeerHandle(s.easy, pc, tokens[pc.name], cfg_.quorum.peer_timeout_seconds,
                                s.headers, s.errbuf, i);
    curl_easy_setopt(s.easy, CURLOPT_POST, 1L);
    curl_easy_setopt(s.easy, CURLOPT_WRITEFUNCTION, OnAnswer);
    curl_easy_setopt(s.easy, CURLOPT_WRITEDATA, &s.answer);
  }
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
  CURLM* multi = impl_->multi;
  for (auto& s : impl_->slots) {
    s.answer.clear();
    s.errbuf[0] = '\0';
    curl_easy_setopt(s.easy, CURLOPT_POSTFIELDS, report_json.data());
    curl_easy_setopt(s.easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(report_json.size()));
    curl_multi_add_handle(multi, s.easy);
  }
  std::map<std::string, std::string> out;
  int running = 1;
  while (running > 0) {
    if (curl_multi_perform(multi, &running) != CURLM_OK) break;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      void* priv = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      auto& s = impl_->slots[reinterpret_cast<size_t>(priv)];
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      std::string err;
      if (msg->data.result != CURLE_OK) {
        err = s.errbuf[0] != '\0' ? s.errbuf : curl_easy_strerror(msg->data.result);
      } else if (status != 200 && status != 409) {
        err = "HTTP " + std::to_string(status);
        auto j = nlohmann::json::parse(s.answer, nullptr, false);
        if (j.is_object() && j.contains("error") && j["error"].is_string()) {
          err += ": " + j["error"].get<std::string>();
        } else if (status == 401) {
          err += " (token rejected)";
        }
      }
      const char* result = !err.empty() ? "failure" : status == 409 ? "stale" : "success";
      m_.pushes_sent.Add({{"peer", s.peer}, {"result", result}});
      out[s.peer] = err;
    }
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  for (auto& s : impl_->slots) {
    curl_multi_remove_handle(multi, s.easy);
    out.emplace(s.peer, "no answer");  // only when the multi handle itself failed
  }
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
