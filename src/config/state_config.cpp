#include "config/state_config.h"

#include "config/controller_config.h"
#include "config/yaml_reader.h"

namespace aha::config {

bool IsDns1123Subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    std::string label = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!IsDns1123Label(label)) return false;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

void ReadStateSource(MapReader& root, StateSourceConfig* out, std::string* err) {
  MapReader s(root.node("state"), root.child_path("state"), err);
  out->file = s.str("file");
  YAML::Node cm = s.node("configMap");
  if (cm.IsDefined() && !cm.IsNull()) {
    MapReader c(cm, s.child_path("configMap"), err);
    out->configmap_namespace = c.str("namespace");
    out->configmap_name = c.str("name");
    c.finish();
    if (!err->empty()) return;
    if (out->configmap_name.empty()) {
      c.fail("name", "required");
    } else if (!IsDns1123Subdomain(out->configmap_name)) {
      c.fail("name", "invalid ConfigMap name " + Quote(out->configmap_name) +
                         ": must be a DNS-1123 subdomain");
    } else if (!out->configmap_namespace.empty() && !IsDns1123Label(out->configmap_namespace)) {
      c.fail("namespace", "invalid namespace " + Quote(out->configmap_namespace));
    }
  }
  s.finish();
  if (!err->empty()) return;
  if (out->file.empty() && !out->is_configmap()) {
    s.fail("", "set either file (a state directory) or configMap {namespace, name}");
  } else if (!out->file.empty() && out->is_configmap()) {
    s.fail("", "set only one of file and configMap");
  } else if (out->file.find('\0') != std::string::npos) {
    s.fail("file", "invalid path");
  }
}

}  // namespace aha::config
