// AWS credentials chain: every provider against a faithful loopback peer (AwsMetadataServer for
// STS, IMDSv2 and the container endpoint; s3rver for S3), refresh timing with FakeClock, and the
// S3 store end to end with web-identity credentials.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "objectstore/aws_http.h"
#include "objectstore/credentials.h"
#include "objectstore/s3_store.h"
#include "support/aws_metadata_server.h"
#include "support/s3rver.h"
#include "support/temp_dir.h"

namespace aha::objectstore {
namespace {

using aha::testing::AwsMetadataServer;
using aha::testing::TempDir;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kRole = "arn:aws:iam::123456789012:role/agency-ha-replication";

// An environment the test owns (the process environment is never read).
struct Env {
  std::map<std::string, std::string> vars;
  EnvLookup lookup() {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = vars.find(k);
      if (it == vars.end() || it->second.empty()) return std::nullopt;
      return it->second;
    };
  }
};

void Write(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

// AWS writes whole seconds: "2026-11-27T19:50:27Z".
std::string Iso(WallTime t) {
  std::string s = FormatTime(t);
  return s.substr(0, 19) + "Z";
}

AwsMetadataServer::Issued IssuedKey(const std::string& id, WallTime expires) {
  AwsMetadataServer::Issued i;
  i.access_key_id = id;
  i.secret_access_key = "secret-of-" + id;
  i.session_token = "session-of-" + id;
  i.expiration = Iso(expires);
  return i;
}

void ExpectNoSecrets(const std::string& text) {
  for (const char* secret : {"secret-of-", "session-of-", "TestSecretKey1", "TestSessionToken1",
                             "valid-web-identity-token", "pod-identity-token", "imds-token-",
                             "rotated-token-2", "TopSecret"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " leaked: " << text;
  }
}

// Web identity env pointing at the fake STS; IMDS off so nothing leaves the machine.
struct WebIdentityFixture {
  TempDir dir;
  AwsMetadataServer server;
  Env env;
  std::string token_file = dir.path() + "/token";
  WebIdentityFixture() {
    Write(token_file, "valid-web-identity-token\n");
    env.vars = {{"AWS_ROLE_ARN", kRole},
                {"AWS_WEB_IDENTITY_TOKEN_FILE", token_file},
                {"AWS_ROLE_SESSION_NAME", "agency-ha-test"},
                {"AWS_ENDPOINT_URL_STS", server.url()},
                {"AWS_EC2_METADATA_DISABLED", "true"},
                {"HOME", dir.path()}};
  }
};

// --- pure helpers ---------------------------------------------------------------------------

TEST(AwsCredentials, Iso8601AsAwsWritesIt) {
  WallTime t;
  ASSERT_TRUE(aws::ParseIso8601("2026-11-27T19:50:27Z", &t));
  EXPECT_EQ(FormatTime(t), "2026-11-27T19:50:27.000Z");
  ASSERT_TRUE(aws::ParseIso8601("2026-11-27T19:50:27.5Z", &t));
  EXPECT_EQ(FormatTime(t), "2026-11-27T19:50:27.500Z");
  ASSERT_TRUE(aws::ParseIso8601("2026-11-27T21:50:27+02:00", &t));
  EXPECT_EQ(FormatTime(t), "2026-11-27T19:50:27.000Z");
  ASSERT_TRUE(aws::ParseIso8601("2026-11-27T19:00:27-00:50", &t));
  EXPECT_EQ(FormatTime(t), "2026-11-27T19:50:27.000Z");
  for (const char* bad : {"", "2026-11-27", "2026-11-27T19:50:27", "2026-13-27T19:50:27Z",
                          "2026-11-27T19:50:27+0200", "2026-11-27T19:50:27Zjunk", "yesterday"}) {
    EXPECT_FALSE(aws::ParseIso8601(bad, &t)) << bad;
  }
}

TEST(AwsCredentials, StsEndpointFollowsTheSdkSettings) {
  Env env;
  EXPECT_EQ(StsEndpoint(env.lookup()), "https://sts.amazonaws.com") << "no region: global";
  env.vars["AWS_DEFAULT_REGION"] = "eu-west-1";
  EXPECT_EQ(StsEndpoint(env.lookup()), "https://sts.eu-west-1.amazonaws.com");
  env.vars["AWS_REGION"] = "us-west-2";
  EXPECT_EQ(StsEndpoint(env.lookup()), "https://sts.us-west-2.amazonaws.com");
  EXPECT_EQ(StsEndpoint(env.lookup(), "cn-north-1"), "https://sts.cn-north-1.amazonaws.com.cn");
  env.vars["AWS_ENDPOINT_URL"] = "http://localstack:4566";
  EXPECT_EQ(StsEndpoint(env.lookup()), "http://localstack:4566");
  env.vars["AWS_ENDPOINT_URL_STS"] = "http://sts.local:8080";
  EXPECT_EQ(StsEndpoint(env.lookup()), "http://sts.local:8080") << "service-specific wins";
}

// --- the fake peers are faithful -----------------------------------------------------------

TEST(AwsMetadataServer, ImdsEnforcesTheV2TokenProtocol) {
  AwsMetadataServer server;
  httplib::Client c("127.0.0.1", std::stoi(server.url().substr(server.url().rfind(':') + 1)));
  auto r = c.Get("/latest/meta-data/iam/security-credentials/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << "IMDSv1-style GET without a token";
  r = c.Put("/latest/api/token", "", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << "the TTL header is required";
  r = c.Put("/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "21601"}}, "",
            "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << "TTL above 6 h";
  r = c.Put("/latest/api/token",
            {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}, {"X-Forwarded-For", "10.0.0.1"}}, "",
            "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << "proxied token requests are refused";
  r = c.Put("/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}}, "",
            "text/plain");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const std::string token = r->body;
  r = c.Get("/latest/meta-data/iam/security-credentials/",
            {{"X-aws-ec2-metadata-token", "forged"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c.Get("/latest/meta-data/iam/security-credentials/", {{"X-aws-ec2-metadata-token", token}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "agency-ha-node");
}

// --- web identity ---------------------------------------------------------------------------

TEST(WebIdentityCredentials, AssumesTheRoleWithTheProjectedToken) {
  WebIdentityFixture f;
  auto chain = DefaultCredentialsChain(f.env.lookup());
  auto c = chain->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIATESTKEY1");
  EXPECT_EQ(c->secret_access_key, "TestSecretKey1");
  EXPECT_EQ(c->session_token, "TestSessionToken1");
  auto p = f.server.LastStsParams();
  EXPECT_EQ(p["Action"], "AssumeRoleWithWebIdentity");
  EXPECT_EQ(p["Version"], "2011-06-15");
  EXPECT_EQ(p["RoleArn"], kRole);
  EXPECT_EQ(p["RoleSessionName"], "agency-ha-test");
  EXPECT_EQ(p["WebIdentityToken"], "valid-web-identity-token") << "file content, newline trimmed";
  EXPECT_FALSE(f.server.StsSawAuthorizationHeader()) << "AssumeRoleWithWebIdentity is unsigned";
  EXPECT_NE(chain->Name().find(kRole), std::string::npos) << chain->Name();
  EXPECT_NE(chain->Name().find(f.token_file), std::string::npos);
  ExpectNoSecrets(chain->Name());
  // Cached: no second STS call while the credentials are fresh.
  ASSERT_TRUE(chain->Get().ok());
  EXPECT_EQ(f.server.CredentialRequests(AwsMetadataServer::kSts), 1);

  // Without AWS_ROLE_SESSION_NAME the session name is generated (and valid for STS).
  f.env.vars.erase("AWS_ROLE_SESSION_NAME");
  ASSERT_TRUE(DefaultCredentialsChain(f.env.lookup())->Get().ok());
  EXPECT_EQ(f.server.LastStsParams()["RoleSessionName"].rfind("agency-ha-", 0), 0u);
}

TEST(WebIdentityCredentials, StsErrorIsSurfacedAndStopsTheChain) {
  WebIdentityFixture f;
  f.server.SetStsAcceptedToken("some-other-token");
  f.env.vars.erase("AWS_EC2_METADATA_DISABLED");
  AwsMetadataServer imds;  // would answer, but a configured source that fails is not skipped
  f.env.vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url();
  auto c = DefaultCredentialsChain(f.env.lookup())->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), Code::kInvalid);
  EXPECT_EQ(c.error().http_status, 400);
  EXPECT_NE(c.message().find("HTTP 400 InvalidIdentityToken"), std::string::npos) << c.message();
  EXPECT_NE(c.message().find("could not be validated"), std::string::npos) << c.message();
  EXPECT_NE(c.message().find(kRole), std::string::npos) << c.message();
  ExpectNoSecrets(c.message());
  EXPECT_EQ(imds.CredentialRequests(AwsMetadataServer::kImds), 0);
}

// A real 401 from STS is a configured source that failed: kPermissionDenied (status 401 kept as
// a detail), surfaced as it is and never mistaken for "not configured" (the chain stops).
TEST(WebIdentityCredentials, Sts401IsPermissionDeniedNotNotConfigured) {
  WebIdentityFixture f;
  f.server.FailNext(AwsMetadataServer::kSts, 1,
                    {401,
                     "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
                     "<Type>Sender</Type><Code>AccessDenied</Code><Message>denied</Message>"
                     "</Error><RequestId>r1</RequestId></ErrorResponse>",
                     "text/xml"});
  f.env.vars.erase("AWS_EC2_METADATA_DISABLED");
  AwsMetadataServer imds;  // would answer: the chain must not get there
  f.env.vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url();
  auto c = DefaultCredentialsChain(f.env.lookup())->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), Code::kPermissionDenied) << c.message();
  EXPECT_EQ(c.error().http_status, 401);
  EXPECT_NE(c.message().find("HTTP 401"), std::string::npos) << c.message();
  EXPECT_EQ(f.server.CredentialRequests(AwsMetadataServer::kSts), 1) << "a 401 is not retried";
  EXPECT_EQ(imds.CredentialRequests(AwsMetadataServer::kImds), 0);
}

// Sources that are simply absent are kNotConfigured and skipped: with only the environment keys
// set, the chain passes over nothing and answers from them; with nothing set it lists them all.
TEST(CredentialsChain, NotConfiguredSourcesAreSkippedOthersStopIt) {
  Env env;
  auto chain = [&] {
    std::vector<std::unique_ptr<CredentialsProvider>> v;
    v.push_back(std::make_unique<EnvCredentialsProvider>(env.lookup()));
    v.push_back(std::make_unique<StaticCredentialsProvider>(
        sigv4::Credentials{"AKIDSTATIC", "static-secret", ""}));
    return std::make_unique<ChainCredentialsProvider>(std::move(v));
  };
  EXPECT_EQ(EnvCredentialsProvider(env.lookup()).Get().code(), Code::kNotConfigured);
  auto c = chain()->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "AKIDSTATIC");

  env.vars["AWS_ACCESS_KEY_ID"] = "AKIDHALF";  // configured, but wrongly: not skipped
  c = chain()->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), Code::kInvalid) << c.message();
  EXPECT_NE(c.message().find("only one of"), std::string::npos) << c.message();
}

TEST(WebIdentityCredentials, RetriesIdpCommunicationErrors) {
  WebIdentityFixture f;
  // STS could not reach the OIDC provider: documented as retryable.
  f.server.FailNext(AwsMetadataServer::kSts, 1,
                    {400,
                     "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
                     "<Type>Sender</Type><Code>IDPCommunicationError</Code><Message>timeout"
                     "</Message></Error><RequestId>r1</RequestId></ErrorResponse>",
                     "text/xml"});
  auto c = DefaultCredentialsChain(f.env.lookup())->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(f.server.CredentialRequests(AwsMetadataServer::kSts), 2);
}

TEST(WebIdentityCredentials, BadSettingsAreNamed) {
  WebIdentityFixture f;
  f.env.vars["AWS_ROLE_ARN"] = "agency-ha-replication";
  auto c = DefaultCredentialsChain(f.env.lookup())->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("AWS_ROLE_ARN \"agency-ha-replication\""), std::string::npos)
      << c.message();
  f.env.vars["AWS_ROLE_ARN"] = kRole;
  f.env.vars["AWS_ROLE_SESSION_NAME"] = "has space";
  c = DefaultCredentialsChain(f.env.lookup())->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("AWS_ROLE_SESSION_NAME"), std::string::npos) << c.message();
  f.env.vars.erase("AWS_ROLE_SESSION_NAME");
  f.env.vars.erase("AWS_WEB_IDENTITY_TOKEN_FILE");
  c = DefaultCredentialsChain(f.env.lookup())->Get();
  ASSERT_FALSE(c.ok()) << "half-configured web identity is an error, not a fallback";
  EXPECT_NE(c.message().find("AWS_WEB_IDENTITY_TOKEN_FILE is not"), std::string::npos);
  f.env.vars["AWS_WEB_IDENTITY_TOKEN_FILE"] = f.dir.path() + "/missing-token";
  c = DefaultCredentialsChain(f.env.lookup())->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("missing-token"), std::string::npos) << c.message();
  EXPECT_EQ(f.server.CredentialRequests(AwsMetadataServer::kSts), 0);
}

TEST(WebIdentityCredentials, MalformedStsResponsesAreErrors) {
  WebIdentityFixture f;
  f.server.FailNext(AwsMetadataServer::kSts, 1, {200, "<html>captive portal</html>", "text/html"});
  auto c = DefaultCredentialsChain(f.env.lookup())->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("no <Credentials>"), std::string::npos) << c.message();
  auto issued = IssuedKey("ASIABADEXP", WallTime{});
  issued.expiration = "tomorrow";
  f.server.SetIssued(issued);
  c = DefaultCredentialsChain(f.env.lookup())->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("Expiration \"tomorrow\""), std::string::npos) << c.message();
  ExpectNoSecrets(c.message());
}

TEST(WebIdentityCredentials, RotatedTokenFileIsReadOnEveryAssume) {
  WebIdentityFixture f;
  FakeClock clock;
  f.server.SetIssued(IssuedKey("ASIAFIRST", clock.wall() + minutes(60)));
  auto chain = DefaultCredentialsChain(f.env.lookup(), clock);
  auto c = chain->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAFIRST");

  // The kubelet rotates the token; STS now accepts only the new one.
  Write(f.token_file, "rotated-token-2");
  f.server.SetStsAcceptedToken("rotated-token-2");
  f.server.SetIssued(IssuedKey("ASIASECOND", clock.wall() + minutes(120)));
  clock.advance(minutes(56));  // 4 minutes before expiry: inside the refresh window
  c = chain->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIASECOND");
  EXPECT_EQ(f.server.LastStsParams()["WebIdentityToken"], "rotated-token-2");
  EXPECT_EQ(f.server.CredentialRequests(AwsMetadataServer::kSts), 2);
}

TEST(WebIdentityCredentials, FromAProfile) {
  TempDir dir;
  AwsMetadataServer server;
  Write(dir.path() + "/token", "valid-web-identity-token");
  Write(dir.path() + "/config",
        "[profile irsa]\nregion = eu-west-1\nrole_arn = " + std::string(kRole) +
            "\nweb_identity_token_file = " + dir.path() +
            "/token\nrole_session_name = from-profile\n");
  Env env;
  env.vars = {{"HOME", dir.path()},
              {"AWS_CONFIG_FILE", dir.path() + "/config"},
              {"AWS_PROFILE", "irsa"},
              {"AWS_ENDPOINT_URL_STS", server.url()},
              {"AWS_EC2_METADATA_DISABLED", "true"}};
  auto chain = DefaultCredentialsChain(env.lookup());
  auto c = chain->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIATESTKEY1");
  EXPECT_EQ(server.LastStsParams()["RoleSessionName"], "from-profile");
  EXPECT_NE(chain->Name().find("profile \"irsa\""), std::string::npos) << chain->Name();
}

TEST(ProfileCredentials, UnsupportedProfileKindsAreClearErrors) {
  TempDir dir;
  Write(dir.path() + "/config",
        "[profile chained]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n"
        "[profile proc]\ncredential_process = /usr/bin/get-creds\n"
        "[profile sso]\nsso_session = corp\n");
  for (const char* profile : {"chained", "proc", "sso"}) {
    Env env;
    env.vars = {{"HOME", dir.path()},
                {"AWS_CONFIG_FILE", dir.path() + "/config"},
                {"AWS_PROFILE", profile},
                {"AWS_EC2_METADATA_DISABLED", "true"}};
    auto c = DefaultCredentialsChain(env.lookup())->Get();
    ASSERT_FALSE(c.ok()) << profile;
    EXPECT_NE(c.code(), Code::kNotConfigured) << profile;
    EXPECT_NE(c.message().find("does not support"), std::string::npos) << c.message();
    EXPECT_NE(c.message().find(std::string("profile \"") + profile + "\""), std::string::npos);
  }
}

// --- container credentials ------------------------------------------------------------------

TEST(ContainerCredentials, PodIdentityWithTheTokenFile) {
  TempDir dir;
  AwsMetadataServer server;
  FakeClock clock;
  Write(dir.path() + "/eks-pod-identity-token", "pod-identity-token");
  server.SetIssued(IssuedKey("ASIAPOD1", clock.wall() + minutes(60)));
  Env env;
  env.vars = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.container_url()},
              {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", dir.path() + "/eks-pod-identity-token"},
              {"AWS_EC2_METADATA_DISABLED", "true"},
              {"HOME", dir.path()}};
  auto chain = DefaultCredentialsChain(env.lookup(), clock);
  auto c = chain->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAPOD1");
  EXPECT_EQ(c->session_token, "session-of-ASIAPOD1");
  EXPECT_NE(chain->Name().find(server.container_url()), std::string::npos) << chain->Name();

  // The agent rotates the token file: re-read on the next fetch.
  Write(dir.path() + "/eks-pod-identity-token", "pod-identity-token-2");
  server.SetContainerAuthorization("pod-identity-token-2");
  server.SetIssued(IssuedKey("ASIAPOD2", clock.wall() + minutes(120)));
  clock.advance(minutes(57));
  c = chain->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAPOD2");

  // A wrong token: the endpoint's 401 is an error naming the endpoint, not "not configured".
  server.SetContainerAuthorization("something-else");
  auto fresh = DefaultCredentialsChain(env.lookup(), clock)->Get();
  ASSERT_FALSE(fresh.ok());
  EXPECT_NE(fresh.code(), Code::kNotConfigured);
  EXPECT_NE(fresh.message().find("HTTP 401 AccessDeniedException"), std::string::npos)
      << fresh.message();
  ExpectNoSecrets(fresh.message());

  // The token straight from AWS_CONTAINER_AUTHORIZATION_TOKEN.
  server.SetContainerAuthorization("inline-token");
  env.vars.erase("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  env.vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "inline-token";
  fresh = DefaultCredentialsChain(env.lookup(), clock)->Get();
  ASSERT_TRUE(fresh.ok()) << fresh.message();
  env.vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "inline\r\nX-Injected: 1";
  fresh = DefaultCredentialsChain(env.lookup(), clock)->Get();
  ASSERT_FALSE(fresh.ok());
  EXPECT_NE(fresh.message().find("line break"), std::string::npos) << fresh.message();
}

TEST(ContainerCredentials, OnlyAllowedHostsOverHttp) {
  AwsMetadataServer server;
  for (const char* url : {"http://192.0.2.10/creds", "http://10.0.0.1:8080/v1/credentials"}) {
    Env env;
    env.vars = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url}, {"AWS_EC2_METADATA_DISABLED", "true"}};
    auto c = DefaultCredentialsChain(env.lookup())->Get();
    ASSERT_FALSE(c.ok()) << url;
    EXPECT_NE(c.message().find("is not allowed over http"), std::string::npos) << c.message();
    EXPECT_NE(c.message().find("AWS_CONTAINER_CREDENTIALS_FULL_URI"), std::string::npos);
  }
  // localhost resolves to loopback only: allowed.
  Env env;
  std::string local = server.container_url();
  local.replace(local.find("127.0.0.1"), 9, "localhost");
  env.vars = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", local},
              {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-token"}};
  auto c = DefaultCredentialsChain(env.lookup())->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  // The ECS relative URI is rooted at 169.254.170.2.
  ContainerCredentialsProvider ecs([](const std::string& k) -> std::optional<std::string> {
    if (k == "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") return std::string("/v2/credentials/x");
    return std::nullopt;
  });
  EXPECT_EQ(ecs.Name(), "container credentials (http://169.254.170.2/v2/credentials/x)");
}

TEST(ContainerCredentials, MalformedResponsesAreErrors) {
  AwsMetadataServer server;
  Env env;
  env.vars = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.container_url()},
              {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-token"}};
  server.FailNext(AwsMetadataServer::kContainer, 1, {200, "{not json", "application/json"});
  auto c = DefaultCredentialsChain(env.lookup())->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("not a JSON object"), std::string::npos) << c.message();
  server.FailNext(AwsMetadataServer::kContainer, 1,
                  {200, "{\"AccessKeyId\":\"ASIAONLY\"}", "application/json"});
  c = DefaultCredentialsChain(env.lookup())->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("no AccessKeyId/SecretAccessKey"), std::string::npos) << c.message();
}

// --- IMDSv2 ---------------------------------------------------------------------------------

struct ImdsFixture {
  AwsMetadataServer server;
  FakeClock clock;
  Env env;
  ImdsFixture() {
    env.vars = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url()}, {"HOME", "/nonexistent"}};
  }
};

TEST(ImdsCredentials, TokenThenRoleThenCredentials) {
  ImdsFixture f;
  f.server.SetIssued(IssuedKey("ASIAIMDS1", f.clock.wall() + minutes(60)));
  auto chain = DefaultCredentialsChain(f.env.lookup(), f.clock);
  auto c = chain->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAIMDS1");
  EXPECT_EQ(c->session_token, "session-of-ASIAIMDS1");
  EXPECT_EQ(f.server.ImdsTokenRequests(), 1);
  EXPECT_EQ(f.server.ImdsRejected(), 0) << "every GET carried the session token";
  EXPECT_NE(chain->Name().find("role agency-ha-node"), std::string::npos) << chain->Name();

  // The session token is reused for its TTL...
  f.server.SetIssued(IssuedKey("ASIAIMDS2", f.clock.wall() + minutes(120)));
  f.clock.advance(minutes(56));
  c = chain->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAIMDS2");
  EXPECT_EQ(f.server.ImdsTokenRequests(), 1);
  // ...and fetched again when IMDS rejects it.
  f.server.InvalidateImdsTokens();
  f.server.SetIssued(IssuedKey("ASIAIMDS3", f.clock.wall() + minutes(180)));
  f.clock.advance(minutes(61));  // t0+117m: 3 min before ASIAIMDS2 expires
  c = chain->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAIMDS3");
  EXPECT_EQ(f.server.ImdsRejected(), 1);
  EXPECT_EQ(f.server.ImdsTokenRequests(), 2);
}

TEST(ImdsCredentials, DisabledNoRoleUnreachableAndBadSettings) {
  ImdsFixture f;
  f.env.vars["AWS_EC2_METADATA_DISABLED"] = "TRUE";
  auto c = DefaultCredentialsChain(f.env.lookup(), f.clock)->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("disabled by AWS_EC2_METADATA_DISABLED"), std::string::npos);
  EXPECT_EQ(f.server.ImdsTokenRequests(), 0);
  f.env.vars.erase("AWS_EC2_METADATA_DISABLED");

  f.server.SetImdsRole("");
  c = DefaultCredentialsChain(f.env.lookup(), f.clock)->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), Code::kNotConfigured);
  EXPECT_NE(c.message().find("no IAM role"), std::string::npos) << c.message();

  // Nothing listening: "not on EC2", reported as an unavailable source.
  int port;
  {
    AwsMetadataServer gone;
    port = std::stoi(gone.url().substr(gone.url().rfind(':') + 1));
  }
  f.env.vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:" + std::to_string(port);
  c = DefaultCredentialsChain(f.env.lookup(), f.clock)->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), Code::kNotConfigured);
  EXPECT_NE(c.message().find("not on EC2"), std::string::npos) << c.message();

  f.env.vars["AWS_METADATA_SERVICE_TIMEOUT"] = "0";
  c = DefaultCredentialsChain(f.env.lookup(), f.clock)->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("AWS_METADATA_SERVICE_TIMEOUT \"0\""), std::string::npos);
  f.env.vars.erase("AWS_METADATA_SERVICE_TIMEOUT");
  f.env.vars.erase("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  f.env.vars["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"] = "IPv5";
  c = DefaultCredentialsChain(f.env.lookup(), f.clock)->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"), std::string::npos);
}

// The endpoint loses its trailing slashes (paths are appended to it), a bad endpoint is refused
// before any request, and the listed role name must be an IAM role name before it goes into a URL.
TEST(ImdsCredentials, EndpointAndRoleNameAreChecked) {
  ImdsFixture f;
  f.server.SetIssued(IssuedKey("ASIAIMDS1", f.clock.wall() + minutes(60)));
  f.env.vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f.server.url() + "//";
  ImdsCredentialsProvider p(f.env.lookup(), f.clock);
  auto c = p.Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(p.Name(), "IMDSv2 (" + f.server.url() + ", role agency-ha-node)");

  f.env.vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "ftp://169.254.169.254";
  c = ImdsCredentialsProvider(f.env.lookup(), f.clock).Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), Code::kInvalid);
  EXPECT_NE(c.message().find("want http:// or https://"), std::string::npos) << c.message();

  f.env.vars["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f.server.url();
  for (const std::string& role : {std::string("bad role"), std::string(65, 'r')}) {
    f.server.SetImdsRole(role);
    c = ImdsCredentialsProvider(f.env.lookup(), f.clock).Get();
    ASSERT_FALSE(c.ok()) << role;
    EXPECT_EQ(c.code(), Code::kBadResponse);
    EXPECT_NE(c.message().find("no valid IAM role name"), std::string::npos) << c.message();
  }
  f.server.SetImdsRole(std::string(64, 'r'));
  c = ImdsCredentialsProvider(f.env.lookup(), f.clock).Get();
  EXPECT_TRUE(c.ok()) << c.message();
}

TEST(ImdsCredentials, MalformedResponsesAreErrors) {
  ImdsFixture f;
  f.server.FailNext(AwsMetadataServer::kImds, 1, {200, "[]", "text/plain"});
  auto c = DefaultCredentialsChain(f.env.lookup(), f.clock)->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("not a JSON object"), std::string::npos) << c.message();
  f.server.FailNext(
      AwsMetadataServer::kImds, 1,
      {200, "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"denied\"}", "text/plain"});
  c = DefaultCredentialsChain(f.env.lookup(), f.clock)->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("AssumeRoleUnauthorizedAccess"), std::string::npos) << c.message();
  f.server.FailNext(
      AwsMetadataServer::kImds, 1,
      {200,
       "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"secret-of-A\","
       "\"Token\":\"T\"}",
       "text/plain"});
  c = DefaultCredentialsChain(f.env.lookup(), f.clock)->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("no Expiration"), std::string::npos) << c.message();
  ExpectNoSecrets(c.message());
  // Credentials that are already expired are refused.
  f.server.SetIssued(IssuedKey("ASIAOLD", f.clock.wall() - minutes(1)));
  c = DefaultCredentialsChain(f.env.lookup(), f.clock)->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("expired at"), std::string::npos) << c.message();
}

// --- caching and refresh -----------------------------------------------------------------------

TEST(RefreshingCredentials, RefreshesInTheWindowKeepsValidOnesOnFailureFailsAfterExpiry) {
  ImdsFixture f;
  const WallTime t0 = f.clock.wall();
  f.server.SetIssued(IssuedKey("ASIAA", t0 + minutes(60)));
  ImdsCredentialsProvider p(f.env.lookup(), f.clock);
  auto requests = [&] { return f.server.CredentialRequests(AwsMetadataServer::kImds); };

  auto c = p.Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(requests(), 1);
  f.clock.advance(minutes(54) + seconds(59));  // 5 min 1 s left: still fresh
  c = p.Get();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ASIAA");
  EXPECT_EQ(requests(), 1) << "no request while the credentials are fresh";

  f.server.SetIssued(IssuedKey("ASIAB", t0 + minutes(120)));
  f.clock.advance(seconds(2));  // 4 min 59 s left: inside the refresh window
  c = p.Get();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ASIAB");
  EXPECT_EQ(requests(), 2) << "one request in the refresh window";
  ASSERT_TRUE(p.CachedExpiration().has_value());
  EXPECT_EQ(*p.CachedExpiration(), t0 + minutes(120));

  // The source fails while B is still valid: B keeps being used, with a warning.
  f.server.FailNext(AwsMetadataServer::kImds, 1000, {500, "internal error", "text/plain"});
  f.clock.advance(minutes(61));  // t0+116m01s: 3 min 59 s left
  ::testing::internal::CaptureStderr();
  c = p.Get();
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAB");
  EXPECT_EQ(requests(), 3);
  EXPECT_NE(log.find("refresh failed"), std::string::npos) << log;
  EXPECT_NE(log.find("HTTP 500"), std::string::npos) << log;
  ExpectNoSecrets(log);
  c = p.Get();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(requests(), 3) << "no retry within kRetryAfterFailure";
  f.clock.advance(RefreshingCredentialsProvider::kRetryAfterFailure);
  c = p.Get();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ASIAB");
  EXPECT_EQ(requests(), 4);

  // After expiry there is nothing valid left: the error is returned.
  f.clock.advance(minutes(4));
  c = p.Get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("HTTP 500"), std::string::npos) << c.message();
  EXPECT_NE(c.message().find("previous credentials expired at " + FormatTime(t0 + minutes(120))),
            std::string::npos)
      << c.message();
  ExpectNoSecrets(c.message());

  // The source recovers.
  f.server.ClearFaults();
  f.server.SetIssued(IssuedKey("ASIAC", f.clock.wall() + minutes(60)));
  c = p.Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAC");
}

TEST(RefreshingCredentials, ConcurrentCallersShareOneRefresh) {
  ImdsFixture f;
  f.server.SetIssued(IssuedKey("ASIAA", f.clock.wall() + minutes(60)));
  ImdsCredentialsProvider p(f.env.lookup(), f.clock);
  ASSERT_TRUE(p.Get().ok());
  f.server.SetIssued(IssuedKey("ASIAB", f.clock.wall() + minutes(120)));
  f.clock.advance(minutes(57));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto c = p.Get();
        if (!c.ok() || (c->access_key_id != "ASIAA" && c->access_key_id != "ASIAB")) ++failures;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(f.server.CredentialRequests(AwsMetadataServer::kImds), 2)
      << "200 calls in the refresh window, one refresh";
  EXPECT_EQ(p.Get()->access_key_id, "ASIAB");
}

TEST(RefreshingCredentials, OthersKeepValidCredentialsWhileOneThreadRefreshes) {
  ImdsFixture f;
  f.env.vars["AWS_METADATA_SERVICE_TIMEOUT"] = "60";  // the held response must not time out
  f.server.SetIssued(IssuedKey("ASIAA", f.clock.wall() + minutes(60)));
  ImdsCredentialsProvider p(f.env.lookup(), f.clock);
  ASSERT_TRUE(p.Get().ok());
  f.server.SetIssued(IssuedKey("ASIAB", f.clock.wall() + minutes(120)));
  f.clock.advance(minutes(57));
  f.server.HoldNext(AwsMetadataServer::kImds);
  std::thread refresher([&] { EXPECT_EQ(p.Get()->access_key_id, "ASIAB"); });
  while (f.server.Held() == 0)  // the refresh is in flight, its response held by the server
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // A watchdog only so that a regression fails instead of hanging: the assertion below does not
  // depend on time.
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 60000 && !done; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    f.server.Release();
  });
  auto c = p.Get();
  const bool refresh_still_in_flight = f.server.Held() == 1;
  done = true;
  f.server.Release();
  refresher.join();
  watchdog.join();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAA") << "the still-valid credentials, without waiting";
  EXPECT_TRUE(refresh_still_in_flight) << "Get() waited for another thread's refresh";
  EXPECT_EQ(p.Get()->access_key_id, "ASIAB");
  EXPECT_EQ(f.server.CredentialRequests(AwsMetadataServer::kImds), 2);
}

// --- the chain ------------------------------------------------------------------------------

TEST(CredentialsChain, SdkOrder) {
  TempDir dir;
  AwsMetadataServer server;
  Write(dir.path() + "/token", "valid-web-identity-token");
  Write(dir.path() + "/credentials",
        "[default]\naws_access_key_id=PROFILEKEY\n"
        "aws_secret_access_key=secret-of-PROFILEKEY\n");
  Env env;
  env.vars = {{"HOME", dir.path()},
              {"AWS_ACCESS_KEY_ID", "ENVKEY"},
              {"AWS_SECRET_ACCESS_KEY", "secret-of-ENVKEY"},
              {"AWS_SHARED_CREDENTIALS_FILE", dir.path() + "/credentials"},
              {"AWS_ROLE_ARN", kRole},
              {"AWS_WEB_IDENTITY_TOKEN_FILE", dir.path() + "/token"},
              {"AWS_ENDPOINT_URL_STS", server.url()},
              {"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.container_url()},
              {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-token"},
              {"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url()}};
  server.SetIssued(
      IssuedKey("ASIAREMOTE", std::chrono::system_clock::now() + std::chrono::hours(24)));
  struct Step {
    std::vector<std::string> remove;
    std::string want_key, want_name;
  };
  const Step steps[] = {
      {{}, "ENVKEY", "environment"},
      {{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "PROFILEKEY", "profile \"default\""},
      {{"AWS_SHARED_CREDENTIALS_FILE"}, "ASIAREMOTE", "web identity"},
      {{"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"}, "ASIAREMOTE", "container credentials"},
      {{"AWS_CONTAINER_CREDENTIALS_FULL_URI"}, "ASIAREMOTE", "IMDSv2"},
  };
  int sts = 0, container = 0, imds = 0;
  for (const auto& step : steps) {
    for (const auto& k : step.remove)
      env.vars.erase(k);
    auto chain = DefaultCredentialsChain(env.lookup());
    auto c = chain->Get();
    ASSERT_TRUE(c.ok()) << step.want_name << ": " << c.message();
    EXPECT_EQ(c->access_key_id, step.want_key);
    EXPECT_EQ(chain->Name().rfind(step.want_name, 0), 0u) << chain->Name();
    // Only the chosen source was asked.
    sts += step.want_name == "web identity";
    container += step.want_name == "container credentials";
    imds += step.want_name == "IMDSv2";
    EXPECT_EQ(server.CredentialRequests(AwsMetadataServer::kSts), sts) << step.want_name;
    EXPECT_EQ(server.CredentialRequests(AwsMetadataServer::kContainer), container);
    EXPECT_EQ(server.CredentialRequests(AwsMetadataServer::kImds), imds);
  }
}

TEST(CredentialsChain, NothingFoundListsEverySourceAndWhy) {
  Env env;
  env.vars = {{"HOME", "/nonexistent"}, {"AWS_EC2_METADATA_DISABLED", "true"}};
  auto c = DefaultCredentialsChain(env.lookup())->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), Code::kNotConfigured);
  for (const char* why :
       {"no AWS credentials found", "environment (AWS_ACCESS_KEY_ID): AWS_ACCESS_KEY_ID is not set",
        "profile \"default\" (/nonexistent/.aws/credentials, /nonexistent/.aws/config): no keys",
        "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are not set",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set",
        "IMDSv2 (instance metadata): disabled by AWS_EC2_METADATA_DISABLED=true"}) {
    EXPECT_NE(c.message().find(why), std::string::npos) << why << " in: " << c.message();
  }
}

// --- end to end with the S3 store and s3rver -----------------------------------------------

TEST(CredentialsEndToEnd, S3StoreWithWebIdentityCredentialsTalksToS3rver) {
  auto& s3 = aha::testing::S3rverProcess::Shared();
  WebIdentityFixture f;
  // s3rver's only account: S3RVER / S3RVER; STS hands it out as temporary credentials.
  AwsMetadataServer::Issued issued;
  issued.access_key_id = "S3RVER";
  issued.secret_access_key = "S3RVER";
  issued.session_token = "session-of-S3RVER";
  f.server.SetIssued(issued);
  f.env.vars["AWS_ENDPOINT_URL_S3"] = s3.endpoint();
  auto cfg = S3ConfigFromUrlAndEnv("s3://" + s3.bucket() + "/creds-e2e", {}, f.env.lookup());
  ASSERT_TRUE(cfg.ok()) << cfg.message();
  auto store = S3ObjectStore::Create(*cfg);
  ASSERT_TRUE(store.ok()) << store.message();
  auto st = (*store)->Put("hello", "from web identity");
  ASSERT_TRUE(st.ok()) << st.message();
  auto got = (*store)->Get("hello");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(*got, "from web identity");
  EXPECT_EQ(f.server.CredentialRequests(AwsMetadataServer::kSts), 1)
      << "the store's requests share the cached credentials";

  // STS hands out a key s3rver does not know: the error names the source of the key.
  WebIdentityFixture wrong;
  issued.access_key_id = "ASIAUNKNOWN";
  issued.secret_access_key = "TopSecretUnknown";
  wrong.server.SetIssued(issued);
  wrong.env.vars["AWS_ENDPOINT_URL_S3"] = s3.endpoint();
  cfg = S3ConfigFromUrlAndEnv("s3://" + s3.bucket() + "/creds-e2e", {}, wrong.env.lookup());
  ASSERT_TRUE(cfg.ok()) << cfg.message();
  store = S3ObjectStore::Create(*cfg);
  ASSERT_TRUE(store.ok());
  st = (*store)->Put("hello", "x");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("InvalidAccessKeyId"), std::string::npos) << st.message();
  EXPECT_NE(
      st.message().find("check the credentials from web identity (role " + std::string(kRole)),
      std::string::npos)
      << st.message();
  ExpectNoSecrets(st.message());
  EXPECT_EQ(st.message().find("session-of-S3RVER"), std::string::npos);
}

TEST(CredentialsEndToEnd, WrongEnvironmentKeyIsNamed) {
  auto& s3 = aha::testing::S3rverProcess::Shared();
  Env env;
  env.vars = {{"AWS_ACCESS_KEY_ID", "AKIAWRONG"},
              {"AWS_SECRET_ACCESS_KEY", "TopSecretWrong"},
              {"AWS_ENDPOINT_URL_S3", s3.endpoint()},
              {"AWS_EC2_METADATA_DISABLED", "true"}};
  auto cfg = S3ConfigFromUrlAndEnv("s3://" + s3.bucket() + "/creds-env", {}, env.lookup());
  ASSERT_TRUE(cfg.ok()) << cfg.message();
  auto store = S3ObjectStore::Create(*cfg);
  ASSERT_TRUE(store.ok());
  auto st = (*store)->Put("k", "v");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("InvalidAccessKeyId"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("check the credentials from environment (AWS_ACCESS_KEY_ID)"),
            std::string::npos)
      << st.message();
  ExpectNoSecrets(st.message());
}

}  // namespace
}  // namespace aha::objectstore

namespace aha::objectstore {
namespace {

// Server errors of the container endpoint are tried 3 times (backoff on the provider's clock),
// then reported as unavailable naming the attempts; a single one is retried through.
TEST(ContainerCredentials, ServerErrorsAreRetriedThreeTimesThenUnavailable) {
  TempDir dir;
  AwsMetadataServer server;
  FakeClock clock;
  clock.set_auto_advance(true);
  server.SetIssued(IssuedKey("ASIARETRY", clock.wall() + minutes(60)));
  Env env;
  env.vars = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.container_url()},
              {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-token"},
              {"AWS_EC2_METADATA_DISABLED", "true"},
              {"HOME", dir.path()}};
  server.FailNext(AwsMetadataServer::kContainer, 3,
                  {503, "{\"message\":\"busy\"}", "application/json"});
  auto c = DefaultCredentialsChain(env.lookup(), clock)->Get();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.code(), Code::kUnavailable) << c.message();
  EXPECT_NE(c.message().find("HTTP 503: busy (after 3 attempts)"), std::string::npos)
      << c.message();
  EXPECT_EQ(server.CredentialRequests(AwsMetadataServer::kContainer), 3);

  server.FailNext(AwsMetadataServer::kContainer, 1, {500, "", "text/plain"});
  c = DefaultCredentialsChain(env.lookup(), clock)->Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIARETRY");
  EXPECT_EQ(server.CredentialRequests(AwsMetadataServer::kContainer), 5);
}

}  // namespace
}  // namespace aha::objectstore
