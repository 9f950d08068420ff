// `agency-ha probe URL...`: probe endpoints once with the controller's own prober and report.
// Used by the chart's `helm test` pod (the runtime image has no shell or curl) and by operators
// to see exactly what the controller sees from where they stand. Exit 0 when every URL is up,
// 1 when any is down, 2 on a bad argument.
#pragma once

#include <string>
#include <vector>

namespace aha::probe {

struct CommandOptions {
  std::vector<std::string> urls;
  double timeout_seconds = 2.0;
  int min_healthy = 1;
  std::string ca_file;
  bool insecure = false;
  bool json = false;
};

int RunCommand(const CommandOptions& o);

}  // namespace aha::probe
