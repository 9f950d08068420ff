// apiload_bench: Kubernetes API requests per minute in steady state, when nothing changes.
//
// Spawns the Kubernetes API test server, N real `agency-ha gate` processes (ConfigMap source) and
// two `agency-ha controller` replicas with Lease leader election (client-go's default durations)
// whose regions are the gates' /health, so every region is healthy. Once the state is written and
// has not changed for a settle period, it clears the server's request log, measures for a window
// and breaks the log down by user x verb x resource. Each role has its own token, so the log tells
// the gates, each controller replica and the baseline apart. Baseline, in the same window: a naive
// poller (upstream's design amounts to each gate reading the state once per second), one thread
// per gate doing GET of the ConfigMap every second. Every figure printed comes from this run.
#include <stdlib.h>

#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "kube_server.h"

namespace {

using bench::MsBetween;
using bench::SteadyClock;
using bench::TimePoint;
using nlohmann::json;

constexpr const char* kNs = "agency";
constexpr const char* kName = "simple-agency-failover";
constexpr const char* kGateUser = "bench:gate";
constexpr const char* kPollerUser = "bench:naive-poller";

struct Options {
  double seconds = 60, gates = 3, settle = 5, retry_period = 2, lease_duration = 15,
         renew_deadline = 10, interval = 1, poll_period = 1;
  std::string binary = AHA_BINARY, node = bench::FindNode(),
              server = bench::DefaultKubeServerScript();
};

std::string LoadAverage() {
  std::istringstream in(bench::ReadText("/proc/loadavg"));
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string RegionOf(int i) {
  static const char* names[] = {"us-east-1", "eu-west-1", "ap-southeast-1"};
  return i < 3 ? names[i] : bench::RegionName(i);
}

json FindObject(const json& dump, const std::string& kind, const std::string& name) {
  for (const auto& o : dump.value("items", json::array())) {
    if (o.value("kind", "") == kind && o["metadata"].value("namespace", "") == kNs &&
        o["metadata"].value("name", "") == name)
      return o;
  }
  return nullptr;
}

bool IsWrite(const std::string& verb) {
  return verb == "create" || verb == "update" || verb == "patch" || verb == "delete";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Counts the Kubernetes API requests of N gates and 2 leader-elected controllers while\n"
      "nothing changes, next to a naive poller (one GET of the ConfigMap per gate per second).",
      "apiload_bench"};
  app.add_option("--seconds", o.seconds, "measurement window, default 60")->type_name("S");
  app.add_option("--gates", o.gates, "gates (= regions; the third is passive), 1..10, default 3")
      ->type_name("N");
  app.add_option("--settle", o.settle,
                 "the state must be unchanged this long before measuring, default 5")
      ->type_name("S");
  app.add_option("--interval", o.interval, "controller probe.intervalSeconds, default 1")
      ->type_name("S");
  app.add_option("--retry-period", o.retry_period,
                 "leaderElection.retryPeriodSeconds, default 2 (client-go)")
      ->type_name("S");
  app.add_option("--lease-duration", o.lease_duration,
                 "leaderElection.leaseDurationSeconds, default 15 (client-go)")
      ->type_name("S");
  app.add_option("--renew-deadline", o.renew_deadline,
                 "leaderElection.renewDeadlineSeconds, default 10 (client-go)")
      ->type_name("S");
  app.add_option("--poll-period", o.poll_period, "the naive poller's period per gate, default 1")
      ->type_name("S");
  bench::AddBinaryOption(app, &o.binary);
  bench::AddKubeServerOptions(app, &o.node, &o.server);
  if (int rc = 0; !bench::ParseFlags(app, argc, argv, &rc)) return rc;
  const int n = static_cast<int>(o.gates);
  if (n < 1 || n > 10 || o.seconds < 1 || o.settle < 0 || o.poll_period <= 0 || o.interval < 0.05) {
    std::fprintf(stderr, "apiload_bench: need 1..10 gates, seconds >= 1 (see --help)\n");
    return 2;
  }
  if (!bench::HaveNode("apiload_bench", o.node)) return 2;
  bench::InstallSignalHandlers();
  const std::string load_start = LoadAverage();
  bench::TempDir tmp("agency-ha-apiload-bench");
  if (!tmp.ok()) {
    std::perror("apiload_bench: mkdtemp");
    return 1;
  }
  // Destruction order: children (declared after the server) first, then the server, the temp dir.
  bench::KubeServer kube;
  std::vector<std::unique_ptr<bench::Child>> gates, controllers;
  auto die = [&](const std::string& why) {
    std::fprintf(stderr, "apiload_bench: %s\n", why.c_str());
    if (bench::g_interrupted) return 130;
    for (const char* f : {"controller-1.log", "controller-2.log", "gate-0.log", "kube-server.log"})
      std::fprintf(stderr, "%s (last lines):\n%s\n", f,
                   bench::Tail(bench::ReadText(tmp.path() + "/" + f), 8).c_str());
    return 1;
  };
  if (!kube.Start(o.node, o.server, tmp.path())) return die(kube.error());
  const std::string kc_gate = tmp.path() + "/gate.kubeconfig", kc_poll = tmp.path() + "/poll.kc";
  if (!kube.AddToken("bench-gate", kGateUser) || !kube.AddToken("bench-poller", kPollerUser) ||
      !kube.WriteKubeconfig(kc_gate, "bench-gate") ||
      !kube.WriteKubeconfig(kc_poll, "bench-poller"))
    return die("cannot set up tokens");

  // Gates (ConfigMap source, watch).
  std::vector<std::string> names, health;
  for (int i = 0; i < n; ++i) {
    const int port = bench::FreePort();
    const std::string cfg = tmp.path() + "/gate-" + std::to_string(i) + ".yaml";
    names.push_back(RegionOf(i));
    if (port <= 0 || !bench::WriteText(cfg, bench::GateYaml(names[i], port, kc_gate, "")))
      return die("cannot configure gate " + names[i]);
    gates.push_back(std::make_unique<bench::Child>());
    if (!gates.back()->Spawn({o.binary, "gate", "--config", cfg},
                             tmp.path() + "/gate-" + std::to_string(i) + ".log"))
      return die("cannot spawn gate " + names[i]);
    if (!bench::WaitHttp(port, "/healthz", 0, 30, gates.back().get()))
      return die("gate " + names[i] + " did not come up");
    health.push_back("http://127.0.0.1:" + std::to_string(port) + "/health");
  }
  // Two controller replicas (identities controller-1/2, one token each).
  std::string yaml = "regions:\n";
  for (int i = 0; i < n; ++i)
    yaml += "  - {name: " + names[i] + (i == 2 ? ", active: false" : "") + ", endpoint: \"" +
            health[i] + "\"}\n";
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "probe: {intervalSeconds: %g, timeoutSeconds: %g}\n"
                "state: {configMap: {namespace: %s, name: %s}}\n"
                "leaderElection:\n  lease: {namespace: %s, name: %s-controller}\n"
                "  leaseDurationSeconds: %g\n  renewDeadlineSeconds: %g\n"
                "  retryPeriodSeconds: %g\nlisten: \"127.0.0.1:0\"\n",
                o.interval, std::min(0.5, o.interval / 2), kNs, kName, kNs, kName, o.lease_duration,
                o.renew_deadline, o.retry_period);
  yaml += buf;
  for (int r = 1; r <= 2; ++r) {
    const std::string id = "controller-" + std::to_string(r), token = "bench-" + id;
    const std::string kc = tmp.path() + "/" + id + ".kubeconfig";
    const std::string cfg = tmp.path() + "/" + id + ".yaml";
    if (!kube.AddToken(token, "bench:" + id) || !kube.WriteKubeconfig(kc, token) ||
        !bench::WriteText(cfg, yaml + "kubeconfig: \"" + kc + "\"\n"))
      return die("cannot configure " + id);
    ::setenv("POD_NAME", id.c_str(), 1);  // the replica's identity (no threads run yet)
    controllers.push_back(std::make_unique<bench::Child>());
    const bool ok = controllers.back()->Spawn({o.binary, "controller", "--config", cfg},
                                              tmp.path() + "/" + id + ".log");
    ::unsetenv("POD_NAME");
    if (!ok) return die("cannot spawn " + id);
  }

  // Wait until the state is written (servingRegions present, nothing failed, a lease holder) and
  // the ConfigMap's resourceVersion has not moved for `settle` seconds.
  std::string rv, holder;
  TimePoint stable_since = SteadyClock::now();
  const TimePoint deadline = SteadyClock::now() + bench::Seconds(60 + o.settle);
  for (;;) {
    if (bench::g_interrupted) return die("interrupted");
    for (auto& c : gates)
      if (!c->Running()) return die("a gate exited");
    for (auto& c : controllers)
      if (!c->Running()) return die("a controller exited");
    if (SteadyClock::now() > deadline) return die("state not written and stable in time");
    json dump = kube.Admin("GET", "/objects");
    json cm = FindObject(dump, "ConfigMap", kName);
    json lease = FindObject(dump, "Lease", std::string(kName) + "-controller");
    const bool written = cm.is_object() && cm.contains("data") &&
                         cm["data"].contains("servingRegions") &&
                         cm["data"].value("failedRegions", "x").empty();
    holder = lease.is_object() ? lease["spec"].value("holderIdentity", "") : "";
    const std::string now_rv = written ? cm["metadata"].value("resourceVersion", "") : "";
    if (now_rv != rv || holder.empty()) {
      rv = now_rv;
      stable_since = SteadyClock::now();
    } else if (!rv.empty() && MsBetween(stable_since, SteadyClock::now()) >= o.settle * 1000) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  // The naive poller: one client per simulated gate, created here (curl init off the threads).
  auto pconn = aha::kube::LoadKubeconfig(kc_poll, "");
  if (!pconn) return die("poller kubeconfig: " + pconn.message());
  std::vector<std::unique_ptr<aha::kube::Client>> pollers;
  for (int i = 0; i < n; ++i)
    pollers.push_back(std::make_unique<aha::kube::Client>(*pconn));
  std::atomic<int> poll_errors{0};

  std::printf("agency-ha API load bench\n");
  std::printf("  kube test server  %s (pid %d), %s\n", o.server.c_str(), kube.pid(),
              kube.url().c_str());
  std::printf("  gates             %d x `%s gate`, state configmap %s/%s (list+watch), user %s\n",
              n, o.binary.c_str(), kNs, kName, kGateUser);
  std::printf(
      "  controllers       2 replicas (users bench:controller-1/2), probe every %g s of the gates' "
      "/health,\n"
      "                    leaderElection lease %g s, renew deadline %g s, retry period %g s; "
      "leader %s\n",
      o.interval, o.lease_duration, o.renew_deadline, o.retry_period, holder.c_str());
  std::printf(
      "  baseline          naive poller, user %s: %d threads, each GET of the ConfigMap every "
      "%g s\n",
      kPollerUser, n, o.poll_period);
  std::printf(
      "  window            %g s, after the state was unchanged for %g s (ConfigMap rv %s)\n",
      o.seconds, o.settle, rv.c_str());
  std::printf("  load average      %s at the start\n", load_start.c_str());
  std::fflush(stdout);

  if (kube.Admin("DELETE", "/requests").contains("error")) return die("cannot clear the log");
  const long long w0 = bench::WallMillis();
  const TimePoint t0 = SteadyClock::now(), t_end = t0 + bench::Seconds(o.seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      // Spread the simulated gates over the period, as independent pods would be.
      TimePoint next = t0 + bench::Seconds(o.poll_period * i / n);
      while (!bench::g_interrupted) {
        std::this_thread::sleep_until(next);
        if (SteadyClock::now() >= t_end || bench::g_interrupted) break;
        if (!pollers[i]->Get(aha::kube::kConfigMaps, kNs, kName)) ++poll_errors;
        next += bench::Seconds(o.poll_period);
      }
    });
  }
  bench::SleepFor(o.seconds);
  for (auto& t : threads)
    t.join();
  // The window is exactly `seconds` long; requests are assigned by their logged start time.
  const long long w1 = w0 + std::llround(o.seconds * 1000);
  while (bench::WallMillis() < w1 + 100 && !bench::g_interrupted)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (bench::g_interrupted) return die("interrupted");
  for (auto& c : controllers)
    if (!c->Running()) return die("a controller exited during the window");
  json log = kube.Admin("GET", "/requests"), watches = kube.Admin("GET", "/watches");
  if (log.contains("error")) return die(log["error"].get<std::string>());
  const double window_s = static_cast<double>(w1 - w0) / 1000, per_min = 60.0 / window_s;

  // user -> (verb, resource) -> count, for requests that started inside the window.
  std::map<std::string, std::map<std::pair<std::string, std::string>, int>> table;
  std::map<std::string, int> per_user;
  int cm_writes = 0, lease_writes = 0, lease_reads = 0, watch_opened = 0, cm_reads = 0, ours = 0;
  int gate_reqs = 0, outside = 0, errors = 0;
  for (const auto& r : log.value("requests", json::array())) {
    const long long t = bench::IsoMillis(r.value("time", ""));
    if (t < w0 || t >= w1) {
      ++outside;
      continue;
    }
    const std::string user = r.value("user", ""), verb = r.value("verb", "");
    const std::string res = r.value("resource", "");
    ++table[user][{verb, res}];
    ++per_user[user];
    const int status = r.value("status", 0);
    if (status >= 400) ++errors;
    if (user == kPollerUser) continue;
    ++ours;
    if (user == kGateUser) ++gate_reqs;
    if (res == "configmaps" && IsWrite(verb)) ++cm_writes;
    if (res == "configmaps" && (verb == "get" || verb == "list")) ++cm_reads;
    if (res == "leases" && IsWrite(verb)) ++lease_writes;
    if (res == "leases" && verb == "get") ++lease_reads;
    if (verb == "watch") ++watch_opened;
  }
  const int poller = per_user[kPollerUser];

  std::printf("  load average      %s at the end\n\n", LoadAverage().c_str());
  std::printf(
      "requests in the %.1f s window, by user x verb x resource (per minute = count x %.3f)\n",
      window_s, per_min);
  std::printf("%-24s %-8s %-14s %7s %9s\n", "user", "verb", "resource", "count", "per min");
  for (const char* u : {kGateUser, "bench:controller-1", "bench:controller-2", kPollerUser}) {
    if (!table.count(u)) std::printf("%-24s %-8s %-14s %7d %9.1f\n", u, "-", "(none)", 0, 0.0);
  }
  for (const auto& [user, rows] : table) {
    for (const auto& [key, count] : rows) {
      std::printf("%-24s %-8s %-14s %7d %9.1f\n", user.c_str(), key.first.c_str(),
                  key.second.c_str(), count, count * per_min);
    }
  }
  std::printf("(%d requests outside the window ignored; %d answered >= 400; %d poller errors)\n\n",
              outside, errors, poll_errors.load());

  const double lease_expect = 60.0 / o.retry_period;
  std::printf("agency-ha (%d gates + 2 controllers), per minute:\n", n);
  std::printf("  ConfigMap writes (create/update/patch/delete)  %7.1f   target 0: %s\n",
              cm_writes * per_min, cm_writes == 0 ? "MET" : "MISSED");
  std::printf(
      "  Lease writes (renewals)                         %7.1f   expected ~%.0f (leader, "
      "60 / retryPeriod)\n",
      lease_writes * per_min, lease_expect);
  std::printf(
      "  Lease gets                                      %7.1f   expected ~%.0f (leader "
      "and standby, each 60 / retryPeriod)\n",
      lease_reads * per_min, 2 * lease_expect);
  std::printf("  ConfigMap gets/lists                            %7.1f\n", cm_reads * per_min);
  std::printf(
      "  watch requests opened                           %7.1f   (%d in the window; open "
      "streams at the end: %d)\n",
      watch_opened * per_min, watch_opened, watches.value("open", -1));
  std::printf(
      "  all requests                                    %7.1f   (gates %.1f, controllers "
      "%.1f)\n\n",
      ours * per_min, gate_reqs * per_min, (ours - gate_reqs) * per_min);
  const double computed = n * 60.0 / o.poll_period;
  std::printf("baseline (upstream design: each gate reads the state every %g s), per minute:\n",
              o.poll_period);
  std::printf("  naive poller, measured in the log    %7.1f   (computed: %d gates x %.0f = %.1f)\n",
              poller * per_min, n, 60.0 / o.poll_period, computed);
  std::printf(
      "ratio agency-ha gates / naive poller: %.4f;  all agency-ha requests / naive poller: "
      "%.4f\n",
      poller > 0 ? static_cast<double>(gate_reqs) / poller : 0.0,
      poller > 0 ? static_cast<double>(ours) / poller : 0.0);
  std::printf(
      "\nThe gates' watch streams were opened before the window; they are re-opened when the "
      "server\nends them (timeoutSeconds 300), so a 60 s window normally sees none. Bookmarks "
      "and events\nflow on the open streams and are not requests.\n");
  return 0;
}
