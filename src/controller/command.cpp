#include "controller/command.h"

#include <cstdio>

#include "common/fs.h"
#include "common/log.h"
#include "common/signals.h"
#include "controller/controller.h"
#include "httpd/server.h"

namespace aha::controller {

int RunCommand(const std::string& config_path, bool check_only) {
  auto cfg = config::LoadControllerConfig(config_path);
  if (!cfg) {
    std::fprintf(stderr, "agency-ha controller: %s\n", cfg.message().c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: valid (%zu regions)\n", config_path.c_str(), cfg->regions.size());
    return 0;
  }
  log::Level level;
  if (log::ParseLevel(cfg->log_level, &level)) log::SetLevel(level);
  if (Status s = EnsureWritableDir(cfg->state.file); !s) {
    std::fprintf(stderr, "agency-ha controller: state.file: %s\n", s.message().c_str());
    return 2;
  }

  BlockTerminationSignals();
  Stopper stop;
  SignalWatcher signals(stop);

  metrics::Registry reg;
  DefineControllerMetrics(reg);
  state::FileStateStore store(cfg->state.file);
  ProberSource source(*cfg, SystemClock::instance(), reg);
  Controller ctl(*cfg, store, source, SystemClock::instance(), reg);

  httpd::HttpServer http;
  http.Get("/metrics", [&] {
    return httpd::Response{200, "text/plain; version=0.0.4; charset=utf-8", reg.Render()};
  });
  http.Get("/healthz", [] { return httpd::Response{200, "text/plain", "ok\n"}; });
  http.Get("/readyz", [&] {
    bool ready = ctl.Ready();
    return httpd::Response{
        ready ? 200 : 503, "text/plain",
        ready ? "ready\n" : "not ready: no completed round or state unwritten\n"};
  });
  http.Get("/v1/status", [&] {
    return httpd::Response{200, "application/json", ctl.StatusJson().dump(2) + "\n"};
  });
  if (!cfg->listen.empty()) {
    if (Status s = http.Start(cfg->listen); !s) {
      log::Error("cannot start HTTP server", {{"error", s.message()}});
      return 1;
    }
  }
  log::Info("controller starting", {{"config", config_path},
                                    {"regions", cfg->regions.size()},
                                    {"store", store.Describe()},
                                    {"listen", cfg->listen},
                                    {"port", http.port()},
                                    {"version", AHA_VERSION}});
  if (Status s = ctl.Start(); !s) {
    log::Error("cannot start", {{"error", s.message()}});
    return 1;
  }
  ctl.Run(stop);
  http.Stop();
  log::Info("controller stopped", {{"signal", signals.signal()}});
  return 0;
}

}  // namespace aha::controller
