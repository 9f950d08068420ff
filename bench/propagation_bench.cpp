// propagation_bench: how long a state change takes to flip a real gate's /ready.
//
// Spawns the Kubernetes API test server (tests/kube-apiserver/server.mjs) and two real
// `agency-ha gate` processes for the same region: one on the ConfigMap source (list + watch), one
// on the file source (inotify on the state directory: the baseline). For each side it alternates
// servingRegions between containing and not containing the gate's region, writing through the C++
// client (a merge PATCH of the ConfigMap) or FileStateStore::Write, and polls the gate's /ready on
// one kept-alive connection until the answer flips. t0 is taken just before the write request is
// sent; the flip time is when the first flipped answer arrived. Every figure printed comes from
// this run.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "kube_server.h"
#include "state/configmap_store.h"
#include "state/store.h"

namespace {

using bench::MsBetween;
using bench::Percentile;
using bench::SteadyClock;
using bench::TimePoint;

constexpr const char* kRegion = "us-east-1";
constexpr const char* kServing = "eu-west-1\nus-east-1\n";  // exact names, one per line, sorted
constexpr const char* kDrained = "eu-west-1\n";
constexpr const char* kNs = "agency";
constexpr const char* kName = "simple-agency-failover";
constexpr double kTargetP99Ms = 250;

struct Options {
  double changes = 200, poll_ms = 0.5, pause_ms = 50, seed = 0, timeout_s = 10;
  std::string binary = AHA_BINARY, node = bench::FindNode(),
              server = bench::DefaultKubeServerScript();
};

std::string LoadAverage() {
  std::string s = bench::ReadText("/proc/loadavg");
  std::istringstream in(s);
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Sample {
  double flip_ms, write_ms;  // t0 -> first flipped /ready answer; t0 -> write call returned
  int polls;
};

struct Side {
  std::string label, what;
  std::vector<Sample> samples;
  std::vector<double> exchange_ms;  // every /ready request -> answer
  int connections = 0;
  std::vector<double> Flip() const {
    std::vector<double> v;
    for (const auto& s : samples)
      v.push_back(s.flip_ms);
    return v;
  }
  std::vector<double> Write() const {
    std::vector<double> v;
    for (const auto& s : samples)
      v.push_back(s.write_ms);
    return v;
  }
  std::vector<double> AfterWrite() const {
    std::vector<double> v;
    for (const auto& s : samples)
      v.push_back(s.flip_ms - s.write_ms);
    return v;
  }
};

// Runs `changes` alternating writes through `write` (returns an error text or "") and times each
// flip of the gate's /ready. Returns "" or what went wrong.
template <typename WriteFn>
std::string Measure(const Options& o, int port, bench::Child& gate, WriteFn write,
                    std::mt19937& rng, Side* side) {
  bench::ReadyPoller c(port);
  // Start drained and wait until the gate says so: its source is synced and live.
  if (auto e = write(kDrained); !e.empty()) return e;
  if (!bench::WaitHttp(port, "/ready", 503, 30, &gate)) return "gate never reported drained";
  std::uniform_real_distribution<double> pause(0.0, o.pause_ms / 1000);
  const auto poll = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double, std::milli>(o.poll_ms));
  for (int i = 0; i < static_cast<int>(o.changes); ++i) {
    if (bench::g_interrupted) return "interrupted";
    if (!gate.Running()) return "gate exited";
    const bool serve = i % 2 == 0;
    const int want = serve ? 200 : 503;
    // The write runs on its own thread so /ready is polled during it too: a flip that happens
    // before the write call returns is seen when it happens.
    TimePoint t0{}, written{};
    std::string write_error;
    const TimePoint start = SteadyClock::now(), deadline = start + bench::Seconds(o.timeout_s);
    std::thread writer([&] {
      t0 = SteadyClock::now();
      write_error = write(serve ? kServing : kDrained);
      written = SteadyClock::now();
    });
    TimePoint next = start, flipped{};
    int polls = 0;
    std::string problem;
    for (;;) {
      const TimePoint sent = SteadyClock::now();
      const int status = c.Get();
      const TimePoint now = SteadyClock::now();
      side->exchange_ms.push_back(MsBetween(sent, now));
      ++polls;
      if (status == want) {
        flipped = now;
        break;
      }
      if (status != -1 && status != 200 && status != 503) {
        problem = "unexpected /ready status " + std::to_string(status);
      } else if (bench::g_interrupted) {
        problem = "interrupted";
      } else if (now > deadline) {
        problem = "change " + std::to_string(i) + " did not flip /ready to " +
                  std::to_string(want) + " within " + std::to_string(o.timeout_s) + " s";
      }
      if (!problem.empty()) break;
      next += poll;
      if (next < now) next = now;
      std::this_thread::sleep_until(next);
    }
    writer.join();
    if (!write_error.empty()) return write_error;
    if (!problem.empty()) return problem;
    side->samples.push_back({MsBetween(t0, flipped), MsBetween(t0, written), polls});
    std::this_thread::sleep_for(bench::Seconds(pause(rng)));
  }
  side->connections = c.connections();
  return "";
}

void Row(const char* side, const char* what, const std::vector<double>& v) {
  std::printf("%-16s %-22s %4zu %8.2f %8.2f %8.2f %8.2f %8.2f\n", side, what, v.size(),
              Percentile(v, 0), Percentile(v, 50), Percentile(v, 90), Percentile(v, 99),
              Percentile(v, 100));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Measures state change -> `agency-ha gate` /ready flip, over the ConfigMap watch (kube test\n"
      "server) and, as the baseline, over the file store (inotify).",
      "propagation_bench"};
  app.add_option("--changes", o.changes,
                 "state changes per side (alternating serving/drained), default 200")
      ->type_name("N");
  app.add_option("--poll-ms", o.poll_ms,
                 "/ready polling period on one kept-alive connection, default 0.5")
      ->type_name("MS");
  app.add_option("--pause-ms", o.pause_ms,
                 "random pause 0..MS after a flip before the next change, default 50")
      ->type_name("MS");
  app.add_option("--timeout", o.timeout_s,
                 "give up when a change has not flipped /ready within S, default 10")
      ->type_name("S");
  app.add_option("--seed", o.seed, "seed of the random pauses, default random")->type_name("N");
  bench::AddBinaryOption(app, &o.binary);
  bench::AddKubeServerOptions(app, &o.node, &o.server);
  if (int rc = 0; !bench::ParseFlags(app, argc, argv, &rc)) return rc;
  if (o.changes < 2 || o.poll_ms < 0.05 || o.pause_ms < 0 || o.timeout_s <= 0) {
    std::fprintf(stderr, "propagation_bench: need changes >= 2, poll-ms >= 0.05 (see --help)\n");
    return 2;
  }
  if (!bench::HaveNode("propagation_bench", o.node)) return 2;
  const unsigned seed = o.seed > 0 ? static_cast<unsigned>(o.seed) : std::random_device{}();
  std::mt19937 rng(seed);
  bench::InstallSignalHandlers();
  const std::string load_start = LoadAverage();

  bench::TempDir tmp("agency-ha-propagation-bench");
  if (!tmp.ok()) {
    std::perror("propagation_bench: mkdtemp");
    return 1;
  }
  // Destruction order: gates first, then the server (declared first), then the temp dir.
  bench::KubeServer kube;
  bench::Child gate_cm, gate_file;
  auto die = [&](const std::string& why) {
    std::fprintf(stderr, "propagation_bench: %s\n", why.c_str());
    if (bench::g_interrupted) return 130;
    for (const char* f : {"gate-configmap.log", "gate-file.log", "kube-server.log"}) {
      std::fprintf(stderr, "%s (last lines):\n%s\n", f,
                   bench::Tail(bench::ReadText(tmp.path() + "/" + f), 8).c_str());
    }
    return 1;
  };
  if (!kube.Start(o.node, o.server, tmp.path())) return die(kube.error());
  auto conn = aha::kube::LoadKubeconfig(kube.kubeconfig(), "");
  if (!conn) return die("kubeconfig: " + conn.message());
  auto client = std::make_shared<aha::kube::Client>(*conn);

  const std::string state_dir = tmp.path() + "/state";
  const int port_cm = bench::FreePort(), port_file = bench::FreePort();
  const std::string cfg_cm = tmp.path() + "/gate-configmap.yaml";
  const std::string cfg_file = tmp.path() + "/gate-file.yaml";
  if (port_cm <= 0 || port_file <= 0 || port_cm == port_file) return die("no free ports");
  // The ConfigMap exists before the gate starts (created by the store, as the controller does).
  aha::state::ConfigMapStateStore store(client, kNs, kName);
  if (auto w = store.Write({{"servingRegions", kDrained}}); !w)
    return die("create: " + w.message());
  aha::state::FileStateStore file_store(state_dir);
  if (auto w = file_store.Write({{"servingRegions", kDrained}}); !w) return die(w.message());
  if (!bench::WriteText(cfg_cm, bench::GateYaml(kRegion, port_cm, kube.kubeconfig(), "")) ||
      !bench::WriteText(cfg_file, bench::GateYaml(kRegion, port_file, "", state_dir))) {
    return die("cannot write gate configs");
  }
  if (!gate_cm.Spawn({o.binary, "gate", "--config", cfg_cm}, tmp.path() + "/gate-configmap.log") ||
      !gate_file.Spawn({o.binary, "gate", "--config", cfg_file}, tmp.path() + "/gate-file.log")) {
    return die("cannot spawn the gates");
  }
  if (!bench::WaitHttp(port_cm, "/healthz", 0, 30, &gate_cm) ||
      !bench::WaitHttp(port_file, "/healthz", 0, 30, &gate_file)) {
    return die("gates did not come up");
  }

  std::printf("agency-ha propagation bench (seed %u)\n", seed);
  std::printf("  kube test server  %s %s (pid %d), %s\n", o.node.c_str(), o.server.c_str(),
              kube.pid(), kube.url().c_str());
  std::printf(
      "  gate, configmap   %s gate (pid %d), region %s, state configmap %s/%s (list+watch)\n",
      o.binary.c_str(), gate_cm.pid(), kRegion, kNs, kName);
  std::printf("  gate, file        %s gate (pid %d), region %s, state dir %s (inotify)\n",
              o.binary.c_str(), gate_file.pid(), kRegion, state_dir.c_str());
  std::printf(
      "  changes           %d per side, servingRegions alternating \"eu-west-1,us-east-1\" / "
      "\"eu-west-1\";\n"
      "                    writes: merge PATCH of the ConfigMap (kube::Client) / "
      "FileStateStore::Write;\n"
      "                    /ready polled every %.2f ms on one kept-alive connection; random pause "
      "0..%.0f ms between changes\n",
      static_cast<int>(o.changes), o.poll_ms, o.pause_ms);
  std::printf("  load average      %s at the start\n", load_start.c_str());
  std::fflush(stdout);

  Side file{"file inotify", "", {}};
  Side cm{"configmap watch", "", {}};
  const TimePoint t_file = SteadyClock::now();
  std::string err = Measure(
      o, port_file, gate_file,
      [&](const char* v) -> std::string {
        auto w = file_store.Write({{"servingRegions", v}});
        return w ? "" : "file write: " + w.message();
      },
      rng, &file);
  if (!err.empty()) return die("file side: " + err);
  const double file_s = MsBetween(t_file, SteadyClock::now()) / 1000;
  const TimePoint t_cm = SteadyClock::now();
  err = Measure(
      o, port_cm, gate_cm,
      [&](const char* v) -> std::string {
        auto r = client->Patch(aha::kube::kConfigMaps, kNs, kName, aha::kube::PatchType::kMerge,
                               {{"data", {{"servingRegions", v}}}});
        return r ? "" : "patch: " + r.message();
      },
      rng, &cm);
  if (!err.empty()) return die("configmap side: " + err);
  const double cm_s = MsBetween(t_cm, SteadyClock::now()) / 1000;
  const std::string load_end = LoadAverage();
  int polls = 0;
  for (const auto* s : {&file, &cm})
    for (const auto& x : s->samples)
      polls += x.polls;

  std::printf("  wall time         file side %.1f s, configmap side %.1f s; %d /ready polls\n",
              file_s, cm_s, polls);
  for (const auto* s : {&file, &cm}) {
    std::printf(
        "  /ready exchange   %-15s p50 %.3f ms, p99 %.3f ms, max %.3f ms (%zu polls, %d "
        "connections)\n",
        s->label.c_str(), Percentile(s->exchange_ms, 50), Percentile(s->exchange_ms, 99),
        Percentile(s->exchange_ms, 100), s->exchange_ms.size(), s->connections);
  }
  std::printf("  load average      %s at the end\n\n", load_end.c_str());
  std::printf("%-16s %-22s %4s %8s %8s %8s %8s %8s\n", "ms", "", "n", "min", "p50", "p90", "p99",
              "max");
  Row("configmap watch", "write -> /ready flip", cm.Flip());
  Row("", "write call (PATCH)", cm.Write());
  Row("", "flip after write ret.", cm.AfterWrite());
  Row("file inotify", "write -> /ready flip", file.Flip());
  Row("", "write call", file.Write());
  Row("", "flip after write ret.", file.AfterWrite());
  const auto a = cm.Flip(), b = file.Flip();
  std::printf("%-16s %-22s %4s %8.2f %8.2f %8.2f %8.2f %8.2f\n", "ratio", "configmap / file", "",
              Percentile(a, 0) / Percentile(b, 0), Percentile(a, 50) / Percentile(b, 50),
              Percentile(a, 90) / Percentile(b, 90), Percentile(a, 99) / Percentile(b, 99),
              Percentile(a, 100) / Percentile(b, 100));
  const double p99 = Percentile(a, 99);
  const bool met = p99 <= kTargetP99Ms;
  std::printf(
      "\nt0 = just before the write request is sent; flip = arrival of the first /ready answer\n"
      "with the new status (includes up to one polling period and one loopback HTTP exchange).\n"
      "\"flip after write ret.\" is negative when the gate flipped before the write call "
      "returned.\n"
      "target (issue): p99 <= %.0f ms from a state change to the gate over the ConfigMap watch: "
      "%s (p99 %.2f ms)\n"
      "upstream (documented, not measured here): the gate read a mounted ConfigMap volume, which\n"
      "kubelet refreshes on its periodic sync (default 1 min) plus its ConfigMap cache delay, "
      "i.e.\n60-90 s (kubernetes.io/docs/concepts/configuration/configmap/"
      "#mounted-configmaps-are-updated-automatically).\n",
      kTargetP99Ms, met ? "MET" : "MISSED", p99);
  return 0;
}
