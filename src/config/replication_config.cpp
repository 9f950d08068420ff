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

namespace {

// `source`: required and absolute; trailing slashes are dropped.
void ReadSource(MapReader& root, ReplicationConfig* c) {
  c->source = root.str("source");
  if (root.failed()) return;
  if (c->source.empty()) {
    root.fail("source", "required");
  } else if (c->source.front() != '/') {
    root.fail("source", "must be an absolute path, got " + Quote(c->source));
  }
  while (c->source.size() > 1 && c->source.back() == '/')
    c->source.pop_back();
}

// `region`: required, a DNS-1123 label (it names the lineage on the remotes).
void ReadRegion(MapReader& root, ReplicationConfig* c) {
  c->region = root.str("region");
  if (c->region.empty()) {
    root.fail("region", "required");
  } else if (!IsDns1123Label(c->region)) {
    root.fail("region", "invalid region name " + Quote(c->region) + ": must be a DNS-1123 label");
  }
}

// `stateDir`: absolute; defaults to <source>/.agency-ha.
void ReadStateDir(MapReader& root, ReplicationConfig* c) {
  c->state_dir = root.str("stateDir", c->source + "/.agency-ha");
  if (!c->state_dir.empty() && c->state_dir.front() != '/') {
    root.fail("stateDir", "must be an absolute path, got " + Quote(c->state_dir));
  }
}

// One `remotes[i]` entry; `seen` holds the URLs of the entries before it. Returns false when the
// entry could not be read at all (the caller stops without keeping it).
bool ReadRemote(const YAML::Node& node, size_t i, std::set<std::string>* seen, std::string* err,
                RemoteConfig* rc) {
  MapReader r(node, IndexPath("remotes", i), err);
  rc->url = r.str("url");
  rc->region = r.str("region");
  rc->endpoint = r.str("endpoint");
  if (r.has("pathStyle")) rc->path_style = r.boolean("pathStyle", false);
  r.finish();
  if (!err->empty()) return false;
  if (rc->url.empty()) {
    r.fail("url", "required");
  } else if (auto why = ValidateRemoteUrl(rc->url); !why.empty()) {
    r.fail("url", "invalid remote " + Quote(RedactUrl(rc->url)) + ": " + why);
  } else if (!seen->insert(rc->url).second) {
    r.fail("url", "duplicate remote " + Quote(RedactUrl(rc->url)));
  } else if (!rc->endpoint.empty()) {
    auto u = ParseUrl(rc->endpoint);
    if (!u || (u->scheme != "http" && u->scheme != "https")) {
      r.fail("endpoint",
             "invalid endpoint " + Quote(RedactUrl(rc->endpoint)) + " (want http(s)://host)");
    }
  }
  return true;
}

// `remotes`: a list of 1 to 16 distinct remotes.
void ReadRemotes(MapReader& root, std::string* err, std::vector<RemoteConfig>* remotes) {
  YAML::Node list = root.node("remotes");
  if (!list.IsDefined() || list.IsNull() || (list.IsSequence() && list.size() == 0)) {
    root.fail("remotes", "at least one remote is required");
  } else if (!list.IsSequence()) {
    root.fail("remotes", "expected a list of remotes");
  } else if (list.size() > 16) {
    root.fail("remotes", "at most 16 remotes are supported");
  } else {
    std::set<std::string> seen;
    for (size_t i = 0; i < list.size() && err->empty(); ++i) {
      RemoteConfig rc;
      if (!ReadRemote(list[i], i, &seen, err, &rc)) break;
      remotes->push_back(std::move(rc));
    }
  }
}

// `syncIntervalSeconds`, `debounceMilliseconds`, `parallelism`: each within its bounds.
void ReadTuning(MapReader& root, ReplicationConfig* c) {
  c->sync_interval_seconds = root.number("syncIntervalSeconds", c->sync_interval_seconds);
  if (!root.failed() && (c->sync_interval_seconds < 1 || c->sync_interval_seconds > 86400)) {
    root.fail("syncIntervalSeconds", "must be between 1 and 86400");
  }
  if (root.failed()) return;
  c->debounce_milliseconds = root.integer("debounceMilliseconds", c->debounce_milliseconds);
  if (!root.failed() && (c->debounce_milliseconds < 0 || c->debounce_milliseconds > 600000)) {
    root.fail("debounceMilliseconds", "must be between 0 and 600000");
  }
  if (root.failed()) return;
  c->parallelism = static_cast<int>(root.integer("parallelism", c->parallelism));
  if (!root.failed() && (c->parallelism < 1 || c->parallelism > 64)) {
    root.fail("parallelism", "must be between 1 and 64");
  }
}

// `retention: {keepLast, keepWithinSeconds}`.
void ReadRetention(const YAML::Node& node, std::string* err, RetentionConfig* ret) {
  MapReader r(node, "retention", err);
  ret->keep_last = r.integer("keepLast", ret->keep_last);
  ret->keep_within_seconds = r.number("keepWithinSeconds", ret->keep_within_seconds);
  r.finish();
  if (err->empty() && (ret->keep_last < 0 || ret->keep_last > 1000000)) {
    r.fail("keepLast", "must be between 0 and 1000000");
  } else if (err->empty() && ret->keep_within_seconds < 0) {
    r.fail("keepWithinSeconds", "must be >= 0");
  }
}

// `listen`: host:port of /healthz and /metrics; "" disables them.
void ReadListen(MapReader& root, ReplicationConfig* c) {
  c->listen = root.str("listen", c->listen);
  if (!root.failed() && !c->listen.empty()) {
    if (auto hp = ParseHostPort(c->listen); !hp) {
      root.fail("listen", "invalid address " + Quote(c->listen) + ": " + hp.message());
    }
  }
}

// `handoff.events`: only with a ConfigMap state source; pod fields checked when given.
void ReadSidecarEvents(const YAML::Node& node, const StateSourceConfig& state, std::string* err,
                       SidecarEventsConfig* ev) {
  MapReader e(node, "handoff.events", err);
  ev->enabled = e.boolean("enabled", true);
  ev->pod_namespace = e.str("podNamespace");
  ev->pod_name = e.str("podName");
  ev->pod_uid = e.str("podUid");
  e.finish();
  if (!err->empty()) {
  } else if (ev->enabled && !state.is_configmap()) {
    e.fail("enabled",
           "Events need a ConfigMap state source (handoff.state.configMap); set enabled: "
           "false or drop handoff.events");
  } else if (!ev->pod_namespace.empty() && !IsDns1123Label(ev->pod_namespace)) {
    e.fail("podNamespace", "invalid namespace " + Quote(ev->pod_namespace));
  } else if (!ev->pod_name.empty() && !IsDns1123Subdomain(ev->pod_name)) {
    e.fail("podName", "invalid pod name " + Quote(ev->pod_name));
  } else if (ev->pod_uid.size() > 64 ||
             ev->pod_uid.find_first_not_of("0123456789abcdefABCDEF-") != std::string::npos) {
    e.fail("podUid", "invalid uid " + Quote(ev->pod_uid) + " (want the pod's UUID)");
  }
}

// Cross-field checks of a read `handoff` section against the config's `region`.
void CheckHandoff(MapReader& r, const std::string& region, const HandoffConfig& h) {
  const std::string& sfx = h.lineage_suffix;
  if (!sfx.empty() && (sfx.size() >= region.size() || !region.ends_with(sfx) ||
                       !IsDns1123Label(region.substr(0, region.size() - sfx.size())))) {
    r.fail("lineageSuffix", "region " + Quote(region) + " must be <failover region>" + Quote(sfx));
  } else if (!h.active && h.follow_region.empty()) {
    r.fail("followRegion", "required when active is false (the lineage a passive region follows)");
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

// `handoff:` (present): the sidecar's role settings (docs/WRITER.md).
void ReadHandoff(const YAML::Node& node, const ReplicationConfig& c, std::string* err,
                 HandoffConfig* h) {
  h->configured = true;
  MapReader r(node, "handoff", err);
  h->active = r.boolean("active", true);
  h->follow_region = r.str("followRegion");
  h->lineage_suffix = r.str("lineageSuffix");
  h->kubeconfig = r.str("kubeconfig");
  h->position_file = r.str("positionFile", c.state_dir + "/position.json");
  h->timeout_seconds = r.number("timeoutSeconds", h->timeout_seconds);
  h->follow_interval_seconds = r.number("followIntervalSeconds", h->follow_interval_seconds);
  if (err->empty()) ReadStateSource(r, &h->state, err);
  if (err->empty() && r.has("events"))
    ReadSidecarEvents(r.node("events"), h->state, err, &h->events);
  if (err->empty()) r.finish();
  if (err->empty()) CheckHandoff(r, c.region, *h);
}

}  // namespace

Result<ReplicationConfig> ParseReplicationConfig(const std::string& yaml_text,
                                                 const std::string& source) {
  auto doc = LoadYamlString(yaml_text, source);
  if (!doc) return doc.error();
  std::string err;
  ReplicationConfig c;
  MapReader root(*doc, "", &err);
  ReadSource(root, &c);
  if (err.empty()) ReadRegion(root, &c);
  if (err.empty()) ReadStateDir(root, &c);
  if (err.empty()) ReadRemotes(root, &err, &c.remotes);
  if (err.empty()) ReadTuning(root, &c);
  if (err.empty()) ReadRetention(root.node("retention"), &err, &c.retention);
  if (err.empty()) ReadListen(root, &c);
  if (err.empty() && root.has("handoff")) ReadHandoff(root.node("handoff"), c, &err, &c.handoff);
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
