// footprint_bench: memory and CPU of the real controller probing 20 regions every second, next to
// the upstream design measured in the same run on the same endpoints.
//
// The upstream controller was a shell loop: for each region `curl -sf URL || mark failed`, then
// `kubectl patch`, then `sleep 1`. The baseline here is that loop without kubectl, run by
// /bin/bash for the same window. The bench serves every endpoint itself on loopback (by default
// half of them answer 503, so failure paths are included) and counts the probes each side makes.
//
// Controller: CPU is utime+stime from /proc/PID/stat over the window (after a warm-up), peak RSS
// is VmHWM. Baseline: CPU is the rusage of bash and every curl/sleep it ran (RUSAGE_CHILDREN after
// reaping them; this process is a subreaper so no grandchild escapes), peak RSS is the largest
// ru_maxrss among them. The baseline runs first so RUSAGE_CHILDREN holds nothing else.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common.h"
#include "failover/failover_state.h"
#include "state/store.h"

namespace {

using bench::MsBetween;
using bench::SteadyClock;
using bench::TimePoint;

struct Options {
  double regions = 20, failing = 10, interval = 1.0, seconds = 60;
  std::string binary = AHA_BINARY;
};

size_t TotalHits(const std::vector<std::unique_ptr<bench::Endpoint>>& eps) {
  size_t n = 0;
  for (const auto& e : eps)
    n += e->Hits().size();
  return n;
}

double CpuSeconds(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

struct Measured {
  double peak_kib = 0;  // peak RSS
  double cpu_s = 0;     // CPU seconds over the window
  double wall_s = 0;    // window length
  size_t probes = 0;    // requests the endpoints answered during the window
  double cpu_pct() const { return 100 * cpu_s / wall_s; }
};

// Proportional and private memory of a process at one moment, from /proc/PID/smaps: the whole
// process (as smaps_rollup sums it) and the part in shared-library mappings (file mappings whose
// path contains ".so"), with the number of distinct libraries. RSS counts a shared page fully in
// every process that maps it; PSS divides it among them; private pages are this process's alone.
struct MemoryView {
  long rss = 0, pss = 0, priv = 0;              // KiB, whole process
  long lib_rss = 0, lib_pss = 0, lib_priv = 0;  // KiB, shared-library mappings only
  size_t libs = 0;
  bool ok = false;
};

MemoryView ReadMemoryView(pid_t pid) {
  MemoryView v;
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps");
  std::string line, path;
  std::set<std::string> libs;
  auto field = [&](const char* name, long* out) {
    const size_t n = std::strlen(name);
    if (line.compare(0, n, name) != 0 || line.size() <= n || line[n] != ':') return false;
    *out = std::strtol(line.c_str() + n + 1, nullptr, 10);
    return true;
  };
  while (std::getline(f, line)) {
    // A mapping header: "start-end perms offset dev inode [path]"; field lines start "Name:".
    const size_t colon = line.find(':'), space = line.find(' ');
    if (space != std::string::npos && (colon == std::string::npos || colon > space)) {
      std::istringstream h(line);
      std::string range, perms, offset, dev, inode;
      h >> range >> perms >> offset >> dev >> inode;
      path.clear();
      std::getline(h >> std::ws, path);
      if (path.find(".so") != std::string::npos) libs.insert(path);
      continue;
    }
    const bool lib = path.find(".so") != std::string::npos;
    long kib = 0;
    if (field("Rss", &kib)) {
      v.rss += kib;
      if (lib) v.lib_rss += kib;
    } else if (field("Pss", &kib)) {
      v.pss += kib;
      if (lib) v.lib_pss += kib;
    } else if (field("Private_Clean", &kib) || field("Private_Dirty", &kib)) {
      v.priv += kib;
      if (lib) v.lib_priv += kib;
    }
    v.ok = true;
  }
  v.libs = libs.size();
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Measures peak RSS and CPU of the real `agency-ha controller` and of the upstream shell "
      "loop\n"
      "(bash + curl per region + sleep) probing the same loopback endpoints for the same window.",
      "footprint_bench"};
  app.add_option("--regions", o.regions, "regions, default 20")->type_name("N");
  app.add_option("--failing", o.failing, "of which answer 503, default 10 (half)")->type_name("N");
  app.add_option("--interval", o.interval, "probe interval (and the loop's sleep), default 1")
      ->type_name("S");
  app.add_option("--seconds", o.seconds, "measured window for each side, default 60")
      ->type_name("S");
  bench::AddBinaryOption(app, &o.binary);
  if (int rc = 0; !bench::ParseFlags(app, argc, argv, &rc)) return rc;
  const int n = static_cast<int>(o.regions), failing = static_cast<int>(o.failing);
  if (n < 1 || n > 64 || failing < 0 || failing >= n || o.interval < 0.05 || o.seconds < 1) {
    std::fprintf(stderr,
                 "footprint_bench: need 1..64 regions, 0 <= failing < regions, "
                 "interval >= 0.05, seconds >= 1 (see --help)\n");
    return 2;
  }
  const double timeout = std::min(0.5, o.interval / 2);
  bench::InstallSignalHandlers();
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  bench::TempDir tmp("agency-ha-footprint-bench");
  if (!tmp.ok()) {
    std::perror("footprint_bench: mkdtemp");
    return 1;
  }
  // `failing` regions answer 503, spread evenly (with half of them: every other one).
  std::vector<std::unique_ptr<bench::Endpoint>> endpoints;
  std::vector<std::string> names, urls, expect_failed;
  for (int i = 0; i < n; ++i) {
    const bool fails = (i + 1) * failing / n > i * failing / n;
    endpoints.push_back(std::make_unique<bench::Endpoint>(fails ? 503 : 200));
    if (!endpoints.back()->Up()) {
      std::fprintf(stderr, "footprint_bench: cannot start endpoint %d\n", i);
      return 1;
    }
    names.push_back(bench::RegionName(i));
    urls.push_back(endpoints.back()->url());
    if (fails) expect_failed.push_back(names.back());
  }
  auto interrupted = [] {
    std::fprintf(stderr, "footprint_bench: interrupted\n");
    return 130;
  };
  auto die = [&](const std::string& why, const std::string& log) {
    std::fprintf(stderr, "footprint_bench: %s\n", why.c_str());
    if (!log.empty()) {
      std::fprintf(stderr, "log (last lines):\n%s\n",
                   bench::Tail(bench::ReadText(log), 15).c_str());
    }
    return 1;
  };
  std::printf("agency-ha footprint bench\n");
  std::printf(
      "  %d regions on loopback (%d answering 503), probe interval %g s, timeout %g s, "
      "window %g s per side\n",
      n, static_cast<int>(expect_failed.size()), o.interval, timeout, o.seconds);
  std::fflush(stdout);

  // 1. Baseline: the upstream shell loop, minus kubectl.
  Measured base;
  {
    char timeout_arg[32], sleep_arg[32];
    std::snprintf(timeout_arg, sizeof timeout_arg, "%g", timeout);
    std::snprintf(sleep_arg, sizeof sleep_arg, "%g", o.interval);
    std::string script = "while true; do failed=; for u in";
    for (const auto& u : urls)
      script += " " + u;
    script += "; do curl -sf -o /dev/null -m " + std::string(timeout_arg) +
              " \"$u\" || failed=\"$failed $u\"; done; printf '%s\\n' \"$failed\" > " + tmp.path() +
              "/baseline-failed; sleep " + sleep_arg + "; done";
    const std::string log = tmp.path() + "/baseline.log";
    rusage before{}, after{};
    ::getrusage(RUSAGE_CHILDREN, &before);
    const size_t hits0 = TotalHits(endpoints);
    const TimePoint t0 = SteadyClock::now();
    bench::Child bash;
    if (!bash.Spawn({"/bin/bash", "-c", script}, log)) return 1;
    long bash_hwm = 0;
    while (MsBetween(t0, SteadyClock::now()) < o.seconds * 1000) {
      if (bench::g_interrupted) return interrupted();
      if (!bash.Running()) return die("baseline loop exited early", log);
      bash_hwm = std::max(bash_hwm, bench::ProcKiB(bash.pid(), "status", "VmHWM"));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    base.probes = TotalHits(endpoints) - hits0;
    bash.Terminate();
    base.wall_s = MsBetween(t0, SteadyClock::now()) / 1000;
    ::getrusage(RUSAGE_CHILDREN, &after);
    base.cpu_s = CpuSeconds(after) - CpuSeconds(before);
    base.peak_kib =
        static_cast<double>(after.ru_maxrss);  // KiB: the largest of bash and its children
    std::printf(
        "  baseline    /bin/bash -c 'while true; do for u in <%d URLs>; do curl -sf -o "
        "/dev/null -m %s \"$u\" || failed=...; done; printf ... > file; sleep %s; done'\n",
        n, timeout_arg, sleep_arg);
    std::printf("              bash VmHWM %.1f MiB; largest process (bash or a child) %.1f MiB\n",
                static_cast<double>(bash_hwm) / 1024, base.peak_kib / 1024);
    std::fflush(stdout);
  }

  // 2. The controller, with its HTTP server on as in production.
  Measured ours;
  long rss_max_kib = 0, pss_kib = 0, priv_kib = 0;
  {
    const std::string state_dir = tmp.path() + "/state", cfg = tmp.path() + "/controller.yaml";
    const std::string log = tmp.path() + "/controller.log";
    if (!bench::WriteText(cfg, bench::ControllerYaml(names, urls, o.interval, timeout, 3, 2,
                                                     state_dir, "127.0.0.1:0"))) {
      return die("cannot write " + cfg, "");
    }
    bench::Child ctl;
    if (!ctl.Spawn({o.binary, "controller", "--config", cfg}, log)) return 1;
    // Warm-up: until the failing regions are reported failed, then one more round.
    aha::state::FileStateStore reader(state_dir);
    const auto deadline = SteadyClock::now() + bench::Seconds(o.interval * 8 + 10);
    for (;;) {
      auto kv = reader.Read();
      if (kv) {
        auto it = kv->find(aha::failover::kFailedRegionsKey);
        if (it != kv->end()) {
          auto list = aha::failover::ParseRegionList(it->second);
          if (list && *list == expect_failed) break;
        }
      }
      if (bench::g_interrupted) return interrupted();
      if (!ctl.Running()) return die("controller exited during startup", log);
      if (SteadyClock::now() > deadline)
        return die("controller state not as expected in time", log);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!bench::SleepFor(o.interval)) return interrupted();

    const size_t hits0 = TotalHits(endpoints);
    const double cpu0 = bench::ProcCpuSeconds(ctl.pid());
    const TimePoint t0 = SteadyClock::now();
    while (MsBetween(t0, SteadyClock::now()) < o.seconds * 1000) {
      if (bench::g_interrupted) return interrupted();
      if (!ctl.Running()) return die("controller exited during the window", log);
      rss_max_kib = std::max(rss_max_kib, bench::ProcKiB(ctl.pid(), "status", "VmRSS"));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const double cpu1 = bench::ProcCpuSeconds(ctl.pid());
    ours.wall_s = MsBetween(t0, SteadyClock::now()) / 1000;
    ours.probes = TotalHits(endpoints) - hits0;
    ours.cpu_s = cpu1 - cpu0;
    ours.peak_kib = static_cast<double>(bench::ProcKiB(ctl.pid(), "status", "VmHWM"));
    auto mib = [&](const char* file, const char* field) {
      return static_cast<double>(bench::ProcKiB(ctl.pid(), file, field)) / 1024;
    };
    const double anon = mib("status", "RssAnon"), file = mib("status", "RssFile");
    const MemoryView mem = ReadMemoryView(ctl.pid());
    if (mem.ok) {
      pss_kib = mem.pss;
      priv_kib = mem.priv;
    }
    const int status = ctl.Terminate();
    std::printf("  controller  %s controller --config <%d regions, listen 127.0.0.1:0>\n",
                o.binary.c_str(), n);
    std::printf(
        "              VmHWM %.1f MiB; VmRSS max in window %.1f MiB; at the end: RssAnon "
        "%.1f MiB, RssFile %.1f MiB (shared libraries)\n",
        ours.peak_kib / 1024, static_cast<double>(rss_max_kib) / 1024, anon, file);
    if (mem.ok) {
      auto m = [](long kib) { return static_cast<double>(kib) / 1024; };
      std::printf(
          "              at the end: RSS %.2f MiB, PSS %.2f MiB, private %.2f MiB (clean + "
          "dirty)\n",
          m(mem.rss), m(mem.pss), m(mem.priv));
      std::printf(
          "              %zu shared libraries mapped: RSS %.2f MiB, PSS %.2f MiB, private "
          "%.2f MiB\n",
          mem.libs, m(mem.lib_rss), m(mem.lib_pss), m(mem.lib_priv));
      std::printf(
          "              a leaner link (fewer or static libraries) saves at most the libraries' "
          "PSS (%.2f MiB) and surely their private pages (%.2f MiB: relocations, data)\n",
          m(mem.lib_pss), m(mem.lib_priv));
    }
    std::printf("              exit status after SIGTERM: %s\n\n",
                WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "0 (clean)" : "NOT CLEAN");
  }

  auto row = [](const char* what, const Measured& m) {
    std::printf("%-24s %9.2f %10.3f %8.2f %9.1f %7zu %9.1f %13.3f\n", what, m.peak_kib / 1024,
                m.cpu_pct(), m.cpu_s, m.wall_s, m.probes, m.probes / m.wall_s,
                1000 * m.cpu_s / static_cast<double>(std::max<size_t>(m.probes, 1)));
  };
  std::printf("%-24s %9s %10s %8s %9s %7s %9s %13s\n", "", "peak MiB", "CPU % core", "CPU s",
              "window s", "probes", "probes/s", "CPU ms/probe");
  row("agency-ha controller", ours);
  row("baseline bash+curl loop", base);
  std::printf("%-24s %9.3f %10.3f %8s %9s %7s %9.3f %13.3f\n", "ratio ours / baseline",
              ours.peak_kib / base.peak_kib, ours.cpu_pct() / base.cpu_pct(), "", "", "",
              (ours.probes / ours.wall_s) / (base.probes / base.wall_s),
              (ours.cpu_s / static_cast<double>(ours.probes)) /
                  (base.cpu_s / static_cast<double>(base.probes)));
  const double peak_mib = ours.peak_kib / 1024;
  std::printf(
      "\ntargets: peak RSS <= 10 MiB: %s (%.2f MiB); CPU <= 1 %% of one core: %s (%.3f %%)\n",
      peak_mib <= 10 ? "MET" : "MISSED", peak_mib, ours.cpu_pct() <= 1 ? "MET" : "MISSED",
      ours.cpu_pct());
  if (pss_kib > 0) {
    std::printf(
        "         the 10 MiB goal counted as PSS: %s (%.2f MiB); as private memory: %s (%.2f "
        "MiB)\n",
        pss_kib <= 10 * 1024 ? "MET" : "MISSED", static_cast<double>(pss_kib) / 1024,
        priv_kib <= 10 * 1024 ? "MET" : "MISSED", static_cast<double>(priv_kib) / 1024);
  }
  return 0;
}
