#include "config/gate_config.h"

#include "common/fs.h"
#include "common/log.h"
#include "common/url.h"
#include "config/controller_config.h"
#include "config/yaml_reader.h"

namespace aha::config {

Result<GateConfig> ParseGateConfig(const std::string& yaml_text, const std::string& source) {
  auto doc = LoadYamlString(yaml_text, source);
  if (!doc) return doc.error();
  std::string err;
  GateConfig c;
  MapReader root(*doc, "", &err);
  c.region = root.str("region");
  c.app_health_url = root.str("appHealthUrl");
  c.app_timeout_seconds = root.number("appTimeoutSeconds", c.app_timeout_seconds);
  c.listen = root.str("listen", c.listen);
  c.kubeconfig = root.str("kubeconfig");
  c.log_level = root.str("logLevel", c.log_level);
  c.position_file = root.str("positionFile");
  if (err.empty() && !c.position_file.empty() && c.position_file.front() != '/') {
    root.fail("positionFile", "must be an absolute path, got " + Quote(c.position_file));
  }
  if (err.empty()) ReadStateSource(root, &c.state, &err);
  if (err.empty()) root.finish();
  if (!err.empty()) return Err(err);
  if (c.region.empty()) {
    root.fail("region", "required");
  } else if (!IsDns1123Label(c.region)) {
    root.fail("region", "invalid region name " + Quote(c.region) + ": must be a DNS-1123 label");
  } else if (!c.app_health_url.empty()) {
    auto u = ParseUrl(c.app_health_url);
    if (!u) {
      root.fail("appHealthUrl",
                "invalid URL " + Quote(RedactUrl(c.app_health_url)) + ": " + u.message());
    } else if (u->scheme != "http" && u->scheme != "https") {
      root.fail("appHealthUrl", "unsupported scheme " + Quote(u->scheme));
    }
  }
  if (err.empty() && (c.app_timeout_seconds <= 0 || c.app_timeout_seconds > 60)) {
    root.fail("appTimeoutSeconds", "must be greater than 0 and at most 60");
  }
  if (err.empty()) {
    if (auto hp = ParseHostPort(c.listen); !hp) {
      root.fail("listen", "invalid address " + Quote(c.listen) + ": " + hp.message());
    }
  }
  log::Level level;
  if (err.empty() && !log::ParseLevel(c.log_level, &level)) {
    root.fail("logLevel", "must be one of debug, info, warn, error; got " + Quote(c.log_level));
  }
  if (!err.empty()) return Err(err);
  return c;
}

Result<GateConfig> LoadGateConfig(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return Err("cannot read config: " + text.message());
  return ParseGateConfig(*text, path);
}

}  // namespace aha::config
