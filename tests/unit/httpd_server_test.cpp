// BoundedServer on loopback with raw sockets: routing, keep-alive and pipelining, bodies refused
// without being read, admission before the body, the connection cap, absolute deadlines.
// No timing thresholds: deadlines are set short and the tests only wait (generously) for the
// server's answer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "httpd/bounded.h"
#include "httpd/server.h"

namespace aha::httpd {
namespace {

using namespace std::chrono_literals;

class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};  // a safety net against hangs, not a threshold
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { close(fd_); }
  bool ok() const { return ok_; }
  // False when the peer has closed or reset the connection.
  bool Send(const std::string& s) {
    return send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // One response: status line + headers + Content-Length body; "" on EOF/timeout before it.
  std::string ReadResponse() {
    for (;;) {
      const size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t len = 0;
        const size_t cl = buf_.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) len = std::stoul(buf_.substr(cl + 16));
        if (buf_.size() >= end + 4 + len) {
          std::string r = buf_.substr(0, end + 4 + len);
          buf_.erase(0, end + 4 + len);
          return r;
        }
      }
      char b[4096];
      const ssize_t n = recv(fd_, b, sizeof b, 0);
      if (n <= 0) return "";
      buf_.append(b, static_cast<size_t>(n));
    }
  }
  // Everything until the server closes the connection.
  std::string ReadAll() {
    char b[4096];
    for (ssize_t n; (n = recv(fd_, b, sizeof b, 0)) > 0;)
      buf_.append(b, static_cast<size_t>(n));
    std::string r;
    r.swap(buf_);
    return r;
  }
  // True when the server closed the connection (EOF or reset) before the safety timeout.
  bool Closed() {
    char b[4096];
    for (;;) {
      const ssize_t n = recv(fd_, b, sizeof b, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string buf_;
};

int Status(const std::string& resp) {
  return resp.size() >= 12 ? std::stoi(resp.substr(9, 3)) : 0;
}

std::string Body(const std::string& resp) {
  const size_t end = resp.find("\r\n\r\n");
  return end == std::string::npos ? "" : resp.substr(end + 4);
}

class BoundedServerTest : public ::testing::Test {
 protected:
  void StartWith(ServerOptions o) {
    server_ = std::make_unique<BoundedServer>(o);
    server_->Route("GET", "/healthz", [](const Request&) {
      return Response{200, "text/plain", "ok\n", {}};
    });
    server_->Route(
        "POST", "/echo",
        [](const Request& r) {
          return Response{200, "text/plain", r.body, {}};
        },
        /*accepts_body=*/true);
    server_->SetAdmission([](const Request& r) -> std::optional<Response> {
      if (r.Header("authorization") == "deny") return Response{401, "text/plain", "no\n", {}};
      return std::nullopt;
    });
    ASSERT_TRUE(server_->Start("127.0.0.1", 0));
    port_ = server_->port();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  std::unique_ptr<BoundedServer> server_;
  int port_ = 0;
};

ServerOptions Small() {
  ServerOptions o;
  o.max_body_bytes = 1024;
  o.workers = 1;
  return o;
}

TEST_F(BoundedServerTest, ServesKeepAliveAndPipelinedRequestsInOrder) {
  StartWith(Small());
  Client c(port_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string r = c.ReadResponse();
  EXPECT_EQ(Status(r), 200);
  EXPECT_EQ(Body(r), "ok\n");
  EXPECT_NE(r.find("Keep-Alive: timeout="), std::string::npos);
  // Three pipelined requests in one write.
  ASSERT_TRUE(
      c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nonePOST /echo "
             "HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"
             "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(Body(c.ReadResponse()), "one");
  EXPECT_EQ(Body(c.ReadResponse()), "two");
  r = c.ReadResponse();
  EXPECT_EQ(Body(r), "ok\n");
  EXPECT_NE(r.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(c.Closed());
}

TEST_F(BoundedServerTest, NotFoundMethodNotAllowedAndHead) {
  StartWith(Small());
  Client c(port_);
  ASSERT_TRUE(c.Send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(Status(c.ReadResponse()), 404);
  ASSERT_TRUE(c.Send("DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string r = c.ReadResponse();
  EXPECT_EQ(Status(r), 405);
  EXPECT_NE(r.find("Allow: GET, HEAD"), std::string::npos);
  ASSERT_TRUE(c.Send("HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  // A HEAD answer carries the GET's Content-Length but no body.
  const std::string all = c.ReadAll();
  EXPECT_EQ(Status(all), 200);
  EXPECT_NE(all.find("Content-Length: 3\r\n"), std::string::npos);
  EXPECT_EQ(all.substr(all.size() - 4), "\r\n\r\n");
}

TEST_F(BoundedServerTest, GetRouteRefusesAnyBodyWithoutReadingIt) {
  StartWith(Small());
  for (const std::string framing : {"Content-Length: 300000000", "Transfer-Encoding: chunked"}) {
    Client c(port_);
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n" + framing + "\r\n\r\n"));
    // Keep sending: the server answers and closes regardless.
    const std::string chunk = "4000\r\n" + std::string(0x4000, 'a') + "\r\n";
    for (int i = 0; i < 16 && c.Send(chunk); ++i) {
    }
    const std::string r = c.ReadResponse();
    EXPECT_EQ(Status(r), 413) << framing;
    EXPECT_NE(r.find("Connection: close"), std::string::npos);
  }
}

TEST_F(BoundedServerTest, BodyLimitAppliesToChunkedAndToContentLength) {
  StartWith(Small());
  {
    Client c(port_);
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n"));
    EXPECT_EQ(Status(c.ReadResponse()), 413);
  }
  {
    Client c(port_);
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk = "200\r\n" + std::string(0x200, 'a') + "\r\n";
    for (int i = 0; i < 64 && c.Send(chunk); ++i) {
    }
    EXPECT_EQ(Status(c.ReadResponse()), 413);
  }
  {
    Client c(port_);  // exactly at the limit is fine
    ASSERT_TRUE(
        c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" +
               std::string(1024, 'b') + "\r\n0\r\n\r\n"));
    const std::string r = c.ReadResponse();
    EXPECT_EQ(Status(r), 200);
    EXPECT_EQ(Body(r).size(), 1024u);
  }
}

TEST_F(BoundedServerTest, AdmissionAnswersBeforeTheBody) {
  StartWith(Small());
  Client c(port_);
  // The body is announced but never sent: a 401 can only come from the head.
  ASSERT_TRUE(
      c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: deny\r\nTransfer-Encoding: "
             "chunked\r\n\r\n"));
  const std::string r = c.ReadResponse();
  EXPECT_EQ(Status(r), 401);
  EXPECT_NE(r.find("Connection: close"), std::string::npos);
}

TEST_F(BoundedServerTest, ExpectContinueOnlyOnceAdmitted) {
  StartWith(Small());
  Client c(port_);
  ASSERT_TRUE(c.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  std::string r = c.ReadResponse();
  EXPECT_EQ(Status(r), 100);
  ASSERT_TRUE(c.Send("hi"));
  EXPECT_EQ(Body(c.ReadResponse()), "hi");
}

TEST_F(BoundedServerTest, HeaderDeadlineIsAbsoluteNotPerRead) {
  ServerOptions o = Small();
  o.header_timeout = 300ms;
  StartWith(o);
  Client c(port_);
  // A byte every 50 ms keeps every single read short, but the head is never finished.
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a');
  size_t sent = 0;
  while (sent < head.size() && c.Send(head.substr(sent, 1))) {
    ++sent;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_LT(sent, head.size()) << "the server kept the connection for the whole dribble";
  EXPECT_EQ(Status(c.ReadResponse()), 408);
}

TEST_F(BoundedServerTest, SlowClientsDoNotBlockOthers) {
  ServerOptions o = Small();
  o.workers = 1;
  StartWith(o);
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<Client>(port_));
    ASSERT_TRUE(slow.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a"));
  }
  Client c(port_);
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(Status(c.ReadResponse()), 200);
}

TEST_F(BoundedServerTest, ConnectionCapEvictsIdleThenSlowestThenRefuses) {
  ServerOptions o = Small();
  o.max_connections = 2;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  server_ = std::make_unique<BoundedServer>(o);
  server_->Route("GET", "/healthz", [](const Request&) {
    return Response{200, "text/plain", "ok\n", {}};
  });
  server_->Route("GET", "/block", [&](const Request&) {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return release; });
    return Response{200, "text/plain", "released\n", {}};
  });
  ASSERT_TRUE(server_->Start("127.0.0.1", 0));
  port_ = server_->port();
  {
    // Two idle connections (nothing sent): a third connection evicts the oldest.
    Client idle1(port_), idle2(port_);
    std::this_thread::sleep_for(100ms);  // let the server accept them in order
    Client c(port_);
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    EXPECT_EQ(Status(c.ReadResponse()), 200);
    EXPECT_TRUE(idle1.Closed());
  }
  std::this_thread::sleep_for(100ms);
  {
    // Two connections in the middle of a request: the one that started first is dropped.
    Client slow1(port_), slow2(port_);
    ASSERT_TRUE(slow1.Send("GET /healthz HTTP/1.1\r\n"));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(slow2.Send("GET /healthz HTTP/1.1\r\n"));
    std::this_thread::sleep_for(100ms);
    Client c(port_);
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    EXPECT_EQ(Status(c.ReadResponse()), 200);
    EXPECT_TRUE(slow1.Closed());
  }
  std::this_thread::sleep_for(100ms);
  // Two connections being served (their handler blocks): a third one is refused with 503.
  Client busy1(port_), busy2(port_);
  ASSERT_TRUE(busy1.Send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(busy2.Send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(100ms);
  Client c(port_);
  c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(Status(c.ReadResponse()), 503);
  {
    std::lock_guard l(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(Body(busy1.ReadResponse()), "released\n");
  EXPECT_EQ(Body(busy2.ReadResponse()), "released\n");
}

TEST(HttpServer, GetRoutesAndAuthorizationHeader) {
  HttpServer s;
  s.Get("/healthz", [] { return Response{200, "text/plain", "ok\n"}; });
  s.GetWithAuthorization("/v1/x", [](const std::string& auth) {
    return auth == "Bearer t" ? Response{200, "application/json", "{}"}
                              : Response{401, "application/json", "{}"};
  });
  ASSERT_TRUE(s.Start("127.0.0.1:0"));
  Client c(s.port());
  ASSERT_TRUE(c.Send("GET /v1/x HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string r = c.ReadResponse();
  EXPECT_EQ(Status(r), 401);
  EXPECT_NE(r.find("WWW-Authenticate: Bearer"), std::string::npos);
  ASSERT_TRUE(c.Send("GET /v1/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n"));
  EXPECT_EQ(Status(c.ReadResponse()), 200);
  ASSERT_TRUE(c.Send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_EQ(Status(c.ReadResponse()), 405);
  ASSERT_TRUE(c.Send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"));
  EXPECT_EQ(Status(c.ReadResponse()), 413) << "a body for a GET-only path: 413 before 405";
  s.Stop();
}

}  // namespace
}  // namespace aha::httpd
