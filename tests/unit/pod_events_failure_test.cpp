// What the sidecar's Pod Events (replication/pod_events.h) do when the API server does not take
// them, with kube-apiserver's real failure modes from the Kubernetes API test server: 403 Forbidden
// (RBAC without `create` on events, the real metav1.Status), 5xx, a server that never answers, and
// a create that was stored but whose answer was lost (the retry meets 409 AlreadyExists).
// Every wait here is for an outcome (a result or a drop), never for a duration.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "replication/pod_events.h"
#include "support/kube_server.h"

namespace aha::replication {
namespace {

using nlohmann::json;
using testing::KubeTestServer;

KubeTestServer& Server() {
  // A service account whose Role lacks `create` on events (the chart's rule missing).
  static KubeTestServer s(R"({"tokens": {
    "no-events": {"user": "system:serviceaccount:agency:sidecar",
      "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"],
                 "namespaces": ["agency"]}]}}})",
                          {"--namespace", "agency"});
  return s;
}

kube::ObjectRef Pod(const std::string& name) {
  kube::ObjectRef p;
  p.api_version = "v1";
  p.kind = "Pod";
  p.ns = "agency";
  p.name = name;
  p.uid = "0f1e2d3c-aaaa-bbbb-cccc-" + std::to_string(name.size()) + "00000000000";
  return p;
}

// Collects what PodEvents reports (from its thread and from Emit's caller).
struct Outcomes {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Status> results;
  std::vector<std::string> dropped;

  std::function<void(const std::string&, const Status&)> OnResult() {
    return [this](const std::string&, const Status& s) {
      std::lock_guard l(mu);
      results.push_back(s);
      cv.notify_all();
    };
  }
  std::function<void(const std::string&)> OnDropped() {
    return [this](const std::string& r) {
      std::lock_guard l(mu);
      dropped.push_back(r);
      cv.notify_all();
    };
  }
  void WaitForTotal(size_t n) {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return results.size() + dropped.size() >= n; });
  }
  size_t Failed() {
    std::lock_guard l(mu);
    size_t n = 0;
    for (const auto& s : results)
      n += s.ok() ? 0 : 1;
    return n;
  }
};

// A pod name of its own per run (the server lives as long as the binary: --gtest_repeat).
std::string UniquePod(const std::string& prefix) {
  static int n = 0;
  return prefix + "-" + std::to_string(n++);
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

std::vector<json> EventsAbout(const std::string& pod) {
  std::vector<json> out;
  const json dump = Server().Admin("GET", "/objects");
  for (const auto& o : dump["items"]) {
    if (o.value("kind", "") == "Event" && o["involvedObject"].value("name", "") == pod) {
      out.push_back(o);
    }
  }
  return out;
}

TEST(PodEventsFailures, ForbiddenIsOneRequestOneWarningNamingTheEventAndTheMissingRule) {
  kube::Connection conn = Server().Connection();
  conn.token = "no-events";
  Outcomes out;
  const std::string pod = UniquePod("app-forbidden");
  Server().ClearRequests();
  ::testing::internal::CaptureStderr();
  {
    PodEvents ev(conn, Pod(pod), "w1", out.OnResult(), out.OnDropped());
    ev.Emit("Warning", "WriterFenced", "fenced: lineage us-east-1");
    out.WaitForTotal(1);
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(out.results.size(), 1u);
  const Status& s = out.results[0];
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_EQ(s.error().http_status, 403);
  // The real apiserver's text (responsewriters.forbiddenMessage, apierrors.NewForbidden).
  EXPECT_NE(s.message().find("events is forbidden: User \"system:serviceaccount:agency:sidecar\" "
                             "cannot create resource \"events\" in API group \"\" in the "
                             "namespace \"agency\""),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("{apiGroups: [\"\"], resources: [\"events\"], verbs: [\"create\"]}"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(Server().CountRequests("create"), 1) << "403 is not retried";
  EXPECT_EQ(Count(log, "cannot record event"), 1u) << log;
  const size_t line = log.find("cannot record event");
  ASSERT_NE(line, std::string::npos);
  const std::string warn = log.substr(line, log.find('\n', line) - line);
  EXPECT_NE(warn.find("\"reason\":\"WriterFenced\""), std::string::npos) << warn;
  EXPECT_NE(warn.find("forbidden"), std::string::npos) << warn;
  EXPECT_TRUE(out.dropped.empty());
  EXPECT_TRUE(EventsAbout(pod).empty());
}

TEST(PodEventsFailures, ServerErrorsAreTriedTwiceThenReportedOnce) {
  for (int status : {500, 503}) {
    SCOPED_TRACE(status);
    Server().Admin("POST", "/faults",
                   {{"match", {{"verb", "create"}, {"resource", "events"}}},
                    {"count", 0},
                    {"status", status}});
    Server().ClearRequests();
    Outcomes out;
    ::testing::internal::CaptureStderr();
    {
      PodEvents ev(Server().Connection(), Pod("app-5xx-0"), "w1", out.OnResult(), out.OnDropped());
      ev.Emit("Warning", "DivergentTailPreserved", "1 file set aside");
      out.WaitForTotal(1);
    }
    const std::string log = ::testing::internal::GetCapturedStderr();
    Server().Admin("DELETE", "/faults");
    ASSERT_EQ(out.results.size(), 1u);
    EXPECT_EQ(out.results[0].code(), Code::kUnavailable);
    EXPECT_EQ(out.results[0].error().http_status, status);
    EXPECT_NE(out.results[0].message().find("gave up after 2 attempts"), std::string::npos)
        << out.results[0].message();
    EXPECT_EQ(Server().CountRequests("create"), PodEvents::kAttempts);
    EXPECT_EQ(Count(log, "cannot record event"), 1u) << "one line per Event, not per attempt";
    EXPECT_NE(log.find("\"reason\":\"DivergentTailPreserved\""), std::string::npos) << log;
  }
}

TEST(PodEventsFailures, AnApiThatNeverAnswersNeitherBlocksEmitNorGrowsTheQueue) {
  Server().Admin("POST", "/pause", {{"mode", "hang"}});
  Outcomes out;
  const std::string pod = UniquePod("app-hang");
  ::testing::internal::CaptureStderr();
  {
    PodEvents ev(Server().Connection(), Pod(pod), "w1", out.OnResult(), out.OnDropped());
    for (int i = 0; i < 100; ++i)
      ev.Emit("Warning", "WriterFenced", "event " + std::to_string(i));
    size_t dropped_while_down;
    {
      std::lock_guard l(out.mu);
      dropped_while_down = out.dropped.size();
      EXPECT_TRUE(out.results.empty()) << "nothing was answered yet";
    }
    // 100 Events, at most 32 waiting and at most one being written: the rest were dropped, each
    // one counted, while Emit returned every time.
    EXPECT_GE(dropped_while_down, 100u - PodEvents::kQueueLimit - 1);
    EXPECT_LE(dropped_while_down, 100u - PodEvents::kQueueLimit);
    Server().Admin("POST", "/resume");
    out.WaitForTotal(100);
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.results.size() + out.dropped.size(), 100u);
  // The write in flight when the API came back may fail (its connection was cut; cut during the
  // TLS handshake it is an "SSL connect error", which the client does not retry); every other
  // Event that was not dropped is written.
  EXPECT_LE(out.Failed(), 1u);
  for (const auto& s : out.results) {
    if (!s.ok()) std::printf("the write in flight failed: %s\n", s.message().c_str());
  }
  EXPECT_EQ(EventsAbout(pod).size(), out.results.size() - out.Failed());
  EXPECT_EQ(out.results.size(), 100u - out.dropped.size());
  EXPECT_GE(EventsAbout(pod).size(), PodEvents::kQueueLimit - 1);
  EXPECT_EQ(Count(log, "event dropped"), 1u) << "one line for the outage's drops, not 67";
  EXPECT_LE(Count(log, "cannot record event"), 1u);
}

TEST(PodEventsFailures, ShutdownWhileTheApiIsDownWaitsForOneWriteAtMost) {
  Server().Admin("POST", "/pause", {{"mode", "hang"}});
  Outcomes out;
  ::testing::internal::CaptureStderr();
  {
    PodEvents ev(Server().Connection(), Pod("app-stop-0"), "w1", out.OnResult(), out.OnDropped());
    for (int i = 0; i < 5; ++i)
      ev.Emit("Warning", "WriterFenced", "event " + std::to_string(i));
  }  // the destructor: the first write times out (2 attempts), the other 4 are dropped
  const std::string log = ::testing::internal::GetCapturedStderr();
  Server().Admin("POST", "/resume");
  ASSERT_EQ(out.results.size(), 1u) << "one write waited out, not five";
  EXPECT_FALSE(out.results[0].ok());
  EXPECT_NE(out.results[0].message().find("gave up after 2 attempts"), std::string::npos)
      << out.results[0].message();
  EXPECT_EQ(out.dropped.size(), 4u);
  EXPECT_EQ(Count(log, "event dropped"), 1u) << log;
}

TEST(PodEventsFailures, ACreateStoredWhoseAnswerWasLostIsRecordedOnce) {
  // The API server stores the Event, then answers 503; the client's second attempt meets the
  // Event it created as 409 AlreadyExists.
  Server().Admin("POST", "/faults",
                 {{"match", {{"verb", "create"}, {"resource", "events"}}},
                  {"count", 1},
                  {"status", 503},
                  {"after", true}});
  Server().ClearRequests();
  Outcomes out;
  const std::string pod = UniquePod("app-lost-answer");
  {
    PodEvents ev(Server().Connection(), Pod(pod), "w1", out.OnResult(), out.OnDropped());
    ev.Emit("Warning", "WriterFenced", "fenced");
    out.WaitForTotal(1);
  }
  Server().Admin("DELETE", "/faults");
  ASSERT_EQ(out.results.size(), 1u);
  EXPECT_TRUE(out.results[0].ok()) << out.results[0].message();
  EXPECT_EQ(Server().CountRequests("create"), 2);
  auto evs = EventsAbout(pod);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]["reason"], "WriterFenced");
}

}  // namespace
}  // namespace aha::replication
