#include "mcp/command.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/fs.h"
#include "common/json_get.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/url.h"
#include "config/controller_config.h"
#include "httpd/auth.h"
#include "kube/client.h"
#include "kube/event_queue.h"
#include "kube/events.h"
#include "mcp/controller_status.h"
#include "mcp/http.h"
#include "mcp/jsonrpc.h"
#include "mcp/kube_faults.h"
#include "mcp/tools.h"
#include "metrics/registry.h"
#include "net/secret.h"
#include "state/configmap_store.h"
#include "state/source.h"

namespace aha::mcp {

using nlohmann::json;

namespace {

int Fail(const std::string& msg, int rc = 2) {
  std::fprintf(stderr, "agency-ha mcp: %s\n", msg.c_str());
  return rc;
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    off += static_cast<size_t>(n);
  }
}

// Newline-delimited JSON-RPC on stdin/stdout until end of input or `stop`. Lines longer than
// `max_bytes` are discarded and answered with -32600.
void ServeStdio(Dispatcher& disp, size_t max_bytes, Stopper& stop) {
  Session session;
  std::string buf;
  bool discarding = false;
  auto too_large = [&] {
    log::Warn("mcp stdio: message too large; discarded", {{"limit", max_bytes}});
    WriteAll(
        1, MakeError(nullptr, kInvalidRequest,
                     "Invalid Request: message larger than " + std::to_string(max_bytes) + " bytes")
                   .dump() +
               "\n");
  };
  auto handle_line = [&](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) return;
    if (line.size() > max_bytes) {
      too_large();
      return;
    }
    if (auto out = disp.HandleText(line, session)) WriteAll(1, jsonget::Dump(*out) + "\n");
  };
  char chunk[65536];
  while (!stop.stopped()) {
    pollfd p{0, POLLIN, 0};
    int r = ::poll(&p, 1, 200);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    ssize_t n = ::read(0, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of input: the client closed the stream
    size_t start = 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      if (chunk[i] != '\n') continue;
      if (discarding) {
        discarding = false;
      } else {
        buf.append(chunk + start, i - start);
        handle_line(std::move(buf));
      }
      buf.clear();
      start = i + 1;
    }
    if (!discarding) buf.append(chunk + start, static_cast<size_t>(n) - start);
    if (!discarding && buf.size() > max_bytes) {
      too_large();
      buf.clear();
      discarding = true;
    }
  }
  if (!discarding && !buf.empty()) handle_line(std::move(buf));
}

}  // namespace

std::string ControllerUrlFor(const config::McpConfig& mc, const std::string& listen) {
  std::string controller_url = mc.controller_url;
  if (!mc.controller_url_set && !listen.empty()) {
    if (auto hp = ParseHostPort(listen); hp && hp->port > 0) {
      std::string host = hp->host;
      if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
      if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
      if (host.find(':') != std::string::npos) host = "[" + host + "]";
      controller_url = "http://" + host + ":" + std::to_string(hp->port);
    }
  }
  return controller_url;
}

namespace {

// --http HOST:PORT with the mcp section's HTTP settings (the token from mcp.httpTokenFile when
// set); a non-loopback HOST without a token is refused.
Result<HttpOptions> HttpOptionsFor(const std::string& http_listen, const config::McpConfig& mc) {
  HttpOptions ho;
  auto hp = ParseHostPort(http_listen);
  if (!hp) return Err("--http: invalid address " + http_listen + ": " + hp.message());
  ho.host = hp->host.empty() ? "127.0.0.1" : hp->host;
  if (ho.host.size() > 2 && ho.host.front() == '[') ho.host = ho.host.substr(1, ho.host.size() - 2);
  ho.port = hp->port;
  ho.allowed_origins = mc.allowed_origins;
  ho.max_request_bytes = static_cast<size_t>(mc.max_request_bytes);
  ho.token = mc.http_token;
  if (!mc.http_token_file.empty()) {
    auto t = net::ReadTokenFile(mc.http_token_file);
    if (!t) return Err("mcp.httpTokenFile: " + t.message());
    ho.token = *t;
  }
  if (!httpd::IsLoopbackHost(ho.host) && ho.token.empty()) {
    return Err("--http " + http_listen +
               " binds to a non-loopback address: set mcp.httpToken or mcp.httpTokenFile "
               "(every request must then carry Authorization: Bearer <token>)");
  }
  return ho;
}

// Drill Events on the state ConfigMap, written in the background (kube/event_queue.h): a slow
// or failing events API never holds up a drill or a tool answer. Counted in `reg`.
std::unique_ptr<kube::EventQueue> MakeEventQueue(const kube::Connection& conn,
                                                 const std::string& ns, const std::string& cm,
                                                 metrics::Registry& reg) {
  const char* pod = std::getenv("POD_NAME");
  const auto counters = kube::EventCounters::Define(reg, "agency_ha_mcp", "the state ConfigMap");
  return std::make_unique<kube::EventQueue>(
      conn,
      kube::EventQueue::Options{
          "agency-ha-mcp", pod && *pod ? std::string(pod) : "mcp-" + std::to_string(::getpid()),
          "ConfigMap " + ns + "/" + cm, counters.dropped_name},
      [ns, cm](kube::EventRecorder& r, const kube::EventQueue::Item& it) {
        // RecordAbout reads the ConfigMap's uid: without it `kubectl describe cm` hides it.
        return r.RecordAbout(kube::kConfigMaps, ns, cm, it.type, it.reason, it.message, it.at);
      },
      counters.OnResult(), counters.OnDropped());
}

// The failover state: a ConfigMap (with the drill Events queue) or a directory.
struct StateAccess {
  std::shared_ptr<kube::Client> kube_client;
  std::unique_ptr<state::StateStore> store;
  std::unique_ptr<state::StateSource> source;
  std::unique_ptr<kube::EventQueue> events;  // null for a directory
  std::shared_ptr<FaultInjector> faults;     // mcp.faults set: pod/network drills
};

Result<StateAccess> OpenState(const config::ControllerConfig& cfg, metrics::Registry& reg) {
  StateAccess s;
  if (cfg.state.is_configmap()) {
    auto conn = kube::Resolve(
        kube::LoadOptions{cfg.kubeconfig, "", "/var/run/secrets/kubernetes.io/serviceaccount"});
    if (!conn) return Err("kubeconfig: " + conn.message());
    const std::string ns =
        cfg.state.configmap_namespace.empty() ? conn->ns : cfg.state.configmap_namespace;
    s.kube_client = std::make_shared<kube::Client>(*conn);
    s.store = std::make_unique<state::ConfigMapStateStore>(
        s.kube_client, ns, cfg.state.configmap_name,
        std::map<std::string, std::string>{{"app.kubernetes.io/managed-by", "agency-ha"},
                                           {"app.kubernetes.io/component", "failover-state"}});
    s.source =
        std::make_unique<state::ConfigMapSource>(s.kube_client, ns, cfg.state.configmap_name);
    s.events = MakeEventQueue(*conn, ns, cfg.state.configmap_name, reg);
  } else {
    if (Status st = EnsureWritableDir(cfg.state.file); !st) {
      return Err("state.file: " + st.message());
    }
    s.store = std::make_unique<state::FileStateStore>(cfg.state.file);
    s.source = std::make_unique<state::FileSource>(cfg.state.file);
  }
  if (cfg.mcp.faults.enabled()) {
    // The agent pods' namespace: mcp.faults.namespace, else the kubeconfig's.
    auto conn = kube::Resolve(
        kube::LoadOptions{cfg.kubeconfig, "", "/var/run/secrets/kubernetes.io/serviceaccount"});
    if (!conn) return Err("mcp.faults needs the Kubernetes API: kubeconfig: " + conn.message());
    if (!s.kube_client) s.kube_client = std::make_shared<kube::Client>(*conn);
    const std::string ns = cfg.mcp.faults.ns.empty() ? conn->ns : cfg.mcp.faults.ns;
    s.faults = std::make_shared<KubeFaults>(s.kube_client, ns, cfg.mcp.faults);
  }
  return s;
}

// Feeds every new state snapshot of `source` to `monitor`, with the time it was seen, until
// `stop`.
void FeedMonitor(state::StateSource& source, SecurityMonitor& monitor, const Stopper& stop) {
  uint64_t seen = 0;
  while (!stop.stopped()) {
    state::Snapshot s =
        source.WaitNewer(seen, std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
    if (s.version > seen) {
      seen = s.version;
      monitor.Observe(s.kv, s.updated_at);
    }
  }
}

// Serves `disp` over Streamable HTTP (`ho`, until `stop`) or, without --http, stdio (until end of
// input or `stop`). Returns 1 when the HTTP server cannot start.
int Serve(Dispatcher& disp, const std::string& config_path, const std::string& http_listen,
          const HttpOptions& ho, const config::McpConfig& mc, metrics::Registry& reg,
          const std::string& store_desc, const std::string& controller_url, Stopper& stop) {
  if (http_listen.empty()) {
    log::Info("mcp server starting", {{"config", config_path},
                                      {"transport", "stdio"},
                                      {"store", store_desc},
                                      {"controller", controller_url},
                                      {"version", AHA_VERSION}});
    ServeStdio(disp, static_cast<size_t>(mc.max_request_bytes), stop);
    return 0;
  }
  HttpTransport http(disp, ho, [&reg] { return reg.Render(); });
  if (Status s = http.Start(); !s) {
    log::Error("cannot start the MCP HTTP server", {{"error", s.message()}});
    return 1;
  }
  log::Info("mcp server starting", {{"config", config_path},
                                    {"transport", "http"},
                                    {"host", ho.host},
                                    {"port", http.port()},
                                    {"auth", !ho.token.empty()},
                                    {"store", store_desc},
                                    {"controller", controller_url},
                                    {"version", AHA_VERSION}});
  stop.WaitUntil(std::chrono::steady_clock::time_point::max());
  http.Stop();
  return 0;
}

}  // namespace

namespace {

// mcp.auditLog opened for appending (0600), or -1 when none is configured.
Result<int> OpenAuditLog(const config::McpConfig& mc) {
  if (mc.audit_log.empty()) return -1;
  const int fd = ::open(mc.audit_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Err("mcp.auditLog: cannot open " + mc.audit_log + ": " + ErrnoText(errno));
  return fd;
}

ServerInfo MonitorInfo() {
  ServerInfo info;
  info.version = AHA_VERSION;
  info.instructions =
      "Security Monitor for agency-ha multi-region failover. Runs real DR drills: "
      "simulate_regional_outage makes a region's gates report unhealthy until the drill expires; "
      "the failover controller detects it through its normal probes. Follow a drill with "
      "get_drill_report; every number in it is measured.";
  return info;
}

}  // namespace

int RunCommand(const std::string& config_path, bool check_only, const std::string& http_listen) {
  auto cfg = config::LoadControllerConfig(config_path);
  if (!cfg) return Fail(cfg.message());
  const config::McpConfig& mc = cfg->mcp;
  HttpOptions ho;
  if (!http_listen.empty()) {
    auto h = HttpOptionsFor(http_listen, mc);
    if (!h) return Fail(h.message());
    ho = std::move(*h);
  }
  if (check_only) {
    std::printf("%s: valid (%zu regions; mcp drills %d..%d s, default %d s)\n", config_path.c_str(),
                cfg->regions.size(), mc.min_duration_seconds, mc.max_duration_seconds,
                mc.default_duration_seconds);
    return 0;
  }
  log::Level level;
  if (log::ParseLevel(cfg->log_level, &level)) log::SetLevel(level);

  // The audit log is opened before anything runs: a drill must never go unrecorded.
  auto audit_fd = OpenAuditLog(mc);
  if (!audit_fd) return Fail(audit_fd.message(), 1);
  metrics::Registry reg;
  auto st = OpenState(*cfg, reg);
  if (!st) return Fail(st.message());

  BlockTerminationSignals();
  Stopper stop;
  SignalWatcher signals(stop);

  std::mutex audit_mu;
  AuditSink audit = [&](const json& j) {
    log::Info("drill audit", j);
    if (*audit_fd < 0) return;
    std::lock_guard l(audit_mu);
    WriteAll(*audit_fd, jsonget::Dump(j) + "\n");
  };
  EventSink event_sink;
  if (st->events) {
    event_sink = [&st](const std::string& type, const std::string& reason, const std::string& msg,
                       WallTime at) { st->events->Emit(type, reason, msg, at); };
  }
  SecurityMonitor monitor(*cfg, *st->store, SystemClock::instance(), reg, audit, event_sink);
  // The controller's live observations (mcp/controller_status.h).
  ControllerClient controller(ControllerUrlFor(mc, cfg->listen));
  if (controller.enabled()) {
    monitor.SetLiveSource([&controller] { return controller.Fetch(SystemClock::instance()); });
  }

  if (st->faults) monitor.SetFaults(st->faults);
  // Keep a live copy of the state and feed every change to the monitor with the time it was seen.
  Stopper source_stop;
  std::thread watcher([&] { st->source->Run(source_stop); });
  std::thread observer([&] { FeedMonitor(*st->source, monitor, source_stop); });
  // Real-fault drills: revert ended/expired faults, watch a pod drill's pods come back.
  std::thread faults_ticker;
  if (st->faults) {
    faults_ticker = std::thread([&] {
      while (!source_stop.stopped()) {
        monitor.Tick();
        source_stop.WaitFor(std::chrono::milliseconds(100));
      }
    });
  }

  Dispatcher disp(monitor, MonitorInfo());
  const int rc = Serve(disp, config_path, http_listen, ho, mc, reg, st->store->Describe(),
                       controller.url(), stop);
  source_stop.Stop();
  observer.join();
  watcher.join();
  if (faults_ticker.joinable()) faults_ticker.join();
  if (*audit_fd >= 0) ::close(*audit_fd);
  log::Info("mcp server stopped", {{"signal", signals.signal()}});
  return rc;
}

}  // namespace aha::mcp
