// The Kubernetes API test server (tests/kube-apiserver/server.mjs) as a bench child: spawned with
// bench::Child (posix_spawn, own process group, killed and reaped on every exit path), its ready
// line read from the log, its admin API called over plain HTTP. Also kubeconfigs with a token per
// role (so the request log tells gates, controllers and the naive poller apart), free ports, and
// a kept-alive /ready poller for gates.
// Header-only, like common.h; include after it.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "common.h"

namespace bench {

// The node binary: $PATH lookup of "node", "" when absent.
inline std::string FindNode() {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/node";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}
// tests/kube-apiserver/server.mjs of the source tree this bench was compiled from.
inline std::string DefaultKubeServerScript() {
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "tests" / "kube-apiserver" /
          "server.mjs")
      .string();
}

// A loopback TCP port that was free a moment ago (bind to 0, read it back, close).
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// "2026-11-27T17:33:00.123Z" (JavaScript toISOString) as milliseconds since the epoch, -1 if not.
inline long long IsoMillis(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<long long>(::timegm(&tm)) * 1000 + ms;
}
inline long long WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class KubeServer {
 public:
  // Spawns `node script --kubeconfig DIR/kubeconfig.yaml --namespace agency` (the server, like a
  // real cluster, has only the default namespaces otherwise) and waits for its ready line. On
  // failure returns false with `error()` set (and the server killed by the destructor).
  bool Start(const std::string& node, const std::string& script, const std::string& dir) {
    log_ = dir + "/kube-server.log";
    const std::string kubeconfig = dir + "/kubeconfig.yaml";
    if (!child_.Spawn({node, script, "--kubeconfig", kubeconfig, "--namespace", "agency"}, log_)) {
      error_ = "cannot spawn " + node;
      return false;
    }
    const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while (SteadyClock::now() < deadline && !g_interrupted) {
      std::stringstream lines(ReadText(log_));
      std::string line;
      while (std::getline(lines, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object() || !j.value("ready", false)) continue;
        url_ = j.value("url", "");
        kubeconfig_ = j.value("kubeconfig", kubeconfig);
        admin_url_ = j.value("adminUrl", "");
        token_ = j.value("token", "");
        ca_file_ = j.value("caFile", "");
        return true;
      }
      if (!child_.Running()) {
        error_ = "kube test server exited: " + Tail(ReadText(log_), 10);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    error_ = g_interrupted ? "interrupted" : "kube test server not ready within 60 s";
    return false;
  }
  void Stop() { child_.Terminate(); }
  bool Running() { return child_.Running(); }
  pid_t pid() const { return child_.pid(); }
  const std::string& error() const { return error_; }
  const std::string& url() const { return url_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& log() const { return log_; }

  // Admin API call; a JSON object, or {"error": ...} when the call failed.
  nlohmann::json Admin(const std::string& method, const std::string& path,
                       const nlohmann::json& body = nullptr) {
    httplib::Client c(admin_url_);
    c.set_read_timeout(30, 0);
    httplib::Result r = method == "GET"    ? c.Get(path)
                        : method == "POST" ? c.Post(path, body.dump(), "application/json")
                                           : c.Delete(path);
    if (!r) return {{"error", "admin " + path + ": " + httplib::to_string(r.error())}};
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded()) return {{"error", "admin " + path + ": not JSON"}};
    return j;
  }
  // A bearer token for `user`, allowed everything (the roles differ only in the request log).
  bool AddToken(const std::string& token, const std::string& user) {
    nlohmann::json rule = {{"apiGroups", {"*"}}, {"resources", {"*"}}, {"verbs", {"*"}}};
    auto r = Admin("POST", "/tokens", {{"token", token}, {"user", user}, {"rules", {rule}}});
    return !r.contains("error");
  }
  // A kubeconfig for `token` (same server and CA as the admin one).
  bool WriteKubeconfig(const std::string& path, const std::string& token) const {
    return WriteText(path,
                     "apiVersion: v1\nkind: Config\n"
                     "clusters:\n- name: test\n  cluster:\n    server: \"" +
                         url_ + "\"\n    certificate-authority: \"" + ca_file_ +
                         "\"\n"
                         "users:\n- name: bench\n  user:\n    token: \"" +
                         token +
                         "\"\n"
                         "contexts:\n- name: bench\n  context: {cluster: test, user: bench, "
                         "namespace: agency}\n"
                         "current-context: bench\n");
  }

 private:
  Child child_;
  std::string log_, error_, url_, kubeconfig_, admin_url_, token_, ca_file_;
};

// `agency-ha gate` with a ConfigMap or file state source on a free loopback port.
inline std::string GateYaml(const std::string& region, int port, const std::string& kubeconfig,
                            const std::string& state_dir) {
  std::string y = "region: " + region + "\nlisten: \"127.0.0.1:" + std::to_string(port) + "\"\n";
  if (state_dir.empty()) {
    y += "kubeconfig: \"" + kubeconfig + "\"\n";
    y += "state: {configMap: {namespace: agency, name: simple-agency-failover}}\n";
  } else {
    y += "state: {file: \"" + state_dir + "\"}\n";
  }
  return y;
}

// Waits until GET `path` on 127.0.0.1:port answers `status` (any status when 0).
inline bool WaitHttp(int port, const std::string& path, int status, double seconds, Child* owner) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(0, 200000);
  const auto deadline = SteadyClock::now() + Seconds(seconds);
  while (SteadyClock::now() < deadline && !g_interrupted) {
    if (owner && !owner->Running()) return false;
    auto r = c.Get(path);
    if (r && (status == 0 || r->status == status)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// GET /ready on one kept-alive connection, reconnecting when the server closes it. The gate's
// HTTP server (cpp-httplib without TCP_NODELAY) sends headers and body in two writes: with Nagle
// on its side and delayed ACKs on ours, every answer on a reused connection would stall ~40 ms
// (measured: 0.3 ms fresh, 43-48 ms reused). So this client ACKs at once (TCP_QUICKACK before
// every read), which is what a prompt reader would see.
class ReadyPoller {
 public:
  explicit ReadyPoller(int port) : port_(port) {}
  ~ReadyPoller() { Close(); }
  ReadyPoller(const ReadyPoller&) = delete;
  ReadyPoller& operator=(const ReadyPoller&) = delete;
  int connections() const { return connections_; }

  // The HTTP status, or -1 on a transport error (the next call reconnects).
  int Get() {
    if (fd_ < 0 && !Connect()) return -1;
    static const char kReq[] = "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd_, kReq, sizeof kReq - 1, MSG_NOSIGNAL) != sizeof kReq - 1) return Fail();
    std::string buf;
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!Recv(&buf)) return Fail();
    }
    std::string head = buf.substr(0, end);
    for (auto& ch : head)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (head.size() < 12 || head.rfind("http/1.", 0) != 0) return Fail();
    const int status = std::atoi(head.c_str() + 9);
    size_t len = 0;
    if (auto p = head.find("\r\ncontent-length:"); p != std::string::npos) {
      len = std::strtoul(head.c_str() + p + 17, nullptr, 10);
    }
    while (buf.size() < end + 4 + len) {
      if (!Recv(&buf)) return Fail();
    }
    if (head.find("\r\nconnection: close") != std::string::npos) Close();
    return status;
  }

 private:
  bool Connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    const int one = 1;
    if (fd_ < 0 || ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      Close();
      return false;
    }
    ++connections_;
    return true;
  }
  bool Recv(std::string* buf) {
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    char tmp[4096];
    const ssize_t got = ::recv(fd_, tmp, sizeof tmp, 0);
    if (got <= 0) return false;
    buf->append(tmp, static_cast<size_t>(got));
    return true;
  }
  int Fail() {
    Close();
    return -1;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  const int port_;
  int fd_ = -1, connections_ = 0;
};

}  // namespace bench
