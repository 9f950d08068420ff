// net::PercentEncode / HexEncode: the one encoder behind SigV4 canonical URIs and queries, the
// STS form body and Kubernetes paths; they must agree with RFC 3986 byte for byte.
#include <gtest/gtest.h>

#include <string>

#include "net/encode.h"
#include "objectstore/sigv4.h"

namespace aha::net {
namespace {

TEST(NetPercentEncode, KeepsExactlyTheUnreservedSet) {
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode(""), "");
  // Every other printable ASCII character is reserved or unsafe: all encoded, uppercase hex.
  EXPECT_EQ(
      PercentEncode(" !\"#$%&'()*+,/:;<=>?@[\\]^`{|}"),
      "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D");
}

TEST(NetPercentEncode, EncodesBytesNotCharacters) {
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");  // é in UTF-8
  EXPECT_EQ(PercentEncode(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(PercentEncode("\x7f\xff"), "%7F%FF");
  EXPECT_EQ(PercentEncode("%41"), "%2541") << "never decodes: '%' itself is encoded";
}

TEST(NetPercentEncode, KeepIsOnlyForTheNamedCharacters) {
  EXPECT_EQ(PercentEncode("/bucket/my key/a+b"), "%2Fbucket%2Fmy%20key%2Fa%2Bb");
  EXPECT_EQ(PercentEncode("/bucket/my key/a+b", "/"), "/bucket/my%20key/a%2Bb");
  EXPECT_EQ(PercentEncode(std::string("a\0b", 3), std::string_view("/\0", 2)), "a%00b")
      << "a NUL in `keep` does not let NUL through";
  // The callers: S3 paths keep '/', query values and Kubernetes names encode it.
  EXPECT_EQ(objectstore::sigv4::EncodePath("/b/k 1"), "/b/k%201");
  EXPECT_EQ(objectstore::sigv4::UriEncode("/b/k 1", true), "%2Fb%2Fk%201");
  EXPECT_EQ(PercentEncode("metadata.name=a,b"), "metadata.name%3Da%2Cb");
}

TEST(NetHexEncode, LowercaseTwoPerByte) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(objectstore::sigv4::Hex("\xfe"), "fe");
}

}  // namespace
}  // namespace aha::net
