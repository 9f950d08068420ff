// PeerPoller against real HTTP servers on loopback: the controller's own httpd::HttpServer serving
// /v1/observations with a bearer token, a listening socket that never answers, a closed port.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "httpd/server.h"
#include "quorum/poller.h"
#include "quorum/token.h"

namespace aha::quorum {
namespace {

// A peer controller's observations endpoint, as command.cpp wires it.
class FakePeer {
 public:
  FakePeer(std::string observer, std::string token)
      : observer_(std::move(observer)), token_(std::move(token)) {
    server_.GetWithAuthorization("/v1/observations", [this](const std::string& auth) {
      if (!BearerMatches(auth, token_)) return httpd::Response{401, "application/json", "{}"};
      std::lock_guard l(mu_);
      ++hits_;
      Report r;
      r.observer = observer_;
      r.instance = "i1";
      r.generation = generation_;
      RegionReport down;
      down.down = true;
      down.detail = "connection refused";
      r.regions["a"] = down;
      r.regions["b"] = RegionReport{true, false, {}, 0, 3, "HTTP 200", 1, {}};
      return httpd::Response{200, "application/json", ReportToJson(r)};
    });
    ok_ = server_.Start("127.0.0.1:0").ok();
  }
  bool ok() const { return ok_; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + "/v1/observations";
  }
  void set_generation(uint64_t g) {
    std::lock_guard l(mu_);
    generation_ = g;
  }
  int hits() {
    std::lock_guard l(mu_);
    return hits_;
  }

 private:
  std::string observer_;
  std::string token_;
  httpd::HttpServer server_;
  std::mutex mu_;
  uint64_t generation_ = 1;
  int hits_ = 0;
  bool ok_ = false;
};

// Accepts connections (the kernel completes the handshake) and never answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

config::ControllerConfig Cfg(const std::vector<std::pair<std::string, std::string>>& peers) {
  config::ControllerConfig c;
  for (const char* n : {"a", "b", "c", "d"}) {
    config::RegionConfig r;
    r.name = n;
    r.endpoint = "http://127.0.0.1:1/h";
    c.regions.push_back(r);
  }
  c.quorum.region = "a";
  c.quorum.peer_timeout_seconds = 0.5;
  for (const auto& [name, url] : peers) {
    config::PeerConfig p;
    p.name = name;
    p.url = url;
    c.peers.push_back(p);
  }
  c.quorum.size = c.Observers() / 2 + 1;
  return c;
}

const failover::PeerReport* Find(const std::vector<failover::PeerReport>& v,
                                 const std::string& name) {
  for (const auto& r : v) {
    if (r.observer == name) return &r;
  }
  return nullptr;
}

nlohmann::json StatusOf(const PeerPoller& p, const std::string& name) {
  for (const auto& j : p.StatusJson()) {
    if (j["name"] == name) return j;
  }
  return nullptr;
}

TEST(QuorumPoller, AcceptsNewGenerationsOnlyAndTimesThemLocally) {
  FakePeer b("b", "tok");
  ASSERT_TRUE(b.ok());
  FakeClock clock;
  PeerPoller poller(Cfg({{"b", b.url()}}), {{"b", "tok"}}, clock);
  EXPECT_TRUE(poller.Reports().empty());
  poller.PollOnce();
  auto r = poller.Reports();
  ASSERT_EQ(r.size(), 1u) << StatusOf(poller, "b").dump();
  const WallTime first = clock.wall();
  EXPECT_EQ(r[0].received_at, first);
  EXPECT_TRUE(r[0].regions.at("a").down);
  EXPECT_FALSE(r[0].regions.at("b").down);
  // Same generation again: answered, but not new (a stuck peer must go stale).
  clock.advance(std::chrono::seconds(3));
  poller.PollOnce();
  EXPECT_EQ(b.hits(), 2);
  EXPECT_EQ(poller.Reports()[0].received_at, first);
  // A new generation is received now.
  b.set_generation(2);
  clock.advance(std::chrono::seconds(1));
  poller.PollOnce();
  EXPECT_EQ(poller.Reports()[0].received_at, clock.wall());
  EXPECT_EQ(StatusOf(poller, "b")["generation"], 2);
  EXPECT_TRUE(StatusOf(poller, "b")["lastError"].is_null());
}

TEST(QuorumPoller, WrongTokenAndWrongIdentityAreErrors) {
  FakePeer b("b", "right");
  FakePeer c("d", "right");  // answers as "d" at c's URL
  ASSERT_TRUE(b.ok() && c.ok());
  FakeClock clock;
  PeerPoller poller(Cfg({{"b", b.url()}, {"c", c.url()}}), {{"b", "wrong"}, {"c", "right"}}, clock);
  poller.PollOnce();
  EXPECT_TRUE(poller.Reports().empty());
  EXPECT_EQ(b.hits(), 0);
  EXPECT_NE(StatusOf(poller, "b")["lastError"].get<std::string>().find("HTTP 401"),
            std::string::npos);
  EXPECT_NE(StatusOf(poller, "c")["lastError"].get<std::string>().find("identity mismatch"),
            std::string::npos)
      << StatusOf(poller, "c").dump();
}

TEST(QuorumPoller, AnUnreachableOrHangingPeerDoesNotCostTheOthersTheirRound) {
  FakePeer b("b", "tok");
  ASSERT_TRUE(b.ok());
  SilentListener hang;
  // A port that was free a moment ago: connection refused.
  int closed = 0;
  {
    SilentListener tmp;
    closed = tmp.port();
  }
  FakeClock clock;
  PeerPoller poller(
      Cfg({{"b", b.url()},
           {"c", "http://127.0.0.1:" + std::to_string(hang.port()) + "/v1/observations"},
           {"d", "http://127.0.0.1:" + std::to_string(closed) + "/v1/observations"}}),
      {{"b", "tok"}, {"c", "tok"}, {"d", "tok"}}, clock);
  poller.PollOnce();
  auto r = poller.Reports();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(Find(r, "b"), nullptr);
  EXPECT_FALSE(StatusOf(poller, "c")["lastError"].is_null());
  EXPECT_FALSE(StatusOf(poller, "d")["lastError"].is_null());
  // Once accepted, a report stays available (Decide judges its age) when the peer goes away.
  EXPECT_TRUE(StatusOf(poller, "b")["lastError"].is_null());
}

// Run's schedule is in the injected clock's time: one poll at once, the next when FakeClock has
// advanced a full interval (not before), and Stop ends the loop while it sleeps.
TEST(QuorumPoller, RunPollsEveryIntervalOfTheInjectedClock) {
  FakePeer b("b", "tok");
  ASSERT_TRUE(b.ok());
  FakeClock clock;
  auto cfg = Cfg({{"b", b.url()}});
  cfg.probe.interval_seconds = 10;
  PeerPoller poller(cfg, {{"b", "tok"}}, clock);
  Stopper stop;
  std::thread t([&] { poller.Run(stop); });
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_EQ(b.hits(), 1) << "the first round runs at once";
  clock.advance(std::chrono::seconds(9));
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_EQ(b.hits(), 1) << "9 s of a 10 s interval: no poll yet";
  clock.advance(std::chrono::seconds(1));
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_EQ(b.hits(), 2);
  clock.advance(std::chrono::seconds(10));
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_EQ(b.hits(), 3);
  stop.Stop();
  t.join();
  EXPECT_EQ(b.hits(), 3) << "stopped while asleep: no further round";
}

}  // namespace
}  // namespace aha::quorum
