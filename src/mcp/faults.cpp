#include "mcp/faults.h"

#include "common/json_get.h"
#include "common/printable.h"

namespace aha::mcp {

using nlohmann::json;
namespace jg = jsonget;

namespace {

json T(const std::optional<WallTime>& t) {
  return t ? json(FormatTime(*t)) : json(nullptr);
}

Status OptTime(const json& o, const char* key, std::optional<WallTime>* out,
               const std::string& what) {
  const json* v = jg::Find(o, key);
  if (!v || v->is_null()) return Status::Ok();
  std::string s;
  if (Status st = jg::AsString(*v, jg::MemberPath(what, key), &s); !st) return st;
  WallTime t;
  if (!ParseTime(s, &t)) {
    return Err(jg::MemberPath(what, key) + ": not an RFC 3339 UTC time: \"" + Printable(s) + "\"");
  }
  *out = t;
  return Status::Ok();
}

}  // namespace

json FaultToJson(const Fault& f) {
  json pods = json::array();
  for (const auto& p : f.pods)
    pods.push_back({{"name", p.name}, {"uid", p.uid}});
  return {{"type", f.type},
          {"namespace", f.ns},
          {"selector", f.selector},
          {"pods", pods},
          {"networkPolicy", f.network_policy.empty() ? json(nullptr) : json(f.network_policy)},
          {"injectedAt", T(f.injected_at)},
          {"podsRecreatedAt", T(f.pods_recreated_at)},
          {"podsReadyAt", T(f.pods_ready_at)},
          {"podsReadyConditionAt", T(f.pods_ready_condition_at)},
          {"revertedAt", T(f.reverted_at)},
          {"revertedBy", f.reverted_by.empty() ? json(nullptr) : json(f.reverted_by)},
          {"errors", f.errors}};
}

Result<Fault> FaultFromJson(const json& j, const std::string& what) {
  if (Status s = jg::ExpectObject(j, what); !s) return s.error();
  Fault f;
  const json* pods = nullptr;
  for (Status s :
       {jg::GetString(j, "type", &f.type, what), jg::OptString(j, "namespace", &f.ns, what),
        jg::OptString(j, "selector", &f.selector, what), jg::OptArray(j, "pods", &pods, what),
        jg::OptString(j, "networkPolicy", &f.network_policy, what),
        jg::OptString(j, "revertedBy", &f.reverted_by, what),
        jg::OptStringList(j, "errors", &f.errors, what),
        OptTime(j, "injectedAt", &f.injected_at, what),
        OptTime(j, "podsRecreatedAt", &f.pods_recreated_at, what),
        OptTime(j, "podsReadyAt", &f.pods_ready_at, what),
        OptTime(j, "podsReadyConditionAt", &f.pods_ready_condition_at, what),
        OptTime(j, "revertedAt", &f.reverted_at, what)}) {
    if (!s) return s.error();
  }
  if (f.type != "pod" && f.type != "network") {
    return Err(jg::MemberPath(what, "type") + ": expected pod or network, got \"" +
               Printable(f.type) + "\"");
  }
  if (f.errors.size() > kMaxFaultErrors) {
    return Err(jg::MemberPath(what, "errors") + ": more than " + std::to_string(kMaxFaultErrors));
  }
  if (pods && pods->size() > kMaxFaultPods) {
    return Err(jg::MemberPath(what, "pods") + ": more than " + std::to_string(kMaxFaultPods));
  }
  for (size_t i = 0; pods && i < pods->size(); ++i) {
    const std::string pw = jg::IndexPath(jg::MemberPath(what, "pods"), i);
    if (Status s = jg::ExpectObject((*pods)[i], pw); !s) return s.error();
    PodRef p;
    for (Status s : {jg::GetString((*pods)[i], "name", &p.name, pw),
                     jg::OptString((*pods)[i], "uid", &p.uid, pw)}) {
      if (!s) return s.error();
    }
    f.pods.push_back(std::move(p));
  }
  return f;
}

void AddFaultError(Fault* f, const std::string& e) {
  f->errors.push_back(Printable(e.substr(0, 2048)));
  if (f->errors.size() > kMaxFaultErrors) f->errors.erase(f->errors.begin());
}

std::map<std::string, std::string> RegionPodLabels(const config::FaultsConfig& cfg,
                                                   const std::string& region) {
  auto labels = cfg.pod_labels;
  labels[cfg.region_label] = region;
  return labels;
}

std::string PodSelector(const config::FaultsConfig& cfg, const std::string& region) {
  std::string s;
  for (const auto& [k, v] : RegionPodLabels(cfg, region))
    s += (s.empty() ? "" : ",") + k + "=" + v;
  return s;
}

std::string NetworkPolicyName(const std::string& region) {
  return "agency-ha-drill-" + region;
}

json DenyIngressPolicy(const config::FaultsConfig& cfg, const std::string& ns,
                       const std::string& region, const std::string& drill_id) {
  json match = json::object();
  for (const auto& [k, v] : RegionPodLabels(cfg, region))
    match[k] = v;
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "NetworkPolicy"},
          {"metadata",
           {{"name", NetworkPolicyName(region)},
            {"namespace", ns},
            {"labels",
             {{"app.kubernetes.io/managed-by", "agency-ha"},
              {"app.kubernetes.io/component", "drill"},
              {cfg.region_label, region}}},
            {"annotations", {{"agency-ha/drill", drill_id}}}}},
          // No ingress rule with policyTypes [Ingress]: nothing may connect to the pods.
          {"spec",
           {{"podSelector", {{"matchLabels", match}}},
            {"policyTypes", json::array({"Ingress"})},
            {"ingress", json::array()}}}};
}

Result<std::vector<PodRef>> ParsePodList(const json& list) {
  const json* items = nullptr;
  if (Status s = jg::ExpectObject(list, "PodList"); !s) return s.error();
  if (Status s = jg::OptArray(list, "items", &items, "PodList"); !s) return s.error();
  std::vector<PodRef> out;
  if (!items) return out;
  if (items->size() > kMaxFaultPods) {
    return Err("PodList: " + std::to_string(items->size()) + " pods match, more than the " +
               std::to_string(kMaxFaultPods) + " a drill touches");
  }
  for (size_t i = 0; i < items->size(); ++i) {
    const json& p = (*items)[i];
    const std::string w = jg::IndexPath("PodList.items", i);
    const json *meta = nullptr, *status = nullptr, *conds = nullptr;
    if (Status s = jg::ExpectObject(p, w); !s) return s.error();
    PodRef r;
    for (Status s :
         {jg::GetObject(p, "metadata", &meta, w), jg::OptObject(p, "status", &status, w)}) {
      if (!s) return s.error();
    }
    const std::string mw = jg::MemberPath(w, "metadata");
    for (Status s :
         {jg::GetString(*meta, "name", &r.name, mw), jg::OptString(*meta, "uid", &r.uid, mw)}) {
      if (!s) return s.error();
    }
    if (const json* labels = jg::Find(*meta, "labels"); labels && labels->is_object()) {
      r.isolated = labels->contains(kIsolatedLabel);
    }
    const json* del = jg::Find(*meta, "deletionTimestamp");
    r.terminating = del && !del->is_null();
    if (status) {
      const std::string sw = jg::MemberPath(w, "status");
      if (Status s = jg::OptArray(*status, "conditions", &conds, sw); !s) return s.error();
      for (size_t k = 0; conds && k < conds->size(); ++k) {
        const json& c = (*conds)[k];
        std::string type, st, since;
        const std::string cw = jg::IndexPath(jg::MemberPath(sw, "conditions"), k);
        if (Status s = jg::ExpectObject(c, cw); !s) return s.error();
        for (Status s : {jg::OptString(c, "type", &type, cw), jg::OptString(c, "status", &st, cw),
                         jg::OptString(c, "lastTransitionTime", &since, cw)}) {
          if (!s) return s.error();
        }
        if (type != "Ready") continue;
        r.ready = st == "True";
        WallTime t;
        if (r.ready && ParseTime(since, &t)) r.ready_since = t;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

PodsBack PodsBackAfter(const std::vector<PodRef>& before, const std::vector<PodRef>& now) {
  PodsBack b;
  b.recreated = true;
  b.ready = true;
  for (const auto& old : before) {
    const PodRef* found = nullptr;
    for (const auto& p : now) {
      if (p.name == old.name && p.uid != old.uid && !p.terminating) found = &p;
    }
    if (!found) b.recreated = false;
    if (!found || !found->ready) b.ready = false;
    if (found && found->ready_since && (!b.ready_since || *b.ready_since < *found->ready_since)) {
      b.ready_since = found->ready_since;
    }
  }
  b.ready = b.ready && b.recreated;
  if (!b.ready) b.ready_since.reset();
  return b;
}

}  // namespace aha::mcp
