#include "state/command.h"

#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/json_get.h"
#include "kube/client.h"
#include "state/configmap_store.h"
#include "state/store.h"

namespace aha::state {
namespace {

Result<std::unique_ptr<StateStore>> Open(const CommandOptions& o) {
  if (o.dir.empty() == o.configmap.empty()) {
    return Err("give exactly one of --dir DIR and --configmap NAMESPACE/NAME");
  }
  if (!o.dir.empty()) return std::unique_ptr<StateStore>(std::make_unique<FileStateStore>(o.dir));
  auto slash = o.configmap.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == o.configmap.size()) {
    return Err("--configmap: want NAMESPACE/NAME, got \"" + o.configmap + "\"");
  }
  auto conn = kube::Resolve(
      kube::LoadOptions{o.kubeconfig, "", "/var/run/secrets/kubernetes.io/serviceaccount"});
  if (!conn) return Err("kubeconfig: " + conn.message());
  return std::unique_ptr<StateStore>(std::make_unique<ConfigMapStateStore>(
      std::make_shared<kube::Client>(*conn), o.configmap.substr(0, slash),
      o.configmap.substr(slash + 1)));
}

}  // namespace

int GetCommand(const CommandOptions& o) {
  auto store = Open(o);
  if (!store) {
    std::fprintf(stderr, "agency-ha state get: %s\n", store.message().c_str());
    return 2;
  }
  auto kv = (*store)->Read();
  if (!kv) {
    std::fprintf(stderr, "agency-ha state get: %s\n", kv.message().c_str());
    return 1;
  }
  if (!o.key.empty()) {
    auto it = kv->find(o.key);
    if (it == kv->end()) {
      std::fprintf(stderr, "agency-ha state get: no key \"%s\" in %s\n", o.key.c_str(),
                   (*store)->Describe().c_str());
      return 1;
    }
    std::fwrite(it->second.data(), 1, it->second.size(), stdout);
    return 0;
  }
  std::printf("%s\n", jsonget::Dump(nlohmann::json(*kv), 2).c_str());
  return 0;
}

int SetCommand(const CommandOptions& o) {
  auto store = Open(o);
  if (!store) {
    std::fprintf(stderr, "agency-ha state set: %s\n", store.message().c_str());
    return 2;
  }
  if (std::string why = ValidateKey(o.key); !why.empty()) {
    std::fprintf(stderr, "agency-ha state set: invalid key \"%s\": %s\n", o.key.c_str(),
                 why.c_str());
    return 2;
  }
  std::string value;
  if (o.has_value) {
    value = o.value;
  } else if (o.from_file == "-") {
    value.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else if (!o.from_file.empty()) {
    auto f = ReadFile(o.from_file);
    if (!f) {
      std::fprintf(stderr, "agency-ha state set: %s\n", f.message().c_str());
      return 2;
    }
    value = *f;
  } else {
    std::fprintf(stderr, "agency-ha state set: give --value V or --from-file F (- for stdin)\n");
    return 2;
  }
  auto n = (*store)->Write({{o.key, value}});
  if (!n) {
    std::fprintf(stderr, "agency-ha state set: %s\n", n.message().c_str());
    return 1;
  }
  std::printf("%s: %s %s\n", (*store)->Describe().c_str(), o.key.c_str(),
              *n ? "written" : "unchanged");
  return 0;
}

}  // namespace aha::state
