// SigV4 signer tests: (a) the worked examples of the S3 documentation ("Signature Calculations
// for the Authorization Header", examplebucket, 20130524T000000Z); (b) a table of varied requests
// whose expected Authorization headers come from the official AWS SDK signer
// (@smithy/signature-v4, run by tests/unit/sigv4_reference.mjs). The reference is required: a
// missing node or npm package fails the test (run scripts/setup.sh), it never skips.
#include "objectstore/sigv4.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/temp_dir.h"

extern char** environ;

namespace aha::objectstore::sigv4 {
namespace {

const Credentials kDocCreds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
constexpr std::time_t kDocTime = 1369353600;  // 2013-05-24T00:00:00Z
const char* kHost = "examplebucket.s3.amazonaws.com";

std::string SignatureOf(const std::string& auth) {
  auto p = auth.find("Signature=");
  return p == std::string::npos ? "" : auth.substr(p + 10);
}

TEST(SigV4Docs, GetObjectWithRange) {
  Request r{
      "GET", EncodePath("/test.txt"), {}, {{"Host", kHost}, {"Range", "bytes=0-9"}}, kEmptySha256};
  auto s = Sign(r, kDocCreds, "us-east-1", "s3", kDocTime);
  EXPECT_EQ(s.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// The Clock overload signs at the injected clock's time: a FakeClock set to the documentation's
// instant reproduces its worked example exactly.
TEST(SigV4Docs, GetObjectWithRangeAtAnInjectedClocksTime) {
  Request r{
      "GET", EncodePath("/test.txt"), {}, {{"Host", kHost}, {"Range", "bytes=0-9"}}, kEmptySha256};
  FakeClock clock(std::chrono::system_clock::from_time_t(kDocTime));
  EXPECT_EQ(Sign(r, kDocCreds, "us-east-1", "s3", clock).authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  clock.advance(std::chrono::seconds(1));
  auto later = Sign(r, kDocCreds, "us-east-1", "s3", clock);
  EXPECT_NE(SignatureOf(later.authorization),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_NE(later.string_to_sign.find("20130524T000001Z"), std::string::npos);
}

TEST(SigV4Docs, PutObject) {
  const std::string body = "Welcome to Amazon S3.";
  ASSERT_EQ(Sha256Hex(body), "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  Request r{"PUT",
            EncodePath("/test$file.text"),
            {},
            {{"Host", kHost},
             {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
             {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
            Sha256Hex(body)};
  EXPECT_EQ(r.canonical_uri, "/test%24file.text");
  auto s = Sign(r, kDocCreds, "us-east-1", "s3", kDocTime);
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4Docs, GetBucketLifecycle) {
  Request r{"GET", "/", {{"lifecycle", ""}}, {{"Host", kHost}}, kEmptySha256};
  auto s = Sign(r, kDocCreds, "us-east-1", "s3", kDocTime);
  EXPECT_NE(s.canonical_request.find("\n/\nlifecycle=\n"), std::string::npos);
  EXPECT_EQ(SignatureOf(s.authorization),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4Docs, ListObjects) {
  Request r{"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {{"Host", kHost}}, kEmptySha256};
  auto s = Sign(r, kDocCreds, "us-east-1", "s3", kDocTime);
  EXPECT_NE(s.canonical_request.find("\n/\nmax-keys=2&prefix=J\n"), std::string::npos);
  EXPECT_EQ(SignatureOf(s.authorization),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, EncodingRules) {
  EXPECT_EQ(UriEncode("a b/c~d%\xc3\xa9", false), "a%20b/c~d%25%C3%A9");
  EXPECT_EQ(UriEncode("a/b+c=d&e", true), "a%2Fb%2Bc%3Dd%26e");
  EXPECT_EQ(UriEncode("!'()*", false), "%21%27%28%29%2A");
  EXPECT_EQ(CanonicalQuery({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(CanonicalQuery({{"uploadId", "a/b+c=="}, {"partNumber", "2"}}),
            "partNumber=2&uploadId=a%2Fb%2Bc%3D%3D");
  EXPECT_EQ(AmzDate(951782400), "20000229T000000Z");
}

TEST(SigV4, SessionTokenIsSignedAndSent) {
  Credentials c = kDocCreds;
  c.session_token = "token/with+chars==";
  Request r{"GET", "/k", {}, {{"host", kHost}}, kUnsignedPayload};
  auto s = Sign(r, c, "eu-west-1", "s3", kDocTime);
  EXPECT_NE(s.authorization.find("x-amz-security-token"), std::string::npos);
  bool sent = false;
  for (const auto& [n, v] : s.headers)
    sent |= n == "x-amz-security-token" && v == c.session_token;
  EXPECT_TRUE(sent);
  EXPECT_EQ(s.authorization.find(c.secret_access_key), std::string::npos);
}

// --- The official SDK signer as reference --------------------------------------------------

struct Case {
  std::string method, host, key;
  KeyValues query, headers;
  std::string payload_hash, region;
  Credentials creds;
  std::time_t when;
};

std::string IsoDate(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Runs node on the reference script (no shell): stdin from a file, stdout to a pipe.
std::string RunReference(const std::string& input_json) {
  aha::testing::TempDir dir;
  const std::string in = dir.path() + "/in.json";
  std::ofstream(in) << input_json;
  int out[2];
  if (::pipe(out) != 0) return "";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  std::string node = AHA_NODE,
              script = std::string(AHA_SOURCE_DIR) + "/tests/unit/sigv4_reference.mjs";
  char* argv[] = {node.data(), script.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, node.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  std::string result;
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out[0], buf, sizeof buf)) > 0)
      result.append(buf, static_cast<size_t>(n));
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) result.clear();
  }
  ::close(out[0]);
  return result;
}

std::string NoSpaces(std::string s) {
  std::string out;
  for (char c : s)
    if (c != ' ' || out.empty() || out.back() != ',') out += c;
  return out;
}

TEST(SigV4, MatchesTheOfficialAwsSdkSigner) {
  const Credentials k1{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  const Credentials k2{"ASIAXYZ123", "s3cr3t/with+slash=", "FwoGZXIvYXdzEJr//////////wEaDK+t/n="};
  const std::string e = kEmptySha256, u = kUnsignedPayload;
  const std::string body_hash = Sha256Hex("hello");
  const std::time_t t1 = 1700000000, t2 = 1735689599, t3 = 951782400;
  const std::string h = "bucket.s3.eu-west-1.amazonaws.com", p = "127.0.0.1:4568";
  std::vector<Case> cases = {
      {"GET", h, "plain/key.txt", {}, {}, e, "eu-west-1", k1, t1},
      {"PUT",
       h,
       "plain/key.txt",
       {},
       {{"content-type", "application/octet-stream"}},
       body_hash,
       "eu-west-1",
       k1,
       t1},
      {"PUT", h, "with space/and+plus=eq.txt", {}, {}, u, "eu-west-1", k1, t1},
      {"GET",
       h,
       "unicode/\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.bin",
       {},
       {},
       e,
       "eu-west-1",
       k1,
       t1},
      {"GET", h, "special/!'()*~$&,;:@[]", {}, {}, e, "eu-west-1", k1, t1},
      {"GET", h, "pct/100%25 already%20encoded", {}, {}, e, "eu-west-1", k1, t1},
      {"GET", h, "", {{"list-type", "2"}, {"prefix", ""}}, {}, e, "eu-west-1", k1, t1},
      {"GET",
       h,
       "",
       {{"list-type", "2"},
        {"prefix", "a/b c"},
        {"continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="}},
       {},
       e,
       "eu-west-1",
       k1,
       t1},
      {"GET",
       p,
       "mybucket",
       {{"list-type", "2"}, {"max-keys", "1000"}, {"prefix", "db/\xc3\xa9"}},
       {},
       e,
       "us-east-1",
       k1,
       t2},
      {"POST",
       p,
       "mybucket/big.bin",
       {{"uploads", ""}},
       {{"x-amz-checksum-algorithm", "SHA256"}},
       e,
       "us-east-1",
       k1,
       t2},
      {"PUT",
       p,
       "mybucket/big.bin",
       {{"partNumber", "10"}, {"uploadId", "a/b+c==~x"}},
       {{"content-md5", "XUFAKrxLKna5cZ2REBfFkg=="},
        {"x-amz-checksum-sha256", "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="}},
       body_hash,
       "us-east-1",
       k1,
       t2},
      {"POST",
       p,
       "mybucket/big.bin",
       {{"uploadId", "2~abc"}},
       {{"content-type", "application/xml"}},
       body_hash,
       "us-east-1",
       k1,
       t2},
      {"DELETE", p, "mybucket/big.bin", {{"uploadId", "2~abc"}}, {}, e, "us-east-1", k1, t2},
      {"HEAD", h, "some/object", {}, {}, e, "ap-southeast-2", k1, t3},
      {"DELETE", h, "some/object", {}, {}, e, "ap-southeast-2", k1, t3},
      {"GET", h, "tok/key", {}, {}, e, "us-west-2", k2, t1},
      {"PUT", h, "tok/key", {}, {{"content-length", "5"}}, body_hash, "us-west-2", k2, t1},
      {"GET",
       h,
       "hdr/x",
       {},
       {{"x-amz-meta-note", "  two   spaces\tand tab  "}, {"range", "bytes=5-"}},
       e,
       "eu-central-1",
       k1,
       t1},
      {"GET",
       "s3.amazonaws.com",
       "dotted.bucket.name/k",
       {},
       {{"x-amz-checksum-mode", "ENABLED"}},
       e,
       "us-east-1",
       k1,
       t1},
      {"GET",
       h,
       "q/k",
       {{"response-content-type", "text/plain; charset=utf-8"}, {"versionId", "null"}},
       {},
       e,
       "cn-north-1",
       k1,
       t2},
      {"GET",
       h,
       "",
       {{"b", "2"}, {"a", "z y"}, {"A", "upper"}, {"a-", "dash"}},
       {},
       e,
       "eu-west-1",
       k1,
       t1},
  };
  nlohmann::json in = nlohmann::json::array();
  for (const auto& c : cases) {
    nlohmann::json q = nlohmann::json::object(), hs = nlohmann::json::object();
    for (const auto& [k, v] : c.query)
      q[k] = v;
    for (const auto& [k, v] : c.headers)
      hs[k] = v;
    nlohmann::json j = {{"method", c.method},
                        {"host", c.host},
                        {"key", c.key},
                        {"query", q},
                        {"headers", hs},
                        {"payloadHash", c.payload_hash},
                        {"region", c.region},
                        {"accessKeyId", c.creds.access_key_id},
                        {"secretAccessKey", c.creds.secret_access_key},
                        {"date", IsoDate(c.when)}};
    if (!c.creds.session_token.empty()) j["sessionToken"] = c.creds.session_token;
    in.push_back(j);
  }
  const std::string out = RunReference(in.dump());
  auto ref = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(ref.is_array() && ref.size() == cases.size())
      << "the reference signer (node " << AHA_NODE
      << " tests/unit/sigv4_reference.mjs with npm @smithy/signature-v4) did not run; "
         "run scripts/setup.sh. Output: "
      << out;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    KeyValues headers = {{"host", c.host}};
    headers.insert(headers.end(), c.headers.begin(), c.headers.end());
    Request r{c.method, EncodePath("/" + c.key), c.query, headers, c.payload_hash};
    auto s = Sign(r, c.creds, c.region, "s3", c.when);
    EXPECT_EQ(NoSpaces(s.authorization), NoSpaces(ref[i].get<std::string>()))
        << "case " << i << ": " << c.method << " /" << c.key << "\ncanonical request:\n"
        << s.canonical_request;
  }
}

}  // namespace
}  // namespace aha::objectstore::sigv4
