// net::ConstantTimeEquals / ReadTokenFile / RandomHex: the secrets every listener and client of
// the binary handles (bearer tokens, token files, session ids).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

#include "httpd/auth.h"
#include "net/secret.h"
#include "support/temp_dir.h"

namespace aha::net {
namespace {

TEST(NetConstantTimeEquals, SameBytesOnly) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("s3cr3t", "s3cr3t"));
  EXPECT_FALSE(ConstantTimeEquals("s3cr3t", "s3cr3T"));
  EXPECT_FALSE(ConstantTimeEquals("s3cr3t", "s3cr3"));
  EXPECT_FALSE(ConstantTimeEquals("s3cr3", "s3cr3t"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)))
      << "bytes after a NUL count";
  // The bearer rule compares through it.
  EXPECT_TRUE(httpd::BearerMatches("Bearer s3cr3t", "s3cr3t"));
  EXPECT_FALSE(httpd::BearerMatches("Bearer s3cr3T", "s3cr3t"));
}

class NetTokenFile : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  aha::testing::TempDir dir_;
};

TEST_F(NetTokenFile, TrimsSurroundingWhitespaceOnly) {
  EXPECT_EQ(*ReadTokenFile(Write("plain", "tok")), "tok");
  EXPECT_EQ(*ReadTokenFile(Write("nl", "tok\n")), "tok");
  EXPECT_EQ(*ReadTokenFile(Write("crlf", "tok\r\n")), "tok");
  EXPECT_EQ(*ReadTokenFile(Write("both", "  \ttok \t\r\n\n")), "tok");
  EXPECT_EQ(*ReadTokenFile(Write("vtff", "\v\ftok\f\v")), "tok");
  EXPECT_EQ(*ReadTokenFile(Write("inner", " two words\n")), "two words")
      << "inside the token nothing is removed (callers validate)";
  EXPECT_EQ(*ReadTokenFile(Write("jwt", "eyJhbGciOi.eyJzdWIiOi.c2ln\n")),
            "eyJhbGciOi.eyJzdWIiOi.c2ln");
}

TEST_F(NetTokenFile, EmptyAndMissingAreErrorsNamingThePath) {
  for (const char* content : {"", "\n", " \t\r\n\n"}) {
    const std::string path = Write("empty", content);
    auto t = ReadTokenFile(path);
    ASSERT_FALSE(t.ok()) << "'" << content << "'";
    EXPECT_NE(t.message().find(path), std::string::npos) << t.message();
    EXPECT_NE(t.message().find("token file is empty"), std::string::npos) << t.message();
  }
  auto missing = ReadTokenFile(dir_.path() + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope"), std::string::npos) << missing.message();
}

TEST(NetRandom, HexIdsOfTheAskedLength) {
  EXPECT_EQ(RandomBytes(0), "");
  EXPECT_EQ(RandomBytes(32).size(), 32u);
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string id = RandomHex(16);
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 100u) << "128-bit ids do not repeat";
}

}  // namespace
}  // namespace aha::net
