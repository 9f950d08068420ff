// The bounded request parser: framing, limits enforced before bytes are buffered, and the
// strictness that keeps requests unambiguous.
#include <gtest/gtest.h>

#include <string>

#include "httpd/request.h"

namespace aha::httpd {
namespace {

using State = RequestParser::State;

// Feeds `text` in pieces of `step` bytes (1 = byte by byte) and returns the parser; BeginBody is
// called with `max_body` when the head is done.
struct Fed {
  RequestParser p{1024, 16};
  size_t used = 0;
};

void FeedAll(Fed& f, const std::string& text, size_t max_body, size_t step) {
  while (f.used < text.size() && (f.p.state() == State::kHead || f.p.state() == State::kBody ||
                                  f.p.state() == State::kHeadDone)) {
    if (f.p.state() == State::kHeadDone) {
      f.p.BeginBody(max_body);
      continue;
    }
    const size_t n = std::min(step, text.size() - f.used);
    const size_t u = f.p.Feed(std::string_view(text).substr(f.used, n));
    f.used += u;
    if (u == 0 && f.p.state() != State::kHeadDone) break;
  }
  if (f.p.state() == State::kHeadDone) f.p.BeginBody(max_body);
}

TEST(HttpdRequestParser, ParsesAGetInAnyFragmentation) {
  const std::string text = "GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\nX-Y:  v  \r\n\r\n";
  for (size_t step : {1u, 2u, 7u, 1000u}) {
    Fed f;
    FeedAll(f, text, 0, step);
    ASSERT_EQ(f.p.state(), State::kDone) << step;
    EXPECT_EQ(f.used, text.size());
    const Request& r = f.p.request();
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.path, "/healthz");
    EXPECT_EQ(r.query, "x=1");
    EXPECT_EQ(r.Header("x-y"), "v");
    EXPECT_EQ(r.Header("HOST"), "a");
    EXPECT_TRUE(r.KeepAlive());
    EXPECT_FALSE(f.p.HasBody());
  }
}

TEST(HttpdRequestParser, StopsAtTheEndOfTheRequestForPipelining) {
  const std::string one = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
  Fed f;
  FeedAll(f, one + "GET /b HTTP/1.1\r\n", 0, 4096);
  ASSERT_EQ(f.p.state(), State::kDone);
  EXPECT_EQ(f.used, one.size());
}

TEST(HttpdRequestParser, ContentLengthBody) {
  const std::string text = "POST /mcp HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  for (size_t step : {1u, 3u, 4096u}) {
    Fed f;
    FeedAll(f, text, 5, step);
    ASSERT_EQ(f.p.state(), State::kDone);
    EXPECT_EQ(f.p.request().body, "hello");
  }
}

TEST(HttpdRequestParser, ContentLengthOverTheLimitIsRefusedBeforeTheBody) {
  Fed f;
  const std::string head = "POST /mcp HTTP/1.1\r\nHost: a\r\nContent-Length: 300000000\r\n\r\n";
  f.used = f.p.Feed(head);
  ASSERT_EQ(f.p.state(), State::kHeadDone);
  EXPECT_TRUE(f.p.HasBody());
  f.p.BeginBody(1024);
  EXPECT_EQ(f.p.state(), State::kError);
  EXPECT_EQ(f.p.error_status(), 413);
  EXPECT_EQ(f.p.request().body.capacity() < 1024 * 1024, true) << "nothing reserved";
}

TEST(HttpdRequestParser, ChunkedBodyDecodes) {
  const std::string text =
      "POST /mcp HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: x\r\n\r\n";
  for (size_t step : {1u, 5u, 4096u}) {
    Fed f;
    FeedAll(f, text, 100, step);
    ASSERT_EQ(f.p.state(), State::kDone) << step << " " << f.p.error();
    EXPECT_EQ(f.p.request().body, "hello!");
    EXPECT_EQ(f.used, text.size());
  }
}

TEST(HttpdRequestParser, ChunkedBodyOverTheLimitIsRefusedAtTheChunkHeader) {
  // A flood: 1 MiB chunks against a 100-byte limit. The parser must stop at the chunk-size
  // line that would exceed the limit, without buffering that chunk.
  std::string text = "POST /mcp HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  text += "40\r\n" + std::string(64, 'x') + "\r\n";
  const size_t before = text.size();
  text += "100000\r\n" + std::string(4096, 'y');
  Fed f;
  FeedAll(f, text, 100, 4096);
  ASSERT_EQ(f.p.state(), State::kError);
  EXPECT_EQ(f.p.error_status(), 413);
  EXPECT_EQ(f.p.request().body.size(), 64u);
  EXPECT_LE(f.used, before + 8) << "stopped at the chunk-size line";
}

TEST(HttpdRequestParser, ChunkedBodyOfManySmallChunksIsBoundedToo) {
  std::string text = "POST /mcp HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 200; ++i)
    text += "1\r\nz\r\n";
  Fed f;
  FeedAll(f, text, 100, 7);
  ASSERT_EQ(f.p.state(), State::kError);
  EXPECT_EQ(f.p.error_status(), 413);
  EXPECT_EQ(f.p.request().body.size(), 100u);
}

TEST(HttpdRequestParser, HeadLimitsAreEnforced) {
  {
    Fed f;  // 1024-byte head limit
    FeedAll(f, "GET /" + std::string(2000, 'a') + " HTTP/1.1\r\n", 0, 100);
    EXPECT_EQ(f.p.state(), State::kError);
    EXPECT_EQ(f.p.error_status(), 414);
  }
  {
    Fed f;
    FeedAll(f, "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", 0, 100);
    EXPECT_EQ(f.p.state(), State::kError);
    EXPECT_EQ(f.p.error_status(), 431);
    EXPECT_LE(f.used, 1025u);
  }
  {
    Fed f;  // 16 fields at most
    std::string text = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 20; ++i)
      text += "X" + std::to_string(i) + ": 1\r\n";
    FeedAll(f, text + "\r\n", 0, 4096);
    EXPECT_EQ(f.p.error_status(), 431);
  }
  {
    Fed f;  // an endless chunked trailer
    std::string text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    for (int i = 0; i < 200; ++i)
      text += "T: 0123456789\r\n";
    FeedAll(f, text, 100, 4096);
    EXPECT_EQ(f.p.error_status(), 431);
  }
}

TEST(HttpdRequestParser, RefusesAmbiguousOrMalformedRequests) {
  struct Case {
    std::string text;
    int status;
  };
  const Case cases[] = {
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},                        // no Host
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},  // two Hosts
      {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},  // obs-fold
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},            // space before colon
      {"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400},       // bare LF
      {"GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},     // absolute-form
      {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"GET / FOO\r\nHost: a\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    Fed f;
    FeedAll(f, c.text, 100, 4096);
    EXPECT_EQ(f.p.state(), State::kError) << c.text;
    EXPECT_EQ(f.p.error_status(), c.status) << c.text;
  }
}

TEST(HttpdRequestParser, MalformedChunkFraming) {
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string body :
       {"zz\r\n", "5\r\nhelloXX", "5\nhello\r\n", "\r\n", "fffffffffffffffff\r\n"}) {
    Fed f;
    FeedAll(f, head + body, 100, 4096);
    EXPECT_EQ(f.p.state(), State::kError) << body;
  }
}

TEST(HttpdRequestSteps, RequestLine) {
  Request req;
  ParseFailure f = ParseRequestLine("GET /a/b?x=1&y HTTP/1.0", &req);
  EXPECT_EQ(f.status, 0) << f.why;
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/a/b?x=1&y");
  EXPECT_EQ(req.path, "/a/b");
  EXPECT_EQ(req.query, "x=1&y");
  EXPECT_EQ(req.minor_version, 0);
  struct Case {
    const char* line;
    int status;
    const char* why;
  };
  for (const Case& c :
       {Case{"GET /  HTTP/1.1", 400, "malformed request line"},
        Case{"GET /", 400, "malformed request line"},
        Case{"G(T / HTTP/1.1", 400, "malformed method"},
        Case{"GET http://a/ HTTP/1.1", 400, "request target must be an absolute path"},
        Case{"GET / HTTP/2.0", 505, "only HTTP/1.0 and HTTP/1.1 are supported"},
        Case{"GET / HTTP/1.10", 400, "malformed HTTP version"}}) {
    Request r;
    f = ParseRequestLine(c.line, &r);
    EXPECT_EQ(f.status, c.status) << c.line;
    EXPECT_EQ(f.why, c.why) << c.line;
    EXPECT_EQ(r.method, "") << c.line;
  }
}

TEST(HttpdRequestSteps, HeaderField) {
  std::string name;
  std::string_view value;
  ParseFailure f = ParseHeaderField("Content-Type: \t text/plain \t", &name, &value);
  EXPECT_EQ(f.status, 0) << f.why;
  EXPECT_EQ(name, "content-type");
  EXPECT_EQ(value, "text/plain");
  EXPECT_EQ(ParseHeaderField(" folded: x", &name, &value).why, "obsolete line folding");
  EXPECT_EQ(ParseHeaderField("Host : a", &name, &value).why, "malformed header field");
  EXPECT_EQ(ParseHeaderField(": a", &name, &value).why, "malformed header field");
  EXPECT_EQ(ParseHeaderField("no colon", &name, &value).status, 400);
}

TEST(HttpdRequestSteps, ChunkSize) {
  uint64_t n = 0;
  EXPECT_EQ(ParseChunkSize("1aF; name=value", &n).status, 0);
  EXPECT_EQ(n, 0x1afu);
  EXPECT_EQ(ParseChunkSize("fffffffffffffff", &n).status, 0);
  EXPECT_EQ(n, 0xfffffffffffffffu);
  ParseFailure f = ParseChunkSize("1000000000000000", &n);
  EXPECT_EQ(f.status, 413);
  EXPECT_EQ(f.why, "chunk size too large");
  for (const char* bad : {"", ";x", "12 34", "0x10", "g"}) {
    f = ParseChunkSize(bad, &n);
    EXPECT_EQ(f.status, 400) << bad;
    EXPECT_EQ(f.why, "malformed chunk size") << bad;
  }
}

TEST(HttpdRequestParser, KeepAliveAndResetForTheNextRequest) {
  Fed f;
  FeedAll(f, "GET / HTTP/1.0\r\n\r\n", 0, 4096);
  ASSERT_EQ(f.p.state(), State::kDone);
  EXPECT_FALSE(f.p.request().KeepAlive());
  f.p.Reset();
  EXPECT_FALSE(f.p.started());
  f.used = 0;
  FeedAll(f, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, 4096);
  ASSERT_EQ(f.p.state(), State::kDone);
  EXPECT_FALSE(f.p.request().KeepAlive());
  f.p.Reset();
  f.used = 0;
  FeedAll(f, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, 4096);
  EXPECT_TRUE(f.p.request().KeepAlive());
}

}  // namespace
}  // namespace aha::httpd
