#include "config/replication_config.h"

#include <set>

#include "common/fs.h"
#include "common/url.h"
#include "config/controller_config.h"
#include "config/yaml_reader.h"

namespace aha::config {

std::string ValidateRemoteUrl(const std::string& url) {
  if (url.rfind("file://", 0) == 0) {
    const std::string path = url.substr(7);
    if (path.empty() || path.front() != '/') return "file:// URLs need an absolute path";
    return "";
  }
  auto u = ParseUrl(url);
  if (!u) return u.message();
  if (u->scheme != "s3") return "unsupported scheme " + Quote(u->scheme) + " (want s3 or file)";
  if (u->host.empty()) return "missing bucket";
  return "";
}

Result<ReplicationConfig> ParseReplicationConfig(const std::string& yaml_text,
                                                 const std::string& source) {
  auto doc = LoadYamlString(yaml_text, source);
  if (!doc) return doc.error();
  std::string err;
  ReplicationConfig c;
  MapReader root(*doc, "", &err);
  c.source = root.str("source");
  if (err.empty()) {
    if (c.source.empty()) {
      root.fail("source", "required");
    } else if (c.source.front() != '/') {
      root.fail("source", "must be an absolute path, got " + Quote(c.source));
    }
    while (c.source.size() > 1 && c.source.back() == '/')
      c.source.pop_back();
  }
  if (err.empty()) {
    c.region = root.str("region");
    if (c.region.empty()) {
      root.fail("region", "required");
    } else if (!IsDns1123Label(c.region)) {
      root.fail("region", "invalid region name " + Quote(c.region) + ": must be a DNS-1123 label");
    }
  }
  if (err.empty()) {
    c.state_dir = root.str("stateDir", c.source + "/.agency-ha");
    if (!c.state_dir.empty() && c.state_dir.front() != '/') {
      root.fail("stateDir", "must be an absolute path, got " + Quote(c.state_dir));
    }
  }
  if (err.empty()) {
    YAML::Node list = root.node("remotes");
    if (!list.IsDefined() || list.IsNull() || (list.IsSequence() && list.size() == 0)) {
      root.fail("remotes", "at least one remote is required");
    } else if (!list.IsSequence()) {
      root.fail("remotes", "expected a list of remotes");
    } else if (list.size() > 16) {
      root.fail("remotes", "at most 16 remotes are supported");
    } else {
      std::set<std::string> seen;
      for (size_t i = 0; i < list.size() && err.empty(); ++i) {
        MapReader r(list[i], IndexPath("remotes", i), &err);
        RemoteConfig rc;
        rc.url = r.str("url");
        rc.region = r.str("region");
        rc.endpoint = r.str("endpoint");
        if (r.has("pathStyle")) rc.path_style = r.boolean("pathStyle", false);
        r.finish();
        if (!err.empty()) break;
        if (rc.url.empty()) {
          r.fail("url", "required");
        } else if (auto why = ValidateRemoteUrl(rc.url); !why.empty()) {
          r.fail("url", "invalid remote " + Quote(RedactUrl(rc.url)) + ": " + why);
        } else if (!seen.insert(rc.url).second) {
          r.fail("url", "duplicate remote " + Quote(RedactUrl(rc.url)));
        } else if (!rc.endpoint.empty()) {
          auto u = ParseUrl(rc.endpoint);
          if (!u || (u->scheme != "http" && u->scheme != "https")) {
            r.fail("endpoint",
                   "invalid endpoint " + Quote(RedactUrl(rc.endpoint)) + " (want http(s)://host)");
          }
        }
        c.remotes.push_back(std::move(rc));
      }
    }
  }
  if (err.empty()) {
    c.sync_interval_seconds = root.number("syncIntervalSeconds", c.sync_interval_seconds);
    if (err.empty() && (c.sync_interval_seconds < 1 || c.sync_interval_seconds > 86400)) {
      root.fail("syncIntervalSeconds", "must be between 1 and 86400");
    }
  }
  if (err.empty()) {
    c.debounce_milliseconds = root.integer("debounceMilliseconds", c.debounce_milliseconds);
    if (err.empty() && (c.debounce_milliseconds < 0 || c.debounce_milliseconds > 600000)) {
      root.fail("debounceMilliseconds", "must be between 0 and 600000");
    }
  }
  if (err.empty()) {
    c.parallelism = static_cast<int>(root.integer("parallelism", c.parallelism));
    if (err.empty() && (c.parallelism < 1 || c.parallelism > 64)) {
      root.fail("parallelism", "must be between 1 and 64");
    }
  }
  if (err.empty()) {
    YAML::Node rn = root.node("retention");
    MapReader r(rn, "retention", &err);
    c.retention.keep_last = r.integer("keepLast", c.retention.keep_last);
    c.retention.keep_within_seconds =
        r.number("keepWithinSeconds", c.retention.keep_within_seconds);
    r.finish();
    if (err.empty() && (c.retention.keep_last < 0 || c.retention.keep_last > 1000000)) {
      r.fail("keepLast", "must be between 0 and 1000000");
    } else if (err.empty() && c.retention.keep_within_seconds < 0) {
      r.fail("keepWithinSeconds", "must be >= 0");
    }
  }
  if (err.empty()) {
    c.listen = root.str("listen", c.listen);
    if (err.empty() && !c.listen.empty()) {
      if (auto hp = ParseHostPort(c.listen); !hp) {
        root.fail("listen", "invalid address " + Quote(c.listen) + ": " + hp.message());
      }
    }
  }
  if (err.empty() && root.has("handoff")) {
    HandoffConfig& h = c.handoff;
    h.configured = true;
    MapReader r(root.node("handoff"), "handoff", &err);
    h.active = r.boolean("active", true);
    h.follow_region = r.str("followRegion");
    h.lineage_suffix = r.str("lineageSuffix");
    h.kubeconfig = r.str("kubeconfig");
    h.position_file = r.str("positionFile", c.state_dir + "/position.json");
    h.timeout_seconds = r.number("timeoutSeconds", h.timeout_seconds);
    h.follow_interval_seconds = r.number("followIntervalSeconds", h.follow_interval_seconds);
    if (err.empty()) ReadStateSource(r, &h.state, &err);
    if (err.empty() && r.has("events")) {
      MapReader e(r.node("events"), "handoff.events", &err);
      h.events.enabled = e.boolean("enabled", true);
      h.events.pod_namespace = e.str("podNamespace");
      h.events.pod_name = e.str("podName");
      h.events.pod_uid = e.str("podUid");
      e.finish();
      if (!err.empty()) {
      } else if (h.events.enabled && !h.state.is_configmap()) {
        e.fail("enabled",
               "Events need a ConfigMap state source (handoff.state.configMap); set enabled: "
               "false or drop handoff.events");
      } else if (!h.events.pod_namespace.empty() && !IsDns1123Label(h.events.pod_namespace)) {
        e.fail("podNamespace", "invalid namespace " + Quote(h.events.pod_namespace));
      } else if (!h.events.pod_name.empty() && !IsDns1123Subdomain(h.events.pod_name)) {
        e.fail("podName", "invalid pod name " + Quote(h.events.pod_name));
      } else if (h.events.pod_uid.size() > 64 ||
                 h.events.pod_uid.find_first_not_of("0123456789abcdefABCDEF-") !=
                     std::string::npos) {
        e.fail("podUid", "invalid uid " + Quote(h.events.pod_uid) + " (want the pod's UUID)");
      }
    }
    if (err.empty()) r.finish();
    const std::string& sfx = h.lineage_suffix;
    if (!err.empty()) {
    } else if (!sfx.empty() &&
               (sfx.size() >= c.region.size() || !c.region.ends_with(sfx) ||
                !IsDns1123Label(c.region.substr(0, c.region.size() - sfx.size())))) {
      r.fail("lineageSuffix",
             "region " + Quote(c.region) + " must be <failover region>" + Quote(sfx));
    } else if (!h.active && h.follow_region.empty()) {
      r.fail("followRegion",
             "required when active is false (the lineage a passive region follows)");
    } else if (!h.follow_region.empty() && !IsDns1123Label(h.follow_region)) {
      r.fail("followRegion", "invalid region name " + Quote(h.follow_region));
    } else if (h.position_file.empty() || h.position_file.front() != '/') {
      r.fail("positionFile", "must be an absolute path, got " + Quote(h.position_file));
    } else if (!(h.timeout_seconds >= 0 && h.timeout_seconds <= 3600)) {
      r.fail("timeoutSeconds", "must be between 0 and 3600");
    } else if (!(h.follow_interval_seconds >= 0.05 && h.follow_interval_seconds <= 3600)) {
      r.fail("followIntervalSeconds", "must be between 0.05 and 3600");
    }
  }
  if (err.empty()) root.finish();
  if (!err.empty()) return Err(err);
  return c;
}

Result<ReplicationConfig> LoadReplicationConfig(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return Err("cannot read config: " + text.message());
  return ParseReplicationConfig(*text, path);
}

}  // namespace aha::config
