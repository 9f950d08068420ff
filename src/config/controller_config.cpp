#include "config/controller_config.h"

#include <set>

#include "common/fs.h"
#include "common/log.h"
#include "common/url.h"
#include "config/yaml_reader.h"

namespace aha::config {

namespace {

constexpr size_t kMaxRegions = 64;

void ReadTls(MapReader& parent, const std::string& key, TlsConfig* tls, std::string* err) {
  MapReader r(parent.node(key), parent.child_path(key), err);
  tls->ca_file = r.str("caFile");
  tls->cert_file = r.str("certFile");
  tls->key_file = r.str("keyFile");
  tls->insecure_skip_verify = r.boolean("insecureSkipVerify", false);
  r.finish();
  if (!err->empty()) return;
  if (tls->cert_file.empty() != tls->key_file.empty()) {
    r.fail(tls->cert_file.empty() ? "certFile" : "keyFile",
           "certFile and keyFile must be set together");
  }
}

void ReadProbe(MapReader& root, ProbeConfig* p, std::string* err) {
  MapReader r(root.node("probe"), "probe", err);
  p->interval_seconds = r.number("intervalSeconds", p->interval_seconds);
  p->timeout_seconds = r.number("timeoutSeconds", p->timeout_seconds);
  p->failure_threshold = static_cast<int>(r.integer("failureThreshold", p->failure_threshold));
  p->success_threshold = static_cast<int>(r.integer("successThreshold", p->success_threshold));
  p->min_healthy_endpoints =
      static_cast<int>(r.integer("minHealthyEndpoints", p->min_healthy_endpoints));
  ReadTls(r, "tls", &p->tls, err);
  r.finish();
  if (!err->empty()) return;
  if (p->interval_seconds < 0.05 || p->interval_seconds > 3600) {
    r.fail("intervalSeconds", "must be between 0.05 and 3600");
  } else if (p->timeout_seconds <= 0) {
    r.fail("timeoutSeconds", "must be greater than 0");
  } else if (p->timeout_seconds >= p->interval_seconds) {
    r.fail("timeoutSeconds",
           "must be less than probe.intervalSeconds (" + std::to_string(p->interval_seconds) + ")");
  } else if (p->failure_threshold < 1 || p->failure_threshold > 1000) {
    r.fail("failureThreshold", "must be between 1 and 1000");
  } else if (p->success_threshold < 1 || p->success_threshold > 1000) {
    r.fail("successThreshold", "must be between 1 and 1000");
  } else if (p->min_healthy_endpoints < 1 || p->min_healthy_endpoints > 64) {
    r.fail("minHealthyEndpoints", "must be between 1 and 64");
  }
}

void ReadRegions(MapReader& root, const ProbeConfig& probe, std::vector<RegionConfig>* out,
                 std::string* err) {
  YAML::Node list = root.node("regions");
  if (!list.IsDefined() || list.IsNull()) {
    root.fail("regions", "at least one region is required");
    return;
  }
  if (!list.IsSequence()) {
    root.fail("regions", "expected a list of regions");
    return;
  }
  if (list.size() == 0) {
    root.fail("regions", "at least one region is required");
    return;
  }
  if (list.size() > kMaxRegions) {
    root.fail("regions", "at most 64 regions are supported, got " + std::to_string(list.size()));
    return;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < list.size() && err->empty(); ++i) {
    const std::string path = IndexPath("regions", i);
    MapReader r(list[i], path, err);
    RegionConfig rc;
    rc.name = r.str("name");
    rc.active = r.boolean("active", true);
    rc.endpoint = r.str("endpoint");
    rc.priority = static_cast<int>(r.integer("priority", 0));
    rc.min_healthy_endpoints =
        static_cast<int>(r.integer("minHealthyEndpoints", probe.min_healthy_endpoints));
    r.node("nodeSelector");  // accepted for values.yaml compatibility; used by the chart only
    r.finish();
    if (!err->empty()) return;
    if (rc.name.empty()) {
      r.fail("name", "required");
    } else if (!IsDns1123Label(rc.name)) {
      r.fail("name", "invalid region name " + Quote(rc.name) +
                         ": must be a DNS-1123 label (lowercase letters, digits and '-', "
                         "starting and ending with a letter or digit, at most 63 characters)");
    } else if (!seen.insert(rc.name).second) {
      r.fail("name", "duplicate region " + Quote(rc.name));
    } else if (rc.endpoint.empty()) {
      r.fail("endpoint", "required");
    } else if (auto u = ParseUrl(rc.endpoint); !u) {
      r.fail("endpoint", "invalid URL " + Quote(RedactUrl(rc.endpoint)) + ": " + u.message());
    } else if (u->scheme != "http" && u->scheme != "https") {
      r.fail("endpoint", "unsupported scheme " + Quote(u->scheme) + " (want http or https)");
    } else if (rc.priority < 0 || rc.priority > 1000000) {
      r.fail("priority", "must be between 0 and 1000000");
    } else if (rc.min_healthy_endpoints < 1 || rc.min_healthy_endpoints > 64) {
      r.fail("minHealthyEndpoints", "must be between 1 and 64");
    }
    out->push_back(std::move(rc));
  }
}

void ReadLeaderElection(MapReader& root, LeaderElectionConfig* le, std::string* err) {
  YAML::Node n = root.node("leaderElection");
  if (!n.IsDefined() || n.IsNull()) return;
  MapReader r(n, "leaderElection", err);
  le->enabled = r.boolean("enabled", true);
  YAML::Node lease = r.node("lease");
  MapReader l(lease, "leaderElection.lease", err);
  le->lease_namespace = l.str("namespace");
  le->lease_name = l.str("name");
  l.finish();
  le->identity = r.str("identity");
  le->lease_duration_seconds = r.number("leaseDurationSeconds", le->lease_duration_seconds);
  le->renew_deadline_seconds = r.number("renewDeadlineSeconds", le->renew_deadline_seconds);
  le->retry_period_seconds = r.number("retryPeriodSeconds", le->retry_period_seconds);
  r.finish();
  if (!err->empty() || !le->enabled) return;
  if (le->lease_name.empty()) {
    l.fail("name", "required");
  } else if (!IsDns1123Subdomain(le->lease_name)) {
    l.fail("name", "invalid Lease name " + Quote(le->lease_name));
  } else if (!le->lease_namespace.empty() && !IsDns1123Label(le->lease_namespace)) {
    l.fail("namespace", "invalid namespace " + Quote(le->lease_namespace));
  } else if (le->retry_period_seconds <= 0) {
    r.fail("retryPeriodSeconds", "must be greater than 0");
  } else if (le->renew_deadline_seconds <= le->retry_period_seconds) {
    r.fail("renewDeadlineSeconds", "must be greater than retryPeriodSeconds");
  } else if (le->lease_duration_seconds <= le->renew_deadline_seconds) {
    r.fail("leaseDurationSeconds", "must be greater than renewDeadlineSeconds");
  }
}

bool HasRegion(const std::vector<RegionConfig>& regions, const std::string& name) {
  for (const auto& r : regions) {
    if (r.name == name) return true;
  }
  return false;
}

void ReadPeers(MapReader& root, ControllerConfig* c, std::string* err) {
  YAML::Node list = root.node("peers");
  if (!list.IsDefined() || list.IsNull()) return;
  if (!list.IsSequence()) {
    root.fail("peers", "expected a list of peer controllers");
    return;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < list.size() && err->empty(); ++i) {
    const std::string path = IndexPath("peers", i);
    MapReader r(list[i], path, err);
    PeerConfig pc;
    pc.name = r.str("name");
    pc.url = r.str("url");
    pc.token_file = r.str("tokenFile");
    ReadTls(r, "tls", &pc.tls, err);
    r.finish();
    if (!err->empty()) return;
    if (pc.name.empty()) {
      r.fail("name", "required");
    } else if (!HasRegion(c->regions, pc.name)) {
      r.fail("name",
             "unknown region " + Quote(pc.name) + " (a peer is another region's controller)");
    } else if (!seen.insert(pc.name).second) {
      r.fail("name", "duplicate peer " + Quote(pc.name));
    } else if (pc.url.empty()) {
      r.fail("url", "required");
    } else if (auto u = ParseUrl(pc.url); !u) {
      r.fail("url", "invalid URL " + Quote(RedactUrl(pc.url)) + ": " + u.message());
    } else if (u->scheme != "http" && u->scheme != "https") {
      r.fail("url", "unsupported scheme " + Quote(u->scheme) + " (want http or https)");
    }
    c->peers.push_back(std::move(pc));
  }
}

void ReadQuorum(MapReader& root, ControllerConfig* c, std::string* err) {
  QuorumConfig& q = c->quorum;
  MapReader r(root.node("quorum"), "quorum", err);
  q.region = r.str("region");
  const long long size = r.integer("size", 0);
  q.staleness_seconds = r.number("stalenessSeconds", 5 * c->probe.interval_seconds);
  q.peer_timeout_seconds = r.number("peerTimeoutSeconds", c->probe.timeout_seconds);
  const std::string isolation = r.str("isolation", "keep-serving");
  q.push = r.boolean("push", true);
  r.finish();
  if (!err->empty()) return;
  const int observers = c->Observers();
  q.size = size == 0 ? observers / 2 + 1 : static_cast<int>(size);
  if (isolation == "keep-serving") {
    q.isolation = IsolationPolicy::kKeepServing;
  } else if (isolation == "stop-serving") {
    q.isolation = IsolationPolicy::kStopServing;
  } else {
    r.fail("isolation", "must be keep-serving or stop-serving; got " + Quote(isolation));
    return;
  }
  if (!q.region.empty() && !HasRegion(c->regions, q.region)) {
    r.fail("region", "unknown region " + Quote(q.region));
  } else if (c->peers.empty()) {
    return;  // without peers the controller decides alone; the rest has no effect
  } else if (q.region.empty()) {
    r.fail("region", "required with peers (the region this controller runs in)");
  } else if (size != 0 && (size <= observers / 2 || size > observers)) {
    r.fail("size", "must be a majority of the " + std::to_string(observers) +
                       " observers (between " + std::to_string(observers / 2 + 1) + " and " +
                       std::to_string(observers) + "), got " + std::to_string(size) +
                       "; a smaller quorum lets both sides of a partition act");
  } else if (q.staleness_seconds < c->probe.interval_seconds || q.staleness_seconds > 3600) {
    r.fail("stalenessSeconds", "must be between probe.intervalSeconds (" +
                                   std::to_string(c->probe.interval_seconds) + ") and 3600");
  } else if (q.peer_timeout_seconds <= 0 || q.peer_timeout_seconds >= c->probe.interval_seconds) {
    r.fail("peerTimeoutSeconds", "must be greater than 0 and less than probe.intervalSeconds (" +
                                     std::to_string(c->probe.interval_seconds) + ")");
  } else {
    for (size_t i = 0; i < c->peers.size(); ++i) {
      if (c->peers[i].name == q.region) {
        std::string e = IndexPath("peers", i) + ".name: " + Quote(q.region) +
                        " is this controller's own region (quorum.region)";
        *err = e;
        return;
      }
    }
  }
}

}  // namespace

const char* IsolationPolicyName(IsolationPolicy p) {
  return p == IsolationPolicy::kStopServing ? "stop-serving" : "keep-serving";
}

Result<ControllerConfig> ParseControllerConfig(const std::string& yaml_text,
                                               const std::string& source) {
  auto doc = LoadYamlString(yaml_text, source);
  if (!doc) return doc.error();
  std::string err;
  ControllerConfig c;
  MapReader root(*doc, "", &err);
  ReadProbe(root, &c.probe, &err);
  if (err.empty()) ReadRegions(root, c.probe, &c.regions, &err);
  if (err.empty()) {
    MapReader p(root.node("policy"), "policy", &err);
    c.policy.failback_seconds = p.number("failbackSeconds", c.policy.failback_seconds);
    p.finish();
    if (err.empty() && (c.policy.failback_seconds < 0 || c.policy.failback_seconds > 86400)) {
      p.fail("failbackSeconds", "must be between 0 and 86400");
    }
  }
  if (err.empty()) ReadStateSource(root, &c.state, &err);
  if (err.empty()) c.kubeconfig = root.str("kubeconfig");
  if (err.empty()) ReadLeaderElection(root, &c.leader_election, &err);
  if (err.empty()) {
    c.listen = root.str("listen", c.listen);
    if (!c.listen.empty()) {
      if (auto hp = ParseHostPort(c.listen); !hp) {
        root.fail("listen", "invalid address " + Quote(c.listen) + ": " + hp.message());
      }
    }
  }
  if (err.empty()) {
    c.log_level = root.str("logLevel", c.log_level);
    log::Level level;
    if (!log::ParseLevel(c.log_level, &level)) {
      root.fail("logLevel", "must be one of debug, info, warn, error; got " + Quote(c.log_level));
    }
  }
  if (err.empty()) ReadMcpSection(root, &c.mcp, &err);
  if (err.empty()) ReadPeers(root, &c, &err);
  if (err.empty()) ReadQuorum(root, &c, &err);
  if (err.empty()) {
    c.observations_token = root.str("observationsToken");
    if (err.empty() && c.QuorumEnabled() && c.observations_token.empty()) {
      root.fail("observationsToken",
                "required with peers (a file holding the bearer token peers present)");
    }
  }
  if (err.empty()) root.finish();
  if (!err.empty()) return Err(err);
  return c;
}

Result<ControllerConfig> LoadControllerConfig(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return Err("cannot read config: " + text.message());
  return ParseControllerConfig(*text, path);
}

}  // namespace aha::config
