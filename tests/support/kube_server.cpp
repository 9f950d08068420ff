#include "support/kube_server.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace aha::testing {

std::string NodeBinary() {
  return AHA_NODE;
}
std::string SourceDir() {
  return AHA_SOURCE_DIR;
}

namespace {
size_t Collect(char* p, size_t s, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, s * n);
  return s * n;
}
}  // namespace

KubeTestServer::KubeTestServer(const std::string& extra_state_json,
                               const std::vector<std::string>& extra_args) {
  kubeconfig_ = dir_.path() + "/kubeconfig.yaml";
  std::vector<std::string> args = {NodeBinary(), SourceDir() + "/tests/kube-apiserver/server.mjs",
                                   "--kubeconfig", kubeconfig_};
  if (!extra_state_json.empty()) {
    const std::string state = dir_.path() + "/state.json";
    FILE* f = std::fopen(state.c_str(), "w");
    std::fputs(extra_state_json.c_str(), f);
    std::fclose(f);
    args.push_back("--state-file");
    args.push_back(state);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  // stderr to /dev/null: a server that outlived a crashed test must not hold ctest's pipe open.
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    throw std::runtime_error("cannot start node");
  }
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n')
    line += c;
  ::close(out[0]);
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || !j.value("ready", false)) {
    throw std::runtime_error("kube test server did not start: " + line);
  }
  url_ = j["url"];
  admin_url_ = j["adminUrl"];
  token_ = j["token"];
}

KubeTestServer::~KubeTestServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
}

kube::Connection KubeTestServer::Connection() const {
  auto c = kube::LoadKubeconfig(kubeconfig_, "");
  if (!c) throw std::runtime_error(c.message());
  return *c;
}

nlohmann::json KubeTestServer::Admin(const std::string& method, const std::string& path,
                                     const nlohmann::json& body) {
  CURL* c = curl_easy_init();
  std::string resp;
  const std::string url = admin_url_ + path;
  const std::string data = body.is_null() ? "" : body.dump();
  curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, data.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(data.size()));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) throw std::runtime_error("admin " + path + ": " + curl_easy_strerror(rc));
  auto j = nlohmann::json::parse(resp, nullptr, false);
  return j.is_discarded() ? nlohmann::json(resp) : j;
}

int KubeTestServer::CountRequests(const std::string& verb, const std::string& method) {
  auto j = Admin("GET", "/requests");
  int n = 0;
  for (const auto& r : j["requests"]) {
    if (!verb.empty() && r.value("verb", "") != verb) continue;
    if (!method.empty() && r.value("method", "") != method) continue;
    ++n;
  }
  return n;
}

}  // namespace aha::testing
