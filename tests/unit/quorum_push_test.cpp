// Verdict push (quorum/push.h) over real loopback HTTP: a VerdictPusher POSTs to the receiving
// controller's HttpServer with AddPushRoute, which hands the report to its PeerPoller. Hostile
// pushes (no/wrong token, oversized, malformed, unknown observer, stale or replayed) are refused
// with a clear error and change nothing.
#include "quorum/push.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "httpd/server.h"
#include "quorum/poller.h"
#include "quorum/report.h"

namespace aha::quorum {
namespace {

config::ControllerConfig Cfg(const std::string& self,
                             const std::vector<std::pair<std::string, std::string>>& peers) {
  config::ControllerConfig c;
  for (const char* n : {"a", "b", "c"}) {
    config::RegionConfig r;
    r.name = n;
    r.endpoint = "http://127.0.0.1:1/h";
    c.regions.push_back(r);
  }
  c.quorum.region = self;
  c.quorum.peer_timeout_seconds = 2;
  for (const auto& [name, url] : peers) {
    config::PeerConfig p;
    p.name = name;
    p.url = url;
    c.peers.push_back(p);
  }
  c.quorum.size = c.Observers() / 2 + 1;
  return c;
}

std::string ReportJson(const std::string& observer, const std::string& instance, uint64_t gen,
                       WallTime produced_at, bool a_down = true) {
  Report r;
  r.observer = observer;
  r.instance = instance;
  r.generation = gen;
  r.produced_at = produced_at;
  RegionReport a;
  a.down = a_down;
  a.detail = "connection refused";
  r.regions["a"] = a;
  return ReportToJson(r);
}

// Controller "a" receiving pushes from its peers b and c.
class Receiver {
 public:
  explicit Receiver(FakeClock& clock)
      : poller_(Cfg("a", {{"b", "http://127.0.0.1:1/v1/observations"},
                          {"c", "http://127.0.0.1:1/v1/observations"}}),
                {}, clock, &reg),
        http_([] {
          auto o = httpd::AdminServerOptions();
          o.max_body_bytes = kMaxPushBody;
          return o;
        }()) {
    AddPushRoute(http_, poller_, "tok", [this] {
      ++accepted;
      std::lock_guard l(mu_);
      if (on_accept_) on_accept_();
    });
    ok_ = http_.Start("127.0.0.1:0").ok();
  }
  bool ok() const { return ok_; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(http_.port()) + "/v1/observations";
  }
  void OnAccept(std::function<void()> f) {
    std::lock_guard l(mu_);
    on_accept_ = std::move(f);
  }
  PeerPoller& poller() { return poller_; }
  metrics::Registry reg;
  std::atomic<int> accepted{0};

 private:
  PeerPoller poller_;
  httpd::HttpServer http_;
  std::mutex mu_;
  std::function<void()> on_accept_;
  bool ok_ = false;
};

const failover::PeerReport* Find(const std::vector<failover::PeerReport>& v,
                                 const std::string& name) {
  for (const auto& r : v) {
    if (r.observer == name) return &r;
  }
  return nullptr;
}

// Peer b's pusher, aimed at the receiver, sending `token`.
VerdictPusher PusherTo(const Receiver& rx, const std::string& token, FakeClock& clock) {
  return VerdictPusher(Cfg("b", {{"a", rx.url()}}), {{"a", token}}, clock);
}

TEST(QuorumPush, AnAcceptedPushIsReceivedNowAndAReplayChangesNothing) {
  FakeClock clock;
  Receiver rx(clock);
  ASSERT_TRUE(rx.ok());
  VerdictPusher push(Cfg("b", {{"a", rx.url()}}), {{"a", "tok"}}, clock);
  const WallTime t0 = clock.wall();
  auto res = push.PushOnce(ReportJson("b", "i1", 5, t0));
  EXPECT_EQ(res, (std::map<std::string, std::string>{{"a", ""}}));
  EXPECT_EQ(rx.accepted, 1);
  auto reports = rx.poller().Reports();
  ASSERT_NE(Find(reports, "b"), nullptr);
  EXPECT_EQ(Find(reports, "b")->received_at, t0);
  EXPECT_TRUE(Find(reports, "b")->regions.at("a").down);
  EXPECT_EQ(rx.poller().StatusJson()[0]["lastPushReceived"], FormatTime(t0));

  // The same report again, and an older generation: 409, nothing moves (received_at stays).
  clock.advance(std::chrono::seconds(2));
  EXPECT_EQ(push.PushOnce(ReportJson("b", "i1", 5, t0)).at("a"), "") << "409 is not a failure";
  auto stale = rx.poller().AcceptPush(ReportJson("b", "i1", 4, t0, false));
  EXPECT_EQ(stale.kind, PeerPoller::PushResult::kStale);
  EXPECT_NE(stale.error.find("generation 4 is not newer than 5"), std::string::npos) << stale.error;
  // Another instance produced before the held report (a replay of an old process): stale.
  auto old = rx.poller().AcceptPush(ReportJson("b", "i0", 99, t0 - std::chrono::seconds(1), false));
  EXPECT_EQ(old.kind, PeerPoller::PushResult::kStale);
  EXPECT_NE(old.error.find("not after"), std::string::npos) << old.error;
  EXPECT_EQ(rx.accepted, 1);
  reports = rx.poller().Reports();
  EXPECT_EQ(Find(reports, "b")->received_at, t0);
  EXPECT_TRUE(Find(reports, "b")->regions.at("a").down);
  EXPECT_NE(rx.reg.Render().find("agency_ha_peer_pushes_received_total{result=\"stale\"} 3"),
            std::string::npos)
      << rx.reg.Render();

  // A newer generation, and a restarted peer (new instance, later producedAt), are accepted.
  EXPECT_EQ(push.PushOnce(ReportJson("b", "i1", 6, t0, false)).at("a"), "");
  EXPECT_FALSE(Find(rx.poller().Reports(), "b")->regions.at("a").down);
  EXPECT_EQ(rx.poller().AcceptPush(ReportJson("b", "i2", 1, t0 + std::chrono::seconds(1))).kind,
            PeerPoller::PushResult::kAccepted);
  EXPECT_EQ(Find(rx.poller().Reports(), "b")->received_at, clock.wall());
}

TEST(QuorumPush, HostilePushesAreRefusedWithClearErrorsAndNoStateChange) {
  FakeClock clock;
  Receiver rx(clock);
  ASSERT_TRUE(rx.ok());
  const std::string good = ReportJson("b", "i1", 1, clock.wall());
  struct Case {
    std::string name, token, body, want;
  };
  std::string huge = good;
  huge.insert(huge.size() - 2, std::string(kMaxPushBody, ' '));
  std::string typed = good;
  typed.replace(typed.find("\"generation\": 1"), 15, "\"generation\": \"1\"");
  const std::vector<Case> cases = {
      {"no token", "", good, "HTTP 401"},
      {"wrong token", "nope", good, "HTTP 401"},
      {"oversized", "tok", huge, "HTTP 413"},
      {"not JSON", "tok", "{\"apiVersion\": ", "HTTP 400: "},
      {"wrong kind", "tok", "{\"apiVersion\": \"agency-ha/v1\", \"kind\": \"Status\"}",
       "HTTP 400: observations.kind: \"Status\" is not Observations"},
      {"mistyped field", "tok", typed, "HTTP 400: observations.generation"},
      {"unknown observer", "tok", ReportJson("z", "i1", 1, clock.wall()),
       "HTTP 403: observer \"z\" is not a configured peer"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    VerdictPusher push = PusherTo(rx, c.token, clock);
    const std::string err = push.PushOnce(c.body).at("a");
    EXPECT_EQ(err.rfind(c.want, 0), 0u) << err;
  }
  EXPECT_EQ(rx.accepted, 0);
  EXPECT_TRUE(rx.poller().Reports().empty());
  for (const auto& p : rx.poller().StatusJson())
    EXPECT_TRUE(p["lastPushReceived"].is_null()) << p.dump();
  // Direct: the same rules without HTTP.
  EXPECT_EQ(rx.poller().AcceptPush("[]").kind, PeerPoller::PushResult::kMalformed);
  EXPECT_TRUE(rx.poller().Reports().empty());
}

// Run sends what Push queued without waiting for the clock: FakeClock never moves here.
TEST(QuorumPush, RunSendsAQueuedReportAtOnce) {
  FakeClock clock;
  Receiver rx(clock);
  ASSERT_TRUE(rx.ok());
  std::promise<void> got;
  rx.OnAccept([&] { got.set_value(); });
  VerdictPusher push = PusherTo(rx, "tok", clock);
  Stopper stop;
  std::thread t([&] { push.Run(stop); });
  ASSERT_TRUE(clock.WaitForSleepers(1));
  const MonoTime before = clock.mono();
  push.Push(ReportJson("b", "i1", 7, clock.wall()));
  ASSERT_EQ(got.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(clock.mono(), before);
  EXPECT_EQ(Find(rx.poller().Reports(), "b")->received_at, clock.wall());
  stop.Stop();
  t.join();
  EXPECT_EQ(push.sent(), 1u);
}

}  // namespace
}  // namespace aha::quorum
