// The demo's fault machinery (src/demo/fault.h) and its evidence record (src/demo/report.h):
// the endpoint proxy passes bytes, cuts open connections and refuses new ones while down, and
// passes again once up; the evidence record is sealable (integers only) and its RTO/RPO come
// from the result's steps and data check.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "demo/fault.h"
#include "demo/report.h"
#include "evidence/seal.h"

namespace aha::demo {
namespace {

// A one-connection-at-a-time echo server on a loopback port.
class Echo {
 public:
  Echo() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[256];
        ssize_t n;
        while ((n = ::recv(c, buf, sizeof buf, 0)) > 0)
          ::send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~Echo() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int fd_ = -1, port_ = 0;
  std::thread thread_;
};

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Sends `msg` and reads the echo: the echoed text, or "" when the connection was cut.
std::string RoundTrip(int fd, const std::string& msg) {
  if (::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
    return "";
  }
  std::string got;
  char buf[256];
  while (got.size() < msg.size()) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

TEST(TcpProxy, PassesCutsRefusesAndPassesAgain) {
  Echo echo;
  TcpProxy proxy(echo.port());
  ASSERT_TRUE(proxy.Start());
  int open = Connect(proxy.port());
  ASSERT_GE(open, 0);
  EXPECT_EQ(RoundTrip(open, "hello"), "hello");

  proxy.SetDown(true);
  EXPECT_EQ(RoundTrip(open, "again"), "") << "the open connection is cut";
  ::close(open);
  int refused = Connect(proxy.port());  // accepted by the kernel, then reset by the proxy
  if (refused >= 0) {
    EXPECT_EQ(RoundTrip(refused, "x"), "");
    ::close(refused);
  }
  EXPECT_GE(proxy.refused(), 1u);

  proxy.SetDown(false);
  int again = Connect(proxy.port());
  ASSERT_GE(again, 0);
  EXPECT_EQ(RoundTrip(again, "back"), "back");
  ::close(again);
  proxy.Stop();
}

TEST(FaultTypes, KnownNames) {
  for (const char* t : {"health", "pod", "network", "node"})
    EXPECT_TRUE(IsFaultType(t)) << t;
  EXPECT_FALSE(IsFaultType("disk"));
  EXPECT_FALSE(IsFaultType(""));
}

DemoResult MakeResult(uint64_t lost, double oldest_age_ms) {
  DemoResult r;
  r.failing = "us-east-1";
  r.passive = "ap-southeast-1";
  r.fault_type = "pod";
  r.drill_seconds = 4;
  r.t0 = std::chrono::steady_clock::now();
  WallTime wall;
  ParseTime("2026-12-06T04:00:00.000Z", &wall);
  r.t0_wall = wall;
  r.rpo_bound_ms = 2000;
  r.steps = {{"fault injected: pod on us-east-1", 0.4, "app killed"},
             {"us-east-1 in failedRegions", 1225.6, ""},
             {"ap-southeast-1 serving clients", 1616.7, ""},
             {"fault reverted: pod on us-east-1", 4000.2, "app restarted"}};
  r.lost_at_failover = {{"count", lost},
                        {"rows", lost * 2},
                        {"acknowledged", 40},
                        {"oldestAgeMs", lost ? nlohmann::json(oldest_age_ms) : nullptr},
                        {"snapshot", "s1"}};
  r.lost_at_failback = 0;
  r.data.ok = true;
  return r;
}

TEST(EvidenceRecord, SealableWithRtoAndRpoFromTheResult) {
  const nlohmann::json rec = EvidenceRecord(MakeResult(0, 0), "1.2.3");
  auto sealed = evidence::Seal(rec);
  ASSERT_TRUE(sealed) << sealed.message();
  auto v = evidence::Verify(*sealed);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->intact);
  EXPECT_EQ(rec["binaryVersion"], "1.2.3");
  EXPECT_EQ(rec["fault"]["type"], "pod");
  EXPECT_EQ(rec["fault"]["region"], "us-east-1");
  EXPECT_EQ(rec["rtoMs"], 1616);  // serving clients - injected, whole ms
  EXPECT_EQ(rec["rpo"]["lostWrites"], 0);
  EXPECT_EQ(rec["rpo"]["dataLossWindowMs"], 0);
  EXPECT_EQ(rec["injectedAt"], "2026-12-06T04:00:00.000Z");
  EXPECT_EQ(rec["revertedAt"], "2026-12-06T04:00:04.000Z");
  EXPECT_EQ(rec["timeline"][1]["atMs"], 1226);
  EXPECT_EQ(rec["result"], "passed");
}

TEST(EvidenceRecord, LostWritesGiveTheWindow) {
  const nlohmann::json rec = EvidenceRecord(MakeResult(5, 449.4), "v");
  EXPECT_EQ(rec["rpo"]["lostWrites"], 5);
  EXPECT_EQ(rec["rpo"]["lostRows"], 10);
  EXPECT_EQ(rec["rpo"]["dataLossWindowMs"], 449);
  EXPECT_TRUE(evidence::Seal(rec));
}

TEST(EvidenceRecord, AFailedDrillSaysSo) {
  DemoResult r = MakeResult(0, 0);
  r.failed_step = "us-east-1 in failedRegions";
  r.steps.resize(1);
  const nlohmann::json rec = EvidenceRecord(r, "v");
  EXPECT_EQ(rec["result"], "failed");
  EXPECT_EQ(rec["failedStep"], "us-east-1 in failedRegions");
  EXPECT_TRUE(rec["rtoMs"].is_null());
  EXPECT_TRUE(evidence::Seal(rec));
}

}  // namespace
}  // namespace aha::demo
