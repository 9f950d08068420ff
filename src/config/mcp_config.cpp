#include "config/mcp_config.h"

#include "common/url.h"
#include "config/yaml_reader.h"

namespace aha::config {

namespace {

// scheme://host[:port] with http or https, no path: the form browsers send in Origin.
bool IsOrigin(const std::string& s) {
  std::string rest;
  if (s.rfind("http://", 0) == 0) {
    rest = s.substr(7);
  } else if (s.rfind("https://", 0) == 0) {
    rest = s.substr(8);
  } else {
    return false;
  }
  if (rest.empty()) return false;
  for (char c : rest) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                    c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

// A label key ([prefix/]name) or value as Kubernetes accepts them: at most 253 (prefix) + 63
// characters of [A-Za-z0-9._-/]; values at most 63. Checked loosely (charset and length): the
// API server has the last word, but nothing else reaches a selector or a request.
bool IsLabelText(const std::string& s, size_t max, bool allow_slash) {
  if (s.size() > max) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || (allow_slash && c == '/');
    if (!ok) return false;
  }
  return true;
}

void ReadFaults(const YAML::Node& n, FaultsConfig* out, std::string* err) {
  MapReader r(n, "mcp.faults", err);
  out->ns = r.str("namespace");
  out->region_label = r.str("regionLabel", out->region_label);
  YAML::Node labels = r.node("podLabels");
  YAML::Node types = r.node("types");
  r.finish();
  if (!err->empty()) return;
  if (!IsLabelText(out->ns, 63, false)) {
    r.fail("namespace", "expected a namespace name (DNS-1123 label)");
    return;
  }
  if (out->region_label.empty() || !IsLabelText(out->region_label, 317, true)) {
    r.fail("regionLabel", "expected a label key such as agency-ha/region");
    return;
  }
  if (types.IsDefined() && !types.IsNull()) {
    if (!types.IsSequence()) {
      r.fail("types", "expected a list of failure types (pod, network)");
      return;
    }
    out->types.clear();
    for (size_t i = 0; i < types.size(); ++i) {
      const std::string t = types[i].IsScalar() ? types[i].as<std::string>() : "";
      if (t != "pod" && t != "network") {
        r.fail(IndexPath("types", i), "expected pod or network");
        return;
      }
      out->types.push_back(t);
    }
  }
  if (!labels.IsDefined() || labels.IsNull()) return;
  if (!labels.IsMap()) {
    r.fail("podLabels", "expected a map of label key: value");
    return;
  }
  for (const auto& kv : labels) {
    if (!kv.first.IsScalar() || !kv.second.IsScalar()) {
      r.fail("podLabels", "expected a map of label key: value");
      return;
    }
    const std::string k = kv.first.as<std::string>(), v = kv.second.as<std::string>();
    if (k.empty() || !IsLabelText(k, 317, true) || !IsLabelText(v, 63, false)) {
      r.fail("podLabels", "\"" + k + "\": not a label key: value (letters, digits, - _ . /)");
      return;
    }
    if (k == out->region_label) {
      r.fail("podLabels",
             "\"" + k + "\" is the regionLabel: the region's value is added per drill");
      return;
    }
    out->pod_labels[k] = v;
  }
}

}  // namespace

namespace {

// mcp.replication: its remotes, read by the replication config's own parser.
void ReadReplicationRemotes(const YAML::Node& replication, McpConfig* out, std::string* err) {
  MapReader rr(replication, "mcp.replication", err);
  YAML::Node remotes = rr.node("remotes");
  rr.finish();
  if (!err->empty()) return;
  // The replication config's own parser reads the list (one format, one set of checks): it is
  // handed a minimal replication document around it, and its key paths get our prefix.
  YAML::Node doc(YAML::NodeType::Map);
  doc["source"] = "/";
  doc["region"] = "mcp";
  doc["listen"] = "";
  if (remotes.IsDefined()) doc["remotes"] = remotes;
  YAML::Emitter emit;
  emit << doc;
  auto parsed = ParseReplicationConfig(emit.c_str(), "mcp.replication");
  if (!parsed) {
    *err = "mcp.replication." + parsed.message();
    return;
  }
  out->replication_remotes = parsed->remotes;
}

}  // namespace

void ReadMcpSection(MapReader& root, McpConfig* out, std::string* err) {
  YAML::Node n = root.node("mcp");
  if (!n.IsDefined() || n.IsNull()) return;
  MapReader r(n, "mcp", err);
  const long long def = r.integer("defaultDurationSeconds", out->default_duration_seconds);
  const long long min = r.integer("minDurationSeconds", out->min_duration_seconds);
  const long long max = r.integer("maxDurationSeconds", out->max_duration_seconds);
  out->audit_log = r.str("auditLog");
  out->http_token = r.str("httpToken");
  out->http_token_file = r.str("httpTokenFile");
  out->max_request_bytes = r.integer("maxRequestBytes", out->max_request_bytes);
  out->controller_url_set = r.has("controllerUrl");
  out->controller_url = r.str("controllerUrl");
  YAML::Node origins = r.node("allowedOrigins");
  YAML::Node replication = r.node("replication");
  YAML::Node faults = r.node("faults");
  r.finish();
  if (!err->empty()) return;
  if (min < 1 || min > 86400) {
    r.fail("minDurationSeconds", "must be between 1 and 86400");
  } else if (max < min || max > 86400) {
    r.fail("maxDurationSeconds",
           "must be between minDurationSeconds (" + std::to_string(min) + ") and 86400");
  } else if (def < min || def > max) {
    r.fail("defaultDurationSeconds", "must be between minDurationSeconds (" + std::to_string(min) +
                                         ") and maxDurationSeconds (" + std::to_string(max) + ")");
  } else if (!out->http_token.empty() && !out->http_token_file.empty()) {
    r.fail("httpTokenFile", "set either httpToken or httpTokenFile, not both");
  } else if (out->max_request_bytes < 1024 || out->max_request_bytes > (64LL << 20)) {
    r.fail("maxRequestBytes", "must be between 1024 and 67108864");
  } else if (!out->controller_url.empty()) {
    auto u = ParseUrl(out->controller_url);
    if (!u || (u->scheme != "http" && u->scheme != "https") ||
        (!u->path.empty() && u->path != "/")) {
      r.fail("controllerUrl",
             "expected http(s)://host[:port] of the controller's listener, without a path" +
                 std::string(u ? "" : " (" + u.message() + ")"));
    }
  }
  if (!err->empty()) return;
  out->default_duration_seconds = static_cast<int>(def);
  out->min_duration_seconds = static_cast<int>(min);
  out->max_duration_seconds = static_cast<int>(max);
  if (replication.IsDefined() && !replication.IsNull()) {
    ReadReplicationRemotes(replication, out, err);
    if (!err->empty()) return;
  }
  if (faults.IsDefined() && !faults.IsNull()) {
    ReadFaults(faults, &out->faults, err);
    if (!err->empty()) return;
  }
  if (origins.IsDefined() && !origins.IsNull()) {
    if (!origins.IsSequence()) {
      r.fail("allowedOrigins", "expected a list of origins");
      return;
    }
    for (size_t i = 0; i < origins.size(); ++i) {
      const std::string path = IndexPath("allowedOrigins", i);
      if (!origins[i].IsScalar() || !IsOrigin(origins[i].as<std::string>())) {
        r.fail(path, "expected an origin such as \"https://console.example.com\"");
        return;
      }
      out->allowed_origins.push_back(origins[i].as<std::string>());
    }
  }
}

}  // namespace aha::config
