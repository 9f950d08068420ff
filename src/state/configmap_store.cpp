#include "state/configmap_store.h"

#include "common/json_get.h"

#include <chrono>
#include <random>
#include <thread>

namespace aha::state {

using nlohmann::json;

namespace {
constexpr int kMaxConflictRetries = 64;
}

ConfigMapStateStore::ConfigMapStateStore(std::shared_ptr<kube::Client> client, std::string ns,
                                         std::string name,
                                         std::map<std::string, std::string> labels)
    : client_(std::move(client)),
      ns_(std::move(ns)),
      name_(std::move(name)),
      labels_(std::move(labels)) {}

Result<KeyValues> ConfigMapStateStore::DataOf(const json& cm) {
  KeyValues out;
  const json* data = nullptr;
  if (Status s = jsonget::ExpectObject(cm, "ConfigMap"); !s) return s.error();
  if (Status s = jsonget::OptObject(cm, "data", &data, "ConfigMap"); !s) return s.error();
  if (!data) return out;
  for (const auto& [k, v] : data->items()) {
    std::string value;
    if (Status s = jsonget::AsString(v, jsonget::MemberPath("ConfigMap.data", k), &value); !s) {
      return s.error();
    }
    out.emplace(k, std::move(value));
  }
  return out;
}

Result<KeyValues> ConfigMapStateStore::Read() {
  auto cm = client_->Get(kube::kConfigMaps, ns_, name_);
  if (!cm) {
    if (cm.code() == Code::kNotFound) return KeyValues{};
    return cm.error();
  }
  return DataOf(*cm);
}

Result<int> ConfigMapStateStore::Write(const KeyValues& kv) {
  for (const auto& [key, value] : kv) {
    if (std::string why = ValidateKey(key); !why.empty()) {
      return Err("invalid state key \"" + key + "\": " + why);
    }
  }
  return Update([&kv](const KeyValues&) -> Result<KeyValues> { return kv; });
}

Result<int> ConfigMapStateStore::Update(const UpdateFn& fn) {
  for (int attempt = 0; attempt <= kMaxConflictRetries; ++attempt) {
    auto cm = client_->Get(kube::kConfigMaps, ns_, name_);
    if (!cm && cm.code() != Code::kNotFound) return cm.error();
    // fn decides on what we read; the write below lands only if that is still current.
    KeyValues current;
    if (cm) {
      auto data = DataOf(*cm);
      if (!data) return data.error();
      current = std::move(*data);
    }
    auto update = fn(current);
    if (!update) return update.error();
    const KeyValues& kv = *update;
    for (const auto& [key, value] : kv) {
      if (std::string why = ValidateKey(key); !why.empty()) {
        return Err("invalid state key \"" + key + "\": " + why);
      }
    }
    if (!cm) {
      json obj = {{"apiVersion", "v1"},
                  {"kind", "ConfigMap"},
                  {"metadata", {{"name", name_}, {"namespace", ns_}}},
                  {"data", json::object()}};
      if (!labels_.empty()) obj["metadata"]["labels"] = labels_;
      for (const auto& [k, v] : kv)
        obj["data"][k] = v;
      auto created = client_->Create(kube::kConfigMaps, ns_, obj);
      if (created) return static_cast<int>(kv.size());
      if (created.code() == Code::kConflict) {  // someone created it meanwhile: merge into theirs
        ++conflicts_;
        continue;
      }
      return created.error();
    }
    // A merge patch of just the changed keys, conditional on the resourceVersion we read (a
    // resourceVersion inside a patch is a precondition: 409 when someone wrote in between).
    // Needs only `patch` on this one ConfigMap, so RBAC can name it in resourceNames.
    const json& data =
        (*cm).contains("data") && (*cm)["data"].is_object() ? (*cm)["data"] : json::object();
    auto rv = kube::ResourceVersionOf(*cm);
    if (!rv) return Err("ConfigMap " + ns_ + "/" + name_ + ": " + rv.message());
    json patch = {{"metadata", {{"resourceVersion", *rv}}}, {"data", json::object()}};
    int changed = 0;
    for (const auto& [k, v] : kv) {
      if (data.contains(k) && data[k].is_string() && data[k] == v) continue;
      patch["data"][k] = v;
      ++changed;
    }
    if (changed == 0) return 0;
    auto patched = client_->Patch(kube::kConfigMaps, ns_, name_, kube::PatchType::kMerge, patch);
    if (patched) return changed;
    if (patched.code() == Code::kConflict || patched.code() == Code::kNotFound) {
      ++conflicts_;
      // Another writer won the race: back off a little (jittered) so contending writers spread.
      thread_local std::mt19937 rng{std::random_device{}()};
      client_->clock().SleepFor(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 5 + attempt)(rng)));
      continue;
    }
    return patched.error();
  }
  return Err(Describe() + ": gave up after " + std::to_string(kMaxConflictRetries) +
                 " conflicting writes by other writers",
             Code::kConflict);
}

}  // namespace aha::state
