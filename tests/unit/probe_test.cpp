// Prober tests against real servers on loopback: httplib servers (plain and TLS), raw listening
// sockets that never answer, and closed ports. Name resolution is faked where a test needs a
// name with several addresses (127.0.0.2-4 are loopback on Linux).
#include "probe/prober.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/url.h"
#include "support/test_tls.h"

namespace aha::probe {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

// Counts requests and remembers the headers of the last one.
struct RequestLog {
  std::mutex mu;
  int hits = 0;
  std::string user_agent;
  std::string connection;
  std::string host;

  void Record(const httplib::Request& req) {
    std::lock_guard l(mu);
    ++hits;
    user_agent = req.get_header_value("User-Agent");
    connection = req.get_header_value("Connection");
    host = req.get_header_value("Host");
  }
  int Hits() {
    std::lock_guard l(mu);
    return hits;
  }
};

// Runs an httplib server on a background thread. Binding happens in the constructor (so the
// port is known and connections queue in the backlog at once); the destructor stops and joins.
class BackgroundServer {
 public:
  // port 0 = ephemeral. Check ok() before use.
  explicit BackgroundServer(std::unique_ptr<httplib::Server> srv,
                            const std::string& host = "127.0.0.1", int port = 0)
      : srv_(std::move(srv)) {
    srv_->set_keep_alive_timeout(1);
    if (port == 0) {
      port_ = srv_->bind_to_any_port(host);
    } else {
      port_ = srv_->bind_to_port(host, port) ? port : -1;
    }
    if (port_ <= 0) return;
    thread_ = std::thread([this] { srv_->listen_after_bind(); });
    // stop() is a no-op until the accept loop runs; wait for it so Stop() can never miss it.
    auto until = SteadyClock::now() + 10s;
    while (!srv_->is_running() && SteadyClock::now() < until)
      std::this_thread::sleep_for(1ms);
  }
  ~BackgroundServer() { Stop(); }
  BackgroundServer(const BackgroundServer&) = delete;
  BackgroundServer& operator=(const BackgroundServer&) = delete;

  bool ok() const { return port_ > 0 && srv_->is_running(); }
  int port() const { return port_; }

  void Stop() {
    if (!thread_.joinable()) return;
    srv_->stop();
    thread_.join();
  }

 private:
  std::unique_ptr<httplib::Server> srv_;
  int port_ = -1;
  std::thread thread_;
};

std::unique_ptr<httplib::Server> StatusServer(int status, RequestLog* log = nullptr) {
  auto srv = std::make_unique<httplib::Server>();
  srv->Get("/health", [status, log](const httplib::Request& req, httplib::Response& res) {
    if (log != nullptr) log->Record(req);
    res.status = status;
    res.set_content(status == 200 ? "ok" : "not ok", "text/plain");
  });
  return srv;
}

// A listening TCP socket that never accepts: the kernel completes the handshake and queues the
// connection, and the request is never answered.
class HangingListener {
 public:
  HangingListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(fd_, 64) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~HangingListener() {
    if (fd_ >= 0) close(fd_);
  }
  HangingListener(const HangingListener&) = delete;
  HangingListener& operator=(const HangingListener&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = -1;
};

// A loopback port with nothing listening on it (bound, then closed).
int RefusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

// Resolver with a fixed table; unknown names fail. Optionally slow, and records concurrency.
class MapResolver final : public Resolver {
 public:
  explicit MapResolver(std::map<std::string, std::vector<std::string>> table)
      : table_(std::move(table)) {}

  // Names listed here take this long (capped by the caller's timeout, then fail).
  void SetDelay(const std::string& host, std::chrono::milliseconds d) { delays_[host] = d; }
  // Every call waits (up to its timeout) until this many calls are in flight at once.
  void SetRendezvous(int n) { rendezvous_ = n; }

  Result<std::vector<std::string>> Resolve(const std::string& host,
                                           std::chrono::milliseconds timeout) override {
    ++calls_;
    {
      std::unique_lock l(mu_);
      ++in_flight_;
      max_in_flight_ = std::max(max_in_flight_, in_flight_);
      cv_.notify_all();
      if (rendezvous_ > 0) {
        cv_.wait_for(l, timeout, [&] { return in_flight_ >= rendezvous_ || seen_all_; });
        if (in_flight_ >= rendezvous_) seen_all_ = true;
      }
      --in_flight_;
    }
    auto d = delays_.find(host);
    if (d != delays_.end()) {
      std::this_thread::sleep_for(std::min(d->second, timeout));
      if (d->second > timeout)
        return Err("timed out after " + std::to_string(timeout.count()) + " ms");
    }
    auto it = table_.find(host);
    if (it == table_.end()) return Err("unknown host " + host);
    return it->second;
  }

  int calls() const { return calls_; }
  int max_in_flight() {
    std::lock_guard l(mu_);
    return max_in_flight_;
  }

 private:
  const std::map<std::string, std::vector<std::string>> table_;
  std::map<std::string, std::chrono::milliseconds> delays_;
  int rendezvous_ = 0;
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  bool seen_all_ = false;
};

size_t OpenFdCount() {
  std::error_code ec;
  auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
  return ec ? 0 : static_cast<size_t>(std::distance(it, std::filesystem::directory_iterator()));
}

Options Timeout(double seconds) {
  Options o;
  o.timeout_seconds = seconds;
  return o;
}

std::string LocalUrl(int port, const std::string& path = "/health") {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP

TEST(ProbeHttp, HealthyServerIsOk) {
  BackgroundServer srv(StatusServer(200));
  ASSERT_TRUE(srv.ok());
  Prober prober(Timeout(2.0));
  auto results = prober.ProbeAll({{"eu", LocalUrl(srv.port()), 1}});
  ASSERT_EQ(results.size(), 1u);
  const RegionResult& r = results.at("eu");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.detail, "HTTP 200");
  EXPECT_EQ(r.healthy, 1);
  EXPECT_EQ(r.total, 1);
  EXPECT_GT(r.latency_ms, 0.0);
  ASSERT_EQ(r.endpoints.size(), 1u);
  EXPECT_EQ(r.endpoints[0].address, "127.0.0.1");
  EXPECT_TRUE(r.endpoints[0].ok);
  EXPECT_EQ(r.endpoints[0].http_status, 200);
  EXPECT_EQ(r.endpoints[0].error, "");
  EXPECT_DOUBLE_EQ(r.latency_ms, r.endpoints[0].latency_ms);
}

TEST(ProbeHttp, ServerErrorIsDown) {
  BackgroundServer srv(StatusServer(503));
  ASSERT_TRUE(srv.ok());
  Prober prober(Timeout(2.0));
  RegionResult r = prober.ProbeAll({{"eu", LocalUrl(srv.port()), 1}}).at("eu");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "HTTP 503");
  EXPECT_EQ(r.healthy, 0);
  EXPECT_EQ(r.total, 1);
  ASSERT_EQ(r.endpoints.size(), 1u);
  EXPECT_EQ(r.endpoints[0].http_status, 503);
  EXPECT_EQ(r.endpoints[0].error, "HTTP 503");
}

TEST(ProbeHttp, RedirectIsNotFollowed) {
  RequestLog target_log;
  BackgroundServer target(StatusServer(200, &target_log));
  ASSERT_TRUE(target.ok());
  auto redirecting = std::make_unique<httplib::Server>();
  int target_port = target.port();
  redirecting->Get("/health", [target_port](const httplib::Request&, httplib::Response& res) {
    res.set_redirect(LocalUrl(target_port), 302);
  });
  BackgroundServer srv(std::move(redirecting));
  ASSERT_TRUE(srv.ok());

  Prober prober(Timeout(2.0));
  RegionResult r = prober.ProbeAll({{"eu", LocalUrl(srv.port()), 1}}).at("eu");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "HTTP 302");
  EXPECT_EQ(target_log.Hits(), 0);
}

TEST(ProbeHttp, SendsUserAgentAndConnectionClose) {
  RequestLog log;
  BackgroundServer srv(StatusServer(200, &log));
  ASSERT_TRUE(srv.ok());
  Prober prober(Timeout(2.0));
  ASSERT_TRUE(prober.ProbeAll({{"eu", LocalUrl(srv.port()), 1}}).at("eu").ok);
  std::lock_guard l(log.mu);
  EXPECT_EQ(log.hits, 1);
  EXPECT_EQ(log.user_agent, std::string("agency-ha-probe/") + AHA_VERSION);
  EXPECT_EQ(log.connection, "close");
}

TEST(ProbeHttp, ConnectionRefusedIsDown) {
  int port = RefusedPort();
  ASSERT_GT(port, 0);
  Prober prober(Timeout(2.0));
  auto start = SteadyClock::now();
  RegionResult r = prober.ProbeAll({{"eu", LocalUrl(port), 1}}).at("eu");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "connection refused");
  EXPECT_EQ(r.endpoints.at(0).http_status, 0);
  EXPECT_LT(SecondsSince(start), 1.5);  // refused is immediate, not a timeout
}

TEST(ProbeHttp, HangingEndpointTimesOutWithoutBlockingOthers) {
  HangingListener hang;
  ASSERT_GT(hang.port(), 0);
  BackgroundServer srv(StatusServer(200));
  ASSERT_TRUE(srv.ok());
  Prober prober(Timeout(0.5));
  auto start = SteadyClock::now();
  auto results =
      prober.ProbeAll({{"hang", LocalUrl(hang.port()), 1}, {"up", LocalUrl(srv.port()), 1}});
  double elapsed = SecondsSince(start);

  const RegionResult& down = results.at("hang");
  EXPECT_FALSE(down.ok);
  EXPECT_EQ(down.detail, "timeout after 500 ms");
  EXPECT_EQ(down.endpoints.at(0).http_status, 0);
  EXPECT_GE(down.latency_ms, 400.0);
  const RegionResult& up = results.at("up");
  EXPECT_TRUE(up.ok) << up.detail;
  EXPECT_EQ(up.detail, "HTTP 200");
  EXPECT_LT(up.latency_ms, down.latency_ms);
  EXPECT_GE(elapsed, 0.45);
  EXPECT_LT(elapsed, 0.5 + 1.5);
}

TEST(ProbeHttp, ManyHangingEndpointsShareOneDeadline) {
  std::vector<std::unique_ptr<HangingListener>> hangs;
  std::vector<Target> targets;
  for (int i = 0; i < 12; ++i) {
    hangs.push_back(std::make_unique<HangingListener>());
    ASSERT_GT(hangs.back()->port(), 0);
    targets.push_back({"hang" + std::to_string(i), LocalUrl(hangs.back()->port()), 1});
  }
  Prober prober(Timeout(0.4));
  auto start = SteadyClock::now();
  auto results = prober.ProbeAll(targets);
  double elapsed = SecondsSince(start);
  ASSERT_EQ(results.size(), targets.size());
  for (const auto& [region, r] : results) {
    EXPECT_FALSE(r.ok) << region;
    EXPECT_EQ(r.detail, "timeout after 400 ms") << region;
  }
  EXPECT_LT(elapsed, 0.4 + 1.5);  // concurrent: one timeout, not twelve
}

// Headers "200" arrive at once, then the body trickles in much slower than the timeout.
TEST(ProbeHttp, SlowBodyTimesOut) {
  auto slow = std::make_unique<httplib::Server>();
  std::atomic<bool> stopping{false};
  slow->Get("/health", [&stopping](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_chunked_content_provider("text/plain",
                                     [&stopping](size_t offset, httplib::DataSink& sink) {
                                       if (stopping || offset >= 50) {
                                         sink.done();
                                         return true;
                                       }
                                       std::this_thread::sleep_for(100ms);
                                       return sink.write("x", 1);
                                     });
  });
  BackgroundServer srv(std::move(slow));
  ASSERT_TRUE(srv.ok());
  Prober prober(Timeout(0.5));
  RegionResult r = prober.ProbeAll({{"eu", LocalUrl(srv.port()), 1}}).at("eu");
  stopping = true;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "timeout after 500 ms");
  EXPECT_EQ(r.endpoints.at(0).http_status, 200);
}

// An error status is reported as such even when its body never finishes.
TEST(ProbeHttp, ErrorStatusWithEndlessBodyReportsStatus) {
  auto srv_impl = std::make_unique<httplib::Server>();
  std::atomic<bool> stopping{false};
  srv_impl->Get("/health", [&stopping](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_chunked_content_provider("text/plain", [&stopping](size_t, httplib::DataSink& sink) {
      if (stopping) {
        sink.done();
        return true;
      }
      std::this_thread::sleep_for(50ms);
      return sink.write("x", 1);
    });
  });
  BackgroundServer srv(std::move(srv_impl));
  ASSERT_TRUE(srv.ok());
  Prober prober(Timeout(1.0));
  RegionResult r = prober.ProbeAll({{"eu", LocalUrl(srv.port()), 1}}).at("eu");
  stopping = true;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "HTTP 503");
  EXPECT_LT(r.latency_ms, 900.0);  // stopped at the status line, not at the timeout
}

// A healthy endpoint streaming an endless body: the prober stops reading after its cap.
TEST(ProbeHttp, EndlessHealthyBodyIsCapped) {
  auto srv_impl = std::make_unique<httplib::Server>();
  std::atomic<bool> stopping{false};
  srv_impl->Get("/health", [&stopping](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_chunked_content_provider("text/plain", [&stopping](size_t, httplib::DataSink& sink) {
      if (stopping) {
        sink.done();
        return true;
      }
      static const std::string chunk(4096, 'x');
      return sink.write(chunk.data(), chunk.size());
    });
  });
  BackgroundServer srv(std::move(srv_impl));
  ASSERT_TRUE(srv.ok());
  Prober prober(Timeout(2.0));
  RegionResult r = prober.ProbeAll({{"eu", LocalUrl(srv.port()), 1}}).at("eu");
  stopping = true;
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "HTTP 200");
}

TEST(ProbeHttp, InvalidUrlIsDown) {
  Prober prober(Timeout(0.5),
                std::make_shared<MapResolver>(std::map<std::string, std::vector<std::string>>{}));
  auto results = prober.ProbeAll({{"a", "not a url", 1}, {"b", "ftp://127.0.0.1/x", 1}});
  EXPECT_FALSE(results.at("a").ok);
  EXPECT_TRUE(Contains(results.at("a").detail, "invalid URL")) << results.at("a").detail;
  EXPECT_FALSE(results.at("b").ok);
  EXPECT_TRUE(Contains(results.at("b").detail, "invalid URL")) << results.at("b").detail;
  EXPECT_EQ(results.at("b").total, 0);
}

TEST(ProbeTargetUrl, OnlyHttpAndHttpsUrlsAreProbed) {
  auto ok = ParseTargetUrl("https://eu.example:8443/healthz");
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->host, "eu.example");
  EXPECT_EQ(ok->port, 8443);
  EXPECT_EQ(ok->path, "/healthz");
  auto ftp = ParseTargetUrl("ftp://127.0.0.1/x");
  ASSERT_FALSE(ftp.ok());
  EXPECT_EQ(ftp.message(), "invalid URL: scheme must be http or https");
  auto junk = ParseTargetUrl("not a url");
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.message().rfind("invalid URL: ", 0), 0u) << junk.message();
  EXPECT_NE(junk.message(), "invalid URL: scheme must be http or https");
}

TEST(ProbeHttp, NoTargetsNoResults) {
  Prober prober(Timeout(0.5));
  EXPECT_TRUE(prober.ProbeAll({}).empty());
}

TEST(ProbeHttp, Ipv6Literal) {
  BackgroundServer srv(StatusServer(200), "::1");
  if (!srv.ok()) GTEST_SKIP() << "no IPv6 loopback";
  Prober prober(Timeout(2.0));
  RegionResult r =
      prober.ProbeAll({{"eu", "http://[::1]:" + std::to_string(srv.port()) + "/health", 1}})
          .at("eu");
  EXPECT_TRUE(r.ok) << r.detail;
  ASSERT_EQ(r.endpoints.size(), 1u);
  EXPECT_EQ(r.endpoints[0].address, "::1");
}

TEST(ProbeHttp, LocalhostThroughSystemResolver) {
  RequestLog log;
  BackgroundServer srv(StatusServer(200, &log));
  ASSERT_TRUE(srv.ok());
  Prober prober(Timeout(2.0));  // default resolver
  std::string url = "http://localhost:" + std::to_string(srv.port()) + "/health";
  RegionResult r = prober.ProbeAll({{"eu", url, 1}}).at("eu");
  // localhost may also resolve to ::1, where nothing listens; one healthy address is enough.
  EXPECT_TRUE(r.ok) << r.detail;
  bool has_v4 = std::any_of(r.endpoints.begin(), r.endpoints.end(), [](const EndpointResult& e) {
    return e.address == "127.0.0.1" && e.ok;
  });
  EXPECT_TRUE(has_v4);
  std::lock_guard l(log.mu);
  EXPECT_EQ(log.host, "localhost:" + std::to_string(srv.port()));
}

// Probing after the server went away must not be masked by a pooled connection.
TEST(ProbeHttp, ServerGoneIsNoticedOnNextRound) {
  auto srv = std::make_unique<BackgroundServer>(StatusServer(200));
  ASSERT_TRUE(srv->ok());
  std::string url = LocalUrl(srv->port());
  Prober prober(Timeout(1.0));
  EXPECT_TRUE(prober.ProbeAll({{"eu", url, 1}}).at("eu").ok);
  srv.reset();
  RegionResult r = prober.ProbeAll({{"eu", url, 1}}).at("eu");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "connection refused");
}

// A server that accepts exactly one connection and then closes its listening socket, while it
// keeps answering (keep-alive) on that connection. A prober that pooled connections would see it
// healthy forever; a fresh connection per probe sees it refuse.
TEST(ProbeHttp, PooledConnectionNeverMasksDeadServer) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(lfd, 8), 0);
  ASSERT_EQ(getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);

  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::thread server([&] {
    int conn = accept(lfd, nullptr, nullptr);
    close(lfd);  // no further connections
    if (conn < 0) return;
    std::string buf;
    char chunk[4096];
    while (!stop) {
      pollfd pfd{conn, POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      ssize_t n = read(conn, chunk, sizeof(chunk));
      if (n <= 0) break;  // the client closed the connection
      buf.append(chunk, static_cast<size_t>(n));
      size_t end;
      while ((end = buf.find("\r\n\r\n")) != std::string::npos) {
        buf.erase(0, end + 4);
        static const std::string kResponse =
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
        if (send(conn, kResponse.data(), kResponse.size(), MSG_NOSIGNAL) < 0) break;
        ++served;
      }
    }
    close(conn);
  });

  Prober prober(Timeout(1.0));
  RegionResult first = prober.ProbeAll({{"eu", LocalUrl(port), 1}}).at("eu");
  RegionResult second = prober.ProbeAll({{"eu", LocalUrl(port), 1}}).at("eu");
  stop = true;
  server.join();
  EXPECT_TRUE(first.ok) << first.detail;
  EXPECT_FALSE(second.ok);
  EXPECT_EQ(second.detail, "connection refused");
  EXPECT_EQ(served, 1);
}

TEST(ProbeReuse, ManyRoundsStayHealthy) {
  RequestLog log;
  BackgroundServer srv(StatusServer(200, &log));
  ASSERT_TRUE(srv.ok());
  Prober prober(Timeout(2.0));
  std::vector<Target> targets = {{"eu", LocalUrl(srv.port()), 1}};
  ASSERT_TRUE(prober.ProbeAll(targets).at("eu").ok);  // warm-up: lazily created state
  size_t fds_before = OpenFdCount();
  int ok = 0;
  for (int i = 0; i < 200; ++i) {
    auto results = prober.ProbeAll(targets);
    ASSERT_EQ(results.size(), 1u);
    if (results.at("eu").ok) ++ok;
  }
  EXPECT_EQ(ok, 200);
  EXPECT_EQ(log.Hits(), 201);
  // No descriptor is kept per round (slack: the server may still be closing its last socket).
  EXPECT_LE(OpenFdCount(), fds_before + 4);
}

// ---------------------------------------------------------------------------------------------
// Several addresses behind one name

class ProbeMulti : public ::testing::Test {
 protected:
  void SetUp() override {
    // The same port on 127.0.0.2 and 127.0.0.3; 127.0.0.4 has nothing listening.
    for (int attempt = 0; attempt < 20 && !b_; ++attempt) {
      a_ = std::make_unique<BackgroundServer>(StatusServer(200, &log_a_), "127.0.0.2");
      if (!a_->ok()) GTEST_SKIP() << "cannot bind 127.0.0.2";
      b_ = std::make_unique<BackgroundServer>(StatusServer(200, &log_b_), "127.0.0.3", a_->port());
      if (!b_->ok()) b_.reset();
    }
    ASSERT_TRUE(b_) << "no port free on both 127.0.0.2 and 127.0.0.3";
    port_ = a_->port();
    resolver_ = std::make_shared<MapResolver>(std::map<std::string, std::vector<std::string>>{
        {"multi.test", {"127.0.0.2", "127.0.0.3", "127.0.0.4"}}, {"one.test", {"127.0.0.2"}}});
  }

  std::string Url(const std::string& host = "multi.test") const {
    return "http://" + host + ":" + std::to_string(port_) + "/health";
  }

  RequestLog log_a_, log_b_;
  std::unique_ptr<BackgroundServer> a_, b_;
  int port_ = 0;
  std::shared_ptr<MapResolver> resolver_;
};

TEST_F(ProbeMulti, EnoughHealthyAddresses) {
  Prober prober(Timeout(2.0), resolver_);
  RegionResult r = prober.ProbeAll({{"eu", Url(), 2}}).at("eu");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.detail, "2/3 endpoints healthy");
  EXPECT_EQ(r.healthy, 2);
  EXPECT_EQ(r.total, 3);
  ASSERT_EQ(r.endpoints.size(), 3u);
  EXPECT_EQ(r.endpoints[0].address, "127.0.0.2");
  EXPECT_EQ(r.endpoints[1].address, "127.0.0.3");
  EXPECT_EQ(r.endpoints[2].address, "127.0.0.4");
  EXPECT_TRUE(r.endpoints[0].ok);
  EXPECT_TRUE(r.endpoints[1].ok);
  EXPECT_FALSE(r.endpoints[2].ok);
  EXPECT_EQ(r.endpoints[2].error, "connection refused");
  EXPECT_DOUBLE_EQ(r.latency_ms, std::min(r.endpoints[0].latency_ms, r.endpoints[1].latency_ms));
  // Each address was really probed (pinned), and with the name in the Host header.
  EXPECT_EQ(log_a_.Hits(), 1);
  EXPECT_EQ(log_b_.Hits(), 1);
  std::lock_guard l(log_a_.mu);
  EXPECT_EQ(log_a_.host, "multi.test:" + std::to_string(port_));
}

TEST_F(ProbeMulti, TooFewHealthyAddresses) {
  Prober prober(Timeout(2.0), resolver_);
  RegionResult r = prober.ProbeAll({{"eu", Url(), 3}}).at("eu");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "2/3 endpoints healthy (need 3)");
  double slowest = 0;
  for (const auto& e : r.endpoints)
    slowest = std::max(slowest, e.latency_ms);
  EXPECT_DOUBLE_EQ(r.latency_ms, slowest);
}

TEST_F(ProbeMulti, StoppingOneServerBreaksQuorum) {
  Prober prober(Timeout(2.0), resolver_);
  EXPECT_TRUE(prober.ProbeAll({{"eu", Url(), 2}}).at("eu").ok);
  b_->Stop();
  RegionResult r = prober.ProbeAll({{"eu", Url(), 2}}).at("eu");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "1/3 endpoints healthy (need 2)");
  EXPECT_EQ(r.endpoints.at(1).error, "connection refused");
}

TEST_F(ProbeMulti, SingleAddressBelowMinHealthy) {
  Prober prober(Timeout(2.0), resolver_);
  RegionResult r = prober.ProbeAll({{"eu", Url("one.test"), 2}}).at("eu");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "1/1 endpoints healthy (need 2)");
}

// ---------------------------------------------------------------------------------------------
// Name resolution inside ProbeAll

TEST(ProbeResolve, FailedResolutionIsDown) {
  auto resolver = std::make_shared<MapResolver>(
      std::map<std::string, std::vector<std::string>>{{"empty.test", {}}});
  Prober prober(Timeout(1.0), resolver);
  auto results = prober.ProbeAll(
      {{"a", "http://nowhere.test/health", 1}, {"b", "http://empty.test/health", 1}});
  EXPECT_FALSE(results.at("a").ok);
  EXPECT_EQ(results.at("a").detail, "resolve failed: unknown host nowhere.test");
  EXPECT_EQ(results.at("a").total, 0);
  EXPECT_FALSE(results.at("b").ok);
  EXPECT_EQ(results.at("b").detail, "resolve failed: no addresses");
}

// A slow name delays neither the literal target nor another name resolved in time.
TEST(ProbeResolve, SlowResolutionDoesNotDelayOthers) {
  BackgroundServer srv(StatusServer(200));
  ASSERT_TRUE(srv.ok());
  auto resolver = std::make_shared<MapResolver>(std::map<std::string, std::vector<std::string>>{
      {"slow.test", {"127.0.0.1"}}, {"late.test", {"127.0.0.1"}}});
  resolver->SetDelay("slow.test", 5s);     // longer than the timeout: fails at the deadline
  resolver->SetDelay("late.test", 200ms);  // resolves in time
  Prober prober(Timeout(1.0), resolver);
  std::string port = std::to_string(srv.port());
  auto start = SteadyClock::now();
  auto results = prober.ProbeAll({{"slow", "http://slow.test:" + port + "/health", 1},
                                  {"late", "http://late.test:" + port + "/health", 1},
                                  {"literal", LocalUrl(srv.port()), 1}});
  double elapsed = SecondsSince(start);
  EXPECT_FALSE(results.at("slow").ok);
  EXPECT_TRUE(Contains(results.at("slow").detail, "resolve failed")) << results.at("slow").detail;
  EXPECT_TRUE(results.at("late").ok) << results.at("late").detail;
  EXPECT_GE(results.at("late").latency_ms, 190.0);  // includes the resolution
  EXPECT_TRUE(results.at("literal").ok) << results.at("literal").detail;
  EXPECT_LT(results.at("literal").latency_ms, results.at("late").latency_ms);
  EXPECT_LT(elapsed, 1.0 + 1.5);
}

TEST(ProbeResolve, NamesAreResolvedConcurrently) {
  BackgroundServer srv(StatusServer(200));
  ASSERT_TRUE(srv.ok());
  auto resolver = std::make_shared<MapResolver>(std::map<std::string, std::vector<std::string>>{
      {"a.test", {"127.0.0.1"}}, {"b.test", {"127.0.0.1"}}, {"c.test", {"127.0.0.1"}}});
  resolver->SetRendezvous(3);  // each lookup waits until all three are in flight
  Prober prober(Timeout(3.0), resolver);
  std::string port = std::to_string(srv.port());
  auto results = prober.ProbeAll({{"a", "http://a.test:" + port + "/health", 1},
                                  {"b", "http://b.test:" + port + "/health", 1},
                                  {"c", "http://c.test:" + port + "/health", 1}});
  EXPECT_EQ(resolver->max_in_flight(), 3);
  for (const auto& [region, r] : results)
    EXPECT_TRUE(r.ok) << region << ": " << r.detail;
}

TEST(ProbeResolve, SameHostIsResolvedOnce) {
  BackgroundServer srv(StatusServer(200));
  ASSERT_TRUE(srv.ok());
  auto resolver = std::make_shared<MapResolver>(
      std::map<std::string, std::vector<std::string>>{{"shared.test", {"127.0.0.1"}}});
  Prober prober(Timeout(2.0), resolver);
  std::string base = "http://shared.test:" + std::to_string(srv.port());
  auto results = prober.ProbeAll({{"a", base + "/health", 1}, {"b", base + "/health?x=1", 1}});
  EXPECT_TRUE(results.at("a").ok);
  EXPECT_TRUE(results.at("b").ok);
  EXPECT_EQ(resolver->calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// SystemResolver

TEST(ProbeSystemResolver, LocalhostResolves) {
  auto r = SystemResolver()->Resolve("localhost", 5s);
  ASSERT_TRUE(r.ok()) << r.message();
  const std::vector<std::string>& addrs = r.value();
  EXPECT_NE(std::find(addrs.begin(), addrs.end(), "127.0.0.1"), addrs.end());
  std::vector<std::string> sorted = addrs;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "duplicates";
}

TEST(ProbeSystemResolver, IpLiteralsResolveToThemselves) {
  auto resolver = SystemResolver();
  auto v4 = resolver->Resolve("127.0.0.1", 1ms);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4.value(), std::vector<std::string>{"127.0.0.1"});

  Result<aha::Url> url = ParseUrl("http://[::1]:8080/health");
  ASSERT_TRUE(url.ok());
  EXPECT_TRUE(url->ipv6_literal);
  EXPECT_EQ(url->host, "::1");
  auto v6 = resolver->Resolve(url->host, 1ms);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6.value(), std::vector<std::string>{"::1"});
}

TEST(ProbeSystemResolver, UnknownNameFailsWithinTimeout) {
  auto start = SteadyClock::now();
  auto r = SystemResolver()->Resolve("does-not-exist.invalid", 300ms);
  EXPECT_FALSE(r.ok());
  EXPECT_LT(SecondsSince(start), 0.3 + 1.5);
}

// ---------------------------------------------------------------------------------------------
// TLS

class ProbeTls : public ::testing::Test {
 protected:
  void SetUp() override {
    server_cert_ = ca_.IssueServer();
    client_cert_ = ca_.IssueClient();
    resolver_ = std::make_shared<MapResolver>(
        std::map<std::string, std::vector<std::string>>{{"localhost", {"127.0.0.1"}},
                                                        {"other.test", {"127.0.0.1"}},
                                                        {"alias.test", {"127.0.0.2"}}});
  }

  // client_ca: require client certificates issued by this CA.
  std::unique_ptr<httplib::Server> TlsServer(bool client_ca = false) {
    auto srv = std::make_unique<httplib::SSLServer>(server_cert_.cert_file.c_str(),
                                                    server_cert_.key_file.c_str(),
                                                    client_ca ? ca_.ca_file().c_str() : nullptr);
    EXPECT_TRUE(srv->is_valid());
    srv->Get("/health", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    return srv;
  }

  static std::string Url(int port, const std::string& host = "localhost") {
    return "https://" + host + ":" + std::to_string(port) + "/health";
  }

  RegionResult Probe(const Options& opts, const std::string& url) {
    Prober prober(opts, resolver_);
    return prober.ProbeAll({{"eu", url, 1}}).at("eu");
  }

  aha::testing::TestCa ca_;
  aha::testing::IssuedCert server_cert_, client_cert_;
  std::shared_ptr<MapResolver> resolver_;
};

TEST_F(ProbeTls, TrustedCaIsOk) {
  BackgroundServer srv(TlsServer());
  ASSERT_TRUE(srv.ok());
  Options opts = Timeout(3.0);
  opts.tls.ca_file = ca_.ca_file();
  RegionResult r = Probe(opts, Url(srv.port()));
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "HTTP 200");
}

TEST_F(ProbeTls, UnknownCaIsTlsError) {
  BackgroundServer srv(TlsServer());
  ASSERT_TRUE(srv.ok());
  aha::testing::TestCa other_ca("some other CA");
  Options opts = Timeout(3.0);
  opts.tls.ca_file = other_ca.ca_file();
  RegionResult r = Probe(opts, Url(srv.port()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail.rfind("TLS: ", 0), 0u) << r.detail;
}

TEST_F(ProbeTls, SystemStoreDoesNotTrustTestCa) {
  BackgroundServer srv(TlsServer());
  ASSERT_TRUE(srv.ok());
  RegionResult r = Probe(Timeout(3.0), Url(srv.port()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail.rfind("TLS: ", 0), 0u) << r.detail;
}

TEST_F(ProbeTls, InsecureSkipVerifyIsOk) {
  BackgroundServer srv(TlsServer());
  ASSERT_TRUE(srv.ok());
  Options opts = Timeout(3.0);
  opts.tls.insecure_skip_verify = true;
  RegionResult r = Probe(opts, Url(srv.port(), "other.test"));  // name mismatch ignored too
  EXPECT_TRUE(r.ok) << r.detail;
}

// The certificate names localhost and 127.0.0.1 but not 127.0.0.2: the probe pinned to
// 127.0.0.2 still verifies against the URL's host name.
TEST_F(ProbeTls, PinnedAddressVerifiesAgainstHostName) {
  resolver_ = std::make_shared<MapResolver>(
      std::map<std::string, std::vector<std::string>>{{"localhost", {"127.0.0.2"}}});
  BackgroundServer srv(TlsServer(), "127.0.0.2");
  if (!srv.ok()) GTEST_SKIP() << "cannot bind 127.0.0.2";
  Options opts = Timeout(3.0);
  opts.tls.ca_file = ca_.ca_file();
  RegionResult r = Probe(opts, Url(srv.port()));
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.endpoints.at(0).address, "127.0.0.2");
}

// other.test resolves to 127.0.0.1, which the certificate does name, but the URL's host does not
// match: verification must use the host name, not the pinned address.
TEST_F(ProbeTls, HostNameMismatchIsTlsError) {
  BackgroundServer srv(TlsServer());
  ASSERT_TRUE(srv.ok());
  Options opts = Timeout(3.0);
  opts.tls.ca_file = ca_.ca_file();
  RegionResult r = Probe(opts, Url(srv.port(), "other.test"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail.rfind("TLS: ", 0), 0u) << r.detail;
}

TEST_F(ProbeTls, ClientCertificateAccepted) {
  BackgroundServer srv(TlsServer(/*client_ca=*/true));
  ASSERT_TRUE(srv.ok());
  Options opts = Timeout(3.0);
  opts.tls.ca_file = ca_.ca_file();
  opts.tls.cert_file = client_cert_.cert_file;
  opts.tls.key_file = client_cert_.key_file;
  RegionResult r = Probe(opts, Url(srv.port()));
  EXPECT_TRUE(r.ok) << r.detail;
}

TEST_F(ProbeTls, MissingClientCertificateRejected) {
  BackgroundServer srv(TlsServer(/*client_ca=*/true));
  ASSERT_TRUE(srv.ok());
  Options opts = Timeout(3.0);
  opts.tls.ca_file = ca_.ca_file();
  RegionResult r = Probe(opts, Url(srv.port()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.endpoints.at(0).http_status, 0);
  EXPECT_EQ(r.detail.rfind("TLS: ", 0), 0u) << r.detail;
}

TEST_F(ProbeTls, ClientCertificateFromOtherCaRejected) {
  BackgroundServer srv(TlsServer(/*client_ca=*/true));
  ASSERT_TRUE(srv.ok());
  aha::testing::TestCa other_ca("some other CA");
  aha::testing::IssuedCert stranger = other_ca.IssueClient("stranger");
  Options opts = Timeout(3.0);
  opts.tls.ca_file = ca_.ca_file();
  opts.tls.cert_file = stranger.cert_file;
  opts.tls.key_file = stranger.key_file;
  RegionResult r = Probe(opts, Url(srv.port()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.endpoints.at(0).http_status, 0);
  EXPECT_EQ(r.detail.rfind("TLS: ", 0), 0u) << r.detail;
}

}  // namespace
}  // namespace aha::probe
