// Table tests of the drill decision (mcp/drill_plan.h): ParseDrillRequest over the tool's
// arguments, and PlanDrill over state versions. Each case is the state (failed, serving, stored
// outages), the request and what must come out: a refusal with its reason, or the survivors and
// the write.
#include "mcp/drill_plan.h"
#include "support/split.h"

#include <gtest/gtest.h>

#include <sstream>

#include "failover/failover_state.h"
#include "mcp/report.h"

namespace aha::mcp {
namespace {

using nlohmann::json;

using aha::testing::Split;

// "a" active, "~p" passive; durations 10..600, default 300.
config::ControllerConfig Cfg(const std::string& regions) {
  config::ControllerConfig c;
  for (auto spec : Split(regions)) {
    config::RegionConfig r;
    if (spec[0] == '~') {
      r.active = false;
      spec = spec.substr(1);
    }
    r.name = spec;
    r.endpoint = "http://127.0.0.1/health";
    c.regions.push_back(r);
  }
  c.mcp.default_duration_seconds = 300;
  c.mcp.min_duration_seconds = 10;
  c.mcp.max_duration_seconds = 600;
  return c;
}

const WallTime kNow = WallTime{} + std::chrono::hours(24 * 365 * 56);

WallTime At(int seconds) {
  return kNow + std::chrono::seconds(seconds);
}

std::string Lines(const std::string& csv) {
  std::string out;
  for (const auto& r : Split(csv))
    out += r + "\n";
  return out;
}

// "b:30" an outage of b expiring 30 s from now (negative: expired).
std::vector<failover::SimulatedOutage> Outages(const std::string& spec) {
  std::vector<failover::SimulatedOutage> out;
  for (const auto& e : Split(spec)) {
    const auto colon = e.find(':');
    failover::SimulatedOutage o;
    o.region = e.substr(0, colon);
    o.id = "drill-" + o.region + "-old";
    o.started_at = At(-1000);
    o.expires_at = At(std::stoi(e.substr(colon + 1)));
    o.by = "mcp";
    out.push_back(o);
  }
  return out;
}

struct PlanCase {
  std::string name;
  std::string regions;
  std::string failed;
  std::string serving;
  std::string outages;  // Outages() spec
  std::string region;   // asked for
  bool force = false;
  std::string refusal = "";    // expected error substring; "" = a plan
  Code code = Code::kUnknown;  // expected error code
  std::string survivors = "";  // expected when planned
  bool forced = false;
  std::string kept = "";  // regions of the written outages, in order (the new one last)
};

std::vector<std::string> RegionsOf(const std::vector<failover::SimulatedOutage>& os) {
  std::vector<std::string> out;
  for (const auto& o : os)
    out.push_back(o.region);
  return out;
}

TEST(PlanDrill, Table) {
  const std::vector<PlanCase> cases = {
      {"another active region serves", "a,b", "", "a,b", "", "a", false, "", Code::kUnknown, "b",
       false, "a"},
      {"a passive standby survives though not serving", "a,~p", "", "a", "", "a", false, "",
       Code::kUnknown, "p", false, "a"},
      {"the only region: refused", "a", "", "a", "", "a", false, "no other region could serve",
       Code::kUnknown},
      {"the only region, forced", "a", "", "a", "", "a", true, "", Code::kUnknown, "", true, "a"},
      {"the other region failed: refused", "a,b", "b", "a", "", "a", false,
       "refusing to take down a: no other region could serve (serving: a; failed: b)",
       Code::kUnknown},
      {"the other active region not serving: no survivor", "a,b", "", "a", "", "a", false,
       "no other region could serve", Code::kUnknown},
      {"the other region is under a drill: no survivor", "a,b", "", "a,b", "b:30", "a", false,
       "no other region could serve", Code::kUnknown},
      {"forced past a drilled survivor keeps its outage", "a,b", "", "a,b", "b:30", "a", true, "",
       Code::kUnknown, "", true, "b,a"},
      {"an expired drill of the other region does not count and is dropped", "a,b", "", "a,b",
       "b:-1", "a", false, "", Code::kUnknown, "b", false, "a"},
      {"an outage expiring exactly now is over", "a,b", "", "a,b", "a:0", "a", false, "",
       Code::kUnknown, "b", false, "a"},
      {"a drill of the region is running", "a,b", "", "a,b", "a:1", "a", false,
       "drill already running for region a (drill-a-old, until ", Code::kConflict},
      {"a running drill is refused even with force", "a,b", "", "a,b", "a:1", "a", true,
       "drill already running for region a", Code::kConflict},
      {"a failed passive does not survive", "a,~p", "p", "a", "", "a", false,
       "no other region could serve (serving: a; failed: p)", Code::kUnknown},
      {"survivors in configuration order", "c,a,~p,b", "", "a,b,c", "", "a", false, "",
       Code::kUnknown, "c,p,b", false, "a"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto cfg = Cfg(c.regions);
    state::KeyValues cur{{failover::kFailedRegionsKey, Lines(c.failed)},
                         {failover::kServingRegionsKey, Lines(c.serving)}};
    if (!c.outages.empty()) {
      cur[failover::kSimulatedOutagesKey] = failover::OutagesToJson(Outages(c.outages));
    }
    DrillRequest req;
    req.region = c.region;
    req.duration_seconds = 60;
    req.force = c.force;
    auto p = PlanDrill(cur, req, cfg, kNow, nullptr);
    if (!c.refusal.empty()) {
      ASSERT_FALSE(p.ok());
      EXPECT_NE(p.message().find(c.refusal), std::string::npos) << p.message();
      EXPECT_EQ(p.code(), c.code);
      continue;
    }
    ASSERT_TRUE(p.ok()) << p.message();
    EXPECT_EQ(p->survivors, Split(c.survivors));
    EXPECT_EQ(p->forced, c.forced);
    EXPECT_EQ(p->summary["forced"], c.forced);
    EXPECT_EQ(p->failed_before, Split(c.failed));
    EXPECT_EQ(p->serving_before, Split(c.serving));
    auto written = failover::ParseOutages(p->write.at(failover::kSimulatedOutagesKey));
    ASSERT_TRUE(written.ok()) << written.message();
    EXPECT_EQ(RegionsOf(*written), Split(c.kept));
    EXPECT_EQ(written->back().id, p->outage.id);
  }
}

TEST(PlanDrill, WritesTheOutageAndTheDrillRecordTogether) {
  const auto cfg = Cfg("a,b");
  state::KeyValues cur{{failover::kFailedRegionsKey, ""}, {failover::kServingRegionsKey, "a\nb\n"}};
  Drill earlier;
  earlier.id = "drill-b-1";
  earlier.region = "b";
  earlier.injected_at = At(-900);
  earlier.expires_at = At(-600);
  cur[kDrillsKey] = DrillsToJson({earlier});
  DrillRequest req{"a", "health", 120, false, false};
  const json positions = {{"a", nullptr}, {"b", {{"role", "writer"}}}};
  auto p = PlanDrill(cur, req, cfg, kNow, positions);
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(p->outage.id, "drill-a-" + std::to_string(EpochMillis(kNow)));
  EXPECT_EQ(p->outage.started_at, kNow);
  EXPECT_EQ(p->outage.expires_at, At(120));
  EXPECT_EQ(p->outage.by, "mcp");
  EXPECT_EQ(p->summary["drillId"], p->outage.id);
  EXPECT_EQ(p->summary["durationSeconds"], 120);
  EXPECT_EQ(p->summary["dryRun"], false);
  ASSERT_EQ(p->write.size(), 2u);
  auto drills = ParseDrills(p->write.at(kDrillsKey));
  ASSERT_TRUE(drills.ok()) << drills.message();
  ASSERT_EQ(drills->size(), 2u);
  EXPECT_EQ((*drills)[0].id, "drill-b-1");
  const Drill& d = (*drills)[1];
  EXPECT_EQ(d.id, p->outage.id);
  EXPECT_EQ(d.region, "a");
  EXPECT_EQ(d.duration_seconds, 120);
  EXPECT_EQ(d.injected_at, kNow);
  EXPECT_EQ(d.expires_at, At(120));
  EXPECT_EQ(d.serving_before, Split("a,b"));
  // Kept as given (the drills key writes every data field, null when not reported).
  EXPECT_TRUE(d.positions_at_injection["a"].is_null());
  EXPECT_EQ(d.positions_at_injection["b"]["role"], "writer");
}

TEST(PlanDrill, ADryRunHasNoDrillIdButTheSamePlan) {
  const auto cfg = Cfg("a,b");
  state::KeyValues cur{{failover::kServingRegionsKey, "a\nb\n"}};
  DrillRequest req{"a", "health", 60, true, false};
  auto p = PlanDrill(cur, req, cfg, kNow, nullptr);
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_TRUE(p->summary["drillId"].is_null());
  EXPECT_EQ(p->summary["dryRun"], true);
  EXPECT_EQ(p->survivors, Split("b"));
}

TEST(PlanDrill, MalformedStoredKeysAreRefusedNeverOverwritten) {
  const auto cfg = Cfg("a,b");
  DrillRequest req{"a", "health", 60, false, true};
  for (const auto& [key, why] : std::vector<std::pair<std::string, std::string>>{
           {failover::kSimulatedOutagesKey, "the stored simulatedOutages key is malformed"},
           {kDrillsKey, "the stored drills key is malformed"}}) {
    SCOPED_TRACE(key);
    state::KeyValues cur{{failover::kServingRegionsKey, "a\nb\n"}, {key, "{not json"}};
    auto p = PlanDrill(cur, req, cfg, kNow, nullptr);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.message().find(why), std::string::npos) << p.message();
    EXPECT_NE(p.message().find("refusing to overwrite it"), std::string::npos) << p.message();
  }
}

struct ArgsCase {
  std::string name;
  json args;
  std::string refusal;  // expected error substring; "" = parsed
  long long duration = 300;
  bool dry_run = false;
  bool force = false;
};

TEST(ParseDrillRequest, Table) {
  const std::vector<ArgsCase> cases = {
      {"defaults", {{"region", "a"}}, ""},
      {"everything given",
       {{"region", "a"},
        {"failure_type", "health"},
        {"duration_seconds", 42},
        {"dry_run", true},
        {"force", true}},
       "",
       42,
       true,
       true},
      {"a whole float duration", {{"region", "a"}, {"duration_seconds", 60.0}}, "", 60},
      {"unknown argument", {{"region", "a"}, {"zone", "x"}}, "unknown argument \"zone\""},
      {"no region", json::object(), "region: required, a string"},
      {"region not a string", {{"region", 1}}, "region: required, a string"},
      {"unknown region", {{"region", "z"}}, "unknown region \"z\"; configured regions: a, b, p"},
      {"failure_type not a string",
       {{"region", "a"}, {"failure_type", 1}},
       "failure_type: must be a string"},
      {"pod without mcp.faults is refused naming the setting",
       {{"region", "a"}, {"failure_type", "pod"}},
       "failure_type \"pod\" needs the agent pods' labels: set mcp.faults.podLabels"},
      {"network without mcp.faults is refused naming the chart value",
       {{"region", "a"}, {"failure_type", "network"}},
       "securityMonitor.faults.network.enabled"},
      {"node is refused with why",
       {{"region", "a"}, {"failure_type", "node"}},
       "failure_type \"node\" is not supported yet: this server does not cordon nodes"},
      {"unknown failure_type",
       {{"region", "a"}, {"failure_type", "fire"}},
       "failure_type: unknown value \"fire\" (supported: health, pod, network)"},
      {"fractional duration",
       {{"region", "a"}, {"duration_seconds", 1.5}},
       "duration_seconds: must be a whole number of seconds"},
      {"duration as a string",
       {{"region", "a"}, {"duration_seconds", "60"}},
       "duration_seconds: must be a whole number of seconds"},
      {"duration below the minimum",
       {{"region", "a"}, {"duration_seconds", 9}},
       "duration_seconds: 9 is out of bounds (10..600"},
      {"duration above the maximum",
       {{"region", "a"}, {"duration_seconds", 601}},
       "duration_seconds: 601 is out of bounds"},
      {"duration beyond int64 is not wrapped",
       {{"region", "a"}, {"duration_seconds", 18446744073709551615ull}},
       "duration_seconds: 18446744073709551615 is out of bounds"},
      {"huge negative float", {{"region", "a"}, {"duration_seconds", -1e300}}, "is out of bounds"},
      {"dry_run not a boolean",
       {{"region", "a"}, {"dry_run", "yes"}},
       "dry_run: must be a boolean"},
      {"force not a boolean", {{"region", "a"}, {"force", 1}}, "force: must be a boolean"},
  };
  const auto cfg = Cfg("a,b,~p");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = ParseDrillRequest(c.args, cfg);
    if (!c.refusal.empty()) {
      ASSERT_FALSE(r.ok());
      EXPECT_NE(r.message().find(c.refusal), std::string::npos) << r.message();
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->region, "a");
    EXPECT_EQ(r->failure_type, "health");
    EXPECT_EQ(r->duration_seconds, c.duration);
    EXPECT_EQ(r->dry_run, c.dry_run);
    EXPECT_EQ(r->force, c.force);
  }
}

TEST(ParseDrillRequest, PodAndNetworkWithFaultsConfigured) {
  auto cfg = Cfg("a,b");
  cfg.mcp.faults.pod_labels = {{"app.kubernetes.io/component", "agent"}};
  for (const std::string type : {"pod", "network"}) {
    auto r = ParseDrillRequest({{"region", "a"}, {"failure_type", type}}, cfg);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->failure_type, type);
  }
  auto node = ParseDrillRequest({{"region", "a"}, {"failure_type", "node"}}, cfg);
  EXPECT_FALSE(node.ok());
  // Only the types the config (the chart: the RBAC it grants) allows.
  cfg.mcp.faults.types = {"pod"};
  EXPECT_TRUE(ParseDrillRequest({{"region", "a"}, {"failure_type", "pod"}}, cfg).ok());
  auto net = ParseDrillRequest({{"region", "a"}, {"failure_type", "network"}}, cfg);
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.message().find("failure_type \"network\" is not enabled here (mcp.faults.types; "
                               "chart: securityMonitor.faults.network.enabled, which also grants "
                               "its RBAC: pods list; networkpolicies create, update, delete)"),
            std::string::npos)
      << net.message();
}

FaultTargets Targets(const std::string& pods, const std::string& policy = "") {
  FaultTargets t;
  t.ns = "agency";
  t.selector = "agency-ha/region=a,app=x";
  for (const auto& n : Split(pods))
    t.pods.push_back(PodRef{n, "uid-" + n, true, false});
  t.network_policy = policy;
  return t;
}

// An earlier drill of `region` whose outage is over, with a fault reverted or not.
Drill EarlierFaultDrill(const std::string& region, bool reverted) {
  Drill d;
  d.id = "drill-" + region + "-1";
  d.region = region;
  d.failure_type = "network";
  d.injected_at = At(-900);
  d.expires_at = At(-600);
  Fault f;
  f.type = "network";
  f.ns = "agency";
  f.network_policy = NetworkPolicyName(region);
  if (reverted) f.reverted_at = At(-599);
  d.fault = f;
  return d;
}

struct FaultCase {
  std::string name;
  std::string type;
  bool with_targets = true;
  std::string pods;            // targets' pod names
  std::vector<Drill> earlier;  // stored drills
  std::string refusal = "";    // expected error substring; "" = a plan
  Code code = Code::kUnknown;
};

TEST(PlanDrill, FaultTable) {
  const std::vector<FaultCase> cases = {
      {"pod: the pods are listed and recorded", "pod", true, "p-0,p-1", {}},
      {"network: the policy and the isolated pods", "network", true, "p-0,p-1", {}},
      {"no pods: nothing to delete",
       "pod",
       true,
       "",
       {},
       "no agent pods of region a in namespace "
       "agency (selector agency-ha/region=a,app=x)"},
      {"no targets at all", "network", false, "", {}, "no fault targets for a network drill"},
      {"an unreverted fault of an expired drill blocks the region",
       "pod",
       true,
       "p-0",
       {EarlierFaultDrill("a", false)},
       "drill drill-a-1 of region a left a network fault that is "
       "not reverted yet",
       Code::kConflict},
      {"a reverted fault does not", "pod", true, "p-0", {EarlierFaultDrill("a", true)}},
      {"another region's unreverted fault does not",
       "pod",
       true,
       "p-0",
       {EarlierFaultDrill("b", false)}},
      {"health ignores targets", "health", true, "p-0", {}},
  };
  const auto cfg = Cfg("a,b");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    state::KeyValues cur{{failover::kServingRegionsKey, "a\nb\n"}};
    if (!c.earlier.empty()) cur[kDrillsKey] = DrillsToJson(c.earlier);
    DrillRequest req{"a", c.type, 60, false, false};
    const FaultTargets t = Targets(c.pods, c.type == "network" ? NetworkPolicyName("a") : "");
    auto p = PlanDrill(cur, req, cfg, kNow, nullptr, c.with_targets ? &t : nullptr);
    if (!c.refusal.empty()) {
      ASSERT_FALSE(p.ok());
      EXPECT_NE(p.message().find(c.refusal), std::string::npos) << p.message();
      EXPECT_EQ(p.code(), c.code);
      continue;
    }
    ASSERT_TRUE(p.ok()) << p.message();
    auto drills = ParseDrills(p->write.at(kDrillsKey));
    ASSERT_TRUE(drills.ok()) << drills.message();
    const Drill& d = drills->back();
    auto outages = failover::ParseOutages(p->write.at(failover::kSimulatedOutagesKey));
    ASSERT_TRUE(outages.ok());
    EXPECT_EQ(outages->back().failure_type, c.type);
    const json& touches = p->summary["touches"];
    if (c.type == "health") {
      EXPECT_TRUE(touches.is_null());
      EXPECT_FALSE(d.fault.has_value());
      continue;
    }
    // The record of what is touched, not reverted, is in the same write as the outage entry.
    ASSERT_TRUE(d.fault.has_value());
    EXPECT_EQ(d.fault->type, c.type);
    EXPECT_FALSE(d.fault->reverted());
    EXPECT_FALSE(d.fault->injected_at.has_value());
    EXPECT_EQ(d.fault->ns, "agency");
    ASSERT_EQ(d.fault->pods.size(), Split(c.pods).size());
    EXPECT_EQ(d.fault->pods[0].uid, "uid-p-0");
    EXPECT_EQ(touches["namespace"], "agency");
    EXPECT_EQ(touches["selector"], "agency-ha/region=a,app=x");
    EXPECT_EQ(touches["nodes"], json::array());
    if (c.type == "pod") {
      EXPECT_EQ(touches["pods"], json(Split(c.pods)));
      EXPECT_EQ(touches["isolatedPods"], json::array());
      EXPECT_TRUE(touches["networkPolicy"].is_null());
      EXPECT_EQ(d.fault->network_policy, "");
    } else {
      EXPECT_EQ(touches["pods"], json::array());
      EXPECT_EQ(touches["isolatedPods"], json(Split(c.pods)));
      EXPECT_EQ(touches["networkPolicy"], "agency-ha-drill-a");
      EXPECT_EQ(d.fault->network_policy, "agency-ha-drill-a");
    }
  }
}

}  // namespace
}  // namespace aha::mcp
