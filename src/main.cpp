// agency-ha: one multi-call binary, one subcommand per role.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "controller/command.h"
#include "demo/demo.h"
#include "gate/command.h"
#include "mcp/command.h"
#include "probe/command.h"
#include "replication/command.h"
#include "replication/sidecar.h"
#include "state/command.h"

int main(int argc, char** argv) {
  CLI::App app{"agency-ha: multi-region high availability for the Simple-CLI Digital Agency"};
  app.set_version_flag("--version", std::string("agency-ha ") + AHA_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  bool check = false;
  auto* ctl = app.add_subcommand("controller", "Run the failover controller");
  ctl->add_option("--config", config_path, "Controller config (YAML)")->required();
  ctl->add_flag("--check", check, "Validate the config and exit (0 valid, 2 invalid)");

  std::string gate_config;
  bool gate_check_config = false;
  auto* gate = app.add_subcommand("gate", "Run the readiness gate sidecar");
  gate->add_option("--config", gate_config, "Gate config (YAML)");
  gate->add_flag("--check", gate_check_config, "Validate the config and exit (0 valid, 2 invalid)");
  std::string gate_probe_config;
  auto* gate_probe = gate->add_subcommand(
      "check", "Exec-probe helper: exit 0 when the running gate is ready, 1 when not");
  gate_probe->add_option("--config", gate_probe_config, "Gate config (YAML)")->required();

  aha::state::CommandOptions st;
  auto* state = app.add_subcommand("state", "Read or write failover state keys");
  state->require_subcommand(1);
  auto add_store_opts = [&](CLI::App* c) {
    c->add_option("--dir", st.dir, "State directory (file store)");
    c->add_option("--configmap", st.configmap, "State ConfigMap as NAMESPACE/NAME");
    c->add_option("--kubeconfig", st.kubeconfig, "kubeconfig (default: KUBECONFIG, in-cluster)");
  };
  auto* state_get = state->add_subcommand("get", "Print one key, or all keys as JSON");
  add_store_opts(state_get);
  state_get->add_option("key", st.key, "Key to print");
  auto* state_set = state->add_subcommand("set", "Write one key (other keys are kept)");
  add_store_opts(state_set);
  state_set->add_option("key", st.key, "Key to write")->required();
  auto* value_opt = state_set->add_option("--value", st.value, "The value");
  state_set->add_option("--from-file", st.from_file, "Read the value from a file (- = stdin)")
      ->excludes(value_opt);

  aha::probe::CommandOptions probe_opts;
  auto* probe =
      app.add_subcommand("probe", "Probe URLs once, as the controller does (exit 0 all up)");
  probe->add_option("urls", probe_opts.urls, "http(s) URLs")->required();
  probe->add_option("--timeout", probe_opts.timeout_seconds, "Per-probe timeout in seconds")
      ->check(CLI::Range(0.01, 60.0));
  probe
      ->add_option("--min-healthy", probe_opts.min_healthy,
                   "Addresses behind each host that must answer 2xx")
      ->check(CLI::Range(1, 64));
  probe->add_option("--ca-file", probe_opts.ca_file, "CA bundle for https");
  probe->add_flag("--insecure", probe_opts.insecure, "Skip TLS verification");
  probe->add_flag("--json", probe_opts.json, "Print the results as JSON");

  aha::demo::Options demo_opts;
  auto* demo = app.add_subcommand("demo", "Run the full local failover drill (no cluster needed)");
  demo->add_option("--regions", demo_opts.regions,
                   "Comma-separated regions: the first is drilled, the last is passive");
  demo->add_option("--duration", demo_opts.duration_seconds, "Drill (outage) length in seconds")
      ->check(CLI::Range(1, 3600));
  demo->add_option("--interval", demo_opts.interval_seconds, "Probe interval in seconds")
      ->check(CLI::Range(0.05, 10.0));
  demo->add_option("--failback", demo_opts.failback_seconds, "Failback delay in seconds")
      ->check(CLI::Range(0.0, 600.0));
  demo->add_option("--remote", demo_opts.remote, "Ship snapshots to s3://bucket/prefix instead");
  demo->add_option("--endpoint", demo_opts.endpoint, "S3 endpoint for --remote");
  demo->add_option("--report", demo_opts.report, "Write the HTML report here");
  demo->add_option("--rpo-bound", demo_opts.rpo_bound_seconds,
                   "Fail when a write lost at failover is older than this (seconds)")
      ->check(CLI::Range(0.0, 3600.0));
  demo->add_flag("--keep-running", demo_opts.keep_running,
                 "Keep everything running after the drill (status page) until Ctrl-C");
  demo->add_flag("--keep-temp", demo_opts.keep_temp,
                 "Keep the temp dir (logs, configs, bucket) for inspection");
  demo->add_flag("--json", demo_opts.json, "Print the result as JSON");

  std::string mcp_config, mcp_http;
  bool mcp_check = false;
  auto* mcp = app.add_subcommand("mcp", "Run the Security Monitor MCP server (DR drills)");
  // AGENCY_HA_CONFIG: MCP clients that launch servers (the MCP Inspector CLI) take --config for
  // themselves, so the path can come from the environment too.
  mcp->add_option("--config", mcp_config,
                  "Controller config with an mcp: section (YAML; env AGENCY_HA_CONFIG)")
      ->envname("AGENCY_HA_CONFIG")
      ->required();
  mcp->add_option("--http", mcp_http, "Serve Streamable HTTP on HOST:PORT (default: stdio)");
  mcp->add_flag("--check", mcp_check, "Validate the config and exit (0 valid, 2 invalid)");

  std::string repl_config;
  bool repl_once = false, repl_check = false;
  auto* repl =
      app.add_subcommand("replicate", "Run the replication sidecar (snapshots to remotes)");
  repl->add_option("--config", repl_config, "Replication config (YAML)")->required();
  repl->add_flag("--once", repl_once, "Take and publish one snapshot, print a JSON report, exit");
  repl->add_flag("--check", repl_check, "Validate the config and exit (0 valid, 2 invalid)");
  std::string car_config;
  bool car_check = false;
  auto* car = app.add_subcommand(
      "sidecar",
      "Replication sidecar whose role follows the failover state: writer of its region's lineage, "
      "follower, or writer of a failed region's lineage while promoted (docs/WRITER.md)");
  car->add_option("--config", car_config, "Replication config with a handoff section (YAML)")
      ->required();
  car->add_flag("--check", car_check, "Validate the config and exit (0 valid, 2 invalid)");
  aha::replication::RemoteArgs repl_remote;
  bool path_style = false;
  // --remote/--region/--endpoint/--s3-region/--path-style/--config, shared by snapshots, restore
  // and follow (replication/command.h: RemoteArgs says which wins).
  auto add_remote_opts = [&](CLI::App* c) {
    c->add_option("--remote", repl_remote.remotes,
                  "s3://bucket/prefix or file:///path; repeat: tried in order");
    c->add_option("--region", repl_remote.region, "Lineage (region) name");
    c->add_option("--config", repl_remote.config, "Replication config: remotes and region");
    c->add_option("--endpoint", repl_remote.endpoint,
                  "S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS)");
    c->add_option("--s3-region", repl_remote.s3_region,
                  "S3 signing region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)");
    return c->add_flag("--path-style", path_style,
                       "Path-style S3 URLs (--path-style=false: virtual-hosted)");
  };
  bool snaps_json = false;
  auto* snaps = app.add_subcommand("snapshots", "List a region's snapshots on a remote");
  auto* snaps_ps = add_remote_opts(snaps);
  snaps->add_flag("--json", snaps_json, "Print JSON");
  std::string restore_to, restore_snapshot = "latest";
  bool restore_force = false, restore_quiet = false, restore_if_empty = false;
  auto* restore = app.add_subcommand("restore", "Restore a snapshot into a directory");
  auto* restore_ps = add_remote_opts(restore);
  restore->add_option("--to", restore_to, "Target directory")->required();
  restore->add_option("--snapshot", restore_snapshot, "Snapshot id or latest");
  restore->add_flag("--force", restore_force, "Replace a non-empty target");
  restore->add_flag("--quiet", restore_quiet, "No progress on stderr");
  restore
      ->add_flag("--if-empty", restore_if_empty,
                 "Init-container mode: exit 0 without restoring when the target is not empty or "
                 "no remote has a snapshot of the region (other remote errors still fail)")
      ->excludes("--force");
  aha::replication::FollowArgs follow_opts;
  auto* follow = app.add_subcommand(
      "follow", "Warm standby: keep a directory at another region's newest snapshot");
  auto* follow_ps = add_remote_opts(follow);
  follow->add_option("--to", follow_opts.to, "Standby directory")->required();
  follow->add_option("--interval", follow_opts.interval_seconds, "Seconds between checks")
      ->check(CLI::Range(0.1, 86400.0));
  follow->add_option("--listen", follow_opts.listen, "Serve /healthz and /metrics on HOST:PORT");
  follow->add_flag("--once", follow_opts.once, "One round, print a JSON report, exit");

  auto* help = app.add_subcommand("help", "Show help");
  auto* version = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (*help) {
    // app.help() would describe the selected subcommand ("help" itself); describe the app.
    std::fputs(
        app.get_formatter()->make_help(&app, "agency-ha", CLI::AppFormatMode::Normal).c_str(),
        stdout);
    return 0;
  }
  if (*version) {
    std::printf("agency-ha %s\n", AHA_VERSION);
    return 0;
  }
  if (*ctl) return aha::controller::RunCommand(config_path, check);
  if (*demo) return aha::demo::Run(demo_opts);
  if (*mcp) return aha::mcp::RunCommand(mcp_config, mcp_check, mcp_http);
  if (*state_get) return aha::state::GetCommand(st);
  if (*state_set) {
    st.has_value = value_opt->count() > 0;
    return aha::state::SetCommand(st);
  }
  if (*repl) return aha::replication::ReplicateCommand(repl_config, repl_once, repl_check);
  if (*car) return aha::replication::SidecarCommand(car_config, car_check);
  for (auto* ps : {snaps_ps, restore_ps, follow_ps}) {
    if (ps->count() > 0) repl_remote.path_style = path_style;
  }
  if (*snaps) return aha::replication::SnapshotsCommand(repl_remote, snaps_json);
  if (*restore) {
    return aha::replication::RestoreCommand(repl_remote, restore_to, restore_snapshot,
                                            restore_force, restore_quiet, restore_if_empty);
  }
  if (*follow) return aha::replication::FollowCommand(repl_remote, follow_opts);
  if (*probe) return aha::probe::RunCommand(probe_opts);
  if (*gate_probe) return aha::gate::CheckCommand(gate_probe_config);
  if (*gate) {
    if (gate_config.empty()) {
      std::fprintf(stderr, "agency-ha gate: --config is required\n");
      return 2;
    }
    return aha::gate::RunCommand(gate_config, gate_check_config);
  }
  return 2;
}
