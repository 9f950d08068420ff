#include "common/json_get.h"

#include <gtest/gtest.h>

#include "common/printable.h"
#include "common/url.h"
#include "config/controller_config.h"
#include "config/replication_config.h"

namespace aha::jsonget {
namespace {

Json J(const char* text) {
  return Json::parse(text);
}

TEST(JsonGet, TypeErrorsNameTheKeyPath) {
  const Json o = J(R"({"s": "x", "n": 5, "f": 1.5, "b": true, "a": [1], "o": {}, "z": null,
                       "neg": -3, "big": 18446744073709551615, "huge": 1e300})");
  std::string s;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  int n = 0;
  double d = 0;
  std::vector<std::string> list;
  const Json* p = nullptr;
  struct Case {
    Status st;
    const char* want;  // the whole message
  };
  const Case cases[] = {
      {GetString(o, "n", &s, "top"), "top.n: expected string, got number 5"},
      {GetString(o, "missing", &s, "top"), "top.missing: missing"},
      {GetString(o, "z", &s), "z: expected string, got null"},
      {GetBool(o, "s", &b, "t"), "t.s: expected boolean, got string"},
      {GetInt64(o, "f", &i, "t"), "t.f: expected integer, got number 1.5"},
      {GetInt64(o, "big", &i, "t"),
       "t.big: 18446744073709551615 is out of range [-9223372036854775808, 9223372036854775807]"},
      {GetUint64(o, "neg", &u, "t"), "t.neg: expected a non-negative integer, got -3"},
      {GetUint64(o, "a", &u, "t"), "t.a: expected non-negative integer, got array"},
      {GetInt(o, "big", &n, "t"),
       "t.big: 18446744073709551615 is out of range [-2147483648, 2147483647]"},
      {GetDouble(o, "s", &d, "t"), "t.s: expected number, got string"},
      {GetStringList(o, "a", &list, "t"), "t.a[0]: expected string, got number 1"},
      {GetStringList(o, "o", &list, "t"), "t.o: expected array of strings, got object"},
      {GetObject(o, "a", &p, "t"), "t.a: expected object, got array"},
      {GetArray(o, "o", &p, "t"), "t.o: expected array, got object"},
      {OptString(o, "b", &s, "t"), "t.b: expected string, got boolean"},
      {OptBool(J("[]"), "b", &b, "t"), "t: expected object, got array"},
      {GetString(J(R"({"we\u001bird": 1})"), "we\x1bird", &s, "t"),
       "t[\"we\\x1bird\"]: expected string, got number 1"},
  };
  for (const auto& c : cases) {
    ASSERT_FALSE(c.st.ok()) << c.want;
    EXPECT_EQ(c.st.message(), c.want);
  }
}

TEST(JsonGet, GoodValuesAndOptionalMembers) {
  const Json o = J(R"({"s": "x", "n": 5, "f": 1.5, "b": true, "a": ["p", "q"], "z": null})");
  std::string s = "keep";
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  bool b = false;
  std::vector<std::string> list;
  EXPECT_TRUE(GetString(o, "s", &s));
  EXPECT_EQ(s, "x");
  EXPECT_TRUE(GetInt64(o, "n", &i));
  EXPECT_EQ(i, 5);
  EXPECT_TRUE(GetUint64(o, "n", &u));
  EXPECT_EQ(u, 5u);
  EXPECT_TRUE(GetDouble(o, "f", &d));
  EXPECT_EQ(d, 1.5);
  EXPECT_TRUE(GetBool(o, "b", &b));
  EXPECT_TRUE(b);
  EXPECT_TRUE(GetStringList(o, "a", &list));
  EXPECT_EQ(list, (std::vector<std::string>{"p", "q"}));
  s = "keep";
  EXPECT_TRUE(OptString(o, "missing", &s));
  EXPECT_TRUE(OptString(o, "z", &s));
  EXPECT_EQ(s, "keep") << "missing and null leave the default";
  const Json* p = &o;
  EXPECT_TRUE(OptObject(o, "missing", &p));
  EXPECT_EQ(p, nullptr);
  int64_t r = 0;
  EXPECT_FALSE(AsIntIn(Json(7), "x", 0, 5, &r));
  EXPECT_TRUE(AsIntIn(Json(5), "x", 0, 5, &r));
}

TEST(JsonGet, ParseBoundsNestingAndNeverThrows) {
  EXPECT_TRUE(Parse("{\"a\": [[[1]]]}", "k").ok());
  const std::string deep(100000, '[');
  auto r = Parse(deep, "k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "k: nested deeper than 64 levels");
  // Brackets inside strings do not count.
  EXPECT_TRUE(Parse("{\"a\": \"" + std::string(1000, '[') + "\"}", "k").ok());
  EXPECT_TRUE(Parse("{\"a\": \"\\\"" + std::string(100, '{') + "\"}", "k").ok());
  auto bad = Parse("{\"a\": 1", "k");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "k: not valid JSON");
  EXPECT_FALSE(Parse("\"\xff\xfe\"", "k").ok()) << "invalid UTF-8 inside JSON strings is rejected";
}

TEST(JsonGet, NestingDepthCountsOutsideStringsAndStopsPastTheLimit) {
  EXPECT_EQ(NestingDepth("[[1],[[2]]]", 10), 3u);
  EXPECT_EQ(NestingDepth("{\"a\": \"[[[[\"}", 10), 1u);
  EXPECT_EQ(NestingDepth("]]][", 10), 1u) << "stray closers never go below zero";
  EXPECT_EQ(NestingDepth(std::string(100000, '['), 64), 65u) << "stops at the first depth over";
  EXPECT_TRUE(Parse(std::string(64, '[') + std::string(64, ']'), "k").ok()) << "64 is allowed";
  EXPECT_FALSE(Parse(std::string(65, '[') + std::string(65, ']'), "k").ok());
}

TEST(JsonGet, DumpReplacesInvalidUtf8) {
  const Json j = {{"v", std::string("a\xff\xfe"
                                    "b")}};
  EXPECT_THROW((void)j.dump(), Json::type_error) << "why Dump exists";
  EXPECT_EQ(Dump(j),
            "{\"v\":\"a\xEF\xBF\xBD\xEF\xBF\xBD"
            "b\"}");
}

TEST(Printable, EscapesControlBytesAndInvalidUtf8) {
  struct Case {
    std::string in, want;
  };
  const Case cases[] = {
      {"plain text/ok", "plain text/ok"},
      {"caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93"},
      {"a\x1b[31mred", "a\\x1b[31mred"},
      {"line\nbreak\r\t", "line\\x0abreak\\x0d\\x09"},
      {"del\x7f", "del\\x7f"},
      {"\xc2\x9b"
       "csi",
       "\\u009bcsi"},
      {"\xff\xfe", "\\xff\\xfe"},
      {"\xc0\xaf", "\\xc0\\xaf"},           // overlong '/'
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},  // surrogate
      {"\xe2\x9c", "\\xe2\\x9c"},           // truncated
      {"back\\slash", "back\\\\slash"},
      {std::string("nul\0x", 5), "nul\\x00x"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Printable(c.in), c.want);
  }
  EXPECT_TRUE(IsPrintable("us-east-1"));
  EXPECT_FALSE(IsPrintable("a\x1b"));
}

}  // namespace
}  // namespace aha::jsonget

namespace aha {
namespace {

TEST(RedactUrl, HidesCredentialsAndEscapesControlBytes) {
  struct Case {
    const char* in;
    const char* want;
  };
  const Case cases[] = {
      {"http://user:s3cret@host:9000/path", "http://***@host:9000/path"},
      {"s3://AKIA:wJalr@bucket/prefix?x=1", "s3://***@bucket/prefix?x=1"},
      {"https://a@b@host/", "https://***@host/"},
      {"http://host/p@th", "http://host/p@th"},
      {"user:pw@host", "***@host"},
      {"http://host:1/\x1b[2J", "http://host:1/\\x1b[2J"},
      {"", ""},
  };
  for (const auto& c : cases)
    EXPECT_EQ(RedactUrl(c.in), c.want) << c.in;
  // The refusal does not print the password it refuses to log.
  auto c = config::ParseControllerConfig(
      "regions:\n  - {name: a, endpoint: \"http://user:s3cret@host/health\"}\n"
      "state: {file: /tmp/x}\n",
      "t.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("credentials in URLs"), std::string::npos) << c.message();
  EXPECT_EQ(c.message().find("s3cret"), std::string::npos) << c.message();
  auto r = config::ParseReplicationConfig(
      "source: /src\nregion: a\nremotes:\n  - {url: \"s3://AKID:s3cret@bucket/p\"}\n"
      "  - {url: \"s3://AKID:s3cret@bucket/p\"}\n",
      "r.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message().find("s3cret"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace aha
