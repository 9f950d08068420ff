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

namespace aha::config {

struct TlsConfig {
  std::string ca_file;    // PEM bundle to verify the endpoint; empty = system store
  std::string cert_file;  // client certificate (mTLS)
  std::string key_file;
  bool insecure_skip_verify = false;
};

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
};

// Parses and validates. The error names the key: "probe.timeoutSeconds: must be less than ...".
Result<ControllerConfig> ParseControllerConfig(const std::string& yaml_text,
                                               const std::string& source);
Result<ControllerConfig> LoadControllerConfig(const std::string& path);

// True when `name` is a DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool IsDns1123Label(const std::string& name);

}  // namespace aha::config
