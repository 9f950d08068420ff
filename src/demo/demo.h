// `agency-ha demo`: the local failover drill on embedded defaults, with no cluster.
//
// Three simulated regional endpoints on loopback (us-east-1 and eu-west-1 active, ap-southeast-1
// passive), the real controller loop with the file state store in a temp dir, and a reader that
// watches the state keys the way a gate would. It takes us-east-1's endpoint down (the listener
// is closed: connections are refused), later brings it back, and prints a timeline whose every
// time is measured from those real events. A step that does not happen within its deadline
// fails the demo with a non-zero exit naming the step.
#pragma once

namespace aha::demo {

struct Options {
  double interval_seconds = 0.5;
  double failback_seconds = 3.0;
  double outage_seconds = 4.0;
  bool json = false;
};

int Run(const Options& opts);

}  // namespace aha::demo
