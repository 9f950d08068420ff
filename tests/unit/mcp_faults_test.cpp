// Real-fault drill helpers (mcp/faults.h): the PodList from the API is hostile (type-checked and
// bounded), pods count as back only with a new uid, the policy denies all ingress to exactly the
// region's agent pods, and the stored record round-trips and is type-checked.
#include "mcp/faults.h"

#include <gtest/gtest.h>

namespace aha::mcp {
namespace {

using nlohmann::json;

json Pod(const std::string& name, const std::string& uid, bool ready, bool terminating = false) {
  json p = {
      {"metadata", {{"name", name}, {"uid", uid}}},
      {"status", {{"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
  if (terminating) p["metadata"]["deletionTimestamp"] = "2026-12-06T04:00:00Z";
  return p;
}

TEST(Faults, ParsePodListReadsNamesUidsReadinessAndTermination) {
  json ready = Pod("a-0", "u0", true);
  ready["status"]["conditions"][0]["lastTransitionTime"] = "2026-12-06T04:00:07Z";
  ready["metadata"]["labels"] = {{std::string(kIsolatedLabel), "true"}};
  auto pods = ParsePodList({{"items", {ready, Pod("a-1", "u1", false, true)}}});
  ASSERT_TRUE(pods.ok()) << pods.message();
  ASSERT_EQ(pods->size(), 2u);
  EXPECT_EQ((*pods)[0].name, "a-0");
  EXPECT_EQ((*pods)[0].uid, "u0");
  EXPECT_TRUE((*pods)[0].ready);
  EXPECT_FALSE((*pods)[0].terminating);
  ASSERT_TRUE((*pods)[0].ready_since.has_value());
  EXPECT_EQ(FormatTime(*(*pods)[0].ready_since), "2026-12-06T04:00:07.000Z");
  EXPECT_FALSE((*pods)[1].ready_since.has_value());
  EXPECT_TRUE((*pods)[0].isolated);
  EXPECT_FALSE((*pods)[1].isolated);
  EXPECT_FALSE((*pods)[1].ready);
  EXPECT_TRUE((*pods)[1].terminating);
  auto none = ParsePodList(json::object());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(Faults, ParsePodListRefusesHostileShapesAndTooManyPods) {
  const std::vector<std::pair<json, std::string>> cases = {
      {json::array(), "PodList: expected object"},
      {{{"items", "x"}}, "PodList.items: expected array"},
      {{{"items", {1}}}, "PodList.items[0]: expected object"},
      {{{"items", {{{"metadata", {{"name", 7}}}}}}}, "PodList.items[0].metadata.name"},
      {{{"items", {{{"status", {}}}}}}, "PodList.items[0].metadata"},
      {{{"items",
         {{{"metadata", {{"name", "a"}}}, {"status", {{"conditions", {{{"type", 1}}}}}}}}}},
       "conditions[0].type"},
  };
  for (const auto& [in, why] : cases) {
    auto r = ParsePodList(in);
    ASSERT_FALSE(r.ok()) << in.dump();
    EXPECT_NE(r.message().find(why), std::string::npos) << r.message();
  }
  json many = {{"items", json::array()}};
  for (size_t i = 0; i <= kMaxFaultPods; ++i)
    many["items"].push_back(Pod("p-" + std::to_string(i), "u", true));
  auto r = ParsePodList(many);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("more than the 100 a drill touches"), std::string::npos);
}

TEST(Faults, PodsAreBackOnlyWithANewUidNotTerminatingAndReady) {
  const std::vector<PodRef> before = {{"a-0", "u0"}, {"a-1", "u1"}};
  struct Case {
    std::string name;
    std::vector<PodRef> now;
    bool recreated, ready;
  };
  const std::vector<Case> cases = {
      {"still the old pods", {{"a-0", "u0", true}, {"a-1", "u1", true}}, false, false},
      {"one recreated", {{"a-0", "n0", true}, {"a-1", "u1", true}}, false, false},
      {"both recreated, one pending", {{"a-0", "n0", true}, {"a-1", "n1", false}}, true, false},
      {"both recreated and ready", {{"a-0", "n0", true}, {"a-1", "n1", true}}, true, true},
      {"a new one terminating", {{"a-0", "n0", true}, {"a-1", "n1", true, true}}, false, false},
      {"gone", {}, false, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const PodsBack b = PodsBackAfter(before, c.now);
    EXPECT_EQ(b.recreated, c.recreated);
    EXPECT_EQ(b.ready, c.ready);
  }
}

TEST(Faults, SelectorAndPolicySelectExactlyTheRegionsAgentPods) {
  config::FaultsConfig cfg;
  cfg.pod_labels = {{"app.kubernetes.io/name", "simple-cli"},
                    {"app.kubernetes.io/component", "agent"}};
  EXPECT_EQ(PodSelector(cfg, "eu-west-1"),
            "agency-ha/region=eu-west-1,app.kubernetes.io/component=agent,"
            "app.kubernetes.io/name=simple-cli");
  const json p = DenyIngressPolicy(cfg, "agency", "eu-west-1", "drill-eu-west-1-1");
  EXPECT_EQ(p["metadata"]["name"], "agency-ha-drill-eu-west-1");
  EXPECT_EQ(p["metadata"]["namespace"], "agency");
  EXPECT_EQ(p["metadata"]["annotations"]["agency-ha/drill"], "drill-eu-west-1-1");
  EXPECT_EQ(p["spec"]["podSelector"]["matchLabels"],
            json({{"agency-ha/region", "eu-west-1"},
                  {"app.kubernetes.io/component", "agent"},
                  {"app.kubernetes.io/name", "simple-cli"}}));
  EXPECT_EQ(p["spec"]["policyTypes"], json({"Ingress"}));
  EXPECT_EQ(p["spec"]["ingress"], json::array());
}

TEST(Faults, TheRecordRoundTripsAndIsTypeChecked) {
  Fault f;
  f.type = "pod";
  f.ns = "agency";
  f.selector = "a=b";
  f.pods = {{"a-0", "u0"}};
  WallTime t;
  ASSERT_TRUE(ParseTime("2026-12-06T04:00:00.250Z", &t));
  f.injected_at = t;
  f.pods_ready_at = t + std::chrono::seconds(3);
  f.reverted_at = f.pods_ready_at;
  f.reverted_by = "recreated";
  AddFaultError(&f, "x");
  auto back = FaultFromJson(FaultToJson(f), "fault");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(FaultToJson(*back), FaultToJson(f));
  EXPECT_EQ(back->EndedAt(), f.pods_ready_at);
  for (const auto& [in, why] : std::vector<std::pair<json, std::string>>{
           {{{"type", "fire"}}, "fault.type: expected pod or network"},
           {{{"type", "pod"}, {"pods", {{{"name", 1}}}}}, "fault.pods[0].name"},
           {{{"type", "pod"}, {"revertedAt", "yesterday"}}, "fault.revertedAt: not an RFC 3339"},
           {{{"type", "network"}, {"errors", {1}}}, "fault.errors"},
       }) {
    auto r = FaultFromJson(in, "fault");
    ASSERT_FALSE(r.ok()) << in.dump();
    EXPECT_NE(r.message().find(why), std::string::npos) << r.message();
  }
  Fault many;
  for (int i = 0; i < 15; ++i)
    AddFaultError(&many, "e" + std::to_string(i));
  EXPECT_EQ(many.errors.size(), kMaxFaultErrors);
  EXPECT_EQ(many.errors.back(), "e14");
}

}  // namespace
}  // namespace aha::mcp
