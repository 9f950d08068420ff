// How to reach the Kubernetes API: from a kubeconfig file or from inside a pod.
//
// Resolution order (as client-go's defaults): an explicit --kubeconfig path, then $KUBECONFIG
// (first file of the list), then the in-cluster service account when KUBERNETES_SERVICE_HOST is
// set, then ~/.kube/config. TLS verification is on unless the kubeconfig sets
// insecure-skip-tls-verify. Tokens are never logged; Describe() omits them.
#pragma once

#include <string>

#include "common/result.h"

namespace aha::kube {

struct Connection {
  std::string server;  // https://host:port (no trailing slash)
  std::string ca_pem;  // CA bundle contents; empty = system trust store
  std::string client_cert_pem;
  std::string client_key_pem;
  bool insecure_skip_verify = false;
  std::string tls_server_name;
  std::string token;           // static bearer token
  std::string token_file;      // re-read when it changes (service-account token rotation)
  std::string ns = "default";  // the context's (or pod's) namespace
  std::string source;          // "kubeconfig /path (context x)" or "in-cluster"

  std::string Describe() const { return server + " via " + source; }
};

struct LoadOptions {
  std::string kubeconfig;  // explicit path (flag or config); empty = resolve as above
  std::string context;     // empty = current-context
  std::string serviceaccount_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};

Result<Connection> LoadKubeconfig(const std::string& path, const std::string& context);
Result<Connection> LoadInCluster(const std::string& serviceaccount_dir);
Result<Connection> Resolve(const LoadOptions& opts);

}  // namespace aha::kube
