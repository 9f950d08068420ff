#include "controller/command.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include "common/fs.h"
#include "common/json_get.h"
#include "common/log.h"
#include "common/signals.h"
#include "controller/controller.h"
#include "controller/status_page.h"
#include "httpd/server.h"
#include "kube/client.h"
#include "kube/event_queue.h"
#include "kube/events.h"
#include "kube/leader.h"
#include "quorum/poller.h"
#include "quorum/push.h"
#include "quorum/token.h"
#include "state/configmap_store.h"

namespace aha::controller {

namespace {

std::string DefaultIdentity() {
  if (const char* pod = std::getenv("POD_NAME"); pod && *pod) return pod;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + "_" + std::to_string(::getpid());
}

std::chrono::milliseconds Ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

// Observer quorum tokens: read (and so validated) before anything runs. --check validates them
// too, but only warns about a file that does not exist (yet): a config rendered for a pod names
// the path of a Secret mounted only there. False (after printing why) when one is unusable.
bool ReadTokens(const config::ControllerConfig& cfg, bool check_only,
                std::string* observations_token, std::map<std::string, std::string>* peer_tokens) {
  auto read_token = [&](const std::string& key, const std::string& path, std::string* out) {
    if (check_only && ::access(path.c_str(), F_OK) != 0) {
      std::fprintf(stderr, "agency-ha controller: warning: %s: %s does not exist here\n",
                   key.c_str(), path.c_str());
      return true;
    }
    auto t = quorum::ReadToken(path);
    if (!t) {
      std::fprintf(stderr, "agency-ha controller: %s: %s\n", key.c_str(), t.message().c_str());
      return false;
    }
    *out = *t;
    return true;
  };
  if (!cfg.observations_token.empty() &&
      !read_token("observationsToken", cfg.observations_token, observations_token)) {
    return false;
  }
  for (size_t i = 0; i < cfg.peers.size(); ++i) {
    const auto& p = cfg.peers[i];
    (*peer_tokens)[p.name] = *observations_token;
    if (!p.token_file.empty() && !read_token("peers[" + std::to_string(i) + "].tokenFile",
                                             p.token_file, &(*peer_tokens)[p.name])) {
      return false;
    }
  }
  return true;
}

void PrintValid(const std::string& config_path, const config::ControllerConfig& cfg) {
  if (cfg.QuorumEnabled()) {
    std::printf("%s: valid (%zu regions, %zu peers, quorum %d of %d)\n", config_path.c_str(),
                cfg.regions.size(), cfg.peers.size(), cfg.quorum.size, cfg.Observers());
  } else {
    std::printf("%s: valid (%zu regions)\n", config_path.c_str(), cfg.regions.size());
  }
}

// The state store, and with it the API connection when the state lives in a ConfigMap or leader
// election needs one.
struct StateConnection {
  std::shared_ptr<kube::Client> kube_client;  // null without an API
  std::string ns;                             // the connection's namespace
  std::unique_ptr<state::StateStore> store;
};

// Errors are prefixed with the config key they concern ("kubeconfig: ...", "state.file: ...").
Result<StateConnection> OpenState(const config::ControllerConfig& cfg) {
  StateConnection c;
  if (cfg.state.is_configmap() || cfg.leader_election.enabled) {
    auto conn = kube::Resolve(
        kube::LoadOptions{cfg.kubeconfig, "", "/var/run/secrets/kubernetes.io/serviceaccount"});
    if (!conn) return Err("kubeconfig: " + conn.message());
    c.ns = conn->ns;
    c.kube_client = std::make_shared<kube::Client>(*conn);
  }
  if (cfg.state.is_configmap()) {
    const std::string cm_ns =
        cfg.state.configmap_namespace.empty() ? c.ns : cfg.state.configmap_namespace;
    c.store = std::make_unique<state::ConfigMapStateStore>(
        c.kube_client, cm_ns, cfg.state.configmap_name,
        std::map<std::string, std::string>{{"app.kubernetes.io/managed-by", "agency-ha"},
                                           {"app.kubernetes.io/component", "failover-state"}});
  } else {
    if (Status s = EnsureWritableDir(cfg.state.file); !s) {
      return Err("state.file: " + s.message());
    }
    c.store = std::make_unique<state::FileStateStore>(cfg.state.file);
  }
  return c;
}

// The Lease of leader election: in leaderElection.leaseNamespace, else the state ConfigMap's
// namespace, else the connection's.
std::unique_ptr<kube::LeaderElector> MakeElector(const config::ControllerConfig& cfg,
                                                 const StateConnection& conn) {
  const auto& le = cfg.leader_election;
  kube::LeaderConfig lc;
  lc.ns = le.lease_namespace.empty()
              ? (cfg.state.configmap_namespace.empty() ? conn.ns : cfg.state.configmap_namespace)
              : le.lease_namespace;
  lc.name = le.lease_name;
  lc.identity = le.identity.empty() ? DefaultIdentity() : le.identity;
  lc.lease_duration = Ms(le.lease_duration_seconds);
  lc.renew_deadline = Ms(le.renew_deadline_seconds);
  lc.retry_period = Ms(le.retry_period_seconds);
  return std::make_unique<kube::LeaderElector>(conn.kube_client, lc, SystemClock::instance());
}

// Kubernetes Events on the state ConfigMap, one per transition, written in the background
// (kube/event_queue.h): a slow or failing events API never holds up a round or a state write.
// The queue lives as long as the sink (in the Controller); its callbacks count into `reg`, which
// must outlive the Controller.
Controller::TransitionSink EventSink(const StateConnection& conn, const std::string& instance,
                                     metrics::Registry& reg) {
  auto* cm = static_cast<state::ConfigMapStateStore*>(conn.store.get());
  const auto counters = kube::EventCounters::Define(reg, "agency_ha", "the state ConfigMap");
  auto events = std::make_shared<kube::EventQueue>(
      conn.kube_client->connection(),
      kube::EventQueue::Options{"agency-ha-controller", instance,
                                "ConfigMap " + cm->ns() + "/" + cm->name(), counters.dropped_name},
      [cm](kube::EventRecorder& r, const kube::EventQueue::Item& it) {
        // RecordAbout reads the ConfigMap's uid: without it `kubectl describe cm` hides it.
        return r.RecordAbout(kube::kConfigMaps, cm->ns(), cm->name(), it.type, it.reason,
                             it.message, it.at);
      },
      counters.OnResult(), counters.OnDropped());
  return [events](const std::vector<failover::Transition>& ts) {
    for (const auto& t : ts) {
      const bool warning = t.kind == failover::TransitionKind::kRegionFailed ||
                           t.kind == failover::TransitionKind::kPanicEntered;
      std::string msg = (t.region.empty() ? std::string() : "region " + t.region + ": ") + t.reason;
      events->Emit(warning ? "Warning" : "Normal", failover::TransitionName(t.kind), msg, t.at);
    }
  };
}

// GET /, /healthz, /readyz, /v1/status, and /v1/observations when a token guards it. /metrics is
// registered by the caller.
void AddStatusHandlers(httpd::HttpServer& http, Controller& ctl, const kube::LeaderElector* elector,
                       const std::string& observations_token) {
  http.Get("/", StatusPageResponse);  // the status page (src/controller/status_page.h)
  http.Get("/healthz", [] { return httpd::Response{200, "text/plain", "ok\n"}; });
  http.Get("/readyz", [&ctl, elector] {
    bool ready = ctl.Ready();
    std::string body = ready ? "ready" : "not ready: no completed round or state unwritten";
    if (elector) {
      body += elector->IsLeader()
                  ? "; leader " + elector->Identity()
                  : "; standby, leader is " +
                        (elector->Holder().empty() ? std::string("(none)") : elector->Holder());
    }
    return httpd::Response{ready ? 200 : 503, "text/plain", body + "\n"};
  });
  http.Get("/v1/status", [&ctl] {
    return httpd::Response{200, "application/json", jsonget::Dump(ctl.StatusJson(), 2) + "\n"};
  });
  if (!observations_token.empty()) {
    http.GetWithAuthorization(
        "/v1/observations", [&ctl, observations_token](const std::string& authorization) {
          if (!quorum::BearerMatches(authorization, observations_token)) {
            return httpd::Response{401, "application/json",
                                   "{\"error\": \"a valid bearer token is required\"}\n"};
          }
          return httpd::Response{200, "application/json", ctl.ObservationsJson()};
        });
  }
}

// With an API store, an unreachable API at start-up is retried rather than fatal.
void StartUntilReadOrStopped(Controller& ctl, Stopper& stop) {
  while (!stop.stopped()) {
    Status s = ctl.Start();
    if (s) break;
    log::Error("cannot read state; retrying", {{"error", s.message()}});
    if (stop.WaitFor(std::chrono::seconds(2))) break;
  }
}

// Loads the config and the tokens it names; with --check, says it is valid. Returns the exit
// code when the command ends here.
std::optional<int> LoadConfig(const std::string& config_path, bool check_only,
                              config::ControllerConfig* cfg, std::string* observations_token,
                              std::map<std::string, std::string>* peer_tokens) {
  auto loaded = config::LoadControllerConfig(config_path);
  if (!loaded) {
    std::fprintf(stderr, "agency-ha controller: %s\n", loaded.message().c_str());
    return 2;
  }
  *cfg = std::move(loaded).value();
  if (!ReadTokens(*cfg, check_only, observations_token, peer_tokens)) return 2;
  if (check_only) {
    PrintValid(config_path, *cfg);
    return 0;
  }
  return std::nullopt;
}

// What runs beside the controller, each part with its thread and the Stopper of that thread;
// null/empty when the config does not ask for it. Members are destroyed in reverse order.
struct Companions {
  // Observer quorum: the peers' observations, polled on their own thread.
  std::unique_ptr<quorum::PeerPoller> poller;
  std::thread polling;
  Stopper polling_stop;
  // Leader election.
  std::unique_ptr<kube::LeaderElector> elector;
  metrics::Gauge leader_gauge;
  std::thread election;
  Stopper election_stop;
  // Verdict push: POST /v1/observations (bounded body) in, VerdictPusher out.
  std::unique_ptr<quorum::VerdictPusher> pusher;
  std::thread pushing;
  Stopper pushing_stop;
};

void SetUpQuorumPoll(const config::ControllerConfig& cfg,
                     const std::map<std::string, std::string>& peer_tokens, metrics::Registry& reg,
                     Controller& ctl, Companions& c) {
  if (!cfg.QuorumEnabled()) return;
  c.poller = std::make_unique<quorum::PeerPoller>(cfg, peer_tokens, SystemClock::instance(), &reg);
  quorum::PeerPoller* poller = c.poller.get();
  ctl.SetPeerSource([poller] { return poller->Reports(); },
                    [poller] { return poller->StatusJson(); });
}

// Leader election, and the Events of the state ConfigMap (named after the elector's identity).
void SetUpLeadership(const config::ControllerConfig& cfg, const StateConnection& conn,
                     metrics::Registry& reg, Controller& ctl, Companions& c) {
  if (cfg.leader_election.enabled) {
    c.elector = MakeElector(cfg, conn);
    ctl.SetLeadership(c.elector.get());
    c.leader_gauge = reg.DefineGauge("agency_ha_leader", "1 on the replica that holds the lease.");
  }
  if (cfg.state.is_configmap()) {
    ctl.SetTransitionSink(
        EventSink(conn, c.elector ? c.elector->Identity() : DefaultIdentity(), reg));
  }
}

void SetUpPush(const config::ControllerConfig& cfg,
               const std::map<std::string, std::string>& peer_tokens,
               const std::string& observations_token, metrics::Registry& reg, Controller& ctl,
               httpd::HttpServer& http, Companions& c) {
  c.pusher =
      std::make_unique<quorum::VerdictPusher>(cfg, peer_tokens, SystemClock::instance(), &reg);
  quorum::VerdictPusher* pusher = c.pusher.get();
  ctl.SetVerdictSink([pusher](std::string report) { pusher->Push(std::move(report)); });
  quorum::AddPushRoute(http, *c.poller, observations_token, [&ctl] { ctl.NotifyPeerReport(); });
}

void AddMetricsHandler(httpd::HttpServer& http, metrics::Registry& reg, Companions& c) {
  http.Get("/metrics", [&reg, &c] {
    if (c.elector) {
      c.leader_gauge.Set({{"identity", c.elector->Identity()}}, c.elector->IsLeader() ? 1 : 0);
    }
    return httpd::Response{200, "text/plain; version=0.0.4; charset=utf-8", reg.Render()};
  });
}

void LogStarting(const std::string& config_path, const config::ControllerConfig& cfg,
                 const state::StateStore& store, const httpd::HttpServer& http,
                 const kube::LeaderElector* elector) {
  log::Info("controller starting", {{"config", config_path},
                                    {"regions", cfg.regions.size()},
                                    {"store", store.Describe()},
                                    {"listen", cfg.listen},
                                    {"port", http.port()},
                                    {"leaderElection", cfg.leader_election.enabled},
                                    {"peers", cfg.peers.size()},
                                    {"quorum", cfg.QuorumEnabled() ? cfg.quorum.size : 1},
                                    {"identity", elector ? elector->Identity() : ""},
                                    {"version", AHA_VERSION}});
}

// Starts the companions' threads around the controller's start, then runs rounds until stopped.
void RunUntilStopped(Controller& ctl, Stopper& stop, Companions& c) {
  if (c.elector) {
    c.elector->TryAcquireOrRenew();  // lead at once when the lease is free
    c.election = std::thread([&c] { c.elector->Run(c.election_stop); });
  }
  StartUntilReadOrStopped(ctl, stop);
  if (c.poller) c.polling = std::thread([&c] { c.poller->Run(c.polling_stop); });
  if (c.pusher) c.pushing = std::thread([&c] { c.pusher->Run(c.pushing_stop); });
  if (!stop.stopped()) ctl.Run(stop);
}

// Stops and joins the companions' threads; the elector gives the lease up.
void StopCompanions(Companions& c) {
  if (c.poller) {
    c.polling_stop.Stop();
    c.polling.join();
  }
  if (c.pusher) {
    c.pushing_stop.Stop();
    c.pushing.join();
  }
  if (c.elector) {
    c.election_stop.Stop();
    c.election.join();
    if (Status s = c.elector->Release(); !s) {
      log::Warn("cannot release the lease", {{"error", s.message()}});
    }
  }
}

}  // namespace

int RunCommand(const std::string& config_path, bool check_only) {
  config::ControllerConfig cfg;
  std::string observations_token;
  std::map<std::string, std::string> peer_tokens;
  if (auto rc = LoadConfig(config_path, check_only, &cfg, &observations_token, &peer_tokens)) {
    return *rc;
  }
  log::Level level;
  if (log::ParseLevel(cfg.log_level, &level)) log::SetLevel(level);
  auto conn = OpenState(cfg);
  if (!conn) {
    std::fprintf(stderr, "agency-ha controller: %s\n", conn.message().c_str());
    return 2;
  }
  state::StateStore& store = *conn->store;

  BlockTerminationSignals();
  Stopper stop;
  SignalWatcher signals(stop);

  metrics::Registry reg;
  DefineControllerMetrics(reg);
  ProberSource source(cfg, SystemClock::instance(), reg);
  Controller ctl(cfg, store, source, SystemClock::instance(), reg);
  Companions c;
  SetUpQuorumPoll(cfg, peer_tokens, reg, ctl, c);
  SetUpLeadership(cfg, *conn, reg, ctl, c);

  const bool push = c.poller && cfg.quorum.push && !observations_token.empty();
  httpd::ServerOptions http_opts = httpd::AdminServerOptions();
  if (push) http_opts.max_body_bytes = quorum::kMaxPushBody;
  httpd::HttpServer http(http_opts);
  if (push) SetUpPush(cfg, peer_tokens, observations_token, reg, ctl, http, c);
  AddMetricsHandler(http, reg, c);
  AddStatusHandlers(http, ctl, c.elector.get(), observations_token);
  if (!cfg.listen.empty()) {
    if (Status s = http.Start(cfg.listen); !s) {
      log::Error("cannot start HTTP server", {{"error", s.message()}});
      return 1;
    }
  }
  LogStarting(config_path, cfg, store, http, c.elector.get());
  RunUntilStopped(ctl, stop, c);
  StopCompanions(c);
  http.Stop();
  log::Info("controller stopped", {{"signal", signals.signal()}});
  return 0;
}

}  // namespace aha::controller
