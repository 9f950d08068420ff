#include "gate/command.h"

#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/json_get.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/url.h"
#include "gate/gate.h"
#include "httpd/server.h"
#include "kube/client.h"
#include "metrics/registry.h"
#include "net/curl.h"

namespace aha::gate {

using nlohmann::json;

namespace {

// The gate's own metrics, mirrored from Gate::Status() at every scrape.
struct GateMetrics {
  explicit GateMetrics(metrics::Registry& reg)
      : ready(reg.DefineGauge("agency_ha_gate_ready", "1 when /ready would answer 200.")),
        healthy(reg.DefineGauge("agency_ha_gate_healthy", "1 when /health would answer 200.")),
        synced(reg.DefineGauge("agency_ha_gate_state_synced",
                               "1 once the state was read at least once.")),
        error(reg.DefineGauge("agency_ha_gate_state_error",
                              "1 while the state source fails (fail-static).")),
        restarts(reg.DefineCounter("agency_ha_gate_watch_restarts_total",
                                   "Watch restarts and relists.")),
        version(
            reg.DefineGauge("agency_ha_gate_state_version", "Changes of the state seen so far.")) {}

  void Mirror(Gate& gate, const metrics::Labels& lb) const {
    json st = gate.Status();
    ready.Set(lb, gate.Ready().ok ? 1 : 0);
    healthy.Set(lb, gate.Health().ok ? 1 : 0);
    synced.Set(lb, st["synced"].get<bool>() ? 1 : 0);
    error.Set(lb, st["sourceError"].is_null() ? 0 : 1);
    version.Set(lb, st["stateVersion"].get<double>());
    restarts.Mirror(lb, st["watchRestarts"].get<double>());
  }

  const metrics::Gauge ready, healthy, synced, error;
  const metrics::Counter restarts;
  const metrics::Gauge version;
};

httpd::Response Answer(const Verdict& v) {
  json body = {{"ok", v.ok}, {"reason", v.reason}};
  return httpd::Response{v.ok ? 200 : 503, "application/json", jsonget::Dump(body) + "\n"};
}

// /health (with X-Agency-Data), /ready, /healthz, /v1/status and /metrics.
void AddRoutes(httpd::HttpServer& http, Gate& gate, metrics::Registry& reg, const GateMetrics& m,
               const metrics::Labels& lb) {
  http.Get("/health", [&gate] {
    httpd::Response r = Answer(gate.Health());
    if (std::string d = gate.DataHeader(); !d.empty()) r.headers.emplace_back("X-Agency-Data", d);
    return r;
  });
  http.Get("/ready", [&gate] { return Answer(gate.Ready()); });
  http.Get("/healthz", [] { return httpd::Response{200, "text/plain", "ok\n"}; });
  http.Get("/v1/status", [&gate] {
    return httpd::Response{200, "application/json", jsonget::Dump(gate.Status(), 2) + "\n"};
  });
  http.Get("/metrics", [&gate, &reg, &m, &lb] {
    m.Mirror(gate, lb);
    return httpd::Response{200, "text/plain; version=0.0.4; charset=utf-8", reg.Render()};
  });
}

}  // namespace

int RunCommand(const std::string& config_path, bool check_only) {
  auto cfg = config::LoadGateConfig(config_path);
  if (!cfg) {
    std::fprintf(stderr, "agency-ha gate: %s\n", cfg.message().c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: valid (region %s)\n", config_path.c_str(), cfg->region.c_str());
    return 0;
  }
  log::Level level;
  if (log::ParseLevel(cfg->log_level, &level)) log::SetLevel(level);

  auto opened = state::OpenStateSource(cfg->state, cfg->kubeconfig);
  if (!opened) {
    std::fprintf(stderr, "agency-ha gate: %s\n", opened.message().c_str());
    return 2;
  }
  std::unique_ptr<state::StateSource> source = std::move(*opened);

  BlockTerminationSignals();
  Stopper stop;
  SignalWatcher signals(stop);
  Gate gate(*cfg, *source, SystemClock::instance());

  metrics::Registry reg;
  const GateMetrics m(reg);
  const metrics::Labels lb{{"region", cfg->region}};
  httpd::HttpServer http;
  AddRoutes(http, gate, reg, m, lb);
  if (Status s = http.Start(cfg->listen); !s) {
    log::Error("cannot start HTTP server", {{"error", s.message()}});
    return 1;
  }
  Stopper source_stop;
  std::thread watcher([&] { source->Run(source_stop); });
  log::Info("gate starting", {{"config", config_path},
                              {"region", cfg->region},
                              {"source", source->Describe()},
                              {"listen", cfg->listen},
                              {"port", http.port()},
                              {"version", AHA_VERSION}});
  stop.WaitUntil(std::chrono::steady_clock::time_point::max());
  source_stop.Stop();
  watcher.join();
  http.Stop();
  log::Info("gate stopped", {{"signal", signals.signal()}});
  return 0;
}

namespace {
size_t Collect(char* p, size_t size, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, size * n);
  return size * n;
}
}  // namespace

int CheckCommand(const std::string& config_path) {
  auto cfg = config::LoadGateConfig(config_path);
  if (!cfg) {
    std::fprintf(stderr, "agency-ha gate check: %s\n", cfg.message().c_str());
    return 2;
  }
  auto hp = ParseHostPort(cfg->listen);
  std::string host = hp->host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  const std::string url = "http://" + host + ":" + std::to_string(hp->port) + "/ready";
  net::EasyHandle c = net::NewEasy();
  if (!c) {
    std::fprintf(stderr, "not ready: curl_easy_init failed\n");
    return 1;
  }
  std::string body;
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  net::EasyOptions opts;
  opts.timeout =
      std::chrono::milliseconds(static_cast<long>(cfg->app_timeout_seconds * 1000 + 1000));
  net::ApplyOptions(c.get(), opts);
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(c.get());
  long status = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
  c.reset();
  if (rc != CURLE_OK) {
    std::fprintf(stderr, "not ready: gate at %s unreachable: %s\n", url.c_str(),
                 curl_easy_strerror(rc));
    return 1;
  }
  std::fputs(body.c_str(), status == 200 ? stdout : stderr);
  return status == 200 ? 0 : 1;
}

}  // namespace aha::gate
