#include "probe/command.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/json_get.h"
#include "common/url.h"
#include "config/yaml_reader.h"
#include "probe/prober.h"

namespace aha::probe {

int RunCommand(const CommandOptions& o) {
  if (o.urls.empty()) {
    std::fprintf(stderr, "agency-ha probe: give at least one URL\n");
    return 2;
  }
  std::vector<Target> targets;
  for (size_t i = 0; i < o.urls.size(); ++i) {
    auto u = ParseUrl(o.urls[i]);
    if (!u || (u->scheme != "http" && u->scheme != "https")) {
      std::fprintf(stderr, "agency-ha probe: invalid URL %s: %s\n",
                   config::Quote(RedactUrl(o.urls[i])).c_str(),
                   u ? "want http or https" : u.message().c_str());
      return 2;
    }
    // The target name only labels the result; keep the order with an index.
    targets.push_back(Target{"u" + std::to_string(i), o.urls[i], o.min_healthy});
  }
  config::TlsConfig tls;
  tls.ca_file = o.ca_file;
  tls.insecure_skip_verify = o.insecure;
  Prober prober(Options{o.timeout_seconds, tls});
  auto results = prober.ProbeAll(targets);
  bool all_ok = true;
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < targets.size(); ++i) {
    const RegionResult& r = results[targets[i].region];
    all_ok = all_ok && r.ok;
    if (o.json) {
      out.push_back({{"url", o.urls[i]},
                     {"ok", r.ok},
                     {"detail", r.detail},
                     {"latencyMs", r.latency_ms},
                     {"healthy", r.healthy},
                     {"total", r.total}});
    } else {
      std::printf("%-4s %8.1f ms  %s  %s\n", r.ok ? "up" : "DOWN", r.latency_ms, o.urls[i].c_str(),
                  r.detail.c_str());
    }
  }
  if (o.json) std::printf("%s\n", jsonget::Dump(out, 2).c_str());
  return all_ok ? 0 : 1;
}

}  // namespace aha::probe
