// Prober: checks every region's endpoint concurrently and reports one observation per region.
//
// Contract
// - ProbeAll() probes all targets at once (one libcurl multi handle) and returns within
//   `timeout` (plus scheduling noise): a hanging endpoint costs only its own timeout and never
//   delays the verdict of another region.
// - A target's URL host may resolve to several addresses (e.g. a headless Service, or a name with
//   A and AAAA records). Each address is probed separately, pinned with CURLOPT_RESOLVE so that
//   TLS SNI and certificate verification still use the host name. The region is up when at least
//   `min_healthy` addresses answer 2xx within the timeout. Name resolution is bounded by the same
//   deadline; a failed or slow resolution makes the region down with a reason saying so.
// - Only 2xx is healthy. Redirects are not followed (a 3xx from a health path is a
//   misconfiguration, reported as unhealthy with its status code).
// - The prober performs no decision: it only observes. Hysteresis lives in failover::Decide.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/url.h"
#include "config/controller_config.h"

namespace aha::probe {

struct Target {
  std::string region;
  std::string url;  // http:// or https://, validated by the config loader
  int min_healthy = 1;
};

struct Options {
  double timeout_seconds = 0.5;
  config::TlsConfig tls;
};

struct EndpointResult {
  std::string address;  // the IP address probed ("127.0.0.1", "::1")
  bool ok = false;
  int http_status = 0;      // 0 when no response was received
  double latency_ms = 0.0;  // time to the complete response, or to the failure
  std::string error;        // empty when ok; otherwise e.g. "HTTP 503", "connection refused"
  std::string data;         // the X-Agency-Data response header ("" when absent; <= 512 bytes)
};

struct RegionResult {
  bool ok = false;
  int healthy = 0;  // addresses that answered 2xx
  int total = 0;    // addresses probed
  // For ok regions the latency of the fastest healthy address; otherwise the slowest attempt.
  double latency_ms = 0.0;
  // Human-readable summary: "HTTP 200", "HTTP 503", "timeout after 500 ms",
  // "connection refused", "1/3 endpoints healthy (need 2)", "resolve failed: ...".
  std::string detail;
  std::vector<EndpointResult> endpoints;
  // Data position (docs/WRITER.md): reported when a healthy endpoint sent X-Agency-Data; caught
  // up when every healthy endpoint that reports says caught-up=1.
  bool data_reported = false;
  bool data_caught_up = false;
};

// Name resolution, injectable so tests can map a test name to several loopback addresses.
class Resolver {
 public:
  virtual ~Resolver() = default;
  // Returns the numeric addresses of `host` (IPv4 and IPv6), or an error. Must return within
  // `timeout`. IP literals resolve to themselves.
  virtual Result<std::vector<std::string>> Resolve(const std::string& host,
                                                   std::chrono::milliseconds timeout) = 0;
};

// A target's URL as the prober takes it: parsed, and http or https. The error message is the
// region's detail ("invalid URL: ...").
Result<Url> ParseTargetUrl(const std::string& text);

// getaddrinfo() on a helper thread, abandoned (not blocked on) when it exceeds the timeout.
std::shared_ptr<Resolver> SystemResolver();

class Prober {
 public:
  explicit Prober(Options opts, std::shared_ptr<Resolver> resolver = SystemResolver());
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Probes every target concurrently; the map has one entry per target region.
  std::map<std::string, RegionResult> ProbeAll(const std::vector<Target>& targets);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aha::probe
