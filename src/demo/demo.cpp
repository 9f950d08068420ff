#include "demo/demo.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "common/signals.h"
#include "config/controller_config.h"
#include "config/replication_config.h"
#include "demo/app.h"
#include "demo/children.h"
#include "demo/drill.h"
#include "demo/entry.h"
#include "demo/fault.h"
#include "demo/mcp_client.h"
#include "demo/report.h"
#include "evidence/seal.h"
#include "objectstore/open.h"
#include "state/source.h"

namespace aha::demo {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A YAML double-quoted scalar (JSON strings are valid YAML).
std::string Q(const std::string& s) {
  return json(s).dump();
}

// A free loopback port for configs that must name theirs up front.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return Err(path + ": cannot write");
  return Status::Ok();
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    out.push_back(item);
  return out;
}

std::string DefaultReportPath() {
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return (fs::temp_directory_path() / ("agency-ha-demo-report-" + std::string(stamp) + "-" +
                                       std::to_string(::getpid()) + ".html"))
      .string();
}

// The --regions, --remote and --endpoint flags checked: the region names, or what is wrong
// (naming the flag and the value).
Result<std::vector<std::string>> CheckFlags(const Options& opts) {
  std::vector<std::string> names = Split(opts.regions);
  if (names.size() < 2 || names.size() > 6) {
    return Err("--regions " + Q(opts.regions) + ": give 2 to 6 comma-separated names");
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (!config::IsDns1123Label(names[i])) {
      return Err("--regions: invalid region name " + Q(names[i]));
    }
    for (size_t j = 0; j < i; ++j) {
      if (names[j] == names[i]) return Err("--regions: duplicate region " + Q(names[i]));
    }
  }
  if (!opts.remote.empty()) {
    if (std::string e = config::ValidateRemoteUrl(opts.remote); !e.empty()) {
      return Err("--remote " + Q(opts.remote) + ": " + e);
    }
  }
  if (!IsFaultType(opts.fault)) {
    return Err("--fault " + Q(opts.fault) + ": give health, pod, network or node");
  }
  if (!opts.endpoint.empty() && opts.remote.rfind("s3://", 0) != 0) {
    return Err("--endpoint needs an s3:// --remote");
  }
  return names;
}

// Where the demo's files live, below its temp dir.
struct Paths {
  std::string state_dir, logs, cfgs;
};

// controller.yaml (the MCP server reads it too), and one gate and one sidecar config per region.
// Needs every region's app port and the controller's port.
Status WriteConfigs(const World& w, const Options& opts, const config::RemoteConfig& rc,
                    const Paths& p) {
  std::string regions_yaml;
  for (auto& r : w.regions) {
    regions_yaml +=
        "  - {name: " + r.name + ", active: " + (r.active ? "true" : "false") +
        ", endpoint: " + Q("http://127.0.0.1:" + std::to_string(r.endpoint_gate_port) + "/health") +
        "}\n";
  }
  char probe[200];
  std::snprintf(probe, sizeof probe,
                "probe: {intervalSeconds: %g, timeoutSeconds: %g, failureThreshold: 3, "
                "successThreshold: 2}\npolicy: {failbackSeconds: %g}\n",
                opts.interval_seconds, opts.interval_seconds * 0.8, opts.failback_seconds);
  if (Status s = WriteFile(p.cfgs + "/controller.yaml",
                           "regions:\n" + regions_yaml + probe + "state: {file: " + Q(p.state_dir) +
                               "}\nlisten: " + Q("127.0.0.1:" + std::to_string(w.controller_port)) +
                               "\nmcp: {minDurationSeconds: 1, maxDurationSeconds: 3600, "
                               "defaultDurationSeconds: 60, auditLog: " +
                               Q(p.logs + "/drills.jsonl") + "}\n");
      !s) {
    return s;
  }
  for (const auto& r : w.regions) {
    const std::string gcfg = p.cfgs + "/gate-" + r.name + ".yaml";
    if (Status s =
            WriteFile(gcfg, "region: " + r.name + "\nappHealthUrl: " +
                                Q("http://127.0.0.1:" + std::to_string(r.app_port) + "/health") +
                                "\nappTimeoutSeconds: 1\nlisten: " +
                                Q("127.0.0.1:" + std::to_string(r.gate_port)) + "\nstate: {file: " +
                                Q(p.state_dir) + "}\npositionFile: " + Q(r.position_file) + "\n");
        !s) {
      return s;
    }
    std::string remote_yaml = "  - {url: " + Q(rc.url);
    if (!rc.endpoint.empty()) remote_yaml += ", endpoint: " + Q(rc.endpoint) + ", pathStyle: true";
    remote_yaml += "}\n";
    // One `agency-ha sidecar` per region: its role follows the state (active: writer of its
    // lineage unless a stand-in is promoted for it; passive: follower of the failing region,
    // writer of its lineage while promoted). The demo never moves data itself. The planned
    // handoff waits the product's default 30 s for the release: with a shorter timeout a slow
    // release (a loaded machine, several final rounds over S3) can end in a forced claim that
    // sets the promoted region's last writes aside, which the drill then reports as lost.
    const std::string handoff =
        "handoff: {active: " + std::string(r.active ? "true" : "false") +
        (r.active ? "" : ", followRegion: " + w.failing) + ", state: {file: " + Q(p.state_dir) +
        "}, positionFile: " + Q(r.position_file) + ", followIntervalSeconds: 0.2}\n";
    if (Status s = WriteFile(p.cfgs + "/sidecar-" + r.name + ".yaml",
                             "source: " + Q(r.agent_dir) + "\nregion: " + r.name + "\nremotes:\n" +
                                 remote_yaml +
                                 "syncIntervalSeconds: 5\ndebounceMilliseconds: 100\n"
                                 "listen: \"\"\n" +
                                 handoff);
        !s) {
      return s;
    }
  }
  return Status::Ok();
}

// A gate and a sidecar per region, then the controller (last: started before the gates and
// sidecars, it could fail, and promote a stand-in for, a region whose gate is not listening
// yet), then the MCP server over stdio (w->mcp). *controller is set once it started.
Status StartChildren(World* w, const Paths& p, Child** controller) {
  auto start = [&](ChildSpec spec) -> Result<Child*> {
    auto c = w->children->Start(spec);
    if (!c) return Err(spec.name + ": " + c.message());
    return c;
  };
  for (const auto& r : w->regions) {
    if (auto c = start({"gate " + r.name,
                        {"gate", "--config", p.cfgs + "/gate-" + r.name + ".yaml"},
                        p.logs + "/gate-" + r.name + ".log"});
        !c) {
      return c.error();
    }
    if (auto c = start({"sidecar " + r.name,
                        {"sidecar", "--config", p.cfgs + "/sidecar-" + r.name + ".yaml"},
                        r.sidecar_log});
        !c) {
      return c.error();
    }
  }
  const std::string ctl_cfg = p.cfgs + "/controller.yaml";
  auto ctl = start({"controller", {"controller", "--config", ctl_cfg}, p.logs + "/controller.log"});
  if (!ctl) return ctl.error();
  *controller = *ctl;
  auto mcp = start({"mcp", {"mcp", "--config", ctl_cfg}, p.logs + "/mcp.log", true});
  if (!mcp) return mcp.error();
  w->mcp = *mcp;
  return Status::Ok();
}

void PrintPlan(const World& w, const Options& opts) {
  for (const auto& r : w.regions) {
    std::printf(
        "  %-15s %-8s app :%d  gate :%d  %s\n", r.name.c_str(), r.active ? "active" : "passive",
        r.app_port, r.gate_port,
        r.active
            ? "sidecar: writer of its lineage"
            : ("sidecar: follows " + w.failing + ", writes its lineage when promoted").c_str());
  }
  for (const auto& r : w.regions) {
    if (r.endpoint_gate_port != r.gate_port) {
      std::printf("  %s reached through endpoint proxies (--fault network): gate :%d  app :%d\n",
                  r.name.c_str(), r.endpoint_gate_port, r.endpoint_app_port);
    }
  }
  std::printf(
      "  controller: probe every %.2fs, failback %.1fs; status page %s\n"
      "  snapshots: %s; MCP server over stdio; entry point :%d, clients near every region\n"
      "  drill: %s %s for %d s\n",
      opts.interval_seconds, opts.failback_seconds, w.status_url.c_str(), w.remote_desc.c_str(),
      w.entry->port(),
      w.fault ? ("--fault " + w.fault_type + " on").c_str() : "simulate_regional_outage",
      w.failing.c_str(), w.drill_seconds);
  std::fflush(stdout);
}

// Every app's commits (relative to the drill's start) and the load's outcomes and latencies.
void CollectMeasurements(const World& w, DemoResult* result) {
  if (result->t0 != Mono{}) {
    for (auto* a : w.apps)
      for (const auto& c : a->commits())
        result->writes_ms[a->region()].push_back(
            std::chrono::duration<double, std::milli>(c.at - result->t0).count());
  }
  if (w.load) {
    w.load->Stop();
    result->outcomes = w.load->Outcomes();
    for (const auto& loc : w.load->locations())
      for (const auto& r : w.regions)
        result->latency_ms[loc][r.name] = w.entry->LatencyMs(loc, r.name);
  }
}

// The result as text or JSON, and the HTML report. Returns `rc_exit`, or 1 when the report
// cannot be written.
int Report(DemoResult& result, const Options& opts, int rc_exit) {
  FillPhases(&result);
  if (opts.json) {
    json j = ToJson(result);
    auto sealed = evidence::Seal(EvidenceRecord(result, AHA_VERSION));
    if (!sealed) {
      std::fprintf(stderr, "agency-ha demo: evidence: %s\n", sealed.message().c_str());
      if (rc_exit == 0) rc_exit = 1;
    } else {
      j["evidence"] = std::move(*sealed);
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    PrintText(result, stdout);
  }
  const std::string report = opts.report.empty() ? DefaultReportPath() : opts.report;
  if (Status s = WriteFile(report, RenderHtml(result)); !s) {
    std::fprintf(stderr, "agency-ha demo: report: %s\n", s.message().c_str());
    if (rc_exit == 0) rc_exit = 1;
  } else {
    std::fprintf(opts.json ? stderr : stdout, "\nHTML report: %s\n", report.c_str());
  }
  std::fflush(stdout);
  return rc_exit;
}

// The drill's settings; regions and components are added as they are made.
World NewWorld(const std::vector<std::string>& names, const Options& opts,
               const std::string& state_dir, Stopper* stop) {
  World w;
  w.failing = names.front();
  w.passive = names.back();
  w.drill_seconds = opts.duration_seconds;
  w.interval_seconds = opts.interval_seconds;
  w.failback_seconds = opts.failback_seconds;
  w.rpo_bound_seconds = opts.rpo_bound_seconds;
  w.fault_type = opts.fault;
  w.state_dir = state_dir;
  w.stop = stop;
  w.remote_desc = opts.remote.empty() ? "file://<temp>/bucket" : opts.remote;
  return w;
}

// --remote (default: a bucket directory in the temp dir) and --endpoint.
config::RemoteConfig DemoRemote(const Options& opts, const std::string& dir) {
  config::RemoteConfig rc;
  rc.url = opts.remote.empty() ? "file://" + dir + "/bucket" : opts.remote;
  rc.endpoint = opts.endpoint;
  // A custom endpoint (MinIO, s3rver, LocalStack) means path-style addressing.
  if (!rc.endpoint.empty()) rc.path_style = true;
  return rc;
}

// Every region's runtime (into w->regions: the last region passive, the others active) and its
// app (not started). Clients near region i reach region j in 2 + 8·|i-j| ms.
std::vector<std::unique_ptr<SimulatedApp>> MakeRegions(const std::vector<std::string>& names,
                                                       const std::string& dir,
                                                       const std::string& logs,
                                                       state::StateSource& state, World* w) {
  const std::vector<std::string>& locations = names;
  auto distance = [&](size_t i, size_t j) {
    return 2 + 8 * static_cast<int>(i > j ? i - j : j - i);
  };
  std::vector<std::unique_ptr<SimulatedApp>> apps;
  for (size_t i = 0; i < names.size(); ++i) {
    RegionRuntime r;
    r.name = names[i];
    r.active = i + 1 < names.size();
    r.agent_dir = dir + "/regions/" + r.name + "/.agent";
    r.position_file = dir + "/positions/" + r.name + ".json";
    r.sidecar_log = logs + "/sidecar-" + r.name + ".log";
    r.gate_port = FreePort();
    AppOptions ao;
    ao.gate_port = r.gate_port;
    ao.region = r.name;
    ao.active = r.active;
    ao.agent_dir = r.agent_dir;
    for (size_t l = 0; l < locations.size(); ++l)
      ao.distance_ms[locations[l]] = distance(l, i);
    apps.push_back(std::make_unique<SimulatedApp>(ao, state));
    w->regions.push_back(r);
  }
  return apps;
}

// The demo's temp dir, removed at the end unless --keep-temp.
class TempDir {
 public:
  TempDir(std::string dir, bool keep) : dir_(std::move(dir)), keep_(keep) {}
  ~TempDir() {
    std::error_code ec;
    if (keep_) {
      std::fprintf(stderr, "agency-ha demo: kept %s\n", dir_.c_str());
    } else {
      fs::remove_all(dir_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
  bool keep_;
};

// The running system: the regions' apps, the child processes, the entry point and its load.
struct Running {
  std::vector<std::unique_ptr<SimulatedApp>> apps;
  ChildSet children;
  std::unique_ptr<EntryPoint> entry;
  std::unique_ptr<LoadGenerator> load;
  Child* controller = nullptr;
  std::vector<std::unique_ptr<TcpProxy>> proxies;  // --fault network: the region's endpoints
  std::unique_ptr<Fault> fault;                    // --fault pod|network|node

  // The fault reverted (whatever happened), clients, entry point, proxies, controller (it would
  // see the rest go away), apps, the other children.
  void Stop() {
    fault.reset();
    if (load) load->Stop();
    if (entry) entry->Stop();
    for (auto& p : proxies)
      p->Stop();
    if (controller) controller->Terminate();
    for (auto& a : apps)
      a->Stop();
    children.TerminateAll();
  }
};

// Starts the apps, writes the configs, starts the children and the entry point with its load.
// Empty on success, else what failed.
std::string StartSystem(World& w, Running& run, const Options& opts, const config::RemoteConfig& rc,
                        const Paths& paths, const std::vector<std::string>& locations) {
  for (size_t i = 0; i < run.apps.size(); ++i) {
    if (Status s = run.apps[i]->Start(); !s) return s.message();
    w.regions[i].app_port = run.apps[i]->port();
    w.regions[i].endpoint_gate_port = w.regions[i].gate_port;
    w.regions[i].endpoint_app_port = w.regions[i].app_port;
    w.apps.push_back(run.apps[i].get());
  }
  if (opts.fault == "network") {
    // The drilled region is reached through proxies the fault can cut (src/demo/fault.h).
    RegionRuntime& r = w.regions.front();
    for (int* port : {&r.endpoint_gate_port, &r.endpoint_app_port}) {
      run.proxies.push_back(std::make_unique<TcpProxy>(*port));
      if (Status s = run.proxies.back()->Start(); !s) return s.message();
      *port = run.proxies.back()->port();
    }
  }
  w.controller_port = FreePort();
  if (Status s = WriteConfigs(w, opts, rc, paths); !s) return s.message();
  w.status_url = "http://127.0.0.1:" + std::to_string(w.controller_port) + "/";
  if (Status s = StartChildren(&w, paths, &run.controller); !s) return s.message();
  std::vector<Backend> backends;
  for (const auto& r : w.regions)
    backends.push_back({r.name, r.endpoint_gate_port, r.endpoint_app_port});
  run.entry = std::make_unique<EntryPoint>(
      backends, locations,
      std::chrono::milliseconds(static_cast<long long>(opts.interval_seconds * 400)));
  if (Status s = run.entry->Start(); !s) return s.message();
  run.load =
      std::make_unique<LoadGenerator>(run.entry->port(), locations, std::chrono::milliseconds(20));
  w.entry = run.entry.get();
  w.load = run.load.get();
  if (opts.fault != "health") {
    const std::string& region = w.failing;
    std::vector<Child*> region_children;
    for (const char* role : {"gate ", "sidecar "})
      if (Child* c = run.children.Find(role + region)) region_children.push_back(c);
    std::vector<TcpProxy*> proxies;
    for (auto& p : run.proxies)
      proxies.push_back(p.get());
    run.fault = std::make_unique<Fault>(opts.fault, region, run.apps.front().get(), region_children,
                                        proxies);
    w.fault = run.fault.get();
  }
  return "";
}

// The drill through the MCP server, the final checks, the measurements and the report; then,
// with --keep-running, waits for a signal. Returns the exit code.
int DrillAndReport(World& w, LineageMonitor& monitor, const Options& opts, Stopper& stop,
                   const std::string& logs) {
  DemoResult result;
  int rc_exit = 0;
  PrintPlan(w, opts);
  monitor.Start();
  McpClient mcp(w.mcp->stdin_fd(), w.mcp->stdout_fd());
  if (auto init = mcp.Initialize(std::chrono::seconds(30)); !init) {
    std::fprintf(stderr, "agency-ha demo: step \"MCP initialize\" failed: %s\n",
                 init.message().c_str());
    result.failed_step = "MCP initialize";
    rc_exit = 1;
  } else {
    rc_exit = RunDrill(w, mcp, &result);
  }
  result.writer_changes = WriterChanges(w);
  rc_exit = FinalChecks(w, rc_exit, &result);
  CollectMeasurements(w, &result);
  rc_exit = Report(result, opts, rc_exit);
  if (opts.keep_running && rc_exit == 0) {
    std::printf("\nstill running (Ctrl-C to stop): status page %s, logs in %s\n",
                w.status_url.c_str(), logs.c_str());
    std::fflush(stdout);
    stop.WaitUntil(std::chrono::steady_clock::time_point::max());
  }
  return rc_exit;
}

}  // namespace

int Run(const Options& opts) {
  // Flags: every error names the flag and the value; nothing is started or written.
  auto checked = CheckFlags(opts);
  if (!checked) {
    std::fprintf(stderr, "agency-ha demo: %s\n", checked.message().c_str());
    return 2;
  }
  const std::vector<std::string> names = std::move(*checked);

  BlockTerminationSignals();
  Stopper stop;
  SignalWatcher signals(stop);
  log::SetLevel(log::Level::kWarn);

  std::string tmpl = (fs::temp_directory_path() / "agency-ha-demo.XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    std::perror("agency-ha demo: mkdtemp");
    return 1;
  }
  const TempDir temp(tmpl, opts.keep_temp);
  const std::string& dir = temp.path();
  const Paths paths{dir + "/state", dir + "/logs", dir + "/config"};
  for (const auto& d :
       {paths.state_dir, paths.logs, paths.cfgs, dir + "/bucket", dir + "/positions"})
    fs::create_directories(d);

  World w = NewWorld(names, opts, paths.state_dir, &stop);
  const config::RemoteConfig rc = DemoRemote(opts, dir);
  auto remote = objectstore::OpenRemote(rc, 4);
  if (!remote) {
    std::fprintf(stderr, "agency-ha demo: --remote: %s\n", remote.message().c_str());
    return 2;
  }
  // The single-writer check samples every active lineage's latest on a handle of its own.
  auto monitor_store = objectstore::OpenRemote(rc, 1);
  if (!monitor_store) {
    std::fprintf(stderr, "agency-ha demo: --remote: %s\n", monitor_store.message().c_str());
    return 2;
  }
  w.remote = remote->get();
  std::vector<std::string> actives(names.begin(), names.end() - 1);
  LineageMonitor monitor(std::move(*monitor_store), actives, std::chrono::milliseconds(50));
  w.monitor = &monitor;

  // State observation shared by the apps and the drill (the same watcher the gate uses).
  state::FileSource state(paths.state_dir, std::chrono::milliseconds(500));
  Stopper state_stop;
  std::thread state_thread([&] { state.Run(state_stop); });
  w.state = &state;

  Running run;
  run.apps = MakeRegions(names, dir, paths.logs, state, &w);
  w.children = &run.children;
  int rc_exit = 1;
  std::printf("agency-ha demo %s: %zu regions on loopback, temp dir %s\n", AHA_VERSION,
              names.size(), dir.c_str());
  std::fflush(stdout);
  if (std::string err = StartSystem(w, run, opts, rc, paths, names); !err.empty()) {
    std::fprintf(stderr, "agency-ha demo: setup: %s\n", err.c_str());
  } else {
    rc_exit = DrillAndReport(w, monitor, opts, stop, paths.logs);
  }
  run.Stop();
  state_stop.Stop();
  state_thread.join();
  return rc_exit;
}

}  // namespace aha::demo
