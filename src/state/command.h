// `agency-ha state get|set`: read or write state keys with the same store code the roles use
// (atomic, merging, exact names), for operators and tests.
//   agency-ha state get (--dir DIR | --configmap NS/NAME) [KEY]
//   agency-ha state set (--dir DIR | --configmap NS/NAME) KEY (--value V | --from-file F | -)
#pragma once

#include <string>

namespace aha::state {

struct CommandOptions {
  std::string dir;
  std::string configmap;  // NS/NAME
  std::string kubeconfig;
  std::string key;
  std::string value;
  std::string from_file;
  bool has_value = false;
};

int GetCommand(const CommandOptions& o);
int SetCommand(const CommandOptions& o);

}  // namespace aha::state
