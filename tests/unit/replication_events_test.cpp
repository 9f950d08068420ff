// handoff.events (Kubernetes Events about the sidecar's Pod, issue 12): strict config validation
// and how the Pod reference is resolved from the config and the downward-API environment.
#include <gtest/gtest.h>

#include <map>

#include "config/replication_config.h"
#include "replication/pod_events.h"

namespace aha::replication {
namespace {

using config::ParseReplicationConfig;
using config::SidecarEventsConfig;

const std::string kBase =
    "source: /data\nregion: us-east-1\nremotes: [{url: 'file:///r'}]\nhandoff:\n";
const std::string kCm = "  state: {configMap: {namespace: agency, name: st}}\n";

TEST(SidecarEventsConfig, DefaultsOnWithConfigMapAndReadsPodFields) {
  auto c = ParseReplicationConfig(kBase + kCm, "t");
  ASSERT_TRUE(c) << c.message();
  EXPECT_TRUE(c->handoff.events.enabled);
  EXPECT_TRUE(c->handoff.events.pod_name.empty());
  c = ParseReplicationConfig(kBase + kCm +
                                 "  events: {podNamespace: agency, podName: app-0, podUid: "
                                 "0f1e2d3c-aaaa-bbbb-cccc-123456789abc}\n",
                             "t");
  ASSERT_TRUE(c) << c.message();
  EXPECT_EQ(c->handoff.events.pod_namespace, "agency");
  EXPECT_EQ(c->handoff.events.pod_name, "app-0");
  EXPECT_EQ(c->handoff.events.pod_uid, "0f1e2d3c-aaaa-bbbb-cccc-123456789abc");
}

TEST(SidecarEventsConfig, StrictWithKeyPaths) {
  auto expect_err = [](const std::string& yaml, const std::string& key) {
    auto c = ParseReplicationConfig(yaml, "t");
    ASSERT_FALSE(c) << yaml;
    EXPECT_NE(c.message().find(key), std::string::npos) << c.message();
  };
  expect_err(kBase + kCm + "  events: {podname: x}\n", "handoff.events.podname");
  expect_err(kBase + kCm + "  events: {podName: 'Not_A_Pod'}\n", "handoff.events.podName");
  expect_err(kBase + kCm + "  events: {podNamespace: 'a.b'}\n", "handoff.events.podNamespace");
  expect_err(kBase + kCm + "  events: {podUid: 'x y'}\n", "handoff.events.podUid");
  expect_err(kBase + kCm + "  events: {enabled: maybe}\n", "handoff.events.enabled");
  // A file state source has no Kubernetes connection: Events cannot be asked for.
  expect_err(kBase + "  state: {file: /s}\n  events: {podName: a}\n", "handoff.events.enabled");
  auto off =
      ParseReplicationConfig(kBase + "  state: {file: /s}\n  events: {enabled: false}\n", "t");
  ASSERT_TRUE(off) << off.message();
  EXPECT_FALSE(off->handoff.events.enabled);
}

TEST(SidecarEventsConfig, PodRefFromConfigThenEnvThenConnection) {
  std::map<std::string, std::string> env = {
      {"POD_NAME", "app-1"}, {"POD_NAMESPACE", "prod"}, {"POD_UID", "u-1"}};
  auto getenv = [&](const char* k) {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  SidecarEventsConfig cfg;
  auto r = ResolvePodRef(cfg, getenv, "fallback");
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->kind, "Pod");
  EXPECT_EQ(r->api_version, "v1");
  EXPECT_EQ(r->ns, "prod");
  EXPECT_EQ(r->name, "app-1");
  EXPECT_EQ(r->uid, "u-1");
  cfg.pod_name = "explicit";
  cfg.pod_uid = "u-2";
  env.erase("POD_NAMESPACE");
  r = ResolvePodRef(cfg, getenv, "fallback");
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->name, "explicit");
  EXPECT_EQ(r->uid, "u-2");
  EXPECT_EQ(r->ns, "fallback");
  env.clear();
  auto none = ResolvePodRef(SidecarEventsConfig{}, getenv, "ns");
  ASSERT_FALSE(none);
  EXPECT_NE(none.message().find("POD_NAME"), std::string::npos) << none.message();
}

}  // namespace
}  // namespace aha::replication
