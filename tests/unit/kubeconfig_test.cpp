#include "kube/kubeconfig.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "common/base64.h"
#include "kube/client.h"
#include "support/temp_dir.h"

namespace aha::kube {
namespace {

TEST(Base64, RoundTripsAndRejectsGarbage) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba",
                                                       "foobar", std::string("\0\xff\x10", 3)}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*Base64Decode("Zm9v\nYmE="), "fooba");
  EXPECT_FALSE(Base64Decode("Zm9v!").ok());
  EXPECT_FALSE(Base64Decode("Zg==Zg").ok());
}

class Kubeconfig : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& content) {
    std::string p = tmp_.path() + "/" + name;
    std::ofstream(p) << content;
    return p;
  }
  aha::testing::TempDir tmp_;
};

TEST_F(Kubeconfig, CurrentContextWithDataFields) {
  std::string path = Write("config", R"(apiVersion: v1
kind: Config
current-context: b
clusters:
  - name: c1
    cluster: {server: "https://10.0.0.1:6443/", certificate-authority-data: )" +
                                         Base64Encode("CA PEM") + R"(}
  - name: c2
    cluster: {server: "https://127.0.0.1:8443", certificate-authority: ca.crt, insecure-skip-tls-verify: false}
users:
  - name: u1
    user: {token: secret-token}
  - name: u2
    user: {client-certificate-data: )" + Base64Encode("CERT") +
                                         R"(, client-key-data: )" + Base64Encode("KEY") + R"(}
contexts:
  - name: a
    context: {cluster: c1, user: u1, namespace: agency}
  - name: b
    context: {cluster: c2, user: u2}
)");
  Write("ca.crt", "FILE CA");
  auto b = LoadKubeconfig(path, "");
  ASSERT_TRUE(b.ok()) << b.message();
  EXPECT_EQ(b->server, "https://127.0.0.1:8443");
  EXPECT_EQ(b->ca_pem, "FILE CA") << "relative paths resolve against the kubeconfig's folder";
  EXPECT_EQ(b->client_cert_pem, "CERT");
  EXPECT_EQ(b->client_key_pem, "KEY");
  EXPECT_EQ(b->ns, "default");
  EXPECT_FALSE(b->insecure_skip_verify);

  auto a = LoadKubeconfig(path, "a");
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ(a->server, "https://10.0.0.1:6443") << "trailing slash removed";
  EXPECT_EQ(a->ca_pem, "CA PEM");
  EXPECT_EQ(a->token, "secret-token");
  EXPECT_EQ(a->ns, "agency");
  EXPECT_EQ(a->Describe().find("secret-token"), std::string::npos) << "tokens never described";

  auto missing = LoadKubeconfig(path, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("context \"nope\" not found"), std::string::npos);
}

TEST_F(Kubeconfig, ErrorsNameTheProblem) {
  EXPECT_NE(LoadKubeconfig(tmp_.path() + "/none", "").message().find("none"), std::string::npos);
  auto bad = LoadKubeconfig(Write("bad", "clusters: [\n"), "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("invalid YAML"), std::string::npos);
  auto exec = LoadKubeconfig(Write("exec", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://h"}}]
users: [{name: u, user: {exec: {command: aws}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
)"),
                             "");
  ASSERT_FALSE(exec.ok());
  EXPECT_NE(exec.message().find("exec"), std::string::npos);
  auto badca = LoadKubeconfig(Write("badca", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://h", certificate-authority-data: "!!"}}]
contexts: [{name: x, context: {cluster: c}}]
)"),
                              "");
  ASSERT_FALSE(badca.ok());
  EXPECT_NE(badca.message().find("certificate-authority-data"), std::string::npos);
}

TEST_F(Kubeconfig, InCluster) {
  Write("token", "tok\n");
  Write("ca.crt", "CA");
  Write("namespace", "agency\n");
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto c = LoadInCluster(tmp_.path());
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->server, "https://[fd00::1]:443");
  EXPECT_EQ(c->ns, "agency");
  EXPECT_EQ(c->token_file, tmp_.path() + "/token");
  EXPECT_EQ(c->ca_pem, "CA");
  EXPECT_FALSE(LoadInCluster(tmp_.path()).ok()) << "without the env vars";
}

TEST(KubeClient, PathsAndRbacHints) {
  EXPECT_EQ(kConfigMaps.Path("agency", "cm"), "/api/v1/namespaces/agency/configmaps/cm");
  EXPECT_EQ(kConfigMaps.Path("agency"), "/api/v1/namespaces/agency/configmaps");
  EXPECT_EQ(kLeases.Path("ns", "l"), "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l");
  EXPECT_EQ(RbacRule("patch", kConfigMaps, "state"),
            "{apiGroups: [\"\"], resources: [\"configmaps\"], verbs: [\"patch\"], "
            "resourceNames: [\"state\"]}");
  EXPECT_EQ(RbacRule("create", kLeases, "x"),
            "{apiGroups: [\"coordination.k8s.io\"], resources: [\"leases\"], verbs: [\"create\"]}");
}

}  // namespace
}  // namespace aha::kube
