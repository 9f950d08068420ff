// Where a role finds the failover state: a directory (embedded default) or a ConfigMap.
// Shared by the controller, the gate and the MCP server configs:
//   state:
//     file: /var/run/agency-ha/state           # exactly one of file / configMap
//     configMap: {namespace: agency, name: simple-agency-failover}
//   kubeconfig: /path (optional; else $KUBECONFIG, in-cluster, ~/.kube/config)
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

namespace aha::config {

class MapReader;  // config/yaml_reader.h; not included so that users of the structs do not
                  // pull in yaml-cpp (failover/decide.h includes the controller config)

struct StateSourceConfig {
  std::string file;
  std::string configmap_namespace;
  std::string configmap_name;
  bool is_configmap() const { return !configmap_name.empty(); }
};

// Reads `state` from `root`; the first error goes to *err (naming the key path).
void ReadStateSource(MapReader& root, StateSourceConfig* out, std::string* err);
bool IsDns1123Subdomain(const std::string& s);

}  // namespace aha::config
