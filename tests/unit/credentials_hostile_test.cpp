// Hostile answers to every AWS credentials parser: the IMDS / container credentials JSON, the STS
// AssumeRoleWithWebIdentity XML, the shared credentials file and the environment. Wrong JSON
// types (numbers where strings are expected, arrays, objects, null), missing fields, oversized
// values and bytes that do not belong in a request header (control bytes, CR/LF, bytes that are
// not ASCII or not UTF-8). Each must be an error that names the field, carries neither the
// secret nor a raw control byte, and never throws. Canned bodies come from the loopback
// AwsMetadataServer (tests/support), which answers each credential request with the fault given.
// (Endless bodies, trickles and error documents are in hostile_s3_test.cpp; well-formed
// answers and the refresh logic in credentials_test.cpp.)
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "objectstore/credentials.h"
#include "support/aws_metadata_server.h"
#include "support/temp_dir.h"

namespace aha::objectstore {
namespace {

using aha::testing::AwsMetadataServer;
using aha::testing::TempDir;

// Found in the hostile values below; none may reach an error message.
constexpr const char* kSecretMarks[] = {"TopSecret", "X-Injected", "\xff\xfe"};

EnvLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

struct Case {
  std::string label;
  std::string body;  // the source's answer (or file text) as sent
  std::string want;  // must appear in the error
};

// The error names the field, leaks no value, and is safe for a log line and a JSON dump.
void ExpectClearError(const Result<sigv4::Credentials>& c, const Case& k) {
  ASSERT_FALSE(c.ok()) << k.label << ": accepted";
  const std::string& m = c.message();
  EXPECT_NE(m.find(k.want), std::string::npos) << k.label << ": " << m;
  for (const char* s : kSecretMarks)
    EXPECT_EQ(m.find(s), std::string::npos) << k.label << " leaked " << s << ": " << m;
  for (unsigned char ch : m)
    ASSERT_TRUE(ch >= 0x20 && ch != 0x7f) << k.label << ": control byte in " << m;
  EXPECT_NO_THROW((void)nlohmann::json(m).dump()) << k.label << ": " << m;
  EXPECT_LT(m.size(), 2048u) << k.label << ": unbounded message";
}

std::string Big(size_t n) {
  return std::string(n, 'A');
}

// A container / IMDS credentials document with `field` replaced by the JSON text `value`
// (absent when value is empty).
std::string JsonDoc(const std::string& field, const std::string& value) {
  std::map<std::string, std::string> f = {{"Code", "\"Success\""},
                                          {"AccessKeyId", "\"ASIAHOSTILE\""},
                                          {"SecretAccessKey", "\"TopSecretKey\""},
                                          {"Token", "\"TopSecretToken\""},
                                          {"Expiration", "\"2100-01-01T00:00:00Z\""}};
  if (value.empty()) {
    f.erase(field);
  } else {
    f[field] = value;
  }
  std::string out = "{";
  for (const auto& [k, v] : f)
    out += (out.size() > 1 ? "," : "") + ("\"" + k + "\":" + v);
  return out + "}";
}

// Shared by the container endpoint and IMDS (same JSON shape, same parser).
std::vector<Case> JsonCases() {
  std::vector<Case> cases;
  for (const char* field : {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "Code"}) {
    for (const auto& [type, value] :
         std::vector<std::pair<std::string, std::string>>{{"number", "5"},
                                                          {"array", "[\"TopSecret\"]"},
                                                          {"object", "{\"v\":\"TopSecret\"}"},
                                                          {"boolean", "true"}}) {
      cases.push_back({std::string(field) + " " + type, JsonDoc(field, value),
                       std::string(field) + ": expected string, got " + type});
    }
  }
  for (const char* field : {"AccessKeyId", "SecretAccessKey"}) {
    cases.push_back(
        {std::string(field) + " missing", JsonDoc(field, ""), "no AccessKeyId/SecretAccessKey"});
    cases.push_back(
        {std::string(field) + " null", JsonDoc(field, "null"), "no AccessKeyId/SecretAccessKey"});
    cases.push_back({std::string(field) + " oversized", JsonDoc(field, "\"" + Big(300) + "\""),
                     std::string(field) + " is 300 bytes, more than 256"});
  }
  cases.push_back({"Token oversized", JsonDoc("Token", "\"" + Big(20000) + "\""),
                   "Token is 20000 bytes, more than 16384"});
  for (const char* field : {"AccessKeyId", "SecretAccessKey", "Token"}) {
    // CR/LF would smuggle a request header; U+00FF is valid JSON but not ASCII.
    for (const char* v : {"\"TopSecret\\r\\nX-Injected: 1\"", "\"TopSecret\\u00ff\"",
                          "\"Top Secret\"", "\"TopSecret\\u0000\""}) {
      cases.push_back({std::string(field) + " " + v, JsonDoc(field, v),
                       std::string(field) + " is not printable ASCII"});
    }
  }
  cases.push_back({"Code not Success", JsonDoc("Code", "\"Denied\\u001b[2J\""), "Code \"Denied"});
  cases.push_back({"Expiration not a time", JsonDoc("Expiration", "\"" + Big(5000) + "\""),
                   "Expiration \"AAAA"});
  // Bytes that are not UTF-8 make the document invalid JSON: refused as a whole.
  cases.push_back(
      {"raw invalid UTF-8", JsonDoc("AccessKeyId", "\"ASIA\xff\xfe\""), "not a JSON object"});
  cases.push_back(
      {"top-level array", "[" + JsonDoc("Code", "\"Success\"") + "]", "not a JSON object"});
  cases.push_back(
      {"deep nesting", std::string(200, '[') + std::string(200, ']'), "not a JSON object"});
  return cases;
}

TEST(HostileCredentialsJson, ContainerEndpoint) {
  AwsMetadataServer server;
  for (const Case& k : JsonCases()) {
    server.FailNext(AwsMetadataServer::kContainer, 1, {200, k.body, "application/json"});
    ContainerCredentialsProvider p(
        EnvOf({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.container_url()},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-token"}}));
    ExpectClearError(p.Get(), k);
  }
  // The well-formed document is accepted (the cases differ from it in one field only).
  server.FailNext(AwsMetadataServer::kContainer, 1,
                  {200, JsonDoc("Code", "\"Success\""), "application/json"});
  ContainerCredentialsProvider p(
      EnvOf({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.container_url()},
             {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-token"}}));
  auto c = p.Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAHOSTILE");
  EXPECT_EQ(c->session_token, "TopSecretToken");
}

TEST(HostileCredentialsJson, Imds) {
  AwsMetadataServer server;
  for (const Case& k : JsonCases()) {
    server.FailNext(AwsMetadataServer::kImds, 1, {200, k.body, "text/plain"});
    ImdsCredentialsProvider p(EnvOf({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url()}}));
    ExpectClearError(p.Get(), k);
  }
  // A null Code reads as absent, like every other null field.
  server.FailNext(AwsMetadataServer::kImds, 1, {200, JsonDoc("Code", "null"), "text/plain"});
  ImdsCredentialsProvider p(EnvOf({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url()}}));
  auto c = p.Get();
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->access_key_id, "ASIAHOSTILE");
}

// STS answers in XML: no JSON types, but missing, oversized and unprintable values.
std::string StsDoc(const std::string& field, const std::string& value, bool present = true) {
  std::map<std::string, std::string> f = {{"AccessKeyId", "ASIAHOSTILE"},
                                          {"SecretAccessKey", "TopSecretKey"},
                                          {"SessionToken", "TopSecretToken"},
                                          {"Expiration", "2100-01-01T00:00:00Z"}};
  if (present) {
    f[field] = value;
  } else {
    f.erase(field);
  }
  std::string creds;
  for (const auto& [k, v] : f)
    creds += "<" + k + ">" + v + "</" + k + ">";
  return "<AssumeRoleWithWebIdentityResponse "
         "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult>"
         "<Credentials>" +
         creds +
         "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
}

TEST(HostileCredentialsSts, AssumeRoleWithWebIdentityAnswer) {
  TempDir dir;
  { std::ofstream(dir.path() + "/token") << "valid-web-identity-token"; }
  AwsMetadataServer server;
  std::vector<Case> cases;
  for (const char* field : {"AccessKeyId", "SecretAccessKey", "SessionToken"}) {
    cases.push_back({std::string(field) + " missing", StsDoc(field, "", false),
                     std::string("response lacks ") + field});
    cases.push_back(
        {std::string(field) + " empty", StsDoc(field, ""), std::string("response lacks ") + field});
    for (const char* v : {"TopSecret\r\nX-Injected: 1", "TopSecret&#13;&#10;X-Injected: 1",
                          "TopSecret\xff\xfe", "Top Secret", "TopSecret\x1b[2J"}) {
      cases.push_back({std::string(field) + " unprintable", StsDoc(field, v),
                       std::string(field) + " is not printable ASCII"});
    }
  }
  cases.push_back({"AccessKeyId oversized", StsDoc("AccessKeyId", Big(300)),
                   "AccessKeyId is 300 bytes, more than 256"});
  cases.push_back({"SessionToken oversized", StsDoc("SessionToken", Big(20000)),
                   "SessionToken is 20000 bytes, more than 16384"});
  cases.push_back({"Expiration missing", StsDoc("Expiration", "", false), "Expiration \"\""});
  cases.push_back({"Expiration not UTF-8", StsDoc("Expiration", "2100\xff\xfe\x1b[2J"),
                   "Expiration \"2100\\xff\\xfe\\x1b"});
  cases.push_back(
      {"Expiration oversized", StsDoc("Expiration", Big(100000)), "is not an ISO 8601 time"});
  cases.push_back({"no Credentials", "<AssumeRoleWithWebIdentityResponse/>", "no <Credentials>"});
  for (const Case& k : cases) {
    server.FailNext(AwsMetadataServer::kSts, 1, {200, k.body, "text/xml"});
    WebIdentitySettings ws;
    ws.role_arn = "arn:aws:iam::123456789012:role/r";
    ws.token_file = dir.path() + "/token";
    ws.sts_endpoint = server.url();
    WebIdentityCredentialsProvider p(ws);
    ExpectClearError(p.Get(), k);
  }
}

TEST(HostileCredentialsFile, ProfileValues) {
  TempDir dir;
  const std::string file = dir.path() + "/credentials";
  std::vector<Case> cases;
  for (const char* key : {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"}) {
    for (const char* v : {"TopSecret\x01", "TopSecret\xff\xfe", "Top Secret", "TopSecret\x1b[2J"}) {
      cases.push_back({std::string(key) + " unprintable",
                       "[default]\naws_access_key_id = AKIAFILE\n"
                       "aws_secret_access_key = TopSecretKey\n" +
                           std::string(key) + " = " + v + "\n",
                       std::string(key) + " is not printable ASCII"});
    }
  }
  cases.push_back(
      {"oversized key id",
       "[default]\naws_access_key_id = " + Big(300) + "\naws_secret_access_key = TopSecretKey\n",
       "aws_access_key_id is 300 bytes, more than 256"});
  cases.push_back({"oversized session token",
                   "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = TopSecretKey"
                   "\naws_session_token = " +
                       Big(20000) + "\n",
                   "aws_session_token is 20000 bytes, more than 16384"});
  cases.push_back({"secret missing", "[default]\naws_access_key_id = AKIAFILE\n",
                   "has only one of aws_access_key_id and aws_secret_access_key"});
  cases.push_back({"key id empty", "[default]\naws_access_key_id =\naws_secret_access_key = x\n",
                   "has only one of aws_access_key_id and aws_secret_access_key"});
  for (const Case& k : cases) {
    { std::ofstream(file, std::ios::trunc) << k.body; }
    ProfileCredentialsProvider p(file, dir.path() + "/config", "default", EnvOf({}));
    ExpectClearError(p.Get(), k);
    EXPECT_NE(p.Get().message().find(file), std::string::npos) << "names the file";
  }
}

TEST(HostileCredentialsEnv, EnvironmentValues) {
  std::vector<std::pair<std::map<std::string, std::string>, Case>> cases = {
      {{{"AWS_ACCESS_KEY_ID", "AKIA\r\nX-Injected: 1"}, {"AWS_SECRET_ACCESS_KEY", "TopSecret"}},
       {"id with CR/LF", "", "AWS_ACCESS_KEY_ID is not printable ASCII"}},
      {{{"AWS_ACCESS_KEY_ID", "AKIA"}, {"AWS_SECRET_ACCESS_KEY", "TopSecret\xff\xfe"}},
       {"secret not UTF-8", "", "AWS_SECRET_ACCESS_KEY is not printable ASCII"}},
      {{{"AWS_ACCESS_KEY_ID", "AKIA"},
        {"AWS_SECRET_ACCESS_KEY", "TopSecret"},
        {"AWS_SESSION_TOKEN", Big(20000)}},
       {"token oversized", "", "AWS_SESSION_TOKEN is 20000 bytes, more than 16384"}},
  };
  for (const auto& [vars, k] : cases) {
    EnvCredentialsProvider p(EnvOf(vars));
    ExpectClearError(p.Get(), k);
  }
}

}  // namespace
}  // namespace aha::objectstore
