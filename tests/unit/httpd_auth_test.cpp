// The admission rules every HTTP server shares: the loopback-host rule (DNS-rebinding
// protection and "does this listener need a token"), Host header parsing, bearer matching.
#include <gtest/gtest.h>

#include "httpd/auth.h"

namespace aha::httpd {
namespace {

TEST(HttpdLoopbackHost, AcceptsOnlyLoopbackNamesAndLiterals) {
  struct Case {
    const char* host;
    bool loopback;
  };
  const Case cases[] = {
      {"127.0.0.1", true},
      {"127.1.2.3", true},
      {"127.255.255.255", true},
      {"127.0.0.0", true},
      {"localhost", true},
      {"LocalHost", true},
      {"::1", true},
      {"[::1]", true},
      {"[0:0:0:0:0:0:0:1]", true},
      // Names an attacker can point at 127.0.0.1 (DNS rebinding).
      {"127.evil.example", false},
      {"127.0.0.1.evil.example", false},
      {"127.0.0.1.", false},
      {"localhost.evil", false},
      {"localhost.", false},
      {"evil.localhost", false},
      {"mylocalhost", false},
      // Not strict dotted quads.
      {"127.1", false},
      {"127.0.1", false},
      {"127.0.0.01", false},
      {"0177.0.0.1", false},
      {"127.0.0.256", false},
      {"127.0.0.1.5", false},
      {"127.0.0.1:80", false},  // a Host header must be split first (HostHeaderHost)
      {" 127.0.0.1", false},
      {"2130706433", false},
      // Not loopback at all.
      {"128.0.0.1", false},
      {"10.0.0.1", false},
      {"0.0.0.0", false},
      {"::", false},
      {"[::]", false},
      {"::ffff:127.0.0.1", false},
      {"[::1", false},
      {"[localhost]", false},
      {"[127.0.0.1]", false},
      {"", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsLoopbackHost(c.host), c.loopback) << "host " << c.host;
  }
}

TEST(HttpdHostHeader, SplitsHostAndValidatesPort) {
  EXPECT_EQ(HostHeaderHost("127.0.0.1:8080"), "127.0.0.1");
  EXPECT_EQ(HostHeaderHost("localhost"), "localhost");
  EXPECT_EQ(HostHeaderHost("[::1]:3000"), "[::1]");
  EXPECT_EQ(HostHeaderHost("[::1]"), "[::1]");
  EXPECT_EQ(HostHeaderHost("127.evil.example:80"), "127.evil.example");
  EXPECT_EQ(HostHeaderHost("127.0.0.1:80:evil"), "");
  EXPECT_EQ(HostHeaderHost("127.0.0.1:"), "");
  EXPECT_EQ(HostHeaderHost("127.0.0.1:8o"), "");
  EXPECT_EQ(HostHeaderHost("[::1"), "");
  EXPECT_EQ(HostHeaderHost("[::1]x"), "");
  EXPECT_EQ(HostHeaderHost(":80"), "");
  EXPECT_EQ(HostHeaderHost(""), "");
}

TEST(HttpdBearer, SchemeIsCaseInsensitiveTokenIsExact) {
  EXPECT_TRUE(BearerMatches("Bearer abc", "abc"));
  EXPECT_TRUE(BearerMatches("bearer abc", "abc"));
  EXPECT_TRUE(BearerMatches("BEARER abc", "abc"));
  EXPECT_TRUE(BearerMatches("Bearer   abc", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer ABC", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer abd", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer abcd", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer ab", "abc"));
  EXPECT_FALSE(BearerMatches("Bearerabc", "abc"));
  EXPECT_FALSE(BearerMatches("Basic abc", "abc"));
  EXPECT_FALSE(BearerMatches("abc", "abc"));
  EXPECT_FALSE(BearerMatches("", "abc"));
  EXPECT_FALSE(BearerMatches("Bearer ", ""));
  EXPECT_FALSE(BearerMatches("Bearer", ""));
}

}  // namespace
}  // namespace aha::httpd
