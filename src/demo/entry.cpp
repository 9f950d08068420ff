#include "demo/entry.h"

#include <httplib.h>

#include <algorithm>
#include <limits>
#include <optional>

namespace aha::demo {

EntryPoint::EntryPoint(std::vector<Backend> backends, std::vector<std::string> locations,
                       std::chrono::milliseconds check_every)
    : backends_(std::move(backends)), locations_(std::move(locations)), check_every_(check_every) {}

EntryPoint::~EntryPoint() {
  Stop();
}

Status EntryPoint::Start() {
  server_ = std::make_unique<httplib::Server>();
  server_->Get("/work", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string loc = req.get_header_value("X-Client-Location");
    const std::string region = Choose(loc);
    if (region.empty()) {
      res.status = 503;
      res.set_content("no region is ready\n", "text/plain");
      return;
    }
    const Backend* b = nullptr;
    for (const auto& x : backends_)
      if (x.region == region) b = &x;
    httplib::Client cli("127.0.0.1", b->app_port);
    cli.set_connection_timeout(std::chrono::seconds(1));
    cli.set_read_timeout(std::chrono::seconds(2));
    auto r = cli.Get("/work", {{"X-Client-Location", loc}});
    res.set_header("X-Served-By", region);
    if (!r) {
      res.status = 502;
      res.set_content("forward to " + region + ": " + httplib::to_string(r.error()) + "\n",
                      "text/plain");
      return;
    }
    res.status = r->status;
    res.set_content(r->body, "application/json");
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) return Err("entry point: cannot bind a loopback port");
  server_thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
  checker_ = std::thread([this] { CheckLoop(); });
  pinger_ = std::thread([this] { LatencyLoop(); });
  return Status::Ok();
}

void EntryPoint::Stop() {
  stop_.Stop();
  if (checker_.joinable()) checker_.join();
  if (pinger_.joinable()) pinger_.join();
  if (server_thread_.joinable()) {
    server_->stop();
    server_thread_.join();
  }
}

void EntryPoint::CheckLoop() {
  while (!stop_.stopped()) {
    const auto round_start = std::chrono::steady_clock::now();
    std::map<std::string, bool> ready;
    for (const auto& b : backends_) {
      httplib::Client gate("127.0.0.1", b.gate_port);
      gate.set_connection_timeout(std::chrono::seconds(1));
      gate.set_read_timeout(std::chrono::seconds(2));
      auto r = gate.Get("/ready");
      if (r) {
        ready[b.region] = r->status == 200;  // the gate answered: that is the verdict
        unanswered_[b.region] = 0;
      } else {
        // No answer (timeout, refused): one miss may be a slow machine; two in a row are not.
        std::lock_guard l(mu_);
        ready[b.region] = ++unanswered_[b.region] < 2 && ready_[b.region];
      }
    }
    {
      std::lock_guard l(mu_);
      ready_ = ready;
    }
    ++rounds_;
    stop_.WaitUntil(round_start + check_every_);
  }
}

void EntryPoint::LatencyLoop() {
  std::vector<std::unique_ptr<httplib::Client>> apps;
  for (const auto& b : backends_) {
    apps.push_back(std::make_unique<httplib::Client>("127.0.0.1", b.app_port));
    apps.back()->set_keep_alive(true);
    apps.back()->set_connection_timeout(std::chrono::milliseconds(500));
    apps.back()->set_read_timeout(std::chrono::milliseconds(500));
  }
  while (!stop_.stopped()) {
    const auto round_start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < backends_.size(); ++i) {
      for (const auto& loc : locations_) {
        const auto t = std::chrono::steady_clock::now();
        auto p = apps[i]->Get("/ping", {{"X-Client-Location", loc}});
        if (!p || p->status != 200) continue;
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
        std::lock_guard l(mu_);
        auto& window = samples_[loc][backends_[i].region];
        window.push_back(ms);
        if (window.size() > 8) window.pop_front();
        // The minimum of the recent samples: queueing on a busy machine only adds delay, so the
        // minimum is the best estimate of the path's own latency.
        latency_[loc][backends_[i].region] = *std::min_element(window.begin(), window.end());
      }
    }
    stop_.WaitUntil(round_start + check_every_);
  }
}

std::string EntryPoint::Choose(const std::string& location) const {
  std::lock_guard l(mu_);
  std::string best;
  double best_ms = std::numeric_limits<double>::infinity();
  auto lat = latency_.find(location);
  for (const auto& b : backends_) {
    auto r = ready_.find(b.region);
    if (r == ready_.end() || !r->second) continue;
    double ms = std::numeric_limits<double>::max();  // ready but not measured yet: last resort
    if (lat != latency_.end()) {
      if (auto it = lat->second.find(b.region); it != lat->second.end()) ms = it->second;
    }
    if (ms < best_ms) {
      best_ms = ms;
      best = b.region;
    }
  }
  return best;
}

std::vector<std::string> EntryPoint::ReadySet() const {
  std::lock_guard l(mu_);
  std::vector<std::string> out;
  for (const auto& [r, ok] : ready_)
    if (ok) out.push_back(r);
  return out;
}

double EntryPoint::LatencyMs(const std::string& location, const std::string& region) const {
  std::lock_guard l(mu_);
  auto a = latency_.find(location);
  if (a == latency_.end()) return -1;
  auto b = a->second.find(region);
  return b == a->second.end() ? -1 : b->second;
}

LoadGenerator::LoadGenerator(int entry_port, std::vector<std::string> locations,
                             std::chrono::milliseconds every)
    : port_(entry_port), locations_(std::move(locations)), every_(every) {}

LoadGenerator::~LoadGenerator() {
  Stop();
}

void LoadGenerator::Start() {
  for (size_t i = 0; i < locations_.size(); ++i) {
    clients_.emplace_back([this, i] {
      httplib::Client cli("127.0.0.1", port_);
      cli.set_keep_alive(true);
      cli.set_connection_timeout(std::chrono::seconds(2));
      cli.set_read_timeout(std::chrono::seconds(3));
      auto next = std::chrono::steady_clock::now();
      while (!stop_.WaitUntil(next)) {
        next += every_;
        const auto t = std::chrono::steady_clock::now();
        auto r = cli.Get("/work", {{"X-Client-Location", locations_[i]}});
        Outcome o;
        o.at = std::chrono::steady_clock::now();
        o.location = static_cast<int>(i);
        o.ms = std::chrono::duration<double, std::milli>(o.at - t).count();
        if (!r) {
          o.error = httplib::to_string(r.error());
        } else if (r->status != 200) {
          o.error = "HTTP " + std::to_string(r->status);
        } else {
          o.served_by = r->get_header_value("X-Served-By");
        }
        {
          std::lock_guard l(mu_);
          outcomes_.push_back(std::move(o));
        }
        if (next < std::chrono::steady_clock::now()) next = std::chrono::steady_clock::now();
      }
    });
  }
}

void LoadGenerator::Stop() {
  stop_.Stop();
  for (auto& t : clients_)
    if (t.joinable()) t.join();
  clients_.clear();
}

std::vector<Outcome> LoadGenerator::Outcomes() const {
  std::lock_guard l(mu_);
  return outcomes_;
}

std::optional<Mono> LoadGenerator::FirstServedBy(const std::string& region, Mono from) const {
  std::lock_guard l(mu_);
  for (const auto& o : outcomes_) {
    if (o.at >= from && o.served_by == region) return o.at;
  }
  return std::nullopt;
}

}  // namespace aha::demo
