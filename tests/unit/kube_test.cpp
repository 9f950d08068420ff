// The Kubernetes client, ConfigMap store, ConfigMap watch source, Events and leader election,
// all against the Kubernetes API test server (tests/kube-apiserver, proven with kubectl).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "common/clock.h"
#include "kube/client.h"
#include "kube/events.h"
#include "kube/leader.h"
#include "state/configmap_store.h"
#include "state/source.h"
#include "state_store_conformance.h"
#include "support/kube_server.h"

namespace aha {
namespace {

using nlohmann::json;
using state::testing::StateStoreConformance;
using state::testing::StoreEnv;
using state::testing::StoreFactory;
using testing::KubeTestServer;
using namespace std::chrono_literals;

KubeTestServer& Server() {
  // One server for the whole binary, stopped at exit (a static's destructor), so no node process
  // outlives the tests.
  static KubeTestServer s(R"({"tokens": {
    "restricted": {"user": "system:serviceaccount:agency:gate",
      "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"],
                 "resourceNames": ["state"], "namespaces": ["agency"]}]}}})",
                          {"--namespace", "agency"});
  return s;
}

std::shared_ptr<kube::Client> NewClient(kube::Connection conn = Server().Connection(),
                                        const Clock& clock = SystemClock::instance()) {
  kube::RetryPolicy retry;
  retry.base = 20ms;
  retry.max = 200ms;
  return std::make_shared<kube::Client>(conn, retry, clock);
}

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> n{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

json ConfigMap(const std::string& name, json data) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "agency"}}},
          {"data", data}};
}

// ---- ConfigMap store: the same conformance suite as the file store ----

struct ConfigMapEnv : StoreEnv {
  std::string name = UniqueName("state");
  std::unique_ptr<state::StateStore> Client() override {
    return std::make_unique<state::ConfigMapStateStore>(NewClient(), "agency", name);
  }
};

INSTANTIATE_TEST_SUITE_P(ConfigMap, StateStoreConformance,
                         ::testing::Values(StoreFactory{
                             "configmap", [] { return std::make_unique<ConfigMapEnv>(); }}),
                         [](const auto& p) { return p.param.name; });

// ---- Client ----

TEST(KubeApi, CrudWithResourceVersions) {
  auto c = NewClient();
  const std::string name = UniqueName("cm");
  auto missing = c->Get(kube::kConfigMaps, "agency", name);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_NE(missing.message().find("not found"), std::string::npos);
  auto created = c->Create(kube::kConfigMaps, "agency", ConfigMap(name, {{"a", "1"}}));
  ASSERT_TRUE(created.ok()) << created.message();
  auto again = c->Create(kube::kConfigMaps, "agency", ConfigMap(name, {{"a", "1"}}));
  EXPECT_EQ(again.code(), Code::kConflict);
  json stale = *created;
  json fresh = *created;
  fresh["data"]["a"] = "2";
  ASSERT_TRUE(c->Update(kube::kConfigMaps, "agency", name, fresh).ok());
  stale["data"]["a"] = "3";
  auto conflict = c->Update(kube::kConfigMaps, "agency", name, stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.code(), Code::kConflict) << "update with an old resourceVersion conflicts";
  auto patched = c->Patch(kube::kConfigMaps, "agency", name, kube::PatchType::kMerge,
                          {{"data", {{"b", "x"}, {"a", nullptr}}}});
  ASSERT_TRUE(patched.ok()) << patched.message();
  EXPECT_EQ((*patched)["data"], json({{"b", "x"}}));
  auto list = c->List(kube::kConfigMaps, "agency", "metadata.name=" + name);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["items"].size(), 1u);
  EXPECT_TRUE(c->Delete(kube::kConfigMaps, "agency", name).ok());
  EXPECT_EQ(c->Get(kube::kConfigMaps, "agency", name).code(), Code::kNotFound);
}

TEST(KubeApi, ServerErrorsAreRetriedWithBackoff) {
  // Retry waits run on the client's clock: an auto-advancing FakeClock sleeps no real time and
  // moves by exactly what the client waited.
  FakeClock clock;
  clock.set_auto_advance(true);
  auto c = NewClient(Server().Connection(), clock);
  const std::string name = UniqueName("cm");
  ASSERT_TRUE(c->Create(kube::kConfigMaps, "agency", ConfigMap(name, {})).ok());
  Server().Admin("POST", "/faults",
                 {{"match", {{"verb", "get"}, {"name", name}}}, {"count", 3}, {"status", 503}});
  const auto before = c->requests();
  auto waited_from = clock.mono();
  auto got = c->Get(kube::kConfigMaps, "agency", name);
  EXPECT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(c->requests() - before, 4u) << "3 failures, then success";
  EXPECT_LE(clock.mono() - waited_from, 40ms + 80ms + 160ms) << "full jitter under base * 2^n";
  Server().Admin("POST", "/faults",
                 {{"match", {{"verb", "get"}, {"name", name}}},
                  {"count", 1},
                  {"status", 429},
                  {"retryAfterSeconds", 1}});
  waited_from = clock.mono();
  EXPECT_TRUE(c->Get(kube::kConfigMaps, "agency", name).ok());
  EXPECT_EQ(clock.mono() - waited_from, 200ms) << "Retry-After (1 s) honoured, capped by max";
  Server().Admin("POST", "/faults",
                 {{"match", {{"verb", "get"}, {"name", name}}}, {"count", 10}, {"status", 500}});
  auto failed = c->Get(kube::kConfigMaps, "agency", name);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.code(), Code::kUnavailable);
  EXPECT_EQ(failed.error().http_status, 500);
  EXPECT_NE(failed.message().find("gave up after 5 attempts"), std::string::npos);
  Server().Admin("DELETE", "/faults");
}

// An API server restarting under the client: new connections are accepted and closed before the
// TLS handshake completes (CURLE_SSL_CONNECT_ERROR). Retried like any transport failure.
TEST(KubeApi, AHandshakeCutWhileTheServerRestartsIsRetried) {
  ASSERT_EQ(Server().url().rfind("https://", 0), 0u) << "the test server speaks TLS";
  const std::string name = UniqueName("cm");
  ASSERT_TRUE(NewClient()->Create(kube::kConfigMaps, "agency", ConfigMap(name, {})).ok());
  auto c = NewClient();  // no connection yet: its first request opens one
  Server().Admin("POST", "/connections/cut", {{"count", 2}});
  auto got = c->Get(kube::kConfigMaps, "agency", name);
  EXPECT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(c->requests(), 3u) << "2 cut handshakes, then served";
}

TEST(KubeApi, AuthErrorsExplainThemselves) {
  kube::Connection bad = Server().Connection();
  bad.token = "wrong-token";
  auto r = NewClient(bad)->Get(kube::kConfigMaps, "agency", "state");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Code::kPermissionDenied);
  EXPECT_EQ(r.error().http_status, 401);
  EXPECT_NE(r.message().find("unauthorized"), std::string::npos);
  EXPECT_EQ(r.message().find("wrong-token"), std::string::npos) << "token leaked: " << r.message();

  kube::Connection restricted = Server().Connection();
  restricted.token = "restricted";
  auto w = NewClient(restricted)
               ->Patch(kube::kConfigMaps, "agency", "state", kube::PatchType::kMerge,
                       {{"data", {{"a", "b"}}}});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.code(), Code::kPermissionDenied);
  EXPECT_EQ(w.error().http_status, 403);
  EXPECT_NE(w.message().find("cannot patch resource \"configmaps\""), std::string::npos)
      << w.message();
  EXPECT_NE(w.message().find("verbs: [\"patch\"], resourceNames: [\"state\"]"), std::string::npos)
      << w.message();
}

TEST(KubeApi, RotatedTokenFileIsPickedUp) {
  testing::TempDir dir;
  const std::string token_file = dir.path() + "/token";
  std::ofstream(token_file) << "rotating-1\n";
  Server().Admin(
      "POST", "/tokens",
      {{"token", "rotating-1"},
       {"user", "u1"},
       {"rules",
        json::array({{{"apiGroups", {""}}, {"resources", {"configmaps"}}, {"verbs", {"*"}}}})}});
  kube::Connection conn = Server().Connection();
  conn.token.clear();
  conn.token_file = token_file;
  auto c = NewClient(conn);
  ASSERT_TRUE(c->List(kube::kConfigMaps, "agency").ok());
  // Rotation: the old token is revoked, the file replaced (kubelet writes a new file).
  Server().Admin(
      "POST", "/tokens",
      {{"token", "rotating-2"},
       {"user", "u1"},
       {"rules",
        json::array({{{"apiGroups", {""}}, {"resources", {"configmaps"}}, {"verbs", {"*"}}}})}});
  Server().Admin("DELETE", "/tokens/rotating-1");
  std::this_thread::sleep_for(20ms);  // a distinct mtime
  std::ofstream(token_file + ".new") << "rotating-2\n";
  std::rename((token_file + ".new").c_str(), token_file.c_str());
  auto after = c->List(kube::kConfigMaps, "agency");
  EXPECT_TRUE(after.ok()) << after.message();
}

TEST(KubeApi, WatchDeliversEventsAndReportsExpiry) {
  auto c = NewClient();
  const std::string name = UniqueName("cm");
  auto created = c->Create(kube::kConfigMaps, "agency", ConfigMap(name, {{"v", "0"}}));
  ASSERT_TRUE(created.ok());
  const std::string rv = (*created)["metadata"]["resourceVersion"];
  std::thread writer([&] {
    for (int i = 1; i <= 3; ++i) {
      std::this_thread::sleep_for(50ms);
      ASSERT_TRUE(c->Patch(kube::kConfigMaps, "agency", name, kube::PatchType::kMerge,
                           {{"data", {{"v", std::to_string(i)}}}})
                      .ok());
    }
  });
  std::vector<std::string> seen;
  kube::WatchOptions opts;
  opts.field_selector = "metadata.name=" + name;
  opts.resource_version = rv;
  Status s = c->Watch(
      kube::kConfigMaps, "agency", opts,
      [&](const kube::WatchEvent& ev) {
        if (ev.type == "MODIFIED") seen.push_back(ev.object["data"]["v"]);
        return seen.size() < 3;
      },
      nullptr);
  writer.join();
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "3"}));

  Server().Admin("POST", "/compact");
  Status expired = c->Watch(
      kube::kConfigMaps, "agency", opts, [](const kube::WatchEvent&) { return true; }, nullptr);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.code(), Code::kGone);
}

TEST(KubeApi, WatchStopsPromptly) {
  auto c = NewClient();
  Stopper stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.Stop();
  });
  auto t0 = std::chrono::steady_clock::now();
  kube::WatchOptions opts;
  opts.field_selector = "metadata.name=nothing-here";
  Status s = c->Watch(
      kube::kConfigMaps, "agency", opts, [](const kube::WatchEvent&) { return true; }, &stop);
  stopper.join();
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

// ---- HTTP/2 and HTTP/1.1 ----
//
// kube-apiserver offers HTTP/2 by ALPN and libcurl with nghttp2 (Debian's) negotiates it, so in a
// cluster the client speaks h2; a proxy may offer HTTP/1.1 only. Both paths, against a test server
// that offers h2 (its default) or only http/1.1 (--http1-only).

struct Protocol {
  std::string name;
  std::vector<std::string> args;
  std::string http_version;  // as the server's request log records it
};

void PrintTo(const Protocol& p, std::ostream* os) {
  *os << p.name;
}

class KubeProtocols : public ::testing::TestWithParam<Protocol> {};

TEST_P(KubeProtocols, CrudWatchRetriesAndResets) {
  std::vector<std::string> args = {"--namespace", "agency"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  KubeTestServer server("", args);
  kube::RetryPolicy retry;
  retry.base = 20ms;
  retry.max = 300ms;
  // Retry waits run on an auto-advancing FakeClock: no real waiting, and mono() moves by exactly
  // what the client waited.
  FakeClock clock;
  clock.set_auto_advance(true);
  auto c = std::make_shared<kube::Client>(server.Connection(), retry, clock);

  // CRUD with resourceVersions.
  const std::string name = "proto-cm";
  auto created = c->Create(kube::kConfigMaps, "agency", ConfigMap(name, {{"v", "0"}}));
  ASSERT_TRUE(created.ok()) << created.message();
  auto patched = c->Patch(kube::kConfigMaps, "agency", name, kube::PatchType::kMerge,
                          {{"data", {{"v", "1"}}}});
  ASSERT_TRUE(patched.ok()) << patched.message();
  json stale = *created;
  stale["data"]["v"] = "stale";
  EXPECT_EQ(c->Update(kube::kConfigMaps, "agency", name, stale).code(), Code::kConflict);
  auto list = c->List(kube::kConfigMaps, "agency", "metadata.name=" + name);
  ASSERT_TRUE(list.ok()) << list.message();
  ASSERT_EQ((*list)["items"].size(), 1u);
  EXPECT_EQ((*list)["items"][0]["data"]["v"], "1");

  // 429 with Retry-After (a lower-case header name in HTTP/2) is honoured.
  server.Admin("POST", "/faults",
               {{"match", {{"verb", "get"}, {"name", name}}},
                {"count", 1},
                {"status", 429},
                {"retryAfterSeconds", 1}});
  const auto t0 = clock.mono();
  EXPECT_TRUE(c->Get(kube::kConfigMaps, "agency", name).ok());
  EXPECT_EQ(clock.mono() - t0, 300ms) << "Retry-After (1 s) honoured, capped by max";

  // The connection dropped without an answer (twice): retried, then served.
  server.Admin("POST", "/faults",
               {{"match", {{"verb", "get"}, {"name", name}}}, {"count", 2}, {"reset", true}});
  auto before = c->requests();
  auto got = c->Get(kube::kConfigMaps, "agency", name);
  EXPECT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(c->requests() - before, 3u);
  // The stream reset (HTTP/2 RST_STREAM; HTTP/1.1 has only the connection): retried too.
  server.Admin("POST", "/faults",
               {{"match", {{"verb", "get"}, {"name", name}}}, {"count", 2}, {"reset", "stream"}});
  before = c->requests();
  got = c->Get(kube::kConfigMaps, "agency", name);
  EXPECT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(c->requests() - before, 3u);

  // A watch streams events...
  const std::string rv = (*patched)["metadata"]["resourceVersion"];
  std::thread writer([&] {
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(c->Patch(kube::kConfigMaps, "agency", name, kube::PatchType::kMerge,
                         {{"data", {{"v", "2"}}}})
                    .ok());
  });
  kube::WatchOptions opts;
  opts.field_selector = "metadata.name=" + name;
  opts.resource_version = rv;
  std::string seen;
  Status w = c->Watch(
      kube::kConfigMaps, "agency", opts,
      [&](const kube::WatchEvent& ev) {
        if (ev.type == "MODIFIED") seen = ev.object["data"]["v"];
        return seen.empty();
      },
      nullptr);
  writer.join();
  EXPECT_TRUE(w.ok()) << w.message();
  EXPECT_EQ(seen, "2");
  // ...and a stream cut mid-event is an error, not a clean end.
  Status cut_status;
  std::thread watcher([&] {
    cut_status = c->Watch(
        kube::kConfigMaps, "agency", opts, [](const kube::WatchEvent&) { return true; }, nullptr);
  });
  for (int i = 0; i < 200 && server.Admin("GET", "/watches").value("open", 0) == 0; ++i)
    std::this_thread::sleep_for(10ms);
  server.Admin("POST", "/watch/cut");
  watcher.join();
  EXPECT_FALSE(cut_status.ok());

  // Every request went over the protocol under test.
  auto log = server.Admin("GET", "/requests");
  ASSERT_GT(log["requests"].size(), 8u);
  for (const auto& r : log["requests"]) {
    EXPECT_EQ(r.value("httpVersion", ""), GetParam().http_version)
        << r.value("method", "") << " " << r.value("path", "");
  }
}

INSTANTIATE_TEST_SUITE_P(Http, KubeProtocols,
                         ::testing::Values(Protocol{"h2", {}, "2.0"},
                                           Protocol{"http1", {"--http1-only"}, "1.1"}),
                         [](const auto& p) { return p.param.name; });

// ---- ConfigMap store specifics ----

TEST(ConfigMapStore, KeepsOtherKeysAndLabelsAndSurvivesConflictStorms) {
  auto c = NewClient();
  const std::string name = UniqueName("state");
  json cm = ConfigMap(name, {{"simulatedOutages", "x"}});
  cm["metadata"]["labels"] = {{"team", "sre"}};
  ASSERT_TRUE(c->Create(kube::kConfigMaps, "agency", cm).ok());
  state::ConfigMapStateStore store(c, "agency", name);
  Server().Admin("POST", "/faults",
                 {{"match", {{"verb", "patch"}, {"name", name}}}, {"count", 3}, {"status", 409}});
  auto n = store.Write({{"failedRegions", "a\n"}});
  ASSERT_TRUE(n.ok()) << n.message();
  EXPECT_EQ(store.conflicts(), 3);
  auto got = c->Get(kube::kConfigMaps, "agency", name);
  EXPECT_EQ((*got)["metadata"]["labels"]["team"], "sre");
  EXPECT_EQ((*got)["data"]["simulatedOutages"], "x");
  EXPECT_EQ((*got)["data"]["failedRegions"], "a\n");
  // Nothing changes: a read, no write.
  Server().ClearRequests();
  ASSERT_EQ(*store.Write({{"failedRegions", "a\n"}}), 0);
  EXPECT_EQ(Server().CountRequests("update") + Server().CountRequests("patch"), 0);
  EXPECT_EQ(Server().CountRequests("get"), 1);
}

TEST(ConfigMapStore, ApiErrorsAreErrorsNotEmptyState) {
  kube::Connection restricted = Server().Connection();
  restricted.token = "restricted";
  state::ConfigMapStateStore store(NewClient(restricted), "agency", "other");
  auto r = store.Read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Code::kPermissionDenied);
  EXPECT_EQ(r.error().http_status, 403);
}

// ---- Watch source ----

TEST(ConfigMapSource, FollowsChangesThroughCutsCompactionAndOutages) {
  auto c = NewClient();
  const std::string name = UniqueName("state");
  state::ConfigMapSource src(NewClient(), "agency", name);
  Stopper stop;
  std::thread t([&] { src.Run(stop); });
  auto deadline = [] { return std::chrono::steady_clock::now() + 5s; };
  auto snap = src.WaitNewer(0, deadline());
  ASSERT_TRUE(snap.synced);
  EXPECT_TRUE(snap.kv.empty()) << "missing ConfigMap = no keys";

  ASSERT_TRUE(
      c->Create(kube::kConfigMaps, "agency", ConfigMap(name, {{"servingRegions", "a\n"}})).ok());
  snap = src.WaitNewer(snap.version, deadline());
  EXPECT_EQ(snap.kv["servingRegions"], "a\n");

  Server().Admin("POST", "/watch/cut");  // the stream dies mid-event: resume
  ASSERT_TRUE(c->Patch(kube::kConfigMaps, "agency", name, kube::PatchType::kMerge,
                       {{"data", {{"servingRegions", "b\n"}}}})
                  .ok());
  snap = src.WaitNewer(snap.version, deadline());
  EXPECT_EQ(snap.kv["servingRegions"], "b\n");

  Server().Admin("POST", "/compact");
  Server().Admin("POST", "/watch/cut");  // resume from a compacted rv: 410, relist
  ASSERT_TRUE(c->Patch(kube::kConfigMaps, "agency", name, kube::PatchType::kMerge,
                       {{"data", {{"servingRegions", "c\n"}}}})
                  .ok());
  snap = src.WaitNewer(snap.version, deadline());
  EXPECT_EQ(snap.kv["servingRegions"], "c\n");

  // API unreachable: the last state stays (fail-static) and the error is reported.
  Server().Admin("POST", "/pause");
  for (int i = 0; i < 100 && src.Get().error.empty(); ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(src.Get().error.empty());
  EXPECT_EQ(src.Get().kv["servingRegions"], "c\n");
  Server().Admin("POST", "/resume");
  ASSERT_TRUE(c->Patch(kube::kConfigMaps, "agency", name, kube::PatchType::kMerge,
                       {{"data", {{"servingRegions", "d\n"}}}})
                  .ok());
  snap = src.WaitNewer(snap.version, std::chrono::steady_clock::now() + 15s);
  EXPECT_EQ(snap.kv["servingRegions"], "d\n");
  EXPECT_GE(src.restarts(), 2u);
  stop.Stop();
  t.join();
}

// ---- Events ----

TEST(KubeEvents, RecordedOnTheConfigMap) {
  auto c = NewClient();
  const std::string name = UniqueName("state");
  kube::EventRecorder rec(c, "agency-ha-controller", "replica-1");
  ASSERT_TRUE(rec.Record({"v1", "ConfigMap", "agency", name, ""}, "Warning", "RegionFailed",
                         "region us-east-1: 3 consecutive failed probes",
                         SystemClock::instance().wall())
                  .ok());
  auto list = c->List(kube::kEvents, "agency", "involvedObject.name=" + name);
  ASSERT_TRUE(list.ok()) << list.message();
  ASSERT_EQ((*list)["items"].size(), 1u);
  EXPECT_EQ((*list)["items"][0]["reason"], "RegionFailed");
  EXPECT_EQ((*list)["items"][0]["type"], "Warning");
}

// kubectl describe finds an object's Events by name, namespace, kind and uid (describe.go,
// searchEvents); the recorder must fill the uid (and resourceVersion) from the live object.
TEST(KubeEvents, CarryTheObjectsUidSoKubectlDescribeFindsThem) {
  auto c = NewClient();
  const std::string name = UniqueName("state");
  auto cm = c->Create(kube::kConfigMaps, "agency", ConfigMap(name, {{"k", "v"}}));
  ASSERT_TRUE(cm.ok()) << cm.message();
  const std::string uid = (*cm)["metadata"]["uid"];
  kube::EventRecorder rec(c, "agency-ha-controller", "replica-1");
  ASSERT_TRUE(rec.RecordAbout(kube::kConfigMaps, "agency", name, "Warning", "RegionFailed",
                              "region us-east-1: 3 consecutive failed probes",
                              SystemClock::instance().wall())
                  .ok());
  // The exact selector kubectl describe sends.
  auto list = c->List(kube::kEvents, "agency",
                      "involvedObject.name=" + name +
                          ",involvedObject.namespace=agency,involvedObject.kind=ConfigMap,"
                          "involvedObject.uid=" +
                          uid);
  ASSERT_TRUE(list.ok()) << list.message();
  ASSERT_EQ((*list)["items"].size(), 1u);
  const json& io = (*list)["items"][0]["involvedObject"];
  EXPECT_EQ(io["apiVersion"], "v1");
  EXPECT_EQ(io["kind"], "ConfigMap");
  EXPECT_EQ(io["uid"], uid);
  EXPECT_EQ(io["resourceVersion"], (*cm)["metadata"]["resourceVersion"]);

  // The object cannot be read: the Event is still recorded (name only) and the error says why.
  const std::string gone = UniqueName("gone");
  Status s = rec.RecordAbout(kube::kConfigMaps, "agency", gone, "Normal", "RegionRecovered", "m",
                             SystemClock::instance().wall());
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("without the object's uid"), std::string::npos) << s.message();
  auto bare = c->List(kube::kEvents, "agency", "involvedObject.name=" + gone);
  ASSERT_TRUE(bare.ok());
  ASSERT_EQ((*bare)["items"].size(), 1u);
  EXPECT_FALSE((*bare)["items"][0]["involvedObject"].contains("uid"));
}

// A real API server parses MicroTime with RFC3339Micro: exactly six fractional digits, 'Z'.
TEST(KubeTime, MicroTimeHasExactlySixFractionalDigits) {
  using std::chrono::microseconds;
  const WallTime t0{std::chrono::seconds(1714557600)};  // 2024-05-01T10:00:00Z
  EXPECT_EQ(kube::FormatMicroTime(t0), "2024-05-01T10:00:00.000000Z");
  EXPECT_EQ(kube::FormatMicroTime(t0 + microseconds(5)), "2024-05-01T10:00:00.000005Z");
  EXPECT_EQ(kube::FormatMicroTime(t0 + microseconds(123456) + std::chrono::nanoseconds(789)),
            "2024-05-01T10:00:00.123456Z");
  EXPECT_EQ(kube::FormatKubeTime(t0 + microseconds(999999)), "2024-05-01T10:00:00Z");
  // And the (strict) test server takes what the elector writes.
  auto c = NewClient();
  const std::string lease = UniqueName("lease");
  json obj = {{"apiVersion", "coordination.k8s.io/v1"},
              {"kind", "Lease"},
              {"metadata", {{"name", lease}, {"namespace", "agency"}}},
              {"spec",
               {{"holderIdentity", "x"},
                {"renewTime", kube::FormatMicroTime(SystemClock::instance().wall())}}}};
  EXPECT_TRUE(c->Create(kube::kLeases, "agency", obj).ok());
  obj["metadata"]["name"] = lease + "-ms";
  obj["spec"]["renewTime"] = "2024-05-01T10:00:00.123Z";  // what a millisecond formatter would send
  auto rejected = c->Create(kube::kLeases, "agency", obj);
  EXPECT_EQ(rejected.code(), Code::kInvalid);
  EXPECT_NE(rejected.message().find("cannot parse \".123Z\" as \".000000\""), std::string::npos)
      << rejected.message();
}

// ---- Leader election ----

kube::LeaderConfig FastLease(const std::string& name, const std::string& id) {
  kube::LeaderConfig lc;
  lc.ns = "agency";
  lc.name = name;
  lc.identity = id;
  lc.lease_duration = 2000ms;
  lc.renew_deadline = 1000ms;
  lc.retry_period = 100ms;
  return lc;
}

TEST(LeaderElection, OneLeaderTakeoverAfterExpiryAndImmediateOnRelease) {
  const std::string lease = UniqueName("lease");
  kube::LeaderElector a(NewClient(), FastLease(lease, "a"), SystemClock::instance());
  kube::LeaderElector b(NewClient(), FastLease(lease, "b"), SystemClock::instance());
  EXPECT_TRUE(a.TryAcquireOrRenew());
  EXPECT_FALSE(b.TryAcquireOrRenew());
  EXPECT_TRUE(a.IsLeader());
  EXPECT_FALSE(b.IsLeader());
  EXPECT_EQ(b.Holder(), "a");

  // a dies without releasing: b takes over only after the lease expires.
  Stopper stop_b;
  std::thread tb([&] { b.Run(stop_b); });
  auto t0 = std::chrono::steady_clock::now();
  while (!b.IsLeader() && std::chrono::steady_clock::now() - t0 < 5s)
    std::this_thread::sleep_for(10ms);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(b.IsLeader());
  EXPECT_GE(took, 1800ms) << "not before the 2 s lease expired";
  EXPECT_LE(took, 3500ms) << "within lease duration + retry period (+ slack)";
  // a's term ended without renewals: it no longer believes it leads.
  EXPECT_FALSE(a.IsLeader());
  EXPECT_FALSE(a.TryAcquireOrRenew());

  // b releases: a takes over at once.
  stop_b.Stop();
  tb.join();
  ASSERT_TRUE(b.Release().ok());
  EXPECT_FALSE(b.IsLeader());
  EXPECT_TRUE(a.TryAcquireOrRenew());
  auto l = NewClient()->Get(kube::kLeases, "agency", lease);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)["spec"]["holderIdentity"], "a");
  EXPECT_EQ((*l)["spec"]["leaseTransitions"], 2)
      << "a→b (expiry) and b→(released)→a: both are transitions, as client-go counts them";
}

TEST(LeaderElection, LeaderThatCannotRenewStopsBeforeTheLeaseExpires) {
  const std::string lease = UniqueName("lease");
  kube::LeaderElector a(NewClient(), FastLease(lease, "a"), SystemClock::instance());
  ASSERT_TRUE(a.TryAcquireOrRenew());
  Server().Admin("POST", "/faults", {{"match", {{"name", lease}}}, {"count", 0}, {"status", 503}});
  Stopper stop;
  std::thread t([&] { a.Run(stop); });
  auto t0 = std::chrono::steady_clock::now();
  while (a.IsLeader() && std::chrono::steady_clock::now() - t0 < 5s)
    std::this_thread::sleep_for(10ms);
  auto lost = std::chrono::steady_clock::now() - t0;
  stop.Stop();
  t.join();
  Server().Admin("DELETE", "/faults");
  EXPECT_FALSE(a.IsLeader());
  EXPECT_LT(lost, 2000ms) << "stopped acting before the 2 s lease could expire";
}

}  // namespace
}  // namespace aha
