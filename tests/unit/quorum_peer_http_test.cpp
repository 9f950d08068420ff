// PeerRequests (quorum/peer_http.h) over real loopback HTTP: one request per peer at once, GET or
// POST, the peer's bearer token, answers bounded as the options say, and a dead peer reported as
// a transport error while the others still answer.
#include "quorum/peer_http.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "httpd/server.h"

namespace aha::quorum {
namespace {

config::PeerConfig Peer(const std::string& name, const std::string& url) {
  config::PeerConfig p;
  p.name = name;
  p.url = url;
  return p;
}

std::string Url(const httpd::HttpServer& s, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + path;
}

const PeerRequests::Answer* Find(const std::vector<PeerRequests::Answer>& as, size_t index) {
  for (const auto& a : as)
    if (a.index == index) return &a;
  return nullptr;
}

TEST(PeerRequests, GetsEveryPeerWithItsOwnTokenAndReportsADeadOneAsATransportError) {
  httpd::HttpServer srv;
  srv.GetWithAuthorization("/who", [](const std::string& auth) {
    return httpd::Response{200, "text/plain", "auth=" + auth};
  });
  ASSERT_TRUE(srv.Start("127.0.0.1:0"));
  PeerRequests::Options o;
  o.timeout_seconds = 2;
  PeerRequests req({Peer("b", Url(srv, "/who")), Peer("c", Url(srv, "/who")),
                    Peer("d", "http://127.0.0.1:1/who")},
                   {{"b", "tok-b"}, {"c", ""}}, o);
  for (int round = 0; round < 2; ++round) {  // the handles are reused
    const auto as = req.RunAll();
    ASSERT_EQ(as.size(), 3u);
    const auto *b = Find(as, 0), *c = Find(as, 1), *d = Find(as, 2);
    ASSERT_TRUE(b && c && d);
    EXPECT_EQ(b->status, 200);
    EXPECT_EQ(b->body, "auth=Bearer tok-b");
    EXPECT_EQ(c->body, "auth=") << "no token: no Authorization header";
    EXPECT_EQ(d->status, 0);
    EXPECT_FALSE(d->error.empty());
    EXPECT_TRUE(b->error.empty());
  }
  srv.Stop();
}

TEST(PeerRequests, PostsTheBodyAndBoundsTheAnswerByFailingOrCutting) {
  auto so = httpd::AdminServerOptions();
  so.max_body_bytes = 4096;
  httpd::HttpServer srv(so);
  std::string got;
  srv.PostWithAuthorization(
      "/echo", [](const std::string&) { return true; },
      [&](const std::string& body) {
        got = body;
        return httpd::Response{409, "application/json", std::string(10000, 'x')};
      });
  ASSERT_TRUE(srv.Start("127.0.0.1:0"));
  const std::vector<config::PeerConfig> peers{Peer("b", Url(srv, "/echo"))};
  const std::string body = R"({"observer":"a"})";

  PeerRequests::Options cut;
  cut.max_body = 100;
  cut.fail_over_max = false;
  auto as = PeerRequests(peers, {}, cut).RunAll(&body);
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(got, body);
  EXPECT_EQ(as[0].status, 409);
  EXPECT_TRUE(as[0].error.empty());
  EXPECT_EQ(as[0].body, std::string(100, 'x'));

  PeerRequests::Options fail;
  fail.max_body = 100;
  as = PeerRequests(peers, {}, fail).RunAll(&body);
  ASSERT_EQ(as.size(), 1u);
  EXPECT_FALSE(as[0].error.empty()) << "an answer over the bound fails the transfer";
  EXPECT_LE(as[0].body.size(), 100u);
  srv.Stop();
}

}  // namespace
}  // namespace aha::quorum
