#include "demo/demo.h"

#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/signals.h"
#include "controller/controller.h"
#include "failover/state.h"
#include "state/store.h"

namespace aha::demo {
namespace {

using Clock = std::chrono::steady_clock;

// A regional endpoint that can be taken down (listener closed) and brought back on the same port.
class SimulatedRegion {
 public:
  explicit SimulatedRegion(std::string name) : name_(std::move(name)) {}
  ~SimulatedRegion() { Down(); }

  bool Up() {
    server_ = std::make_unique<httplib::Server>();
    server_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"region\":\"" + name_ + "\",\"status\":\"ok\"}\n", "application/json");
    });
    if (port_ == 0) {
      port_ = server_->bind_to_any_port("127.0.0.1");
      if (port_ <= 0) return false;
    } else if (!server_->bind_to_port("127.0.0.1", port_)) {
      return false;
    }
    thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
    return true;
  }
  void Down() {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
    server_.reset();
  }
  int port() const { return port_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

struct Step {
  std::string name;
  double at_ms = -1;  // since the outage was injected
  uint64_t generation = 0;
  std::string note;
};

// Reads the state keys the way a gate does: exact names, line by line.
struct Observed {
  std::vector<std::string> failed, serving;
  uint64_t generation = 0;
};

Observed ReadState(state::StateStore& store) {
  Observed o;
  auto kv = store.Read();
  if (!kv) return o;
  if (auto it = kv->find(failover::kFailedRegionsKey); it != kv->end()) {
    if (auto l = failover::ParseRegionList(it->second)) o.failed = *l;
  }
  if (auto it = kv->find(failover::kServingRegionsKey); it != kv->end()) {
    if (auto l = failover::ParseRegionList(it->second)) o.serving = *l;
  }
  if (auto it = kv->find(failover::kStateJsonKey); it != kv->end()) {
    auto j = nlohmann::json::parse(it->second, nullptr, false);
    if (j.is_object()) o.generation = j.value("generation", uint64_t{0});
  }
  return o;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

}  // namespace

int Run(const Options& opts) {
  BlockTerminationSignals();
  Stopper stop;
  SignalWatcher signals(stop);
  log::SetLevel(log::Level::kWarn);  // the timeline is the output; transitions are in state.json

  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "agency-ha-demo.XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    std::perror("agency-ha demo: mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};

  const std::string failing = "us-east-1", passive = "ap-southeast-1";
  std::vector<std::unique_ptr<SimulatedRegion>> regions;
  for (const char* n : {"us-east-1", "eu-west-1", "ap-southeast-1"}) {
    regions.push_back(std::make_unique<SimulatedRegion>(n));
    if (!regions.back()->Up()) {
      std::fprintf(stderr, "agency-ha demo: cannot start simulated endpoint for %s\n", n);
      return 1;
    }
  }

  config::ControllerConfig cfg;
  for (const auto& r : regions) {
    config::RegionConfig rc;
    rc.name = r->name();
    rc.active = r->name() != passive;
    rc.endpoint = "http://127.0.0.1:" + std::to_string(r->port()) + "/health";
    cfg.regions.push_back(rc);
  }
  cfg.probe.interval_seconds = opts.interval_seconds;
  cfg.probe.timeout_seconds = opts.interval_seconds / 2;
  cfg.policy.failback_seconds = opts.failback_seconds;
  cfg.state.file = dir + "/state";
  cfg.listen = "";

  std::printf("agency-ha demo %s: 3 regions on loopback, state in %s\n", AHA_VERSION,
              cfg.state.file.c_str());
  for (const auto& r : cfg.regions) {
    std::printf("  %-15s %-8s %s\n", r.name.c_str(), r.active ? "active" : "passive",
                r.endpoint.c_str());
  }
  std::printf(
      "  probe every %.2fs, timeout %.2fs, fail after %d, recover after %d, failback %.1fs\n\n",
      cfg.probe.interval_seconds, cfg.probe.timeout_seconds, cfg.probe.failure_threshold,
      cfg.probe.success_threshold, cfg.policy.failback_seconds);
  std::fflush(stdout);

  metrics::Registry reg;
  controller::DefineControllerMetrics(reg);
  state::FileStateStore store(cfg.state.file);
  controller::ProberSource source(cfg, SystemClock::instance(), reg);
  controller::Controller ctl(cfg, store, source, SystemClock::instance(), reg);
  if (Status s = ctl.Start(); !s) {
    std::fprintf(stderr, "agency-ha demo: %s\n", s.message().c_str());
    return 1;
  }
  Stopper ctl_stop;
  std::thread loop([&] { ctl.Run(ctl_stop); });
  struct Joiner {
    Stopper& s;
    std::thread& t;
    ~Joiner() {
      s.Stop();
      if (t.joinable()) t.join();
    }
  } joiner{ctl_stop, loop};

  state::FileStateStore reader(cfg.state.file);
  Clock::time_point t0;
  std::vector<Step> steps;
  const double round_ms = cfg.probe.interval_seconds * 1000;
  auto wait_for = [&](const std::string& name, double deadline_s,
                      const std::function<bool(const Observed&)>& pred) -> bool {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(deadline_s));
    while (Clock::now() < deadline) {
      Observed o = ReadState(reader);
      if (pred(o)) {
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        steps.push_back(Step{name, ms, o.generation,
                             "failed=" + Join(o.failed) + " serving=" + Join(o.serving)});
        return true;
      }
      if (stop.WaitFor(std::chrono::milliseconds(2))) return false;
    }
    return false;
  };
  auto fail = [&](const std::string& step) {
    if (stop.stopped()) {
      std::fprintf(stderr, "agency-ha demo: interrupted during step \"%s\"\n", step.c_str());
      return 130;
    }
    std::fprintf(stderr, "agency-ha demo: step \"%s\" did not happen in time\n", step.c_str());
    return 1;
  };
  const double detect_budget = round_ms / 1000 * (cfg.probe.failure_threshold + 4) + 5;

  // Baseline: both active regions serving and every region observed healthy.
  t0 = Clock::now();
  if (!wait_for("baseline: us-east-1,eu-west-1 serving", detect_budget, [&](const Observed& o) {
        return o.failed.empty() && o.serving == std::vector<std::string>{"eu-west-1", "us-east-1"};
      })) {
    return fail("baseline");
  }
  steps.clear();
  if (stop.WaitFor(std::chrono::duration<double>(cfg.probe.interval_seconds * 2))) {
    return fail("baseline");
  }

  // The outage: close us-east-1's listener.
  regions[0]->Down();
  t0 = Clock::now();
  steps.push_back(Step{"outage injected: us-east-1 endpoint down", 0, 0, "listener closed"});
  if (!wait_for("us-east-1 in failedRegions", detect_budget,
                [&](const Observed& o) { return failover::ContainsRegion(o.failed, failing); })) {
    return fail("us-east-1 in failedRegions");
  }
  if (!wait_for("ap-southeast-1 promoted (servingRegions)", detect_budget,
                [&](const Observed& o) { return failover::ContainsRegion(o.serving, passive); })) {
    return fail("ap-southeast-1 promoted");
  }
  const double outage_end_ms = opts.outage_seconds * 1000;
  const double now_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (now_ms < outage_end_ms &&
      stop.WaitFor(std::chrono::duration<double, std::milli>(outage_end_ms - now_ms))) {
    return fail("outage");
  }
  if (!regions[0]->Up()) {
    std::fprintf(stderr, "agency-ha demo: cannot bring us-east-1 back on port %d\n",
                 regions[0]->port());
    return 1;
  }
  steps.push_back(Step{"outage ends: us-east-1 endpoint back",
                       std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), 0,
                       "listener reopened"});
  const double recover_budget = round_ms / 1000 * (cfg.probe.success_threshold + 4) + 5;
  if (!wait_for("us-east-1 recovered (not in failedRegions)", recover_budget,
                [&](const Observed& o) {
                  return !failover::ContainsRegion(o.failed, failing) &&
                         failover::ContainsRegion(o.serving, failing);
                })) {
    return fail("us-east-1 recovered");
  }
  if (!wait_for("ap-southeast-1 demoted (failback)", recover_budget + opts.failback_seconds,
                [&](const Observed& o) { return !failover::ContainsRegion(o.serving, passive); })) {
    return fail("ap-southeast-1 demoted");
  }

  const double detect_floor = round_ms * cfg.probe.failure_threshold;
  const double recover_floor = round_ms * cfg.probe.success_threshold;
  double detected = steps[1].at_ms, back = steps[3].at_ms, recovered = steps[4].at_ms,
         demoted = steps[5].at_ms;
  if (opts.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& s : steps) {
      j.push_back(
          {{"step", s.name}, {"atMs", s.at_ms}, {"generation", s.generation}, {"state", s.note}});
    }
    std::printf("%s\n", nlohmann::json{{"timeline", j},
                                       {"detectionMs", detected},
                                       {"detectionFloorMs", detect_floor},
                                       {"recoveryMs", recovered - back},
                                       {"recoveryFloorMs", recover_floor},
                                       {"failbackMs", demoted - recovered}}
                            .dump(2)
                            .c_str());
  } else {
    std::printf("%-45s %10s %5s  %s\n", "timeline (measured)", "t+ms", "gen", "state after step");
    for (const auto& s : steps) {
      std::printf("%-45s %10.1f %5s  %s\n", s.name.c_str(), s.at_ms,
                  s.generation ? std::to_string(s.generation).c_str() : "", s.note.c_str());
    }
    std::printf(
        "\ndetection: %.1f ms (%d failed probes %.0f ms apart: expected %.0f..%.0f ms + write)\n",
        detected, cfg.probe.failure_threshold, round_ms, detect_floor - round_ms, detect_floor);
    std::printf(
        "recovery:  %.1f ms after the endpoint came back (%d healthy probes: expected %.0f..%.0f "
        "ms + write)\n",
        recovered - back, cfg.probe.success_threshold, recover_floor - round_ms, recover_floor);
    std::printf("failback:  %.1f ms after recovery (policy %.1f s)\n", demoted - recovered,
                opts.failback_seconds);
  }
  return 0;
}

}  // namespace aha::demo
