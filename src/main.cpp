// agency-ha: one multi-call binary, one subcommand per role.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "controller/command.h"
#include "demo/demo.h"

int main(int argc, char** argv) {
  CLI::App app{"agency-ha: multi-region high availability for the Simple-CLI Digital Agency"};
  app.set_version_flag("--version", std::string("agency-ha ") + AHA_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  bool check = false;
  auto* ctl = app.add_subcommand("controller", "Run the failover controller");
  ctl->add_option("--config", config_path, "Controller config (YAML)")->required();
  ctl->add_flag("--check", check, "Validate the config and exit (0 valid, 2 invalid)");

  aha::demo::Options demo_opts;
  auto* demo = app.add_subcommand("demo", "Run the local failover drill on embedded defaults");
  demo->add_option("--interval", demo_opts.interval_seconds, "Probe interval in seconds")
      ->check(CLI::Range(0.05, 10.0));
  demo->add_option("--failback", demo_opts.failback_seconds, "Failback delay in seconds")
      ->check(CLI::Range(0.0, 600.0));
  demo->add_option("--outage", demo_opts.outage_seconds, "How long the outage lasts (s)")
      ->check(CLI::Range(0.5, 600.0));
  demo->add_flag("--json", demo_opts.json, "Print the timeline as JSON");

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
  return 2;
}
