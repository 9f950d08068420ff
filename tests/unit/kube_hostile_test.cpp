// Wrong-typed answers from a Kubernetes API server (a compromised or broken one, or a proxy in
// between): every reader type-checks through common/json_get.h and reports an error naming the
// field; none throws (before, a Lease with a numeric holderIdentity or a watch event with a
// numeric type threw nlohmann::type_error, which aborted the role).
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/stopper.h"
#include "kube/client.h"
#include "kube/events.h"
#include "kube/leader.h"
#include "state/configmap_store.h"

namespace aha {
namespace {

using namespace std::chrono_literals;

// A loopback HTTP server that answers every request with one canned body.
class CannedApi {
 public:
  explicit CannedApi(std::string body) : body_(std::move(body)) {
    srv_.Get(".*", [this](const httplib::Request&, httplib::Response& res) {
      res.status = 200;
      res.set_content(body_, "application/json");
    });
    srv_.Put(".*", [this](const httplib::Request&, httplib::Response& res) {
      ++writes_;
      res.status = 200;
      res.set_content(body_, "application/json");
    });
    srv_.Patch(".*", [this](const httplib::Request&, httplib::Response& res) {
      ++writes_;
      res.status = 200;
      res.set_content(body_, "application/json");
    });
    port_ = srv_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    for (int i = 0; i < 1000 && !srv_.is_running(); ++i)
      std::this_thread::sleep_for(1ms);
  }
  ~CannedApi() {
    srv_.stop();
    thread_.join();
  }
  std::shared_ptr<kube::Client> Client() const {
    kube::Connection c;
    c.server = "http://127.0.0.1:" + std::to_string(port_);
    c.token = "t";
    c.ns = "agency";
    c.source = "test";
    kube::RetryPolicy retry;
    retry.base = 1ms;
    retry.max = 2ms;
    return std::make_shared<kube::Client>(c, retry);
  }
  int writes() const { return writes_.load(); }

 private:
  std::string body_;
  httplib::Server srv_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> writes_{0};
};

TEST(KubeHostile, LeaseWithWrongTypesIsNotLedAndNotWritten) {
  for (const char* body : {
           R"({"metadata": {"resourceVersion": "1"}, "spec": {"holderIdentity": 5}})",
           R"({"metadata": {"resourceVersion": "1"}, "spec": {"renewTime": []}})",
           R"({"metadata": {"resourceVersion": "1"}, "spec": {"leaseDurationSeconds": "15"}})",
           R"({"metadata": {"resourceVersion": "1"}, "spec": {"leaseTransitions": 1e300}})",
           R"({"metadata": {"resourceVersion": 7}, "spec": {}})",
           R"({"metadata": "x", "spec": {}})",
           R"({"metadata": {}, "spec": "x"})",
       }) {
    SCOPED_TRACE(body);
    CannedApi api(body);
    kube::LeaderElector e(api.Client(), {"agency", "lease", "me"}, SystemClock::instance());
    std::optional<bool> led;
    ASSERT_NO_THROW(led = e.TryAcquireOrRenew());
    EXPECT_FALSE(*led);
    EXPECT_FALSE(e.IsLeader());
    EXPECT_EQ(api.writes(), 0) << "a lease it could not read must not be overwritten";
  }
}

TEST(KubeHostile, ResponseThatIsNotAnObjectIsAnError) {
  for (const std::string& body :
       std::vector<std::string>{"[1, 2]", "5", "\"x\"", std::string(200, '[')}) {
    CannedApi api(body);
    auto r = api.Client()->Get(kube::kConfigMaps, "agency", "x");
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_NE(r.message().find("get configmaps \"x\""), std::string::npos) << r.message();
  }
}

TEST(KubeHostile, ConfigMapDataOfWrongTypeIsAnErrorNotAnEmptyState) {
  struct Case {
    std::string body, want;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"metadata": {"resourceVersion": "1"}, "data": {"servingRegions": 5}})",
            "ConfigMap.data.servingRegions: expected string, got number"},
           {R"({"metadata": {"resourceVersion": "1"}, "data": ["us-east-1"]})",
            "ConfigMap.data: expected object, got array"},
       }) {
    SCOPED_TRACE(c.body);
    CannedApi api(c.body);
    state::ConfigMapStateStore store(api.Client(), "agency", "state");
    std::optional<Result<state::KeyValues>> r;
    ASSERT_NO_THROW(r.emplace(store.Read()));
    ASSERT_FALSE(r->ok()) << "read as " << (r->ok() ? (*r)->size() : 0) << " keys";
    EXPECT_NE(r->message().find(c.want), std::string::npos) << r->message();
    std::optional<Result<int>> w;
    ASSERT_NO_THROW(w.emplace(store.Write({{"failedRegions", ""}})));
    EXPECT_FALSE(w->ok());
    EXPECT_EQ(api.writes(), 0);
  }
  // A resourceVersion of another type: the conditional patch cannot be built; nothing written.
  CannedApi api(R"({"metadata": {"resourceVersion": 7}, "data": {"a": "b"}})");
  state::ConfigMapStateStore store(api.Client(), "agency", "state");
  std::optional<Result<int>> w;
  ASSERT_NO_THROW(w.emplace(store.Write({{"failedRegions", ""}})));
  ASSERT_FALSE(w->ok());
  EXPECT_NE(w->message().find("metadata.resourceVersion: expected string, got number"),
            std::string::npos)
      << w->message();
  EXPECT_EQ(api.writes(), 0);
}

TEST(KubeHostile, WatchEventsOfWrongTypeEndTheWatchWithAnError) {
  struct Case {
    std::string line, want;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"type": 5, "object": {}})", "watch event.type: expected string, got number"},
           {R"({"type": "ADDED", "object": 5})", "watch event.object: expected object"},
           {R"({"type": "ERROR", "object": {"code": "410"}})",
            "watch event.object.code: expected integer, got string"},
           {R"({"type": "ERROR", "object": {"code": 410, "message": 5}})",
            "watch event.object.message: expected string"},
           {R"([1])", "watch event: expected object"},
       }) {
    SCOPED_TRACE(c.line);
    CannedApi api(c.line + "\n");
    Stopper stop;
    int events = 0;
    std::optional<Status> s;
    kube::WatchOptions opts;
    opts.timeout_seconds = 5;
    ASSERT_NO_THROW(s.emplace(api.Client()->Watch(
        kube::kConfigMaps, "agency", opts,
        [&](const kube::WatchEvent&) {
          ++events;
          return true;
        },
        &stop)));
    ASSERT_FALSE(s->ok());
    EXPECT_NE(s->message().find(c.want), std::string::npos) << s->message();
    EXPECT_EQ(events, 0);
  }
}

TEST(KubeHostile, EventReferenceWithWrongTypesIsAnError) {
  CannedApi api(R"({"metadata": {"uid": 5}})");
  std::optional<Result<kube::ObjectRef>> r;
  ASSERT_NO_THROW(r.emplace(kube::ReferenceTo(*api.Client(), kube::kConfigMaps, "agency", "x")));
  ASSERT_FALSE(r->ok());
  EXPECT_NE(r->message().find("metadata.uid: expected string, got number"), std::string::npos)
      << r->message();
}

}  // namespace
}  // namespace aha
