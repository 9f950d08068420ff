// `agency-ha demo`: the full local drill, with no cluster and no cloud account.
//
// On loopback, in a temp dir: N regions (default us-east-1 and eu-west-1 active, ap-southeast-1
// passive), each with a simulated agency app writing its `.agent` dir (src/demo/app.h), its gate
// (`agency-ha gate`) and, for active regions, its replication sidecar (`agency-ha replicate`)
// shipping to a local bucket dir (file://) or an S3 remote (--remote/--endpoint); the failover
// controller (`agency-ha controller`, file state store, status page at /) and the Security
// Monitor (`agency-ha mcp`, spoken to over stdio as an MCP client); a global entry point with
// latency routing and target health, and a client load generator (src/demo/entry.h).
// The drill (src/demo/drill.h): simulate_regional_outage on the first region through MCP,
// detection, failover, the passive region restoring the failed region's latest snapshot and
// taking traffic, the outage expiring, recovery and failback; then the measured timeline, client
// requests per phase and per second, the data check, and an HTML report (src/demo/report.h).
// --fault pod|network|node (src/demo/fault.h) injects another fault instead of the MCP outage: the
// drilled region's app killed, its endpoints unreachable through the demo's loopback proxies, or
// its whole set of processes stopped, each reverted after --duration by the demo; the product
// still detects, fails over, takes the data over and fails back by itself, and the timeline is
// observed the same way. --json carries `evidence`: the drill's sealed evidence record
// (src/evidence/seal.h; fault, timeline, RTO, RPO from the data check, version).
// A step that does not happen in time fails the demo (exit 1) naming it; bad flags exit 2.
// Ctrl-C stops every child process, reverts the fault and removes the temp dir.
#pragma once

#include <string>

namespace aha::demo {

struct Options {
  std::string regions = "us-east-1,eu-west-1,ap-southeast-1";  // first: drilled; last: passive
  int duration_seconds = 5;                                    // the drill (outage) length
  double interval_seconds = 0.5;  // controller probe interval (timeout: 80 % of it)
  double failback_seconds = 3.0;
  double rpo_bound_seconds = 2.0;  // a write lost at failover older than this fails the run
  std::string remote;              // s3://bucket/prefix; empty: file:// bucket dir in the temp dir
  std::string endpoint;            // S3 endpoint for --remote (path-style addressing)
  std::string report;  // HTML report path; empty: $TMPDIR/agency-ha-demo-report-<time>.html
  bool keep_running = false;
  bool keep_temp = false;  // leave the temp dir (logs, configs, bucket) for inspection
  bool json = false;
  std::string fault = "health";  // health|pod|network|node (src/demo/fault.h)
};

int Run(const Options& opts);

}  // namespace aha::demo
