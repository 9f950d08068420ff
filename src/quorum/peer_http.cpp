#include "quorum/peer_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <deque>

#include "net/curl.h"

namespace aha::quorum {

struct PeerRequests::Impl {
  struct Slot {
    Impl* owner = nullptr;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::string body;
    char errbuf[CURL_ERROR_SIZE] = {0};
  };
  Options opts;
  CURLM* multi = nullptr;
  std::deque<Slot> slots;  // stable addresses: each handle writes into its slot

  ~Impl() {
    for (auto& s : slots) {
      if (s.easy != nullptr) curl_easy_cleanup(s.easy);
      curl_slist_free_all(s.headers);
    }
    if (multi != nullptr) curl_multi_cleanup(multi);
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* user) {
    auto* s = static_cast<Slot*>(user);
    const size_t got = size * n, max = s->owner->opts.max_body;
    if (s->owner->opts.fail_over_max) {
      if (s->body.size() + got > max) return 0;  // aborts the transfer
      s->body.append(data, got);
    } else {
      s->body.append(data, std::min(got, max - std::min(max, s->body.size())));
    }
    return got;
  }

  void SetUp(Slot& s, const config::PeerConfig& pc, const std::string& token, size_t index) {
    s.owner = this;
    s.easy = curl_easy_init();
    for (const auto& h : opts.headers)
      s.headers = curl_slist_append(s.headers, h.c_str());
    if (!token.empty()) {
      s.headers = curl_slist_append(s.headers, ("Authorization: Bearer " + token).c_str());
    }
    curl_easy_setopt(s.easy, CURLOPT_URL, pc.url.c_str());
    net::EasyOptions eo;
    eo.user_agent = "agency-ha/" AHA_VERSION " (observer quorum)";
    eo.timeout = eo.connect_timeout =
        std::chrono::milliseconds(std::max(1L, static_cast<long>(opts.timeout_seconds * 1000)));
    eo.no_proxy = true;
    eo.tls = pc.tls;
    net::ApplyOptions(s.easy, eo);
    curl_easy_setopt(s.easy, CURLOPT_HTTPHEADER, s.headers);
    curl_easy_setopt(s.easy, CURLOPT_ERRORBUFFER, s.errbuf);
    curl_easy_setopt(s.easy, CURLOPT_PRIVATE, reinterpret_cast<void*>(index));
    curl_easy_setopt(s.easy, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(s.easy, CURLOPT_WRITEDATA, &s);
  }
};

PeerRequests::PeerRequests(const std::vector<config::PeerConfig>& peers,
                           const std::map<std::string, std::string>& tokens, Options opts)
    : impl_(std::make_unique<Impl>()) {
  net::CurlGlobalInit();
  impl_->opts = std::move(opts);
  impl_->multi = curl_multi_init();
  for (size_t i = 0; i < peers.size(); ++i) {
    auto t = tokens.find(peers[i].name);
    impl_->SetUp(impl_->slots.emplace_back(), peers[i], t == tokens.end() ? "" : t->second, i);
  }
}

PeerRequests::~PeerRequests() = default;

std::vector<PeerRequests::Answer> PeerRequests::RunAll(const std::string* post_body) {
  CURLM* multi = impl_->multi;
  for (auto& s : impl_->slots) {
    s.body.clear();
    s.errbuf[0] = '\0';
    if (post_body == nullptr) {
      curl_easy_setopt(s.easy, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(s.easy, CURLOPT_POST, 1L);
      curl_easy_setopt(s.easy, CURLOPT_POSTFIELDS, post_body->data());
      curl_easy_setopt(s.easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(post_body->size()));
    }
    curl_multi_add_handle(multi, s.easy);
  }
  std::vector<Answer> out;
  int running = 1;
  while (running > 0) {
    if (curl_multi_perform(multi, &running) != CURLM_OK) break;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      void* priv = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      Answer a;
      a.index = reinterpret_cast<size_t>(priv);
      Impl::Slot& s = impl_->slots[a.index];
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &a.status);
      if (msg->data.result != CURLE_OK) {
        a.error = s.errbuf[0] != '\0' ? s.errbuf : curl_easy_strerror(msg->data.result);
      }
      a.body = std::move(s.body);
      out.push_back(std::move(a));
    }
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  for (auto& s : impl_->slots)
    curl_multi_remove_handle(multi, s.easy);
  return out;
}

}  // namespace aha::quorum
