// Controller config: valid files load into the struct; every invalid one fails with a message
// that names the offending key.
#include "config/controller_config.h"

#include <gtest/gtest.h>

namespace aha::config {
namespace {

const char* kValid = R"(
regions:
  - name: us-east-1
    active: true
    endpoint: http://127.0.0.1:18081/health
    priority: 0
  - name: eu-west-1
    endpoint: https://eu.example.com/health
  - name: ap-southeast-1
    active: false
    endpoint: http://[::1]:18083/health
    priority: 5
    minHealthyEndpoints: 2
probe:
  intervalSeconds: 0.5
  timeoutSeconds: 0.25
  failureThreshold: 4
  successThreshold: 1
  tls: {caFile: /etc/ssl/ca.pem, insecureSkipVerify: false}
policy: {failbackSeconds: 30}
state:
  file: /var/run/agency-ha/state
listen: 127.0.0.1:9090
)";

TEST(Config, ValidFileLoads) {
  auto c = ParseControllerConfig(kValid, "test.yaml");
  ASSERT_TRUE(c.ok()) << c.message();
  ASSERT_EQ(c->regions.size(), 3u);
  EXPECT_EQ(c->regions[0].name, "us-east-1");
  EXPECT_TRUE(c->regions[1].active);  // default
  EXPECT_FALSE(c->regions[2].active);
  EXPECT_EQ(c->regions[2].priority, 5);
  EXPECT_EQ(c->regions[2].min_healthy_endpoints, 2);
  EXPECT_EQ(c->regions[0].min_healthy_endpoints, 1);
  EXPECT_DOUBLE_EQ(c->probe.interval_seconds, 0.5);
  EXPECT_EQ(c->probe.failure_threshold, 4);
  EXPECT_EQ(c->probe.tls.ca_file, "/etc/ssl/ca.pem");
  EXPECT_DOUBLE_EQ(c->policy.failback_seconds, 30);
  EXPECT_EQ(c->state.file, "/var/run/agency-ha/state");
}

TEST(Config, Defaults) {
  auto c = ParseControllerConfig(R"(
regions: [{name: a, endpoint: "http://127.0.0.1:1/health"}]
state: {file: /tmp/s}
)",
                                 "t");
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_DOUBLE_EQ(c->probe.interval_seconds, 1.0);
  EXPECT_DOUBLE_EQ(c->probe.timeout_seconds, 0.5);
  EXPECT_EQ(c->probe.failure_threshold, 3);
  EXPECT_EQ(c->probe.success_threshold, 2);
  EXPECT_EQ(c->listen, "127.0.0.1:9090");
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* expected;  // substring of the error
};

std::string Base(const std::string& regions, const std::string& extra = "") {
  return "regions:\n" + regions + "state: {file: /tmp/s}\n" + extra;
}

const std::string kA = "  - {name: a, endpoint: 'http://127.0.0.1:1/health'}\n";

class ConfigBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigBad, FailsNamingTheKey) {
  auto c = ParseControllerConfig(GetParam().yaml, "bad.yaml");
  ASSERT_FALSE(c.ok()) << "should have been rejected";
  EXPECT_NE(c.message().find(GetParam().expected), std::string::npos)
      << "message was: " << c.message();
}

const std::string kDup = Base(
    "  - {name: us-east-1, endpoint: 'http://127.0.0.1:1/h'}\n"
    "  - {name: eu-west-1, endpoint: 'http://127.0.0.1:2/h'}\n"
    "  - {name: eu-west-1, endpoint: 'http://127.0.0.1:3/h'}\n");
const std::string kUnknownTop = Base(kA, "failureTreshold: 3\n");
const std::string kUnknownProbe = Base(kA, "probe: {failureTreshold: 3}\n");
const std::string kUnknownRegion = Base("  - {name: a, endpoint: 'http://x/h', activ: true}\n");
const std::string kShell = Base("  - {name: 'a;rm -rf /', endpoint: 'http://x/h'}\n");
const std::string kUpper = Base("  - {name: US-EAST-1, endpoint: 'http://x/h'}\n");
const std::string kDollar = Base("  - {name: '$(reboot)', endpoint: 'http://x/h'}\n");
const std::string kLong =
    Base("  - {name: " + std::string(64, 'a') + ", endpoint: 'http://x/h'}\n");
const std::string kTimeout = Base(kA, "probe: {intervalSeconds: 1, timeoutSeconds: 1}\n");
const std::string kBadUrl = Base("  - {name: a, endpoint: 'not a url'}\n");
const std::string kBadScheme = Base("  - {name: a, endpoint: 'ftp://x/h'}\n");
const std::string kCreds = Base("  - {name: a, endpoint: 'http://user:pw@x/h'}\n");
const std::string kBadPort = Base("  - {name: a, endpoint: 'http://x:99999/h'}\n");
const std::string kNoEndpoint = Base("  - {name: a}\n");
const std::string kThreshold = Base(kA, "probe: {failureThreshold: 0}\n");
const std::string kNotNumber = Base(kA, "probe: {intervalSeconds: fast}\n");
const std::string kQuotedNumber = Base(kA, "probe: {failureThreshold: '3'}\n");
const std::string kActiveNotBool = Base("  - {name: a, endpoint: 'http://x/h', active: yes}\n");
const std::string kListen = Base(kA, "listen: 'localhost'\n");
const std::string kTlsPair = Base(kA, "probe: {tls: {certFile: /c.pem}}\n");
const std::string kLevel = Base(kA, "logLevel: verbose\n");
std::string kTooMany() {
  std::string r;
  for (int i = 0; i < 65; ++i) {
    r += "  - {name: r" + std::to_string(i) + ", endpoint: 'http://x/h'}\n";
  }
  return Base(r);
}
const std::string kMany = kTooMany();

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigBad,
    ::testing::Values(
        BadCase{"malformed", "regions: [\n  - {name: a", "bad.yaml: invalid YAML at line"},
        BadCase{"not_a_map", "- a\n- b\n", "config: expected a mapping"},
        BadCase{"no_regions", "state: {file: /tmp/s}\n", "regions: at least one region"},
        BadCase{"empty_regions", "regions: []\nstate: {file: /tmp/s}\n", "regions: at least one"},
        BadCase{"too_many", kMany.c_str(), "regions: at most 64"},
        BadCase{"duplicate", kDup.c_str(), "regions[2].name: duplicate region \"eu-west-1\""},
        BadCase{"unknown_top", kUnknownTop.c_str(), "failureTreshold: unknown key"},
        BadCase{"unknown_probe", kUnknownProbe.c_str(), "probe.failureTreshold: unknown key"},
        BadCase{"unknown_region", kUnknownRegion.c_str(), "regions[0].activ: unknown key"},
        BadCase{"shell_meta", kShell.c_str(),
                "regions[0].name: invalid region name \"a;rm -rf /\""},
        BadCase{"dollar", kDollar.c_str(), "regions[0].name: invalid region name \"$(reboot)\""},
        BadCase{"uppercase", kUpper.c_str(), "regions[0].name: invalid region name \"US-EAST-1\""},
        BadCase{"too_long", kLong.c_str(), "regions[0].name: invalid region name"},
        BadCase{"timeout_ge_interval", kTimeout.c_str(),
                "probe.timeoutSeconds: must be less than probe.intervalSeconds"},
        BadCase{"bad_url", kBadUrl.c_str(), "regions[0].endpoint: invalid URL \"not a url\""},
        BadCase{"bad_scheme", kBadScheme.c_str(),
                "regions[0].endpoint: unsupported scheme \"ftp\""},
        BadCase{"credentials", kCreds.c_str(), "regions[0].endpoint: invalid URL"},
        BadCase{"bad_port", kBadPort.c_str(), "regions[0].endpoint: invalid URL"},
        BadCase{"no_endpoint", kNoEndpoint.c_str(), "regions[0].endpoint: required"},
        BadCase{"threshold", kThreshold.c_str(), "probe.failureThreshold: must be between 1"},
        BadCase{"not_number", kNotNumber.c_str(), "probe.intervalSeconds: expected a number"},
        BadCase{"quoted_number", kQuotedNumber.c_str(),
                "probe.failureThreshold: expected an integer"},
        BadCase{"active_yes", kActiveNotBool.c_str(), "regions[0].active: expected true or false"},
        BadCase{"listen", kListen.c_str(), "listen: invalid address \"localhost\""},
        BadCase{"tls_pair", kTlsPair.c_str(), "probe.tls.keyFile: certFile and keyFile"},
        BadCase{"log_level", kLevel.c_str(), "logLevel: must be one of"},
        BadCase{"no_state", "regions: [{name: a, endpoint: 'http://x/h'}]\n",
                "state: set either file"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(Config, Dns1123) {
  EXPECT_TRUE(IsDns1123Label("us-east-1"));
  EXPECT_TRUE(IsDns1123Label("a"));
  EXPECT_TRUE(IsDns1123Label("0a"));
  EXPECT_FALSE(IsDns1123Label("-a"));
  EXPECT_FALSE(IsDns1123Label("a-"));
  EXPECT_FALSE(IsDns1123Label("a_b"));
  EXPECT_FALSE(IsDns1123Label("a.b"));
  EXPECT_FALSE(IsDns1123Label(""));
  EXPECT_FALSE(IsDns1123Label(std::string(64, 'a')));
  EXPECT_TRUE(IsDns1123Label(std::string(63, 'a')));
}

}  // namespace
}  // namespace aha::config

// Observer quorum: peers, quorum and observationsToken.
namespace aha::config {
namespace {

const std::string kThree =
    "  - {name: a, endpoint: 'http://10.0.0.1:1/h'}\n"
    "  - {name: b, endpoint: 'http://10.0.0.2:1/h'}\n"
    "  - {name: c, active: false, endpoint: 'http://10.0.0.3:1/h'}\n";
const std::string kPeers =
    "peers:\n"
    "  - {name: b, url: 'http://10.0.1.2:9090/v1/observations'}\n"
    "  - {name: c, url: 'https://ctl.c.example/v1/observations', tokenFile: /t/c,\n"
    "     tls: {caFile: /ca.pem, certFile: /c.pem, keyFile: /k.pem}}\n";

TEST(ConfigQuorum, PeersQuorumAndTokenLoadWithDefaults) {
  auto c = ParseControllerConfig(
      Base(kThree, kPeers + "quorum: {region: a}\nobservationsToken: /t/token\n"), "t");
  ASSERT_TRUE(c.ok()) << c.message();
  ASSERT_TRUE(c->QuorumEnabled());
  ASSERT_EQ(c->peers.size(), 2u);
  EXPECT_EQ(c->peers[0].name, "b");
  EXPECT_EQ(c->peers[0].url, "http://10.0.1.2:9090/v1/observations");
  EXPECT_EQ(c->peers[0].token_file, "");
  EXPECT_EQ(c->peers[1].token_file, "/t/c");
  EXPECT_EQ(c->peers[1].tls.ca_file, "/ca.pem");
  EXPECT_EQ(c->peers[1].tls.cert_file, "/c.pem");
  EXPECT_EQ(c->Observers(), 3);
  EXPECT_EQ(c->quorum.size, 2);  // majority of 3
  EXPECT_EQ(c->quorum.region, "a");
  EXPECT_DOUBLE_EQ(c->quorum.staleness_seconds, 5.0);     // 5 × intervalSeconds
  EXPECT_DOUBLE_EQ(c->quorum.peer_timeout_seconds, 0.5);  // probe.timeoutSeconds
  EXPECT_EQ(c->quorum.isolation, IsolationPolicy::kKeepServing);
  EXPECT_EQ(c->observations_token, "/t/token");
}

TEST(ConfigQuorum, ExplicitSettings) {
  auto c = ParseControllerConfig(
      Base(kThree, kPeers + "quorum: {region: a, size: 3, stalenessSeconds: 9, peerTimeoutSeconds: "
                            "0.3, isolation: stop-serving}\nobservationsToken: /t/token\n"),
      "t");
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->quorum.size, 3);
  EXPECT_DOUBLE_EQ(c->quorum.staleness_seconds, 9.0);
  EXPECT_DOUBLE_EQ(c->quorum.peer_timeout_seconds, 0.3);
  EXPECT_EQ(c->quorum.isolation, IsolationPolicy::kStopServing);
  EXPECT_STREQ(IsolationPolicyName(c->quorum.isolation), "stop-serving");
}

TEST(ConfigQuorum, NoPeersMeansNoQuorum) {
  auto c = ParseControllerConfig(Base(kThree), "t");
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_FALSE(c->QuorumEnabled());
  EXPECT_EQ(c->Observers(), 1);
  EXPECT_TRUE(c->observations_token.empty());
}

struct QuorumBad {
  const char* name;
  std::string extra;
  const char* expected;
};

void PrintTo(const QuorumBad& b, std::ostream* os) {
  *os << b.name;
}

class ConfigQuorumBad : public ::testing::TestWithParam<QuorumBad> {};

TEST_P(ConfigQuorumBad, FailsNamingTheKey) {
  auto c = ParseControllerConfig(Base(kThree, GetParam().extra), "bad.yaml");
  ASSERT_FALSE(c.ok()) << "should have been rejected";
  EXPECT_NE(c.message().find(GetParam().expected), std::string::npos)
      << "message was: " << c.message();
}

const std::string kTok = "observationsToken: /t/token\n";
const std::string kPeerB = "peers: [{name: b, url: 'http://10.0.1.2:9090/v1/observations'}]\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigQuorumBad,
    ::testing::Values(
        QuorumBad{"peers_not_list", "peers: {name: b}\n" + kTok, "peers: expected a list"},
        QuorumBad{"peer_unknown_region",
                  "peers: [{name: z, url: 'http://x/o'}]\nquorum: {region: a}\n" + kTok,
                  "peers[0].name: unknown region \"z\""},
        QuorumBad{"peer_duplicate",
                  "peers: [{name: b, url: 'http://x/o'}, {name: b, url: 'http://y/o'}]\n"
                  "quorum: {region: a}\n" +
                      kTok,
                  "peers[1].name: duplicate peer \"b\""},
        QuorumBad{"peer_no_url", "peers: [{name: b}]\nquorum: {region: a}\n" + kTok,
                  "peers[0].url: required"},
        QuorumBad{"peer_bad_url", "peers: [{name: b, url: 'not a url'}]\n" + kTok,
                  "peers[0].url: invalid URL"},
        QuorumBad{"peer_bad_scheme", "peers: [{name: b, url: 'ftp://x/o'}]\n" + kTok,
                  "peers[0].url: unsupported scheme \"ftp\""},
        QuorumBad{"peer_unknown_key", "peers: [{name: b, url: 'http://x/o', tokn: x}]\n" + kTok,
                  "peers[0].tokn: unknown key"},
        QuorumBad{"peer_tls_pair",
                  "peers: [{name: b, url: 'https://x/o', tls: {keyFile: /k}}]\n" + kTok,
                  "peers[0].tls.certFile: certFile and keyFile"},
        QuorumBad{"peer_is_self", kPeerB + "quorum: {region: b}\n" + kTok,
                  "peers[0].name: \"b\" is this controller's own region"},
        QuorumBad{"no_region", kPeerB + kTok, "quorum.region: required with peers"},
        QuorumBad{"unknown_region", kPeerB + "quorum: {region: zz}\n" + kTok,
                  "quorum.region: unknown region \"zz\""},
        QuorumBad{"size_minority", kPeerB + "quorum: {region: a, size: 1}\n" + kTok,
                  "quorum.size: must be a majority of the 2 observers (between 2 and 2)"},
        QuorumBad{"size_too_big", kPeerB + "quorum: {region: a, size: 3}\n" + kTok,
                  "quorum.size: must be a majority"},
        QuorumBad{"staleness", kPeerB + "quorum: {region: a, stalenessSeconds: 0.5}\n" + kTok,
                  "quorum.stalenessSeconds: must be between probe.intervalSeconds"},
        QuorumBad{"peer_timeout", kPeerB + "quorum: {region: a, peerTimeoutSeconds: 1}\n" + kTok,
                  "quorum.peerTimeoutSeconds: must be greater than 0 and less than"},
        QuorumBad{"isolation", kPeerB + "quorum: {region: a, isolation: shutdown}\n" + kTok,
                  "quorum.isolation: must be keep-serving or stop-serving; got \"shutdown\""},
        QuorumBad{"unknown_quorum_key", kPeerB + "quorum: {region: a, sise: 2}\n" + kTok,
                  "quorum.sise: unknown key"},
        QuorumBad{"no_token", kPeerB + "quorum: {region: a}\n",
                  "observationsToken: required with peers"}),
    [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace aha::config
