// agency-ha: one multi-call binary, one subcommand per role.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "controller/command.h"
#include "demo/demo.h"
#include "evidence/command.h"
#include "gate/command.h"
#include "mcp/command.h"
#include "probe/command.h"
#include "replication/command.h"
#include "replication/sidecar.h"
#include "state/command.h"

namespace {

// Every option's value, bound by the subcommands' definitions below (CLI11 keeps references:
// this outlives the parse).
struct Args {
  std::string config_path;
  bool check = false;
  std::string gate_config, gate_probe_config;
  bool gate_check_config = false;
  aha::state::CommandOptions st;
  aha::probe::CommandOptions probe;
  aha::demo::Options demo;
  std::string mcp_config, mcp_http;
  bool mcp_check = false;
  std::string repl_config;
  bool repl_once = false, repl_check = false;
  std::string car_config;
  bool car_check = false;
  aha::replication::RemoteArgs remote;
  bool path_style = false;
  bool snaps_json = false;
  std::string restore_to, restore_snapshot = "latest";
  bool restore_force = false, restore_quiet = false, restore_if_empty = false;
  aha::replication::FollowArgs follow;
  std::string evidence_file, evidence_key_file;
};

// The subcommands (set when selected) and the options whose presence matters after the parse.
struct Commands {
  CLI::App *ctl, *gate, *gate_probe, *state_get, *state_set, *probe, *demo, *mcp, *repl, *car,
      *snaps, *restore, *follow, *evidence_verify, *help, *version;
  CLI::Option *value_opt, *snaps_ps, *restore_ps, *follow_ps;
};

void AddControllerAndGate(CLI::App& app, Args& a, Commands& c) {
  c.ctl = app.add_subcommand("controller", "Run the failover controller");
  c.ctl->add_option("--config", a.config_path, "Controller config (YAML)")->required();
  c.ctl->add_flag("--check", a.check, "Validate the config and exit (0 valid, 2 invalid)");

  c.gate = app.add_subcommand("gate", "Run the readiness gate sidecar");
  c.gate->add_option("--config", a.gate_config, "Gate config (YAML)");
  c.gate->add_flag("--check", a.gate_check_config,
                   "Validate the config and exit (0 valid, 2 invalid)");
  c.gate_probe = c.gate->add_subcommand(
      "check", "Exec-probe helper: exit 0 when the running gate is ready, 1 when not");
  c.gate_probe->add_option("--config", a.gate_probe_config, "Gate config (YAML)")->required();
}

void AddState(CLI::App& app, Args& a, Commands& c) {
  auto* state = app.add_subcommand("state", "Read or write failover state keys");
  state->require_subcommand(1);
  auto add_store_opts = [&](CLI::App* cmd) {
    cmd->add_option("--dir", a.st.dir, "State directory (file store)");
    cmd->add_option("--configmap", a.st.configmap, "State ConfigMap as NAMESPACE/NAME");
    cmd->add_option("--kubeconfig", a.st.kubeconfig,
                    "kubeconfig (default: KUBECONFIG, in-cluster)");
  };
  c.state_get = state->add_subcommand("get", "Print one key, or all keys as JSON");
  add_store_opts(c.state_get);
  c.state_get->add_option("key", a.st.key, "Key to print");
  c.state_set = state->add_subcommand("set", "Write one key (other keys are kept)");
  add_store_opts(c.state_set);
  c.state_set->add_option("key", a.st.key, "Key to write")->required();
  c.value_opt = c.state_set->add_option("--value", a.st.value, "The value");
  c.state_set->add_option("--from-file", a.st.from_file, "Read the value from a file (- = stdin)")
      ->excludes(c.value_opt);
}

void AddProbe(CLI::App& app, Args& a, Commands& c) {
  auto& o = a.probe;
  c.probe = app.add_subcommand("probe", "Probe URLs once, as the controller does (exit 0 all up)");
  c.probe->add_option("urls", o.urls, "http(s) URLs")->required();
  c.probe->add_option("--timeout", o.timeout_seconds, "Per-probe timeout in seconds")
      ->check(CLI::Range(0.01, 60.0));
  c.probe
      ->add_option("--min-healthy", o.min_healthy,
                   "Addresses behind each host that must answer 2xx")
      ->check(CLI::Range(1, 64));
  c.probe->add_option("--ca-file", o.ca_file, "CA bundle for https");
  c.probe->add_flag("--insecure", o.insecure, "Skip TLS verification");
  c.probe->add_flag("--json", o.json, "Print the results as JSON");
}

void AddDemo(CLI::App& app, Args& a, Commands& c) {
  auto& o = a.demo;
  auto* demo = c.demo =
      app.add_subcommand("demo", "Run the full local failover drill (no cluster needed)");
  demo->add_option("--regions", o.regions,
                   "Comma-separated regions: the first is drilled, the last is passive");
  demo->add_option("--duration", o.duration_seconds, "Drill (outage) length in seconds")
      ->check(CLI::Range(1, 3600));
  demo->add_option("--interval", o.interval_seconds, "Probe interval in seconds")
      ->check(CLI::Range(0.05, 10.0));
  demo->add_option("--failback", o.failback_seconds, "Failback delay in seconds")
      ->check(CLI::Range(0.0, 600.0));
  demo->add_option("--remote", o.remote, "Ship snapshots to s3://bucket/prefix instead");
  demo->add_option("--endpoint", o.endpoint, "S3 endpoint for --remote");
  demo->add_option("--report", o.report, "Write the HTML report here");
  demo->add_option("--rpo-bound", o.rpo_bound_seconds,
                   "Fail when a write lost at failover is older than this (seconds)")
      ->check(CLI::Range(0.0, 3600.0));
  demo->add_option("--fault", o.fault,
                   "What the drill injects into the first region: health (default: the MCP "
                   "simulated outage, the gates report unhealthy), pod (its app killed, restarted "
                   "after --duration), network (its endpoints unreachable for --duration), node "
                   "(its app, gate and sidecar stopped for --duration)")
      ->check(CLI::IsMember({"health", "pod", "network", "node"}));
  demo->add_flag("--keep-running", o.keep_running,
                 "Keep everything running after the drill (status page) until Ctrl-C");
  demo->add_flag("--keep-temp", o.keep_temp,
                 "Keep the temp dir (logs, configs, bucket) for inspection");
  demo->add_flag("--json", o.json, "Print the result as JSON");
}

void AddMcp(CLI::App& app, Args& a, Commands& c) {
  c.mcp = app.add_subcommand("mcp", "Run the Security Monitor MCP server (DR drills)");
  // AGENCY_HA_CONFIG: MCP clients that launch servers (the MCP Inspector CLI) take --config for
  // themselves, so the path can come from the environment too.
  c.mcp
      ->add_option("--config", a.mcp_config,
                   "Controller config with an mcp: section (YAML; env AGENCY_HA_CONFIG)")
      ->envname("AGENCY_HA_CONFIG")
      ->required();
  c.mcp->add_option("--http", a.mcp_http, "Serve Streamable HTTP on HOST:PORT (default: stdio)");
  c.mcp->add_flag("--check", a.mcp_check, "Validate the config and exit (0 valid, 2 invalid)");
}

void AddReplicateAndSidecar(CLI::App& app, Args& a, Commands& c) {
  c.repl = app.add_subcommand("replicate", "Run the replication sidecar (snapshots to remotes)");
  c.repl->add_option("--config", a.repl_config, "Replication config (YAML)")->required();
  c.repl->add_flag("--once", a.repl_once,
                   "Take and publish one snapshot, print a JSON report, exit");
  c.repl->add_flag("--check", a.repl_check, "Validate the config and exit (0 valid, 2 invalid)");
  c.car = app.add_subcommand(
      "sidecar",
      "Replication sidecar whose role follows the failover state: writer of its region's lineage, "
      "follower, or writer of a failed region's lineage while promoted (docs/WRITER.md)");
  c.car->add_option("--config", a.car_config, "Replication config with a handoff section (YAML)")
      ->required();
  c.car->add_flag("--check", a.car_check, "Validate the config and exit (0 valid, 2 invalid)");
}

// snapshots, restore and follow: they share --remote/--region/--endpoint/--s3-region/
// --path-style/--config (replication/command.h: RemoteArgs says which wins).
void AddRemoteCommands(CLI::App& app, Args& a, Commands& c) {
  auto add_remote_opts = [&](CLI::App* cmd) {
    cmd->add_option("--remote", a.remote.remotes,
                    "s3://bucket/prefix or file:///path; repeat: tried in order");
    cmd->add_option("--region", a.remote.region, "Lineage (region) name");
    cmd->add_option("--config", a.remote.config, "Replication config: remotes and region");
    cmd->add_option("--endpoint", a.remote.endpoint,
                    "S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS)");
    cmd->add_option("--s3-region", a.remote.s3_region,
                    "S3 signing region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)");
    return cmd->add_flag("--path-style", a.path_style,
                         "Path-style S3 URLs (--path-style=false: virtual-hosted)");
  };
  c.snaps = app.add_subcommand("snapshots", "List a region's snapshots on a remote");
  c.snaps_ps = add_remote_opts(c.snaps);
  c.snaps->add_flag("--json", a.snaps_json, "Print JSON");
  auto* restore = c.restore = app.add_subcommand("restore", "Restore a snapshot into a directory");
  c.restore_ps = add_remote_opts(restore);
  restore->add_option("--to", a.restore_to, "Target directory")->required();
  restore->add_option("--snapshot", a.restore_snapshot, "Snapshot id or latest");
  restore->add_flag("--force", a.restore_force, "Replace a non-empty target");
  restore->add_flag("--quiet", a.restore_quiet, "No progress on stderr");
  restore
      ->add_flag("--if-empty", a.restore_if_empty,
                 "Init-container mode: exit 0 without restoring when the target is not empty or "
                 "no remote has a snapshot of the region (other remote errors still fail)")
      ->excludes("--force");
  auto* follow = c.follow = app.add_subcommand(
      "follow", "Warm standby: keep a directory at another region's newest snapshot");
  c.follow_ps = add_remote_opts(follow);
  follow->add_option("--to", a.follow.to, "Standby directory")->required();
  follow->add_option("--interval", a.follow.interval_seconds, "Seconds between checks")
      ->check(CLI::Range(0.1, 86400.0));
  follow->add_option("--listen", a.follow.listen, "Serve /healthz and /metrics on HOST:PORT");
  follow->add_flag("--once", a.follow.once, "One round, print a JSON report, exit");
}

void AddEvidence(CLI::App& app, Args& a, Commands& c) {
  auto* ev = app.add_subcommand("evidence", "DR evidence records (sealed drill reports)");
  ev->require_subcommand(1);
  c.evidence_verify = ev->add_subcommand(
      "verify", "Check a sealed evidence record: exit 0 intact, 1 changed, 2 unreadable");
  c.evidence_verify->add_option("file", a.evidence_file, "The record (JSON)")->required();
  c.evidence_verify->add_option("--hmac-key-file", a.evidence_key_file,
                                "Also check the HMAC with this key (surrounding whitespace "
                                "trimmed)");
}

// Runs the selected subcommand.
int Dispatch(CLI::App& app, Args& a, const Commands& c) {
  if (*c.help) {
    // app.help() would describe the selected subcommand ("help" itself); describe the app.
    std::fputs(
        app.get_formatter()->make_help(&app, "agency-ha", CLI::AppFormatMode::Normal).c_str(),
        stdout);
    return 0;
  }
  if (*c.version) {
    std::printf("agency-ha %s\n", AHA_VERSION);
    return 0;
  }
  if (*c.ctl) return aha::controller::RunCommand(a.config_path, a.check);
  if (*c.demo) return aha::demo::Run(a.demo);
  if (*c.mcp) return aha::mcp::RunCommand(a.mcp_config, a.mcp_check, a.mcp_http);
  if (*c.state_get) return aha::state::GetCommand(a.st);
  if (*c.state_set) {
    a.st.has_value = c.value_opt->count() > 0;
    return aha::state::SetCommand(a.st);
  }
  if (*c.repl) return aha::replication::ReplicateCommand(a.repl_config, a.repl_once, a.repl_check);
  if (*c.car) return aha::replication::SidecarCommand(a.car_config, a.car_check);
  for (auto* ps : {c.snaps_ps, c.restore_ps, c.follow_ps}) {
    if (ps->count() > 0) a.remote.path_style = a.path_style;
  }
  if (*c.snaps) return aha::replication::SnapshotsCommand(a.remote, a.snaps_json);
  if (*c.restore) {
    return aha::replication::RestoreCommand(a.remote, a.restore_to, a.restore_snapshot,
                                            a.restore_force, a.restore_quiet, a.restore_if_empty);
  }
  if (*c.follow) return aha::replication::FollowCommand(a.remote, a.follow);
  if (*c.probe) return aha::probe::RunCommand(a.probe);
  if (*c.evidence_verify) {
    return aha::evidence::VerifyCommand(a.evidence_file, a.evidence_key_file);
  }
  if (*c.gate_probe) return aha::gate::CheckCommand(a.gate_probe_config);
  if (*c.gate) {
    if (a.gate_config.empty()) {
      std::fprintf(stderr, "agency-ha gate: --config is required\n");
      return 2;
    }
    return aha::gate::RunCommand(a.gate_config, a.gate_check_config);
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"agency-ha: multi-region high availability for the Simple-CLI Digital Agency"};
  app.set_version_flag("--version", std::string("agency-ha ") + AHA_VERSION);
  app.require_subcommand(1);
  Args a;
  Commands c{};
  AddControllerAndGate(app, a, c);
  AddState(app, a, c);
  AddProbe(app, a, c);
  AddDemo(app, a, c);
  AddMcp(app, a, c);
  AddReplicateAndSidecar(app, a, c);
  AddRemoteCommands(app, a, c);
  AddEvidence(app, a, c);
  c.help = app.add_subcommand("help", "Show help");
  c.version = app.add_subcommand("version", "Print the version");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return Dispatch(app, a, c);
}
