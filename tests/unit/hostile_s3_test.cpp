// S3ObjectStore and the AWS credential endpoints against a hostile loopback peer
// (tests/support/hostile_s3.h): endless bodies, bodies longer than declared or expected, a
// 2 bytes/s trickle, repeated continuation tokens, huge listing pages with duplicate keys, and
// invalid UTF-8 in error documents. Every case must end with a clear error naming the key (or
// URL), within the bounds configured here, without aborting.
//
// Bounds used (HostileConfig): in-memory responses 1 MiB, request deadline 1 s + size at
// 1 MiB/s, operation deadline 3 s + the same, 2 attempts. The time checks are generous (an
// operation must end within 60 s, twenty times its configured deadline): they catch "never
// ends", not slowness.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/printable.h"
#include "objectstore/credentials.h"
#include "objectstore/s3_store.h"
#include "support/hostile_s3.h"
#include "support/temp_dir.h"

namespace aha::objectstore {
namespace {

using aha::testing::HostileS3;
using Req = HostileS3::Request;
using Conn = HostileS3::Conn;
namespace fs = std::filesystem;
using std::chrono::steady_clock;

constexpr uint64_t kMiB = 1u << 20;
constexpr auto kGenerous = std::chrono::seconds(60);

S3Config HostileConfig(const std::string& endpoint) {
  S3Config c;
  c.bucket = "bucket";
  c.prefix = "p";
  c.region = "us-east-1";
  c.endpoint = endpoint;
  c.path_style = true;
  c.credentials = std::make_shared<StaticCredentialsProvider>(sigv4::Credentials{"AK", "SK", ""});
  c.max_attempts = 2;
  c.backoff_base = std::chrono::milliseconds(10);
  c.backoff_max = std::chrono::milliseconds(50);
  c.max_response_bytes = kMiB;
  c.request_timeout = std::chrono::seconds(1);
  c.min_transfer_rate = kMiB;
  c.operation_timeout = std::chrono::seconds(3);
  return c;
}

std::unique_ptr<S3ObjectStore> Store(const HostileS3& server, S3Config c = {}) {
  if (c.bucket.empty()) c = HostileConfig(server.endpoint());
  auto s = S3ObjectStore::Create(std::move(c));
  EXPECT_TRUE(s) << s.message();
  return s ? std::move(*s) : nullptr;
}

// 64 KiB blocks until the client goes away.
void Endless(Conn& c) {
  const std::string block(64 << 10, 'x');
  while (c.Send(block)) {
  }
}

// Errors reach logs and JSON output: they must be printable and serialisable.
// (Printable's output is already escaped, so IsPrintable, which would escape the backslashes
// again, is not the test: no control byte, and valid UTF-8 for a strict JSON dump.)
void ExpectPrintable(const std::string& msg) {
  for (unsigned char ch : msg)
    ASSERT_TRUE(ch >= 0x20 && ch != 0x7f) << "control byte in: " << msg;
  EXPECT_NO_THROW((void)nlohmann::json(msg).dump()) << msg;
}

TEST(HostileS3, EndlessBodyOnAnInMemoryGetStopsAtTheCap) {
  HostileS3 server([](const Req&, Conn& c) {
    c.Send(HostileS3::Head(200, {"Connection: close"}));  // no Content-Length: until close
    Endless(c);
  });
  auto s = Store(server);
  const uint64_t rss0 = aha::testing::CurrentRss();
  const auto t0 = steady_clock::now();
  auto g = s->Get("r1/latest");
  ASSERT_FALSE(g);
  EXPECT_LT(steady_clock::now() - t0, kGenerous);
  EXPECT_NE(g.message().find("\"r1/latest\""), std::string::npos) << g.message();
  EXPECT_NE(g.message().find("in-memory limit of 1 MiB"), std::string::npos) << g.message();
  EXPECT_EQ(server.requests(), 1) << "a refused body is not retried";
  // Bound: the 1 MiB cap plus what sat in socket buffers; the old client read until killed.
  EXPECT_LT(server.bytes_sent(), 64 * kMiB);
  const uint64_t rss1 = aha::testing::CurrentRss();
  EXPECT_LT(rss1 > rss0 ? rss1 - rss0 : 0, 64 * kMiB) << "RSS grew by " << (rss1 - rss0);
  ExpectPrintable(g.message());
}

TEST(HostileS3, DeclaredLengthBeyondTheCapIsRefusedBeforeReading) {
  HostileS3 server([](const Req&, Conn& c) {
    c.Send(HostileS3::Head(200, {"Content-Length: 4294967296"}));
    Endless(c);
  });
  auto s = Store(server);
  auto g = s->Get("r1/snapshots/x.json");
  ASSERT_FALSE(g);
  EXPECT_NE(g.message().find("declares 4294967296 bytes"), std::string::npos) << g.message();
  EXPECT_NE(g.message().find("\"r1/snapshots/x.json\""), std::string::npos) << g.message();
  EXPECT_LT(server.bytes_sent(), 64 * kMiB);
}

// A 6-byte blob whose body never ends (no Content-Length), or that declares 4 GiB: nothing past
// 6 bytes is written, the download fails as a size mismatch, the target is never created.
TEST(HostileS3, BlobBodyLongerThanExpectedStopsAtTheExpectedSize) {
  for (const bool declared : {false, true}) {
    SCOPED_TRACE(declared ? "Content-Length: 4 GiB" : "no Content-Length");
    HostileS3 server([declared](const Req&, Conn& c) {
      c.Send(HostileS3::Head(200, {declared ? "Content-Length: 4294967296" : "Connection: close"}));
      Endless(c);
    });
    auto s = Store(server);
    aha::testing::TempDir tmp;
    const auto t0 = steady_clock::now();
    Status st = s->GetToFile("r1/blobs/abc", tmp.path() + "/out", false, 6);
    ASSERT_FALSE(st);
    EXPECT_LT(steady_clock::now() - t0, kGenerous);
    EXPECT_NE(st.code(), Code::kNotFound);
    EXPECT_NE(st.message().find("size mismatch"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("\"r1/blobs/abc\""), std::string::npos) << st.message();
    EXPECT_TRUE(fs::is_empty(tmp.path())) << "no target, no temp file left";
    EXPECT_LT(server.bytes_sent(), 64 * kMiB);
    EXPECT_LE(s->stats().bytes_down, 6u);
  }
}

// A body at 2 bytes/s stays above the 1 B/s low-speed limit forever; the deadline cuts it.
TEST(HostileS3, TrickleIsCutAtTheDeadline) {
  HostileS3 server([](const Req&, Conn& c) {
    if (!c.Send(HostileS3::Head(200, {"Content-Length: 1000"}))) return;
    for (int i = 0; i < 500; ++i)
      if (!c.Sleep(1000) || !c.Send("xx")) return;
  });
  auto s = Store(server);
  const auto t0 = steady_clock::now();
  auto g = s->Get("r1/latest");
  ASSERT_FALSE(g);
  EXPECT_LT(steady_clock::now() - t0, kGenerous);
  EXPECT_NE(g.message().find("no complete response within"), std::string::npos) << g.message();
  EXPECT_NE(g.message().find("\"r1/latest\""), std::string::npos) << g.message();
  EXPECT_LE(server.requests(), 2);

  aha::testing::TempDir tmp;
  const auto t1 = steady_clock::now();
  Status st = s->GetToFile("r1/blobs/abc", tmp.path() + "/out", false, 1000);
  ASSERT_FALSE(st);
  EXPECT_LT(steady_clock::now() - t1, kGenerous);
  EXPECT_NE(st.message().find("no complete response within"), std::string::npos) << st.message();
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

// A server that accepts and then says nothing at all.
TEST(HostileS3, SilentServerIsCutAtTheDeadline) {
  HostileS3 server([](const Req&, Conn& c) { c.Sleep(120000); });
  auto s = Store(server);
  const auto t0 = steady_clock::now();
  auto e = s->Exists("r1/latest");
  ASSERT_FALSE(e);
  EXPECT_LT(steady_clock::now() - t0, kGenerous);
  EXPECT_NE(e.message().find("no complete response within"), std::string::npos) << e.message();
}

std::string Page(const std::vector<std::string>& keys, bool truncated, const std::string& token) {
  std::string xml = "<?xml version=\"1.0\"?><ListBucketResult><Name>bucket</Name>";
  for (const auto& k : keys)
    xml += "<Contents><Key>" + k + "</Key><Size>1</Size></Contents>";
  xml += std::string("<IsTruncated>") + (truncated ? "true" : "false") + "</IsTruncated>";
  if (!token.empty()) xml += "<NextContinuationToken>" + token + "</NextContinuationToken>";
  return xml + "</ListBucketResult>";
}

TEST(HostileS3, RepeatedContinuationTokenIsAnError) {
  HostileS3 server([](const Req&, Conn& c) {
    c.Send(HostileS3::XmlReply(200, Page({"p/r1/a"}, true, "same-token")));
  });
  auto s = Store(server);
  auto l = s->List("r1/");
  ASSERT_FALSE(l);
  EXPECT_NE(l.message().find("repeated continuation token \"same-token\""), std::string::npos)
      << l.message();
  EXPECT_NE(l.message().find("list \"r1/\""), std::string::npos) << l.message();
  EXPECT_EQ(server.requests(), 2);
}

TEST(HostileS3, PagesThatBringNoNewKeyEndTheListing) {
  std::atomic<int> n{0};
  HostileS3 server([&n](const Req&, Conn& c) {
    c.Send(HostileS3::XmlReply(200, Page({"p/r1/a"}, true, "t" + std::to_string(n++))));
  });
  auto s = Store(server);
  auto l = s->List("r1/");
  ASSERT_FALSE(l);
  EXPECT_NE(l.message().find("brought no new key"), std::string::npos) << l.message();
  EXPECT_LT(server.requests(), 200);
}

TEST(HostileS3, HugeListingPageIsRefusedAndDuplicateKeysAreReturnedOnce) {
  std::vector<std::string> huge;
  for (int i = 0; i < 20000; ++i)
    huge.push_back("p/r1/k" + std::to_string(i));
  std::vector<std::string> dups;
  for (int rep = 0; rep < 3; ++rep)
    for (int i = 0; i < 1000; ++i)
      dups.push_back("p/r1/d" + std::to_string(i));
  HostileS3 server([&](const Req& r, Conn& c) {
    const bool want_huge = r.query.find("prefix=p%2Fr1%2Fk") != std::string::npos;
    c.Send(HostileS3::XmlReply(200, Page(want_huge ? huge : dups, false, "")));
  });
  S3Config cfg = HostileConfig(server.endpoint());
  cfg.max_response_bytes = 4 * kMiB;  // the page (1.1 MB) fits: the key cap must refuse it
  auto s = Store(server, cfg);
  auto l = s->List("r1/k");
  ASSERT_FALSE(l);
  EXPECT_NE(l.message().find("20000 keys, more than the 10000"), std::string::npos) << l.message();
  auto d = s->List("r1/d");
  ASSERT_TRUE(d) << d.message();
  EXPECT_EQ(d->size(), 1000u) << "each key once";
  for (size_t i = 1; i < d->size(); ++i)
    ASSERT_LT((*d)[i - 1].key, (*d)[i].key);
}

TEST(HostileS3, ListingBeyondTheTotalKeyCapIsAnError) {
  std::atomic<int> page{0};
  HostileS3 server([&page](const Req&, Conn& c) {
    const int p = page++;
    std::vector<std::string> keys;
    for (int i = 0; i < 1000; ++i) {
      char k[32];
      std::snprintf(k, sizeof k, "p/r1/%06d", p * 1000 + i);
      keys.push_back(k);
    }
    c.Send(HostileS3::XmlReply(200, Page(keys, true, "t" + std::to_string(p))));
  });
  S3Config cfg = HostileConfig(server.endpoint());
  cfg.max_list_keys = 5000;
  auto s = Store(server, cfg);
  auto l = s->List("");
  ASSERT_FALSE(l);
  EXPECT_NE(l.message().find("more than 5000 keys"), std::string::npos) << l.message();
  EXPECT_EQ(server.requests(), 6);
}

TEST(HostileS3, InvalidUtf8AndControlBytesInAnErrorDocumentArePrintable) {
  const std::string evil = "\xff\xfe bad \x1b[31mred\x1b[0m \xc3";
  HostileS3 server([&](const Req&, Conn& c) {
    c.Send(HostileS3::XmlReply(
        403, "<Error><Code>AccessDenied\x07</Code><Message>" + evil + "</Message></Error>"));
  });
  auto s = Store(server);
  auto g = s->Get("r1/latest");
  ASSERT_FALSE(g);
  EXPECT_EQ(g.code(), Code::kPermissionDenied);
  EXPECT_EQ(g.error().http_status, 403);
  EXPECT_NE(g.message().find("AccessDenied"), std::string::npos) << g.message();
  EXPECT_NE(g.message().find("\\xff\\xfe bad"), std::string::npos) << g.message();
  ExpectPrintable(g.message());
}

TEST(HostileS3, EndlessErrorBodyIsCut) {
  HostileS3 server([](const Req&, Conn& c) {
    if (!c.Send(HostileS3::Head(403, {"Connection: close"}) + "<Error><Code>AccessDenied</Code>"))
      return;
    Endless(c);
  });
  auto s = Store(server);
  const auto t0 = steady_clock::now();
  Status d = s->Delete("r1/x");
  ASSERT_FALSE(d);
  EXPECT_LT(steady_clock::now() - t0, kGenerous);
  EXPECT_EQ(d.code(), Code::kPermissionDenied) << d.message();
  EXPECT_EQ(d.error().http_status, 403);
  EXPECT_NE(d.message().find("AccessDenied"), std::string::npos) << d.message();
  EXPECT_LT(server.bytes_sent(), 64 * kMiB);
}

TEST(HostileS3, MultipartReplyWithoutAUsableUploadIdIsAnError) {
  HostileS3 server([](const Req& r, Conn& c) {
    if (r.method == "POST") {
      c.Send(HostileS3::XmlReply(200,
                                 "<InitiateMultipartUploadResult><UploadId>a\r\nb</UploadId>"
                                 "</InitiateMultipartUploadResult>"));
    } else {
      c.Send(HostileS3::XmlReply(200, ""));
    }
  });
  S3Config cfg = HostileConfig(server.endpoint());
  cfg.part_size = 1024;
  auto s = Store(server, cfg);
  aha::testing::TempDir tmp;
  { std::ofstream(tmp.path() + "/f") << std::string(4096, 'z'); }
  Status st = s->PutFile("r1/blobs/big", tmp.path() + "/f");
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("UploadId"), std::string::npos) << st.message();
  ExpectPrintable(st.message());
}

// --- XML parsers (also fuzzed: fuzz/s3xml_fuzz.cpp) -----------------------------------------

TEST(S3Xml, ListPageParsesAndValidates) {
  auto p = ParseListPage(Page({"a", "b&amp;c"}, true, "tok"), 10);
  ASSERT_TRUE(p) << p.message();
  ASSERT_EQ(p->contents.size(), 2u);
  EXPECT_EQ(p->contents[1].key, "b&c");
  EXPECT_TRUE(p->truncated);
  EXPECT_EQ(p->next_token, "tok");
  EXPECT_FALSE(ParseListPage(Page({"a", "b", "c"}, false, ""), 2));
  EXPECT_FALSE(ParseListPage("<Contents><Key>a</Key><Size>-1</Size></Contents>", 10));
  EXPECT_FALSE(
      ParseListPage("<Contents><Key>a</Key><Size>99999999999999999999</Size></Contents>", 10));
  EXPECT_FALSE(ParseListPage(
      "<NextContinuationToken>" + std::string(5000, 't') + "</NextContinuationToken>", 10));
}

TEST(S3Xml, ErrorDocumentIsBoundedAndPrintable) {
  std::string code;
  EXPECT_EQ(
      ErrorDocumentText("<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>", &code),
      "NoSuchKey: gone");
  EXPECT_EQ(code, "NoSuchKey");
  const std::string long_msg =
      ErrorDocumentText("<Message>" + std::string(10000, 'm') + "</Message>");
  EXPECT_EQ(long_msg.size(), 256u);
  // A cut through a UTF-8 sequence is escaped, not left invalid.
  const std::string cut =
      ErrorDocumentText("<Message>" + std::string(255, 'a') + "\xc3\xa9" + "</Message>");
  ExpectPrintable(cut);
  EXPECT_EQ(ErrorDocumentText("not xml"), "");
}

// --- credential endpoints ---------------------------------------------------------------------

EnvLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(HostileCredentials, EndlessContainerResponseIsCutAtTheCap) {
  HostileS3 server([](const Req&, Conn& c) {
    c.Send(HostileS3::Head(200, {"Connection: close"}));
    Endless(c);
  });
  ContainerCredentialsProvider p(
      EnvOf({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.endpoint() + "/creds"}}));
  const auto t0 = steady_clock::now();
  auto c = p.Get();
  ASSERT_FALSE(c);
  EXPECT_LT(steady_clock::now() - t0, kGenerous);
  EXPECT_NE(c.message().find("larger than 1048576 bytes"), std::string::npos) << c.message();
  EXPECT_NE(c.message().find(server.endpoint() + "/creds"), std::string::npos) << c.message();
  EXPECT_LT(server.bytes_sent(), 256 * kMiB);
}

TEST(HostileCredentials, InvalidUtf8InAContainerErrorIsPrintable) {
  HostileS3 server([](const Req&, Conn& c) {
    c.Send(HostileS3::Head(200, {"Content-Type: application/json", "Content-Length: 42"}) +
           "{\"Code\":\"Bad\\u001b\",\"Message\":\"\xff\xfe oops\"}   ");
  });
  ContainerCredentialsProvider p(
      EnvOf({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.endpoint() + "/creds"}}));
  auto c = p.Get();
  ASSERT_FALSE(c);
  ExpectPrintable(c.message());
}

TEST(HostileCredentials, StsErrorWithInvalidUtf8IsPrintable) {
  aha::testing::TempDir tmp;
  { std::ofstream(tmp.path() + "/token") << "jwt"; }
  HostileS3 server([](const Req&, Conn& c) {
    c.Send(HostileS3::XmlReply(
        403,
        "<ErrorResponse><Error><Code>AccessDenied</Code><Message>\xff\x1b[2J</Message>"
        "</Error></ErrorResponse>"));
  });
  WebIdentitySettings ws;
  ws.role_arn = "arn:aws:iam::123456789012:role/r";
  ws.token_file = tmp.path() + "/token";
  ws.sts_endpoint = server.endpoint();
  WebIdentityCredentialsProvider p(ws);
  auto c = p.Get();
  ASSERT_FALSE(c);
  EXPECT_NE(c.message().find("AccessDenied"), std::string::npos) << c.message();
  ExpectPrintable(c.message());
}

TEST(HostileCredentials, ImdsTokenWithALineBreakIsRefused) {
  HostileS3 server([](const Req& r, Conn& c) {
    if (r.method == "PUT") {
      const std::string tok = "tok\r\nX-Injected: 1";
      c.Send(HostileS3::Head(200, {"Content-Length: " + std::to_string(tok.size())}) + tok);
    } else {
      c.Send(HostileS3::Head(404, {"Content-Length: 0"}));
    }
  });
  ImdsCredentialsProvider p(EnvOf({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.endpoint()}}));
  auto c = p.Get();
  ASSERT_FALSE(c);
  EXPECT_NE(c.message().find("session token is not a printable ASCII word"), std::string::npos)
      << c.message();
  EXPECT_EQ(server.requests(), 1) << "the token was never sent back";
}

}  // namespace
}  // namespace aha::objectstore
