// The ObjectStore conformance suite against S3ObjectStore talking to s3rver (npm, started by
// tests/support/s3rver.cpp), plus S3-specific behaviour: multipart, errors, retries, config.
#include <atomic>
#include <fstream>
#include <map>
#include <memory>

#include "common/fs.h"
#include "object_store_conformance.h"
#include "objectstore/s3_store.h"
#include "support/s3rver.h"
#include "support/temp_dir.h"

namespace aha::objectstore::testing {
namespace {

using aha::testing::S3rverProcess;

constexpr uint64_t kPart = 5ull << 20;

S3Config BaseConfig(const std::string& endpoint, const std::string& bucket,
                    const std::string& prefix) {
  S3Config c;
  c.bucket = bucket;
  c.prefix = prefix;
  c.region = "us-east-1";
  c.endpoint = endpoint;
  c.path_style = true;
  c.part_size = kPart;
  c.parallelism = 3;
  c.credentials =
      std::make_shared<StaticCredentialsProvider>(sigv4::Credentials{"S3RVER", "S3RVER", ""});
  c.backoff_base = std::chrono::milliseconds(10);
  c.backoff_max = std::chrono::milliseconds(100);
  return c;
}

std::unique_ptr<S3ObjectStore> MustCreate(S3Config c) {
  auto s = S3ObjectStore::Create(std::move(c));
  if (!s) ADD_FAILURE() << s.message();
  return s ? std::move(*s) : nullptr;
}

// A fresh, empty store: its own prefix in the shared server's bucket.
std::unique_ptr<ObjectStore> MakeS3Store() {
  static std::atomic<int> n{0};
  auto& server = S3rverProcess::Shared();
  return MustCreate(
      BaseConfig(server.endpoint(), server.bucket(), "conformance/run" + std::to_string(n++)));
}

INSTANTIATE_TEST_SUITE_P(S3, ObjectStoreConformance,
                         ::testing::Values(ObjectStoreFactory{"s3rver", MakeS3Store, 12u << 20}),
                         [](const auto& param_info) { return param_info.param.name; });

void WriteLocal(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

TEST(S3ObjectStore, LargeFilesUseParallelMultipartAndSmallOnesASinglePut) {
  auto& server = S3rverProcess::Shared();
  auto s = MustCreate(BaseConfig(server.endpoint(), server.bucket(), "multipart"));
  ASSERT_TRUE(s);
  aha::testing::TempDir tmp;
  const std::string data = PatternBytes(2 * kPart + 777, 9);  // 3 parts
  WriteLocal(tmp.path() + "/big", data);
  auto before = s->stats();
  auto st = s->PutFile("big", tmp.path() + "/big");
  ASSERT_TRUE(st.ok()) << st.message();
  auto after = s->stats();
  EXPECT_EQ(after.requests - before.requests, 5u) << "create + 3 parts + complete";
  EXPECT_GE(after.bytes_up - before.bytes_up, data.size());
  auto got = s->Get("big");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_TRUE(*got == data);

  WriteLocal(tmp.path() + "/exact", PatternBytes(kPart, 10));  // == threshold: single PUT
  before = s->stats();
  ASSERT_TRUE(s->PutFile("exact", tmp.path() + "/exact").ok());
  EXPECT_EQ(s->stats().requests - before.requests, 1u);
}

TEST(S3ObjectStore, FailedPreconditionCarriesTheS3ErrorCode) {
  auto& server = S3rverProcess::Shared();
  auto s = MustCreate(BaseConfig(server.endpoint(), server.bucket(), "precondition"));
  ASSERT_NE(s, nullptr);
  (void)s->Delete("k");
  auto t = s->PutIf("k", "a", "");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->front(), '"') << "the tag is the ETag as S3 sends it: " << *t;
  auto again = s->PutIf("k", "b", "");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.code(), Code::kPreconditionFailed);
  EXPECT_NE(again.message().find("PreconditionFailed"), std::string::npos) << again.message();
  EXPECT_NE(again.message().find("If-None-Match"), std::string::npos) << again.message();
  ASSERT_TRUE(s->Delete("k").ok());
  auto missing = s->PutIf("k", "c", *t);  // S3 answers 404 NoSuchKey: still a failed precondition
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), Code::kPreconditionFailed) << missing.message();
  EXPECT_NE(missing.message().find("NoSuchKey"), std::string::npos) << missing.message();
}

// Plain s3rver ignores If-Match / If-None-Match on PUT, like some S3-compatible stores: writes
// "succeed" whatever the condition. The probe must catch that and name the remote.
TEST(S3ObjectStore, ProbeRefusesARemoteThatIgnoresConditions) {
  S3rverProcess plain("plain-bucket", S3rverProcess::Conditional::kIgnored);
  auto s = MustCreate(BaseConfig(plain.endpoint(), plain.bucket(), "probe"));
  ASSERT_NE(s, nullptr);
  auto t = s->PutIf("k", "a", "");
  ASSERT_TRUE(t.ok()) << t.message();
  auto again = s->PutIf("k", "b", "");
  EXPECT_TRUE(again.ok()) << "the double really ignores the condition: " << again.message();
  Status st = ProbeConditionalWrites(*s, "probe/conditional");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kUnsupported) << st.message();
  EXPECT_NE(st.message().find(s->Describe()), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("If-None-Match"), std::string::npos) << st.message();
  EXPECT_FALSE(s->Exists("probe/conditional").value()) << "the probe cleans up";
}

TEST(S3ObjectStore, UnknownAccessKeyIsAClearErrorWithoutTheSecret) {
  auto& server = S3rverProcess::Shared();
  auto c = BaseConfig(server.endpoint(), server.bucket(), "creds");
  c.credentials = std::make_shared<StaticCredentialsProvider>(
      sigv4::Credentials{"AKIAWRONGKEY", "TopSecretValue123", ""});
  auto s = MustCreate(c);
  ASSERT_TRUE(s);
  auto r = s->Put("k", "v");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Code::kPermissionDenied);
  EXPECT_EQ(r.error().http_status, 403);
  EXPECT_NE(r.message().find("InvalidAccessKeyId"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("\"k\""), std::string::npos) << r.message();
  EXPECT_EQ(r.message().find("TopSecretValue123"), std::string::npos) << r.message();
  EXPECT_EQ(s->stats().requests, 1u) << "a 403 is final, not retried";
}

TEST(S3ObjectStore, MissingBucketIsNamed) {
  auto& server = S3rverProcess::Shared();
  auto s = MustCreate(BaseConfig(server.endpoint(), "no-such-bucket", ""));
  ASSERT_TRUE(s);
  auto r = s->Put("k", "v");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("NoSuchBucket"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("bucket \"no-such-bucket\" does not exist"), std::string::npos)
      << r.message();
  auto g = s->Get("k");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.code(), Code::kNotFound) << "a missing bucket is not a missing key: " << g.message();
  auto e = s->Exists("k");
  ASSERT_FALSE(e.ok()) << "Exists on a missing bucket must fail, not say false";
  EXPECT_NE(e.message().find("no-such-bucket"), std::string::npos) << e.message();
  auto l = s->List("");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.message().find("NoSuchBucket"), std::string::npos) << l.message();
}

TEST(S3ObjectStore, StoppedServerIsRetriedThenAClearError) {
  S3rverProcess server("stopping-bucket");
  auto c = BaseConfig(server.endpoint(), server.bucket(), "");
  c.max_attempts = 3;
  auto s = MustCreate(c);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Put("before", "ok").ok());
  server.Stop();
  const auto before = s->stats().requests;
  auto r = s->Put("after", "lost");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(s->stats().requests - before, 3u) << "every attempt is made";
  EXPECT_NE(r.message().find("gave up after 3 attempts"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("127.0.0.1"), std::string::npos) << r.message();
  aha::testing::TempDir tmp;
  WriteLocal(tmp.path() + "/big", PatternBytes(kPart + 1, 4));
  auto m = s->PutFile("big", tmp.path() + "/big");
  EXPECT_FALSE(m.ok());
}

TEST(S3ObjectStore, PrefixIsolatesStores) {
  auto& server = S3rverProcess::Shared();
  auto a = MustCreate(BaseConfig(server.endpoint(), server.bucket(), "iso/a"));
  auto b = MustCreate(BaseConfig(server.endpoint(), server.bucket(), "iso/ab"));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Put("x", "1").ok());
  ASSERT_TRUE(b->Put("y", "2").ok());
  auto la = a->List("");
  ASSERT_TRUE(la.ok()) << la.message();
  ASSERT_EQ(la->size(), 1u);
  EXPECT_EQ((*la)[0].key, "x");
  EXPECT_EQ(a->Describe().find("S3RVER"), std::string::npos);
}

// --- Config from URL and environment (pure) -------------------------------------------------

EnvLookup FakeEnv(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

TEST(S3Config, FromUrlAndEnvHonoursTheAwsVariables) {
  auto c = S3ConfigFromUrlAndEnv("s3://my-bucket/db/backups/", {}, FakeEnv({}));
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->bucket, "my-bucket");
  EXPECT_EQ(c->prefix, "db/backups");
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_EQ(c->endpoint, "");
  EXPECT_FALSE(c->path_style) << "AWS default: virtual-hosted";

  c = S3ConfigFromUrlAndEnv("s3://b12", {},
                            FakeEnv({{"AWS_REGION", "eu-west-3"},
                                     {"AWS_DEFAULT_REGION", "us-west-2"},
                                     {"AWS_ENDPOINT_URL", "http://general:9000"},
                                     {"AWS_ENDPOINT_URL_S3", "http://minio:9000"}}));
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->region, "eu-west-3");
  EXPECT_EQ(c->endpoint, "http://minio:9000");
  EXPECT_TRUE(c->path_style) << "custom endpoint: path-style";

  c = S3ConfigFromUrlAndEnv("s3://b12", {},
                            FakeEnv({{"AWS_DEFAULT_REGION", "us-west-2"},
                                     {"AWS_ENDPOINT_URL", "https://general.example"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->region, "us-west-2");
  EXPECT_EQ(c->endpoint, "https://general.example");

  S3Overrides o;
  o.region = "ap-south-1";
  o.endpoint = "https://override.example";
  o.path_style = false;
  c = S3ConfigFromUrlAndEnv("s3://b12", o, FakeEnv({{"AWS_REGION", "eu-west-3"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->region, "ap-south-1");
  EXPECT_EQ(c->endpoint, "https://override.example");
  EXPECT_FALSE(c->path_style);

  c = S3ConfigFromUrlAndEnv("s3://dotted.bucket.name", {}, FakeEnv({}));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->path_style) << "dots break virtual-hosted TLS";

  EXPECT_FALSE(S3ConfigFromUrlAndEnv("s3://Bad_Bucket", {}, FakeEnv({})).ok());
  EXPECT_FALSE(S3ConfigFromUrlAndEnv("s3://ok-bucket/bad prefix", {}, FakeEnv({})).ok());
  EXPECT_FALSE(S3ConfigFromUrlAndEnv("file:///x", {}, FakeEnv({})).ok());
  EXPECT_FALSE(
      S3ConfigFromUrlAndEnv("s3://ok-bucket", {}, FakeEnv({{"AWS_ENDPOINT_URL_S3", "ftp://x"}}))
          .ok());
}

TEST(S3Config, DescribeHasEndpointButNoSecrets) {
  S3Config c;
  c.bucket = "bkt";
  c.prefix = "p";
  c.region = "eu-west-1";
  c.credentials =
      std::make_shared<StaticCredentialsProvider>(sigv4::Credentials{"AKID", "SECRET", "TOK"});
  auto s = MustCreate(c);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->Describe(), "s3://bkt/p (https://bkt.s3.eu-west-1.amazonaws.com, region eu-west-1)");
  c.endpoint = "http://10.0.0.5:9000/";
  c.path_style = false;
  s = MustCreate(c);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->Describe(), "s3://bkt/p (http://10.0.0.5:9000, region eu-west-1)")
      << "IP endpoints are always path-style";
}

// --- Credentials (pure) ---------------------------------------------------------------------

TEST(S3Credentials, EnvThenProfileFiles) {
  aha::testing::TempDir dir;
  const std::string creds = dir.path() + "/credentials", config = dir.path() + "/config";
  WriteLocal(creds,
             "# comment\n[default]\naws_access_key_id = DEFKEY\naws_secret_access_key=DEFSECRET\n"
             "\n[prod]\naws_access_key_id=PRODKEY\r\naws_secret_access_key = PRODSECRET \r\n"
             "aws_session_token=PRODTOKEN\n");
  WriteLocal(config, "[profile cfgonly]\naws_access_key_id=CFGKEY\naws_secret_access_key=CFGS\n");
  std::map<std::string, std::string> env = {
      {"HOME", dir.path()},
      {"AWS_SHARED_CREDENTIALS_FILE", creds},
      {"AWS_CONFIG_FILE", config},
      // The chain ends with IMDSv2: on an EC2 runner with an instance role it would answer.
      {"AWS_EC2_METADATA_DISABLED", "true"}};
  auto got = DefaultCredentialsChain(FakeEnv(env))->Get();
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(got->access_key_id, "DEFKEY");
  env["AWS_PROFILE"] = "prod";
  got = DefaultCredentialsChain(FakeEnv(env))->Get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->secret_access_key, "PRODSECRET");
  EXPECT_EQ(got->session_token, "PRODTOKEN");
  env["AWS_PROFILE"] = "cfgonly";
  got = DefaultCredentialsChain(FakeEnv(env))->Get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->access_key_id, "CFGKEY");
  env["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
  got = DefaultCredentialsChain(FakeEnv(env))->Get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->access_key_id, "ENVKEY") << "env vars come first";
  EXPECT_EQ(got->session_token, "");
  env.erase("AWS_ACCESS_KEY_ID");
  env.erase("AWS_SECRET_ACCESS_KEY");
  env["AWS_PROFILE"] = "missing";
  got = DefaultCredentialsChain(FakeEnv(env))->Get();
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.message().find("no AWS credentials found"), std::string::npos);
  EXPECT_EQ(got.message().find("DEFSECRET"), std::string::npos);
  env["AWS_ACCESS_KEY_ID"] = "ONLYID";
  got = DefaultCredentialsChain(FakeEnv(env))->Get();
  ASSERT_FALSE(got.ok()) << "half-set env is an error, not a silent fallback";
}

// --- XML (pure) ------------------------------------------------------------------------------

TEST(S3Xml, TolerantParsingAndEntities) {
  const std::string xml =
      "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"x\"><KeyCount>2</KeyCount>"
      "<Contents><Key>a&amp;b&lt;c&gt;&quot;&apos;&#233;&#x65E5;</Key><Size>12</Size></Contents>"
      "<Contents >\n<Key>k2</Key><Size>0</Size><Owner/></Contents>"
      "<IsTruncated>false</IsTruncated></ListBucketResult>";
  auto items = XmlElements(xml, "Contents");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(XmlFirst(items[0], "Key"), "a&b<c>\"'\xc3\xa9\xe6\x97\xa5");
  EXPECT_EQ(XmlFirst(items[1], "Key"), "k2");
  EXPECT_EQ(XmlFirst(xml, "Key"), "a&b<c>\"'\xc3\xa9\xe6\x97\xa5") << "<KeyCount> is not <Key>";
  EXPECT_EQ(XmlFirst(items[1], "Owner"), "");
  EXPECT_EQ(XmlFirst(xml, "Missing"), "");
  EXPECT_EQ(XmlDecode("&bogus; & &#0; &#xZZ;"), "&bogus; & &#0; &#xZZ;");
  EXPECT_TRUE(XmlElements("<Contents><Key>unterminated", "Contents").empty());
  EXPECT_EQ(XmlEscape("\"a\"&<>"), "&quot;a&quot;&amp;&lt;&gt;");
}

// The one document S3ObjectStore sends: parts numbered from 1 in order, ETags (quoted by S3)
// escaped, checksums as given.
TEST(S3Xml, CompleteMultipartDocument) {
  EXPECT_EQ(CompleteMultipartXml({}),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "</CompleteMultipartUpload>");
  EXPECT_EQ(CompleteMultipartXml({{"\"e1\"", "c1=="}, {"e<2>&", "c2=="}}),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag>"
            "<ChecksumSHA256>c1==</ChecksumSHA256></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>e&lt;2&gt;&amp;</ETag>"
            "<ChecksumSHA256>c2==</ChecksumSHA256></Part>"
            "</CompleteMultipartUpload>");
}

}  // namespace
}  // namespace aha::objectstore::testing
