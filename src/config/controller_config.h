// The failover controller's configuration: a plain struct, validated once at load time.
//
// Runtime objects (prober, controller loop, stores) are built from a validated Config and never
// re-check it. Every error message names the offending key by its path, e.g.
//   regions[1].name: duplicate region "eu-west-1"
// The Security Monitor MCP server (later) reads the same file and adds its own section.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "config/mcp_config.h"
#include "config/state_config.h"
#include "net/tls.h"

namespace aha::config {

// ca_file (empty = system store), cert_file/key_file (mTLS), insecure_skip_verify: what the
// YAML sets. The in-memory PEM fields are for clients built from a kubeconfig, never set here.
using TlsConfig = net::Tls;

struct RegionConfig {
  std::string name;  // DNS-1123 label, unique
  bool active = true;
  std::string endpoint;  // http(s) URL probed by the controller
  int priority = 0;      // passive promotion order, lower first
  int min_healthy_endpoints = 1;
};

struct ProbeConfig {
  double interval_seconds = 1.0;
  double timeout_seconds = 0.5;
  int failure_threshold = 3;
  int success_threshold = 2;
  int min_healthy_endpoints = 1;  // default for regions that do not set it
  TlsConfig tls;
};

struct PolicyConfig {
  // A promoted passive region is demoted only after the active region it stood in for has been
  // healthy for this long; avoids ping-pong when an active region recovers briefly.
  double failback_seconds = 60.0;
};

struct LeaderElectionConfig {
  bool enabled = false;
  std::string lease_namespace;  // default: the ConfigMap's / kubeconfig's namespace
  std::string lease_name;
  std::string identity;  // default: $POD_NAME, else hostname_pid
  double lease_duration_seconds = 15;
  double renew_deadline_seconds = 10;
  double retry_period_seconds = 2;
};

// One other region's controller whose observations this controller reads (observer quorum).
struct PeerConfig {
  std::string name;  // the peer's region (its observer identity); a configured region
  std::string url;  // its observations endpoint, e.g. https://ctl.eu-west-1.example/v1/observations
  std::string
      token_file;  // bearer token sent to this peer; empty = ControllerConfig::observations_token
  TlsConfig tls;   // CA / client certificate (mTLS) for https peers
};

enum class IsolationPolicy {
  kKeepServing,  // an isolated controller keeps its own region as it is (default)
  kStopServing,  // an isolated controller writes its own region into failedRegions (self-fencing)
};
const char* IsolationPolicyName(IsolationPolicy p);

// Observer quorum (docs/ARCHITECTURE.md, "Observer quorum"). Only in effect when peers are
// configured; without peers the controller decides alone, as it always did.
struct QuorumConfig {
  std::string region;  // this controller's own region (its observer identity); required with peers
  int size = 0;        // observers that must agree (incl. self); resolved: majority by default
  double staleness_seconds = 0;     // resolved: default 5 × probe.intervalSeconds
  double peer_timeout_seconds = 0;  // resolved: default probe.timeoutSeconds
  IsolationPolicy isolation = IsolationPolicy::kKeepServing;
  // Push this controller's report to every peer (POST to the peer's observations URL) as soon as
  // one of its own verdicts changes, and accept its peers' pushes; the poll stays the fallback.
  bool push = true;
};

struct ControllerConfig {
  std::vector<RegionConfig> regions;
  ProbeConfig probe;
  PolicyConfig policy;
  StateSourceConfig state;
  LeaderElectionConfig leader_election;
  std::string kubeconfig;                 // optional; else $KUBECONFIG, in-cluster, ~/.kube/config
  std::string listen = "127.0.0.1:9090";  // empty string disables the HTTP server
  std::string log_level = "info";
  McpConfig mcp;  // read by `agency-ha mcp` only; the controller ignores it
  std::vector<PeerConfig> peers;
  QuorumConfig quorum;
  // File holding the bearer token that peers must present at GET /v1/observations (and that is
  // sent to peers without their own tokenFile). Read by the controller at start, not by the parser.
  std::string observations_token;

  bool QuorumEnabled() const { return !peers.empty(); }
  int Observers() const { return static_cast<int>(peers.size()) + 1; }
};

// Parses and validates. The error names the key: "probe.timeoutSeconds: must be less than ...".
Result<ControllerConfig> ParseControllerConfig(const std::string& yaml_text,
                                               const std::string& source);
Result<ControllerConfig> LoadControllerConfig(const std::string& path);

// True when `name` is a DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool IsDns1123Label(const std::string& name);

}  // namespace aha::config
