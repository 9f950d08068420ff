#include "kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

#include "common/base64.h"
#include "common/fs.h"

namespace aha::kube {
namespace {

namespace fs = std::filesystem;

YAML::Node Named(const YAML::Node& list, const std::string& name) {
  if (!list.IsSequence()) return YAML::Node();
  for (const auto& item : list) {
    if (item["name"] && item["name"].IsScalar() && item["name"].Scalar() == name) return item;
  }
  return YAML::Node();
}

std::string Str(const YAML::Node& n, const char* key) {
  YAML::Node v = n[key];
  return v && v.IsScalar() ? v.Scalar() : "";
}

std::string Resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  return (fs::path(base_dir) / p).string();
}

// Reads `<key>-data` (base64) or `<key>` (a file path relative to the kubeconfig).
Status DataOrFile(const YAML::Node& n, const std::string& key, const std::string& base_dir,
                  const std::string& where, std::string* out) {
  std::string data = Str(n, (key + "-data").c_str());
  if (!data.empty()) {
    auto d = Base64Decode(data);
    if (!d) return Err(where + "." + key + "-data: " + d.message());
    *out = *d;
    return Status::Ok();
  }
  std::string file = Str(n, key.c_str());
  if (!file.empty()) {
    auto c = ReadFile(Resolve(base_dir, file));
    if (!c) return Err(where + "." + key + ": " + c.message());
    *out = *c;
  }
  return Status::Ok();
}

}  // namespace

Result<Connection> LoadKubeconfig(const std::string& path, const std::string& context) {
  auto text = ReadFile(path);
  if (!text) return Err("kubeconfig: " + text.message());
  YAML::Node doc;
  try {
    doc = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Err("kubeconfig " + path + ": invalid YAML: " + e.msg);
  }
  const std::string base_dir = fs::path(path).parent_path().string();
  std::string ctx_name = context.empty() ? Str(doc, "current-context") : context;
  if (ctx_name.empty()) return Err("kubeconfig " + path + ": no current-context and no --context");
  YAML::Node ctx = Named(doc["contexts"], ctx_name);
  if (!ctx.IsMap()) return Err("kubeconfig " + path + ": context \"" + ctx_name + "\" not found");
  YAML::Node c = ctx["context"];
  const std::string cluster_name = Str(c, "cluster"), user_name = Str(c, "user");
  YAML::Node cluster = Named(doc["clusters"], cluster_name)["cluster"];
  if (!cluster.IsMap())
    return Err("kubeconfig " + path + ": cluster \"" + cluster_name + "\" not found");
  Connection conn;
  conn.source = "kubeconfig " + path + " (context " + ctx_name + ")";
  conn.server = Str(cluster, "server");
  while (!conn.server.empty() && conn.server.back() == '/')
    conn.server.pop_back();
  if (conn.server.empty()) return Err("kubeconfig " + path + ": cluster has no server");
  conn.insecure_skip_verify = Str(cluster, "insecure-skip-tls-verify") == "true";
  conn.tls_server_name = Str(cluster, "tls-server-name");
  const std::string where = "kubeconfig " + path + ": clusters[" + cluster_name + "]";
  if (Status s = DataOrFile(cluster, "certificate-authority", base_dir, where, &conn.ca_pem); !s) {
    return s.error();
  }
  if (std::string ns = Str(c, "namespace"); !ns.empty()) conn.ns = ns;
  if (!user_name.empty()) {
    YAML::Node user = Named(doc["users"], user_name)["user"];
    if (!user.IsMap()) return Err("kubeconfig " + path + ": user \"" + user_name + "\" not found");
    const std::string uwhere = "kubeconfig " + path + ": users[" + user_name + "]";
    conn.token = Str(user, "token");
    conn.token_file = Resolve(base_dir, Str(user, "tokenFile"));
    if (Status s = DataOrFile(user, "client-certificate", base_dir, uwhere, &conn.client_cert_pem);
        !s) {
      return s.error();
    }
    if (Status s = DataOrFile(user, "client-key", base_dir, uwhere, &conn.client_key_pem); !s) {
      return s.error();
    }
    if (user["exec"] || user["auth-provider"]) {
      return Err(uwhere +
                 ": exec and auth-provider credentials are not supported; use a token, "
                 "tokenFile or client certificate");
    }
  }
  return conn;
}

Result<Connection> LoadInCluster(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    return Err("in-cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set");
  }
  Connection conn;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  conn.server = "https://" + h + ":" + port;
  conn.source = "in-cluster service account";
  conn.token_file = sa_dir + "/token";
  if (auto t = ReadFile(conn.token_file); !t) return Err("in-cluster: " + t.message());
  auto ca = ReadFile(sa_dir + "/ca.crt");
  if (!ca) return Err("in-cluster: " + ca.message());
  conn.ca_pem = *ca;
  if (auto ns = ReadFile(sa_dir + "/namespace"); ns) {
    std::string v = *ns;
    while (!v.empty() && (v.back() == '\n' || v.back() == ' '))
      v.pop_back();
    if (!v.empty()) conn.ns = v;
  }
  return conn;
}

Result<Connection> Resolve(const LoadOptions& opts) {
  if (!opts.kubeconfig.empty()) return LoadKubeconfig(opts.kubeconfig, opts.context);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string first = env;
    first = first.substr(0, first.find(':'));
    return LoadKubeconfig(first, opts.context);
  }
  if (const char* h = std::getenv("KUBERNETES_SERVICE_HOST"); h && *h) {
    return LoadInCluster(opts.serviceaccount_dir);
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    std::string p = std::string(home) + "/.kube/config";
    if (fs::exists(p)) return LoadKubeconfig(p, opts.context);
  }
  return Err(
      "no Kubernetes API configuration: set KUBECONFIG, run in a pod, or create "
      "~/.kube/config");
}

}  // namespace aha::kube
