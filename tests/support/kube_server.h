// KubeTestServer: runs tests/kube-apiserver/server.mjs (the faithful Kubernetes API test server,
// proven with kubectl) as a child process for C++ tests, and talks to its admin API.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kube/kubeconfig.h"
#include "support/temp_dir.h"

namespace aha::testing {

class KubeTestServer {
 public:
  // Starts the server; throws std::runtime_error when it does not come up. Like a real cluster it
  // has only the default namespaces: pass e.g. {"--namespace", "agency"} in `extra_args` (see
  // tests/kube-apiserver/README.md for the options, e.g. --http1-only).
  explicit KubeTestServer(const std::string& extra_state_json = "",
                          const std::vector<std::string>& extra_args = {});
  ~KubeTestServer();
  KubeTestServer(const KubeTestServer&) = delete;
  KubeTestServer& operator=(const KubeTestServer&) = delete;

  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& url() const { return url_; }
  const std::string& admin_token() const { return token_; }
  kube::Connection Connection() const;  // from the written kubeconfig (admin token)

  // Admin API: method + path (e.g. "POST", "/faults") with an optional JSON body.
  nlohmann::json Admin(const std::string& method, const std::string& path,
                       const nlohmann::json& body = nullptr);
  // API requests logged since the last ClearRequests(), optionally only those of `verb`.
  int CountRequests(const std::string& verb = "", const std::string& method = "");
  void ClearRequests() { Admin("DELETE", "/requests"); }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::string kubeconfig_, url_, admin_url_, token_;
};

// Path of the node binary and of the repo's source tree (compile definitions).
std::string NodeBinary();
std::string SourceDir();

}  // namespace aha::testing
