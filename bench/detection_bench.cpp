// detection_bench: how long the real controller takes to report an endpoint outage and recovery.
//
// Spawns `agency-ha controller` with N regions whose health endpoints are served from this process
// on loopback, then runs drills: close one endpoint's listener (connection refused), wait until
// the region is listed in failedRegions, reopen it on the same port, wait until it is gone again.
// Up to a minority of regions are drilled at once, each drill after a random delay so outages
// start at every phase of the probe round. The state is read the way a gate reads it
// (FileStateStore::Read, every millisecond). Every figure printed comes from this run.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common.h"
#include "failover/failover_state.h"
#include "state/store.h"

namespace {

using bench::MsBetween;
using bench::Percentile;
using bench::SteadyClock;
using bench::TimePoint;

struct Options {
  double regions = 10, drills = 50, parallel = 0, interval = 1.0, timeout = 0;
  double failure_threshold = 3, success_threshold = 2, seed = 0;
  std::string binary = AHA_BINARY;
};

struct Drill {
  int region = -1;
  TimePoint kill, detected, up, recovered;
};

enum class Phase { kIdle, kWaitKill, kWaitFailed, kWaitUp, kWaitRecovered };
struct Slot {
  Phase phase = Phase::kIdle;
  TimePoint at;  // when the next action is due (kill or up), or the deadline while waiting
  Drill drill;
};

// Starts of the controller's probe rounds: every region is probed at once, so the requests of one
// round arrive within a few milliseconds; a gap of more than a quarter interval starts a new one.
std::vector<TimePoint> RoundStarts(std::vector<TimePoint> hits, double interval_s) {
  std::sort(hits.begin(), hits.end());
  std::vector<TimePoint> rounds;
  for (size_t i = 0; i < hits.size(); ++i) {
    if (i == 0 || MsBetween(hits[i - 1], hits[i]) > interval_s * 250) rounds.push_back(hits[i]);
  }
  return rounds;
}

void PrintRow(const char* what, const std::vector<double>& v, double floor_ms, double lo_ms) {
  const double p99 = Percentile(v, 99);
  const bool met = p99 <= floor_ms + 300;
  std::printf(
      "%-10s %4zu %8.1f %8.1f %8.1f %8.1f %8.1f %6.0f  %5.0f..%-5.0f %9.3f   %s (p99 %.1f %s "
      "%.0f)\n",
      what, v.size(), Percentile(v, 0), Percentile(v, 50), Percentile(v, 90), p99,
      Percentile(v, 100), floor_ms, lo_ms, floor_ms, p99 / floor_ms, met ? "MET" : "MISSED", p99,
      met ? "<=" : ">", floor_ms + 300);
}

void PrintSpread(const char* what, const std::vector<double>& v) {
  std::printf("  %-10s p50 %7.1f ms   p90 %7.1f ms   p99 %7.1f ms   max %7.1f ms   (n=%zu)\n", what,
              Percentile(v, 50), Percentile(v, 90), Percentile(v, 99), Percentile(v, 100),
              v.size());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Runs outage drills against the real `agency-ha controller` and prints how long it takes\n"
      "for a region to appear in / disappear from failedRegions.",
      "detection_bench"};
  app.add_option("--regions", o.regions, "regions (loopback endpoints), default 10")
      ->type_name("N");
  app.add_option("--drills", o.drills, "drills in total, default 50")->type_name("N");
  app.add_option("--parallel", o.parallel, "regions down at once, default and maximum (N-1)/2")
      ->type_name("K");
  app.add_option("--interval", o.interval, "probe.intervalSeconds, default 1")->type_name("S");
  app.add_option("--timeout", o.timeout, "probe.timeoutSeconds, default min(0.5, interval/2)")
      ->type_name("S");
  app.add_option("--failure-threshold", o.failure_threshold, "probe.failureThreshold, default 3")
      ->type_name("T");
  app.add_option("--success-threshold", o.success_threshold, "probe.successThreshold, default 2")
      ->type_name("S");
  app.add_option("--seed", o.seed, "seed of the random drill delays, default random")
      ->type_name("N");
  bench::AddBinaryOption(app, &o.binary);
  if (int rc = 0; !bench::ParseFlags(app, argc, argv, &rc)) return rc;
  const int n = static_cast<int>(o.regions), drills = static_cast<int>(o.drills);
  const int fail_t = static_cast<int>(o.failure_threshold);
  const int succ_t = static_cast<int>(o.success_threshold);
  const int max_parallel = (n - 1) / 2;  // never a majority of regions down
  const int parallel =
      o.parallel > 0 ? std::min(static_cast<int>(o.parallel), max_parallel) : max_parallel;
  if (n < 3 || n > 64 || drills < 1 || fail_t < 1 || succ_t < 1 || o.interval < 0.05) {
    std::fprintf(stderr,
                 "detection_bench: need 3..64 regions, drills >= 1, thresholds >= 1, "
                 "interval >= 0.05 (see --help)\n");
    return 2;
  }
  const double timeout = o.timeout > 0 ? o.timeout : std::min(0.5, o.interval / 2);
  const unsigned seed = o.seed > 0 ? static_cast<unsigned>(o.seed) : std::random_device{}();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> phase(0.0, o.interval);
  bench::InstallSignalHandlers();

  bench::TempDir tmp("agency-ha-detection-bench");
  if (!tmp.ok()) {
    std::perror("detection_bench: mkdtemp");
    return 1;
  }
  std::vector<std::unique_ptr<bench::Endpoint>> endpoints;
  std::vector<std::string> names, urls;
  for (int i = 0; i < n; ++i) {
    endpoints.push_back(std::make_unique<bench::Endpoint>());
    if (!endpoints.back()->Up()) {
      std::fprintf(stderr, "detection_bench: cannot start endpoint %d\n", i);
      return 1;
    }
    names.push_back(bench::RegionName(i));
    urls.push_back(endpoints.back()->url());
  }
  const std::string state_dir = tmp.path() + "/state", cfg = tmp.path() + "/controller.yaml";
  const std::string log = tmp.path() + "/controller.log";
  if (!bench::WriteText(cfg, bench::ControllerYaml(names, urls, o.interval, timeout, fail_t, succ_t,
                                                   state_dir, ""))) {
    std::fprintf(stderr, "detection_bench: cannot write %s\n", cfg.c_str());
    return 1;
  }
  bench::Child ctl;
  if (!ctl.Spawn({o.binary, "controller", "--config", cfg}, log)) return 1;
  auto die = [&](const std::string& why) {
    std::fprintf(stderr, "detection_bench: %s\n", why.c_str());
    if (bench::g_interrupted) return 130;
    std::fprintf(stderr, "controller log (last lines):\n%s\n",
                 bench::Tail(bench::ReadText(log), 15).c_str());
    return 1;
  };

  aha::state::FileStateStore reader(state_dir);
  auto read_failed = [&](bool* ok) {
    std::vector<std::string> failed;
    *ok = false;
    auto kv = reader.Read();
    if (!kv) return failed;
    auto it = kv->find(aha::failover::kFailedRegionsKey);
    if (it == kv->end()) return failed;
    auto list = aha::failover::ParseRegionList(it->second);
    if (!list) return failed;
    *ok = true;
    return *list;
  };

  // Ready: the state is written, nothing failed, and two probe rounds have reached every endpoint.
  const auto ready_deadline = SteadyClock::now() + bench::Seconds(o.interval * 5 + 10);
  for (;;) {
    bool ok = false;
    auto failed = read_failed(&ok);
    bool probed = true;
    for (const auto& e : endpoints)
      probed = probed && e->Hits().size() >= 2;
    if (ok && failed.empty() && probed) break;
    if (!ctl.Running()) return die("controller exited during startup");
    if (bench::g_interrupted) return die("interrupted");
    if (SteadyClock::now() > ready_deadline) return die("controller not ready in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  std::printf("agency-ha detection bench (seed %u)\n", seed);
  std::printf("  controller  %s (pid %d), %d regions on loopback, state %s\n", o.binary.c_str(),
              ctl.pid(), n, state_dir.c_str());
  std::printf(
      "  probe       interval %.3f s, timeout %.3f s, failureThreshold %d, "
      "successThreshold %d\n",
      o.interval, timeout, fail_t, succ_t);
  std::printf("  drills      %d, up to %d of %d regions down at once\n", drills, parallel, n);
  std::fflush(stdout);

  const double detect_budget = o.interval * (fail_t + 5) + 10;
  const double recover_budget = o.interval * (succ_t + 5) + 10;
  const TimePoint t_start = SteadyClock::now();
  std::vector<Slot> slots(parallel);
  for (int k = 0; k < parallel; ++k) {
    slots[k].phase = Phase::kWaitKill;
    slots[k].at = t_start + bench::Seconds(o.interval * k / parallel + phase(rng));
  }
  std::vector<bool> busy(n, false);
  std::vector<Drill> done;
  int started = 0, next_region = 0, false_failures = 0;
  std::vector<bool> reported_false(n, false);
  TimePoint next_poll = SteadyClock::now();

  while (static_cast<int>(done.size()) < drills) {
    if (bench::g_interrupted) return die("interrupted");
    if (!ctl.Running()) return die("controller exited during the drills");
    bool ok = false;
    const auto failed = read_failed(&ok);
    const TimePoint now = SteadyClock::now();  // when this reader saw the state
    if (ok) {
      for (const auto& f : failed) {
        int idx = static_cast<int>(std::find(names.begin(), names.end(), f) - names.begin());
        if (idx < n && !busy[idx] && !reported_false[idx]) {
          reported_false[idx] = true;
          ++false_failures;
        }
      }
    }
    for (auto& s : slots) {
      Drill& d = s.drill;
      const std::string region = d.region >= 0 ? names[d.region] : "";
      switch (s.phase) {
        case Phase::kIdle:
          break;
        case Phase::kWaitKill:
          if (now < s.at) break;
          if (started >= drills) {
            s.phase = Phase::kIdle;
            break;
          }
          while (busy[next_region])
            next_region = (next_region + 1) % n;
          d = Drill{};
          d.region = next_region;
          busy[next_region] = true;
          next_region = (next_region + 1) % n;
          ++started;
          endpoints[d.region]->Down();
          d.kill = SteadyClock::now();  // from here on, connections are refused
          s.phase = Phase::kWaitFailed;
          s.at = d.kill + bench::Seconds(detect_budget);
          break;
        case Phase::kWaitFailed:
          if (ok && aha::failover::ContainsRegion(failed, region)) {
            d.detected = now;
            s.phase = Phase::kWaitUp;
            s.at = now + bench::Seconds(phase(rng));
          } else if (now > s.at) {
            return die(region + " did not appear in failedRegions within " +
                       std::to_string(detect_budget) + " s of its endpoint going down");
          }
          break;
        case Phase::kWaitUp:
          if (now < s.at) break;
          d.up = SteadyClock::now();
          if (!endpoints[d.region]->Up()) return die("cannot reopen the endpoint of " + region);
          s.phase = Phase::kWaitRecovered;
          s.at = d.up + bench::Seconds(recover_budget);
          break;
        case Phase::kWaitRecovered:
          if (ok && !aha::failover::ContainsRegion(failed, region)) {
            d.recovered = now;
            done.push_back(d);
            busy[d.region] = false;
            s.phase = Phase::kWaitKill;
            s.at = now + bench::Seconds(phase(rng));
          } else if (now > s.at) {
            return die(region + " still in failedRegions " + std::to_string(recover_budget) +
                       " s after its endpoint came back");
          }
          break;
      }
    }
    next_poll += std::chrono::milliseconds(1);
    if (next_poll < SteadyClock::now()) next_poll = SteadyClock::now();
    std::this_thread::sleep_until(next_poll);
  }
  const double wall_s = MsBetween(t_start, SteadyClock::now()) / 1000;
  ctl.Terminate();

  // Probe schedule as seen by the endpoints, and where in it each drill's verdict fell.
  std::vector<std::vector<TimePoint>> hits(n);
  std::vector<TimePoint> all;
  for (int i = 0; i < n; ++i) {
    hits[i] = endpoints[i]->Hits();
    all.insert(all.end(), hits[i].begin(), hits[i].end());
  }
  const auto rounds = RoundStarts(all, o.interval);
  std::vector<double> period;
  for (size_t i = 1; i < rounds.size(); ++i)
    period.push_back(MsBetween(rounds[i - 1], rounds[i]));
  std::vector<double> detect, recover, detect_after, recover_after;
  for (const Drill& d : done) {
    detect.push_back(MsBetween(d.kill, d.detected));
    recover.push_back(MsBetween(d.up, d.recovered));
    // The T-th round after the region's last answered probe is the one that fails it.
    const auto& h = hits[d.region];
    auto last = std::lower_bound(h.begin(), h.end(), d.kill);
    if (last != h.begin()) {
      const TimePoint after = *std::prev(last) + bench::Seconds(o.interval / 2);
      auto r = std::upper_bound(rounds.begin(), rounds.end(), after);
      if (rounds.end() - r >= fail_t) detect_after.push_back(MsBetween(r[fail_t - 1], d.detected));
    }
    // The S-th answered probe after the endpoint came back is the one that recovers it.
    auto first = std::lower_bound(h.begin(), h.end(), d.up);
    if (h.end() - first >= succ_t)
      recover_after.push_back(MsBetween(first[succ_t - 1], d.recovered));
  }

  const double round_ms = o.interval * 1000;
  std::printf("  measured probe period: p50 %.1f ms, p99 %.1f ms, max %.1f ms over %zu rounds\n",
              Percentile(period, 50), Percentile(period, 99), Percentile(period, 100),
              period.size());
  std::printf("  wall time of the drills: %.1f s; regions reported failed while up: %d\n\n", wall_s,
              false_failures);
  std::printf("%-10s %4s %8s %8s %8s %8s %8s %6s  %-12s %9s   %s\n", "ms", "n", "min", "p50", "p90",
              "p99", "max", "floor", "window", "p99/floor", "target p99 <= floor + 300 ms");
  PrintRow("detection", detect, round_ms * fail_t, round_ms * (fail_t - 1));
  PrintRow("recovery", recover, round_ms * succ_t, round_ms * (succ_t - 1));
  std::printf(
      "\nfloor = interval x threshold; percentiles are nearest-rank (with 50 drills p99 = max)."
      "\nWindow: the first failed (or answered) probe comes 0..interval after the change, so the"
      "\nverdict lands in [(T-1)*I, T*I] plus probe, decision and state-write time. Measured from"
      "\nthat deciding probe round to the state being readable here (includes 1 ms polling):\n");
  PrintSpread("detection", detect_after);
  PrintSpread("recovery", recover_after);
  if (false_failures > 0) {
    std::printf("\nWARNING: %d region(s) were reported failed while their endpoint was up\n",
                false_failures);
  }
  return 0;
}
