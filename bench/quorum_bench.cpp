// quorum_bench: the observer quorum with three real controllers.
//
// 1. Failover time. Three regions (a, b active; c passive), one `agency-ha controller` per region,
//    each with the other two as peers, probe and quorum settings at their defaults. Each run
//    starts everything fresh, waits until every controller reaches all three observers, waits a
//    random fraction of a probe interval, then kills region a (its endpoint's listener closes and
//    its controller gets SIGKILL) and measures until both surviving controllers have written
//    failedRegions = a and servingRegions = b, c (c promoted). Baseline, same run: the same with
//    one controller and no peers (the decision without a quorum), and the three controllers with
//    quorum.push: false (peer votes by poll only). Loopback; no privileges.
// 2. Soak. The three controllers and their gates (`agency-ha gate`, as in production: the
//    controller probes the gates' /health) in three Linux network namespaces behind a bridge;
//    netem adds loss and jitter to every region's link for --soak-seconds. Counts false
//    failovers (RegionFailed/RegionPromoted transitions, samples of a non-empty failedRegions),
//    partitioned samples and failed probes. Needs root and iproute2; skipped with the reason
//    otherwise.
// Every figure printed is measured in this run.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common.h"

namespace {

using bench::MsBetween;
using bench::Percentile;
using bench::SteadyClock;

struct Options {
  double runs = 20, soak_seconds = 600, loss = 10, delay_ms = 200, jitter_ms = 200;
  // Soak settings: a lossy WAN needs a longer probe timeout than the 0.5 s default (a lost SYN
  // alone costs 1 s), so the soak runs with these unless told otherwise.
  double soak_interval = 2, soak_timeout = 1.8, soak_failure_threshold = 6, soak_staleness = 12;
  double skip_failover = 0, skip_soak = 0;
  std::string binary = AHA_BINARY;
};

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

const std::vector<std::string> kRegions = {"a", "b", "c"};

std::string RegionsYaml(const std::map<std::string, std::string>& endpoints) {
  std::string y = "regions:\n";
  for (const auto& r : kRegions) {
    y += "  - {name: " + r + ", active: " + (r == "c" ? "false" : "true") + ", endpoint: \"" +
         endpoints.at(r) + "\"}\n";
  }
  return y;
}

// One controller's config. Empty `peers` = no quorum (the baseline).
std::string ControllerYaml(const std::string& self, const std::map<std::string, std::string>& eps,
                           const std::map<std::string, std::string>& peers,
                           const std::string& state_dir, const std::string& listen,
                           const std::string& token, const std::string& probe_quorum_extra) {
  std::string y = RegionsYaml(eps);
  y += "state: {file: \"" + state_dir + "\"}\n";
  y += "listen: \"" + listen + "\"\n";
  y += probe_quorum_extra;
  if (!peers.empty()) {
    y += "peers:\n";
    for (const auto& [name, url] : peers)
      y += "  - {name: " + name + ", url: \"" + url + "\"}\n";
    y += "quorum: {region: " + self + "}\n";
    y += "observationsToken: \"" + token + "\"\n";
  }
  return y;
}

nlohmann::json Status(const std::string& host, int port) {
  httplib::Client c(host, port);
  c.set_connection_timeout(1);
  c.set_read_timeout(2);
  auto res = c.Get("/v1/status");
  if (!res || res->status != 200) return nullptr;
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

std::string Key(const std::string& state_dir, const std::string& key) {
  return bench::ReadText(state_dir + "/" + key);
}

// ---- 1. failover time ---------------------------------------------------------------------

struct Run {
  double failed_ms = -1;    // both survivors wrote failedRegions = a
  double promoted_ms = -1;  // both survivors wrote servingRegions = b, c
  int promotions = 0;       // RegionPromoted transitions in the survivors' state (expect 1 each)
};

// quorum=false: one controller (b) without peers decides alone. push=false: quorum.push off (the
// peers' votes arrive with the poll only).
bool FailoverRun(const Options& o, bool quorum, bool push, std::mt19937& rng, Run* out) {
  bench::TempDir dir("aha-quorum-bench");
  if (!dir.ok()) return false;
  const std::string token = dir.path() + "/token";
  bench::WriteText(token, "bench-token-0123456789\n");
  std::map<std::string, std::unique_ptr<bench::Endpoint>> eps;
  std::map<std::string, std::string> urls;
  for (const auto& r : kRegions) {
    eps[r] = std::make_unique<bench::Endpoint>();
    if (!eps[r]->Up()) return false;
    urls[r] = eps[r]->url();
  }
  std::map<std::string, int> ports;
  for (const auto& r : kRegions)
    ports[r] = FreePort();
  const std::vector<std::string> ctls = quorum ? kRegions : std::vector<std::string>{"b"};
  std::map<std::string, std::unique_ptr<bench::Child>> children;
  for (const auto& r : ctls) {
    std::map<std::string, std::string> peers;
    if (quorum) {
      for (const auto& p : kRegions) {
        if (p != r) {
          peers[p] = "http://127.0.0.1:" + std::to_string(ports[p]) + "/v1/observations";
        }
      }
    }
    const std::string cfg = dir.path() + "/controller-" + r + ".yaml";
    std::string y = ControllerYaml(r, urls, peers, dir.path() + "/state-" + r,
                                   "127.0.0.1:" + std::to_string(ports[r]), token, "");
    if (quorum && !push) {
      const std::string q = "quorum: {region: " + r + "}\n";
      y.replace(y.find(q), q.size(), "quorum: {region: " + r + ", push: false}\n");
    }
    bench::WriteText(cfg, y);
    children[r] = std::make_unique<bench::Child>();
    if (!children[r]->Spawn({o.binary, "controller", "--config", cfg},
                            dir.path() + "/controller-" + r + ".log")) {
      return false;
    }
  }
  // Everyone up and, with a quorum, every controller reaching all three observers.
  const auto ready_deadline = SteadyClock::now() + std::chrono::seconds(60);
  for (;;) {
    bool all = true;
    for (const auto& r : ctls) {
      auto s = Status("127.0.0.1", ports[r]);
      if (s.is_null() || !s.value("ready", false)) {
        all = false;
      } else if (quorum &&
                 (s["quorum"].value("reachable", 0) != 3 || s.value("partitioned", true))) {
        all = false;
      }
    }
    if (all) break;
    if (SteadyClock::now() > ready_deadline || bench::g_interrupted) {
      std::fprintf(stderr, "controllers did not become ready; log tail:\n%s\n",
                   bench::Tail(bench::ReadText(dir.path() + "/controller-b.log"), 10).c_str());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Kill region a at a random phase of the probe round (default interval: 1 s).
  std::uniform_real_distribution<double> phase(0.0, 1.0);
  if (!bench::SleepFor(phase(rng))) return false;
  const auto t0 = SteadyClock::now();
  eps["a"]->Down();
  if (quorum) ::kill(children["a"]->pid(), SIGKILL);
  const std::vector<std::string> survivors =
      quorum ? std::vector<std::string>{"b", "c"} : std::vector<std::string>{"b"};
  const auto deadline = t0 + std::chrono::seconds(60);
  while (SteadyClock::now() < deadline && !bench::g_interrupted) {
    bool failed = true, promoted = true;
    for (const auto& r : survivors) {
      failed = failed && Key(dir.path() + "/state-" + r, "failedRegions") == "a\n";
      promoted = promoted && Key(dir.path() + "/state-" + r, "servingRegions") == "b\nc\n";
    }
    const auto now = SteadyClock::now();
    if (failed && out->failed_ms < 0) out->failed_ms = MsBetween(t0, now);
    if (promoted && out->promoted_ms < 0) out->promoted_ms = MsBetween(t0, now);
    if (out->failed_ms >= 0 && out->promoted_ms >= 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Two more probe rounds: nothing else may happen (one promotion per survivor).
  bench::SleepFor(2.0);
  for (const auto& r : survivors) {
    auto st = nlohmann::json::parse(Key(dir.path() + "/state-" + r, "state.json"), nullptr, false);
    if (st.is_discarded()) continue;
    for (const auto& t : st["transitions"]) {
      if (t.value("type", "") == "RegionPromoted") out->promotions++;
    }
  }
  return out->failed_ms >= 0 && out->promoted_ms >= 0;
}

void Summary(const char* what, const std::vector<double>& v) {
  std::printf("  %-44s n=%zu  p50 %7.0f ms  p99 %7.0f ms  min %7.0f  max %7.0f\n", what, v.size(),
              Percentile(v, 50), Percentile(v, 99), Percentile(v, 0), Percentile(v, 100));
}

int Failover(const Options& o) {
  std::mt19937 rng(std::random_device{}());
  std::vector<double> q_failed, q_promoted, b_failed, b_promoted, n_failed, n_promoted;
  int extra_promotions = 0, errors = 0;
  for (int i = 0; i < static_cast<int>(o.runs) && !bench::g_interrupted; ++i) {
    Run q, n, b;
    if (FailoverRun(o, true, true, rng, &q)) {
      q_failed.push_back(q.failed_ms);
      q_promoted.push_back(q.promoted_ms);
      extra_promotions += q.promotions - 2;  // one per survivor
    } else {
      ++errors;
    }
    if (FailoverRun(o, true, false, rng, &n)) {
      n_failed.push_back(n.failed_ms);
      n_promoted.push_back(n.promoted_ms);
      extra_promotions += n.promotions - 2;
    } else {
      ++errors;
    }
    if (FailoverRun(o, false, false, rng, &b)) {
      b_failed.push_back(b.failed_ms);
      b_promoted.push_back(b.promoted_ms);
    } else {
      ++errors;
    }
    std::fprintf(
        stderr,
        "run %d: quorum+push %.0f/%.0f ms, quorum poll only %.0f/%.0f ms, alone %.0f/%.0f ms\n",
        i + 1, q.failed_ms, q.promoted_ms, n.failed_ms, n.promoted_ms, b.failed_ms, b.promoted_ms);
  }
  std::printf(
      "failover time, three regions (a, b active; c passive), defaults (interval 1 s, "
      "timeout 0.5 s, failureThreshold 3, quorum 2 of 3, staleness 5 s); region a "
      "killed (endpoint and controller):\n");
  Summary("quorum+push: a failed at both survivors", q_failed);
  Summary("quorum+push: c promoted at both survivors", q_promoted);
  Summary("quorum, poll only (push: false): failed", n_failed);
  Summary("quorum, poll only: promoted", n_promoted);
  Summary("baseline (one controller, no peers): failed", b_failed);
  Summary("baseline: promoted", b_promoted);
  std::printf(
      "  ratio quorum+push/baseline (p50 failed): %.2f; p99 promoted quorum+push - baseline: %.0f "
      "ms\n",
      Percentile(q_failed, 50) / Percentile(b_failed, 50),
      Percentile(q_promoted, 99) - Percentile(b_promoted, 99));
  std::printf("  promotions beyond one per survivor: %d; runs with errors: %d\n", extra_promotions,
              errors);
  return errors == 0 && extra_promotions == 0 ? 0 : 1;
}

// ---- 2. soak in network namespaces ----------------------------------------------------------

std::string IpPath() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

// Runs a command (no shell), output appended to `log`; returns its exit status (-1: not run).
int Exec(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

class Namespaces {
 public:
  Namespaces(std::string ip, std::string log) : ip_(std::move(ip)), log_(std::move(log)) {
    sfx_ = std::to_string(::getpid() % 100000);
  }
  ~Namespaces() {
    for (auto it = ns_.rbegin(); it != ns_.rend(); ++it)
      Exec({ip_, "netns", "del", *it}, log_);
    Exec({ip_, "link", "del", "qbt" + sfx_}, log_);
  }
  std::string Ns(const std::string& r) const { return "qb" + r + sfx_; }
  std::string Addr(const std::string& r) const {
    return "10.214.7." + std::to_string(11 + (r[0] - 'a'));
  }
  bool Ip(const std::vector<std::string>& args) {
    std::vector<std::string> a{ip_};
    a.insert(a.end(), args.begin(), args.end());
    return Exec(a, log_) == 0;
  }
  bool Setup() {
    const std::string hub = "qbh" + sfx_;
    if (!Ip({"netns", "add", hub})) return false;
    ns_.push_back(hub);
    if (!Ip({"-n", hub, "link", "add", "br0", "type", "bridge"}) ||
        !Ip({"-n", hub, "link", "set", "br0", "up"})) {
      return false;
    }
    for (const auto& r : kRegions) {
      const std::string ns = Ns(r);
      if (!Ip({"netns", "add", ns})) return false;
      ns_.push_back(ns);
      const std::string hl = "qbl" + r + sfx_;
      if (!Ip({"-n", ns, "link", "set", "lo", "up"}) ||
          !Ip({"-n", hub, "link", "add", hl, "type", "veth", "peer", "name", "eth0", "netns",
               ns}) ||
          !Ip({"-n", hub, "link", "set", hl, "master", "br0", "up"}) ||
          !Ip({"-n", ns, "addr", "add", Addr(r) + "/24", "dev", "eth0"}) ||
          !Ip({"-n", ns, "link", "set", "eth0", "up"})) {
        return false;
      }
    }
    const std::string ht = "qbt" + sfx_;
    return Ip({"link", "add", ht, "type", "veth", "peer", "name", "qbu" + sfx_, "netns", hub}) &&
           Ip({"-n", hub, "link", "set", "qbu" + sfx_, "master", "br0", "up"}) &&
           Ip({"addr", "add", "10.214.7.1/24", "dev", ht}) && Ip({"link", "set", ht, "up"});
  }

 private:
  std::string ip_, log_, sfx_;
  std::vector<std::string> ns_;
};

int Soak(const Options& o) {
  std::printf("\nsoak: %.0f %% loss, %.0f ms ± %.0f ms delay on every region's link for %.0f s\n",
              o.loss, o.delay_ms, o.jitter_ms, o.soak_seconds);
  const std::string ip = IpPath();
  if (::geteuid() != 0 || ip.empty()) {
    std::printf("  skipped: %s\n",
                ip.empty() ? "iproute2 (ip) is not installed" : "network namespaces need root");
    return 0;
  }
  bench::TempDir dir("aha-quorum-soak");
  const std::string log = dir.path() + "/ip.log";
  Namespaces net(ip, log);
  if (!net.Setup()) {
    std::printf("  skipped: cannot create network namespaces: %s\n",
                bench::Tail(bench::ReadText(log), 3).c_str());
    return 0;
  }
  if (Exec({ip, "netns", "exec", net.Ns("a"), "tc", "qdisc", "add", "dev", "eth0", "root", "netem",
            "loss", "1%"},
           log) != 0) {
    std::printf(
        "  skipped: tc netem (sch_netem) is not available in this kernel: %s\n"
        "  (tests/system/quorum_netns.test.mjs scenario 5 falls back to a userspace switch;\n"
        "   QUORUM_SOAK_SECONDS=600 makes it a 10-minute soak)\n",
        bench::Tail(bench::ReadText(log), 1).c_str());
    return 0;
  }
  Exec({ip, "netns", "exec", net.Ns("a"), "tc", "qdisc", "del", "dev", "eth0", "root"}, log);
  const std::string token = dir.path() + "/token";
  bench::WriteText(token, "bench-token-0123456789\n");
  std::map<std::string, std::string> gates;
  for (const auto& r : kRegions)
    gates[r] = "http://" + net.Addr(r) + ":8081/health";
  char probe[512];
  std::snprintf(probe, sizeof probe,
                "probe: {intervalSeconds: %g, timeoutSeconds: %g, failureThreshold: %d, "
                "successThreshold: 2}\n",
                o.soak_interval, o.soak_timeout, static_cast<int>(o.soak_failure_threshold));
  std::vector<std::unique_ptr<bench::Child>> children;
  for (const auto& r : kRegions) {
    // The region's gate (what the controllers probe in production), with its own state dir.
    const std::string gcfg = dir.path() + "/gate-" + r + ".yaml";
    bench::WriteText(gcfg, "region: " + r + "\nlisten: \"0.0.0.0:8081\"\nstate: {file: \"" +
                               dir.path() + "/gstate-" + r + "\"}\n");
    std::filesystem::create_directories(dir.path() + "/gstate-" + r);
    children.push_back(std::make_unique<bench::Child>());
    children.back()->Spawn({ip, "netns", "exec", net.Ns(r), o.binary, "gate", "--config", gcfg},
                           dir.path() + "/gate-" + r + ".log");
    std::map<std::string, std::string> peers;
    for (const auto& p : kRegions) {
      if (p != r) peers[p] = "http://" + net.Addr(p) + ":9090/v1/observations";
    }
    std::string extra = probe;
    const std::string cfg = dir.path() + "/controller-" + r + ".yaml";
    std::string y =
        ControllerYaml(r, gates, peers, dir.path() + "/state-" + r, "0.0.0.0:9090", token, extra);
    // Soak quorum settings.
    char q[256];
    std::snprintf(q, sizeof q,
                  "quorum: {region: %s, stalenessSeconds: %g, peerTimeoutSeconds: %g}\n", r.c_str(),
                  o.soak_staleness, o.soak_timeout);
    y.replace(y.find("quorum: {region: " + r + "}\n"), ("quorum: {region: " + r + "}\n").size(), q);
    bench::WriteText(cfg, y);
    children.push_back(std::make_unique<bench::Child>());
    children.back()->Spawn(
        {ip, "netns", "exec", net.Ns(r), o.binary, "controller", "--config", cfg},
        dir.path() + "/controller-" + r + ".log");
  }
  const auto ready_deadline = SteadyClock::now() + std::chrono::seconds(90);
  for (;;) {
    bool all = true;
    for (const auto& r : kRegions) {
      auto s = Status(net.Addr(r), 9090);
      all = all && !s.is_null() && s["quorum"].value("reachable", 0) == 3 &&
            s.value("failedRegions", nlohmann::json::array()).empty();
    }
    if (all) break;
    if (SteadyClock::now() > ready_deadline || bench::g_interrupted) {
      std::printf("  error: controllers did not reach each other; log tail:\n%s\n",
                  bench::Tail(bench::ReadText(dir.path() + "/controller-a.log"), 10).c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  char loss[32], delay[32], jitter[32];
  std::snprintf(loss, sizeof loss, "%g%%", o.loss);
  std::snprintf(delay, sizeof delay, "%gms", o.delay_ms);
  std::snprintf(jitter, sizeof jitter, "%gms", o.jitter_ms);
  for (const auto& r : kRegions) {
    Exec({ip, "netns", "exec", net.Ns(r), "tc", "qdisc", "add", "dev", "eth0", "root", "netem",
          "loss", loss, "delay", delay, jitter},
         log);
  }
  long samples = 0, failed_samples = 0, partitioned_samples = 0;
  const auto end = SteadyClock::now() + bench::Seconds(o.soak_seconds);
  while (SteadyClock::now() < end && !bench::g_interrupted) {
    for (const auto& r : kRegions) {
      const std::string sd = dir.path() + "/state-" + r;
      ++samples;
      if (!Key(sd, "failedRegions").empty()) ++failed_samples;
      auto st = nlohmann::json::parse(Key(sd, "state.json"), nullptr, false);
      if (!st.is_discarded() && st.value("partitioned", false)) ++partitioned_samples;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (const auto& r : kRegions) {
    Exec({ip, "netns", "exec", net.Ns(r), "tc", "qdisc", "del", "dev", "eth0", "root"}, log);
  }
  int false_failed = 0, false_promoted = 0;
  double probe_failures = 0, probes = 0, poll_failures = 0, polls = 0;
  for (const auto& r : kRegions) {
    auto st = nlohmann::json::parse(Key(dir.path() + "/state-" + r, "state.json"), nullptr, false);
    if (!st.is_discarded()) {
      for (const auto& t : st["transitions"]) {
        false_failed += t.value("type", "") == "RegionFailed";
        false_promoted += t.value("type", "") == "RegionPromoted";
      }
    }
    httplib::Client c(net.Addr(r), 9090);
    c.set_read_timeout(5);
    if (auto res = c.Get("/metrics"); res && res->status == 200) {
      std::istringstream in(res->body);
      std::string line;
      while (std::getline(in, line)) {
        const double v = std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
        if (line.rfind("agency_ha_probes_total{", 0) == 0) {
          probes += v;
          if (line.find("result=\"failure\"") != std::string::npos) probe_failures += v;
        } else if (line.rfind("agency_ha_peer_polls_total{", 0) == 0) {
          polls += v;
          if (line.find("result=\"failure\"") != std::string::npos) poll_failures += v;
        }
      }
    }
  }
  std::printf(
      "  settings: interval %g s, timeout %g s, failureThreshold %d, quorum 2 of 3, "
      "staleness %g s\n",
      o.soak_interval, o.soak_timeout, static_cast<int>(o.soak_failure_threshold),
      o.soak_staleness);
  std::printf(
      "  false failovers: %d RegionFailed, %d RegionPromoted transitions; %ld of %ld "
      "samples with a non-empty failedRegions\n",
      false_failed, false_promoted, failed_samples, samples);
  std::printf("  partitioned samples: %ld of %ld\n", partitioned_samples, samples);
  std::printf(
      "  failed probes: %.0f of %.0f (%.1f %%); failed peer polls: %.0f of %.0f (%.1f %%)\n",
      probe_failures, probes, probes > 0 ? 100 * probe_failures / probes : 0, poll_failures, polls,
      polls > 0 ? 100 * poll_failures / polls : 0);
  return false_failed == 0 && false_promoted == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "The observer quorum with three real controllers: failover time (loopback), and a soak\n"
      "under netem loss and jitter in network namespaces (needs root).",
      "quorum_bench"};
  app.add_option("--runs", o.runs, "failover runs (and baseline runs), default 20")->type_name("N");
  app.add_option("--soak-seconds", o.soak_seconds, "loss/jitter soak duration, default 600")
      ->type_name("S");
  app.add_option("--loss", o.loss, "netem loss on every link (percent), default 10")
      ->type_name("PCT");
  app.add_option("--delay-ms", o.delay_ms, "netem delay, default 200")->type_name("MS");
  app.add_option("--jitter-ms", o.jitter_ms, "netem jitter, default 200")->type_name("MS");
  app.add_option("--soak-interval", o.soak_interval, "probe.intervalSeconds in the soak, default 2")
      ->type_name("S");
  app.add_option("--soak-timeout", o.soak_timeout,
                 "probe.timeoutSeconds (and peer timeout), default 1.8")
      ->type_name("S");
  app.add_option("--soak-failure-threshold", o.soak_failure_threshold,
                 "probe.failureThreshold in the soak, default 6")
      ->type_name("N");
  app.add_option("--soak-staleness", o.soak_staleness,
                 "quorum.stalenessSeconds in the soak, default 12")
      ->type_name("S");
  app.add_option("--skip-failover", o.skip_failover, "1 = skip the failover runs")->type_name("1");
  app.add_option("--skip-soak", o.skip_soak, "1 = skip the soak")->type_name("1");
  bench::AddBinaryOption(app, &o.binary);
  if (int rc = 0; !bench::ParseFlags(app, argc, argv, &rc)) return rc;
  bench::InstallSignalHandlers();
  int rc = 0;
  if (o.skip_failover == 0) rc |= Failover(o);
  if (o.skip_soak == 0) rc |= Soak(o);
  return rc;
}
