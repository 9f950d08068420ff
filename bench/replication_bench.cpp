// replication_bench: the replication sidecar next to rclone, against the same s3rver, same data.
//
// Starts s3rver (npm, node --openssl-legacy-provider) with one bucket per tool and a counting
// reverse proxy on loopback in front of it: every request of `agency-ha` and of rclone goes
// through the proxy, which counts requests by method (it relays bytes unchanged and only parses
// request framing). Generates two seeded trees:
//   A: 2 000 files of 1-4 KB + 3 x 20 MB
//   B: 20 000 small files (100 B-4 KB) + a LanceDB dataset (bench/make_lance.mjs, npm @lancedb)
// and, for --runs runs (tool order rotated each run), measures per tool and tree:
//   - full sync into an empty prefix: wall time, HTTP requests, peak RSS (wait4 rusage);
//   - incremental sync after one changed file;
//   - restore of tree B (agency-ha restore vs rclone copy), checked byte for byte;
// then the RPO of `agency-ha replicate` in continuous mode at default settings on tree B: from
// writing a new file to the snapshot record that lists it (by SHA-256) being readable on s3rver.
// Medians over the runs are printed next to rclone's with the ratio. Every figure is measured.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common.h"
#include "kube_server.h"  // FindNode, FreePort
#include "objectstore/s3_store.h"
#include "objectstore/sigv4.h"
#include "replication/publish.h"
#include "replication/snapshot.h"

namespace {

using bench::MsBetween;
using bench::Percentile;
using bench::SteadyClock;
namespace fs = std::filesystem;

// The source tree (for s3rver and make_lance.mjs). __FILE__ may be relative (ccache basedir).
#ifdef AHA_SOURCE_DIR
const std::string kSourceDir = AHA_SOURCE_DIR;
#else
const std::string kSourceDir = fs::path(__FILE__).parent_path().parent_path().string();
#endif

struct Options {
  double runs = 3, seed = 1, rpo_writes = 40, b_files = 20000, lance_rows = 20000;
  double deadline = 900;  // seconds per child run
  std::string binary = AHA_BINARY, rclone = "/usr/bin/rclone", node, s3rver, lance_script;
  std::string only;  // "", "A", "B" or "rpo"
};

// ---------------------------------------------------------------------------------------------
// Counting reverse proxy: a TCP relay that parses the request framing of the client -> server
// direction (request line + headers, Content-Length or chunked body) to count requests by method.
// Bytes are forwarded unchanged in both directions (TCP_NODELAY on both legs).

class RequestParser {
 public:
  template <typename F>
  void Feed(const char* p, size_t n, F&& on_request) {
    while (n > 0) {
      if (st_ == kBody || st_ == kChunkData || st_ == kChunkCrlf) {
        const size_t k = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
        p += k;
        n -= k;
        remaining_ -= k;
        if (remaining_ == 0) {
          if (st_ == kBody) {
            st_ = kHeader;
          } else if (st_ == kChunkData) {
            st_ = kChunkCrlf;
            remaining_ = 2;
          } else {
            st_ = kChunkSize;
          }
        }
        continue;
      }
      buf_.push_back(*p++);
      --n;
      if (buf_.size() > (1 << 20)) {  // not HTTP we understand: stop counting this connection
        st_ = kBody;
        remaining_ = UINT64_MAX;
        continue;
      }
      if (st_ == kHeader) {
        if (buf_ == "\r\n") buf_.clear();  // stray CRLF between requests
        if (buf_.size() >= 4 && buf_.compare(buf_.size() - 4, 4, "\r\n\r\n") == 0) {
          Headers(on_request);
        }
      } else if (st_ == kChunkSize) {
        if (buf_.size() >= 2 && buf_.compare(buf_.size() - 2, 2, "\r\n") == 0) {
          remaining_ = std::strtoull(buf_.c_str(), nullptr, 16);
          buf_.clear();
          st_ = remaining_ == 0 ? kTrailer : kChunkData;
        }
      } else if (st_ == kTrailer) {
        if (buf_ == "\r\n" ||
            (buf_.size() >= 4 && buf_.compare(buf_.size() - 4, 4, "\r\n\r\n") == 0)) {
          buf_.clear();
          st_ = kHeader;
        }
      }
    }
  }

 private:
  template <typename F>
  void Headers(F&& on_request) {
    std::string method = buf_.substr(0, buf_.find(' '));
    uint64_t length = 0;
    bool chunked = false;
    std::istringstream in(buf_);
    std::string line;
    std::getline(in, line);  // request line
    while (std::getline(in, line)) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = line.substr(colon + 1);
      if (name == "content-length") length = std::strtoull(value.c_str(), nullptr, 10);
      if (name == "transfer-encoding") {
        std::transform(value.begin(), value.end(), value.begin(), ::tolower);
        chunked = value.find("chunked") != std::string::npos;
      }
    }
    buf_.clear();
    on_request(method);
    if (chunked) {
      st_ = kChunkSize;
    } else if (length > 0) {
      st_ = kBody;
      remaining_ = length;
    } else {
      st_ = kHeader;
    }
  }
  enum State { kHeader, kBody, kChunkSize, kChunkData, kChunkCrlf, kTrailer } st_ = kHeader;
  std::string buf_;
  uint64_t remaining_ = 0;
};

using Counts = std::map<std::string, uint64_t>;

uint64_t Total(const Counts& c) {
  uint64_t t = 0;
  for (const auto& [m, n] : c)
    t += n;
  return t;
}
Counts Diff(const Counts& after, const Counts& before) {
  Counts d;
  for (const auto& [m, n] : after) {
    auto it = before.find(m);
    const uint64_t b = it == before.end() ? 0 : it->second;
    if (n > b) d[m] = n - b;
  }
  return d;
}
std::string CountsText(const Counts& c) {
  std::string s;
  for (const auto& [m, n] : c)
    s += (s.empty() ? "" : " ") + m + " " + std::to_string(n);
  return s.empty() ? "-" : s;
}

class CountingProxy {
 public:
  ~CountingProxy() { Stop(); }
  bool Start(int upstream_port) {
    upstream_ = upstream_port;
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 256) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return false;
    }
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    return true;
  }
  void Stop() {
    stop_ = true;
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<std::thread> conns;
    {
      std::lock_guard l(mu_);
      conns.swap(conns_);
    }
    for (auto& t : conns)
      t.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }
  int port() const { return port_; }
  Counts counts() const {
    std::lock_guard l(mu_);
    return counts_;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard l(mu_);
      conns_.emplace_back([this, c] { Relay(c); });
    }
  }
  static bool WriteAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  void Relay(int client) {
    int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(upstream_));
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (up < 0 || ::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      if (up >= 0) ::close(up);
      ::close(client);
      return;
    }
    ::setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    RequestParser parser;
    std::vector<char> buf(256 * 1024);
    pollfd fds[2] = {{client, POLLIN, 0}, {up, POLLIN, 0}};
    bool open = true;
    while (open && !stop_) {
      if (::poll(fds, 2, 100) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(fds[i].fd, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          open = false;
          break;
        }
        if (i == 0) {
          parser.Feed(buf.data(), static_cast<size_t>(n), [this](const std::string& m) {
            std::lock_guard l(mu_);
            counts_[m]++;
          });
        }
        open = WriteAll(fds[1 - i].fd, buf.data(), static_cast<size_t>(n));
      }
    }
    ::close(up);
    ::close(client);
  }
  int upstream_ = 0, port_ = 0, listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::vector<std::thread> conns_;
  Counts counts_;
};

// ---------------------------------------------------------------------------------------------
// Children measured with wait4(): wall time from spawn to exit, peak RSS (ru_maxrss), CPU.

struct RunResult {
  bool ok = false;
  int status = -1;
  double seconds = 0, cpu_s = 0;
  long max_rss_kib = 0;
  std::string why;
};

using EnvEdits = std::vector<std::pair<std::string, std::string>>;  // value "\x01" = unset

std::vector<std::string> MakeEnv(const EnvEdits& edits) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : edits) {
    if (v == "\x01") {
      env.erase(k);
    } else {
      env[k] = v;
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : env)
    out.push_back(k + "=" + v);
  return out;
}

// ru_maxrss of a child counts the memory image it exec'd from: posix_spawn (vfork) shares this
// process's memory until the exec, and Linux carries that high-water mark over the exec. So the
// children are spawned by a small helper forked at the start of main, while this process is still
// a few MiB (the floor is printed); the helper reports wait4()'s rusage back over a socket.
// Protocol (SOCK_SEQPACKET, one message each): request = NUL-separated fields
// "nargs, args..., nenv, env..., stdout path, stderr path"; replies "P pid" (or "E errno") when
// spawned, then "D status seconds maxrss_kib cpu_s" when reaped.
class Spawner {
 public:
  bool Start() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return false;
    pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      ::close(sv[0]);
      ::signal(SIGINT, SIG_IGN);  // the bench stops the children; we exit when it closes the socket
      Serve(sv[1]);
      ::_exit(0);
    }
    ::close(sv[1]);
    fd_ = sv[0];
    pid_ = pid;
    return true;
  }
  ~Spawner() {
    if (fd_ >= 0) ::close(fd_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  int fd() const { return fd_; }
  pid_t pid() const { return pid_; }

 private:
  static void Serve(int fd) {
    std::vector<char> msg(1 << 20);
    for (;;) {
      ssize_t n = ::recv(fd, msg.data(), msg.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      std::vector<std::string> f;
      for (ssize_t i = 0, start = 0; i < n; ++i) {
        if (msg[static_cast<size_t>(i)] == '\0') {
          f.emplace_back(msg.data() + start, msg.data() + i);
          start = i + 1;
        }
      }
      size_t k = 0;
      auto take = [&] { return k < f.size() ? f[k++] : std::string(); };
      std::vector<std::string> args, env;
      for (long c = std::atol(take().c_str()); c > 0; --c)
        args.push_back(take());
      for (long c = std::atol(take().c_str()); c > 0; --c)
        env.push_back(take());
      const std::string out = take(), err = take();
      std::vector<char*> argv, envp;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : env)
        envp.push_back(e.data());
      envp.push_back(nullptr);
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
      posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      posix_spawnattr_t attr;
      posix_spawnattr_init(&attr);
      sigset_t none, defaults;
      sigemptyset(&none);
      sigemptyset(&defaults);
      sigaddset(&defaults, SIGPIPE);
      sigaddset(&defaults, SIGINT);
      posix_spawnattr_setsigmask(&attr, &none);
      posix_spawnattr_setsigdefault(&attr, &defaults);
      posix_spawnattr_setpgroup(&attr, 0);
      posix_spawnattr_setflags(
          &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
      pid_t pid = -1;
      const auto start = SteadyClock::now();
      int rc =
          argv[0] ? ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data()) : EINVAL;
      posix_spawn_file_actions_destroy(&fa);
      posix_spawnattr_destroy(&attr);
      std::string reply = rc == 0 ? "P " + std::to_string(pid) : "E " + std::to_string(rc);
      if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0 || rc != 0) {
        if (rc != 0) continue;
        return;
      }
      rusage ru{};
      int st = 0;
      while (::wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
      }
      const double secs = MsBetween(start, SteadyClock::now()) / 1000;
      ::kill(-pid, SIGKILL);  // stragglers of the group, if any
      const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
      char d[128];
      std::snprintf(d, sizeof d, "D %d %.6f %ld %.6f", st, secs, ru.ru_maxrss, cpu);
      if (::send(fd, d, std::strlen(d), MSG_NOSIGNAL) < 0) return;
    }
  }
  int fd_ = -1;
  pid_t pid_ = -1;
};

Spawner* g_spawner = nullptr;

class Proc {
 public:
  ~Proc() {
    if (pid_ > 0) Finish(0.0);
  }
  bool Spawn(const std::vector<std::string>& args, const EnvEdits& env, const std::string& out,
             const std::string& err) {
    std::vector<std::string> envs = MakeEnv(env);
    std::string msg = std::to_string(args.size()) + '\0';
    for (const auto& a : args)
      msg += a + '\0';
    msg += std::to_string(envs.size()) + '\0';
    for (const auto& e : envs)
      msg += e + '\0';
    msg += out + '\0' + err + '\0';
    start_ = SteadyClock::now();
    if (::send(g_spawner->fd(), msg.data(), msg.size(), MSG_NOSIGNAL) < 0) {
      std::fprintf(stderr, "spawner: send: %s\n", std::strerror(errno));
      return false;
    }
    std::string reply;
    if (!Recv(&reply, -1) || reply.size() < 3) {
      std::fprintf(stderr, "spawner: no reply\n");
      return false;
    }
    if (reply[0] != 'P') {
      std::fprintf(stderr, "posix_spawn %s: %s\n", args[0].c_str(),
                   std::strerror(std::atoi(reply.c_str() + 2)));
      return false;
    }
    pid_ = std::atoi(reply.c_str() + 2);
    return true;
  }
  // Waits for the exit for up to `deadline_s` from the spawn (SIGTERM to the group after that, or
  // at once with 0, SIGKILL 5 s later); ok only for exit status 0 within the deadline.
  RunResult Finish(double deadline_s) {
    RunResult r;
    if (pid_ <= 0) {
      r.why = "not started";
      return r;
    }
    const auto deadline = start_ + bench::Seconds(deadline_s);
    bool killed = false;
    bench::TimePoint kill_at{};
    std::string reply;
    for (;;) {
      if (Recv(&reply, 50)) break;
      if (reply == "eof") {
        r.why = "spawner died";
        ::kill(-pid_, SIGKILL);
        pid_ = -1;
        return r;
      }
      const auto now = SteadyClock::now();
      if (!killed && (now > deadline || bench::g_interrupted)) {
        ::kill(-pid_, SIGTERM);
        killed = true;
        kill_at = now + std::chrono::seconds(5);
        r.why = bench::g_interrupted ? "interrupted" : "deadline passed";
      } else if (killed && now > kill_at) {
        ::kill(-pid_, SIGKILL);
      }
    }
    pid_ = -1;
    int st = 0;
    long rss = 0;
    if (std::sscanf(reply.c_str(), "D %d %lf %ld %lf", &st, &r.seconds, &rss, &r.cpu_s) != 4) {
      r.why = "bad spawner reply";
      return r;
    }
    r.status = st;
    r.max_rss_kib = rss;
    if (r.why.empty()) {
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        r.ok = true;
      } else {
        r.why = WIFEXITED(st) ? "exit status " + std::to_string(WEXITSTATUS(st))
                              : "killed by signal " + std::to_string(WTERMSIG(st));
      }
    }
    return r;
  }
  // SIGTERM (a graceful stop for `replicate`), then Finish with `grace_s` more.
  RunResult Stop(double grace_s) {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
    return Finish(MsBetween(start_, SteadyClock::now()) / 1000 + grace_s);
  }
  pid_t pid() const { return pid_; }
  // True once the child has exited (its "D" reply is waiting).
  bool Exited() const {
    pollfd p{g_spawner->fd(), POLLIN, 0};
    return pid_ <= 0 || ::poll(&p, 1, 0) > 0;
  }

 private:
  // One message within `timeout_ms` (-1: no limit); *out = "eof" when the spawner is gone.
  static bool Recv(std::string* out, int timeout_ms) {
    out->clear();
    pollfd p{g_spawner->fd(), POLLIN, 0};
    int pr = ::poll(&p, 1, timeout_ms);
    if (pr <= 0) return false;
    char buf[256];
    ssize_t n = ::recv(g_spawner->fd(), buf, sizeof buf, 0);
    if (n <= 0) {
      *out = "eof";
      return false;
    }
    out->assign(buf, static_cast<size_t>(n));
    return true;
  }
  pid_t pid_ = -1;
  bench::TimePoint start_{};
};

// ---------------------------------------------------------------------------------------------
// Trees.

bool WriteBytes(const std::string& path, const std::string& data) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(f);
}
std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i)
    s[i] = static_cast<char>(rng() & 0xff);
  return s;
}
// Text-like content (agent state is mostly JSON/markdown): random lowercase words.
std::string RandomText(std::mt19937_64& rng, size_t n) {
  std::string s;
  s.reserve(n);
  while (s.size() < n) {
    const int len = 2 + static_cast<int>(rng() % 9);
    for (int i = 0; i < len && s.size() < n; ++i)
      s.push_back(static_cast<char>('a' + rng() % 26));
    if (s.size() < n) s.push_back(rng() % 12 == 0 ? '\n' : ' ');
  }
  return s;
}
// Every file of a real source was written long before the sync: one hour in the past.
void AgeTree(const std::string& root) {
  const auto past = std::chrono::system_clock::now() - std::chrono::hours(1);
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(past.time_since_epoch());
  timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(secs.count());
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) ::utimensat(AT_FDCWD, e.path().c_str(), ts, 0);
  }
}

struct TreeInfo {
  uint64_t files = 0, bytes = 0;
  std::vector<std::string> small;  // relative paths of the small files (for changes)
};

TreeInfo Scan(const std::string& root) {
  TreeInfo t;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    t.files++;
    t.bytes += e.file_size();
  }
  return t;
}

bool MakeTreeA(const std::string& root, uint64_t seed, TreeInfo* info) {
  std::mt19937_64 rng(seed * 1000003 + 1);
  for (int i = 0; i < 2000; ++i) {
    char rel[64];
    std::snprintf(rel, sizeof rel, "notes/d%02d/n%04d.md", i / 100, i);
    const size_t size = 1024 + rng() % 3073;  // 1-4 KB
    if (!WriteBytes(root + "/" + rel, RandomText(rng, size))) return false;
    info->small.push_back(rel);
  }
  for (int i = 0; i < 3; ++i) {
    if (!WriteBytes(root + "/blobs/large-" + std::to_string(i) + ".bin",
                    RandomBytes(rng, 20u << 20))) {
      return false;
    }
  }
  return true;
}

bool MakeTreeBSmall(const std::string& root, uint64_t seed, int files, TreeInfo* info) {
  std::mt19937_64 rng(seed * 1000003 + 2);
  for (int i = 0; i < files; ++i) {
    char rel[64];
    std::snprintf(rel, sizeof rel, "state/s%02d/t%03d/e%05d.json", i / 1000, (i / 50) % 20, i);
    const size_t size = 100 + rng() % 3997;  // 100 B - 4 KB
    if (!WriteBytes(root + "/" + rel, RandomText(rng, size))) return false;
    info->small.push_back(rel);
  }
  return true;
}

// Changes one small file (new content, one byte longer, mtime now).
bool ChangeOne(const std::string& root, const std::string& rel, std::mt19937_64& rng) {
  const std::string path = root + "/" + rel;
  const auto size = fs::file_size(path);
  return WriteBytes(path, RandomText(rng, static_cast<size_t>(size) + 1));
}

// Byte-for-byte comparison of two trees (skipping agency-ha's state dir); "" when equal. With
// `lance_hint_ok`, a LanceDB `_versions/latest_version_hint.json` missing from `b` is only counted
// in *hints: agency-ha captures version manifests only (the hint is rewritten in place on every
// commit and may name a version the snapshot does not hold; Lance works without it).
std::string CompareTrees(const std::string& a, const std::string& b, bool lance_hint_ok = false,
                         int* hints = nullptr) {
  std::set<std::string> files_a, files_b;
  auto list = [](const std::string& root, std::set<std::string>* out) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string rel = fs::relative(it->path(), root).string();
      if (it->is_directory() && rel == ".agency-ha") {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) out->insert(rel);
    }
  };
  list(a, &files_a);
  list(b, &files_b);
  if (files_a != files_b) {
    for (const auto& f : files_a) {
      if (files_b.count(f)) continue;
      if (lance_hint_ok && f.ends_with("/_versions/latest_version_hint.json") &&
          f.find(".lance/") != std::string::npos) {
        if (hints) ++*hints;
        continue;
      }
      return "missing in restore: " + f;
    }
    for (const auto& f : files_b)
      if (!files_a.count(f)) return "extra in restore: " + f;
  }
  for (const auto& f : files_a) {
    if (!files_b.count(f)) continue;
    if (bench::ReadText(a + "/" + f) != bench::ReadText(b + "/" + f)) return "differs: " + f;
  }
  return "";
}

std::string LoadAvg() {
  std::string s = bench::ReadText("/proc/loadavg");
  std::istringstream in(s);
  std::string l1, l5, l15;
  in >> l1 >> l5 >> l15;
  return l1 + " / " + l5 + " / " + l15;
}

// ---------------------------------------------------------------------------------------------
// The bench.

struct Sample {
  double seconds = 0;
  uint64_t requests = 0;
  long rss_kib = 0;
  double cpu_s = 0;
  Counts by_method;
};

enum Tool { kAha = 0, kRcloneDefault = 1, kRcloneChecksum = 2 };
const char* kToolName[] = {"agency-ha", "rclone default", "rclone --checksum --fast-list"};
const char* kBucket[] = {"aha", "rclone-default", "rclone-checksum"};

class Bench {
 public:
  Bench(Options o, std::string tmp) : o_(std::move(o)), tmp_(std::move(tmp)) {
    empty_rclone_conf_ = tmp_ + "/rclone.conf";
    bench::WriteText(empty_rclone_conf_, "");
  }

  bool StartS3rver() {
    const int port = bench::FreePort();
    fs::create_directories(tmp_ + "/s3rver");
    std::vector<std::string> args = {
        o_.node,  "--openssl-legacy-provider", o_.s3rver,   "--directory", tmp_ + "/s3rver",
        "--port", std::to_string(port),        "--address", "127.0.0.1",   "--silent"};
    for (const char* b : kBucket) {
      args.push_back("--configure-bucket");
      args.push_back(b);
    }
    if (!s3rver_.Spawn(args, tmp_ + "/s3rver.log")) return false;
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    while (SteadyClock::now() < deadline) {
      if (!s3rver_.Running()) return Fail("s3rver exited at startup");
      httplib::Client c("127.0.0.1", port);
      c.set_connection_timeout(1);
      if (auto r = c.Get("/"); r) {
        s3rver_port_ = port;
        break;
      }
      if (!bench::SleepFor(0.05)) return false;
    }
    if (s3rver_port_ == 0) return Fail("s3rver did not listen within 30 s");
    if (!proxy_.Start(s3rver_port_)) return Fail("cannot start the counting proxy");
    return true;
  }

  // One sync of `src` into bucket/prefix by `tool`; `state` is agency-ha's state dir.
  bool Sync(Tool tool, const std::string& src, const std::string& prefix, const std::string& state,
            Sample* out) {
    const std::string tag = std::string(kBucket[tool]) + "-" + prefix;
    const std::string log_out = tmp_ + "/logs/" + tag + ".out", log_err = tmp_ + "/logs/" + tag;
    std::vector<std::string> args;
    EnvEdits env;
    if (tool == kAha) {
      const std::string cfg = tmp_ + "/logs/" + tag + ".yaml";
      bench::WriteText(cfg, "source: " + src + "\nregion: bench\nstateDir: " + state +
                                "\nlisten: \"\"\nremotes:\n  - url: s3://aha/" + prefix +
                                "\n    endpoint: " + ProxyUrl() + "\n    pathStyle: true\n");
      args = {o_.binary, "replicate", "--config", cfg, "--once"};
      env = AhaEnv();
    } else {
      args = {o_.rclone, "--config", empty_rclone_conf_,
              "sync",    src,        std::string("bench:") + kBucket[tool] + "/" + prefix};
      if (tool == kRcloneChecksum) {
        args.push_back("--checksum");
        args.push_back("--fast-list");
      }
      env = RcloneEnv();
    }
    return Measure(args, env, log_out, log_err, out);
  }

  bool RestoreTo(Tool tool, const std::string& prefix, const std::string& to, Sample* out) {
    const std::string tag = std::string("restore-") + kBucket[tool] + "-" + prefix;
    const std::string log_out = tmp_ + "/logs/" + tag + ".out", log_err = tmp_ + "/logs/" + tag;
    if (tool == kAha) {
      return Measure({o_.binary, "restore", "--remote", "s3://aha/" + prefix, "--region", "bench",
                      "--to", to, "--endpoint", ProxyUrl()},
                     AhaEnv(), log_out, log_err, out);
    }
    return Measure({o_.rclone, "--config", empty_rclone_conf_, "copy",
                    std::string("bench:") + kBucket[tool] + "/" + prefix, to},
                   RcloneEnv(), log_out, log_err, out);
  }

  // Continuous mode on `src` (already published to s3://aha/prefix with `state`): writes a new
  // file, waits for a snapshot record listing it to be readable on s3rver, repeats.
  bool Rpo(const std::string& src, const std::string& prefix, const std::string& state,
           std::vector<double>* rpo_ms, Sample* proc, uint64_t* snapshots, Counts* requests) {
    auto direct = DirectStore(prefix);
    if (!direct) return Fail("cannot open s3rver: " + direct.message());
    aha::objectstore::ObjectStore& store = **direct;
    auto first = aha::replication::ReadLatest(store, "bench");
    if (!first || !*first) return Fail("no snapshot to continue from before the RPO phase");
    std::string seen = (*first)->id;
    const std::string cfg = tmp_ + "/logs/rpo.yaml";
    bench::WriteText(cfg, "source: " + src + "\nregion: bench\nstateDir: " + state +
                              "\nlisten: \"\"\nremotes:\n  - url: s3://aha/" + prefix +
                              "\n    endpoint: " + ProxyUrl() + "\n    pathStyle: true\n");
    Proc p;
    if (!p.Spawn({o_.binary, "replicate", "--config", cfg}, AhaEnv(), tmp_ + "/logs/rpo.out",
                 tmp_ + "/logs/rpo.log")) {
      return false;
    }
    // Its start-up snapshot first (a new process publishes once even when nothing changed).
    const auto start_deadline = SteadyClock::now() + bench::Seconds(o_.deadline);
    for (;;) {
      auto l = aha::replication::ReadLatest(store, "bench");
      if (l && *l && (*l)->id != seen) {
        seen = (*l)->id;
        break;
      }
      if (bench::g_interrupted) return Fail("interrupted");
      if (SteadyClock::now() > start_deadline) {
        return Fail("replicate published no start-up snapshot within the deadline:\n" +
                    bench::Tail(bench::ReadText(tmp_ + "/logs/rpo.log"), 10));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const Counts before = proxy_.counts();
    std::mt19937_64 rng(static_cast<uint64_t>(o_.seed) * 7 + 3);
    std::uniform_real_distribution<double> gap(0.3, 1.3);
    const int n = static_cast<int>(o_.rpo_writes);
    *snapshots = 0;
    for (int i = 0; i < n; ++i) {
      if (!bench::SleepFor(gap(rng))) return Fail("interrupted");
      char name[64];
      std::snprintf(name, sizeof name, "rpo/w%03d.json", i);
      const std::string rel = name;
      const std::string data =
          "{\"write\": " + std::to_string(i) + ", \"text\": \"" + RandomText(rng, 200) + "\"}\n";
      const std::string sha = aha::objectstore::sigv4::Sha256Hex(data);
      const auto t0 = SteadyClock::now();
      if (!WriteBytes(src + "/" + rel, data)) return Fail("cannot write " + rel);
      const auto deadline = t0 + std::chrono::seconds(60);
      bool found = false;
      while (!found) {
        auto l = aha::replication::ReadLatest(store, "bench");
        if (l && *l && (*l)->id != seen) {
          auto text = store.Get(aha::replication::RecordKey("bench", (*l)->id));
          auto rec = text ? aha::replication::RecordFromJson(*text)
                          : aha::Result<aha::replication::Record>(text.error());
          if (rec) {  // else not readable yet: look again
            seen = (*l)->id;
            (*snapshots)++;
            for (const auto& f : rec->files) {
              if (f.path == rel && f.sha256 == sha) found = true;
            }
          }
          if (found) rpo_ms->push_back(MsBetween(t0, SteadyClock::now()));
        }
        if (found) break;
        if (bench::g_interrupted) return Fail("interrupted");
        if (SteadyClock::now() > deadline) {
          return Fail("write " + rel + " not in a published snapshot within 60 s:\n" +
                      bench::Tail(bench::ReadText(tmp_ + "/logs/rpo.log"), 10));
        }
        if (p.Exited()) {
          return Fail("replicate exited:\n" +
                      bench::Tail(bench::ReadText(tmp_ + "/logs/rpo.log"), 10));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    *requests = Diff(proxy_.counts(), before);
    RunResult r = p.Stop(30);
    proc->rss_kib = r.max_rss_kib;
    proc->cpu_s = r.cpu_s;
    proc->seconds = r.seconds;
    if (!r.ok) {
      return Fail("replicate did not stop cleanly: " + r.why + "\n" +
                  bench::Tail(bench::ReadText(tmp_ + "/logs/rpo.log"), 10));
    }
    return true;
  }

  bool Fail(const std::string& why) {
    std::fprintf(stderr, "replication_bench: %s\n", why.c_str());
    return false;
  }
  int proxy_port() const { return proxy_.port(); }
  int s3rver_port() const { return s3rver_port_; }

 private:
  std::string ProxyUrl() const { return "http://127.0.0.1:" + std::to_string(proxy_.port()); }
  EnvEdits AhaEnv() const {
    return {{"AWS_ACCESS_KEY_ID", "S3RVER"}, {"AWS_SECRET_ACCESS_KEY", "S3RVER"},
            {"AWS_SESSION_TOKEN", "\x01"},   {"AWS_PROFILE", "\x01"},
            {"AWS_REGION", "us-east-1"},     {"AWS_ENDPOINT_URL", "\x01"},
            {"AWS_ENDPOINT_URL_S3", "\x01"}};
  }
  EnvEdits RcloneEnv() const {
    return {{"RCLONE_CONFIG_BENCH_TYPE", "s3"},
            {"RCLONE_CONFIG_BENCH_PROVIDER", "Other"},
            {"RCLONE_CONFIG_BENCH_ENDPOINT", ProxyUrl()},
            {"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID", "S3RVER"},
            {"RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY", "S3RVER"},
            {"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE", "true"},
            {"AWS_CA_BUNDLE", "\x01"}};
  }
  aha::Result<std::unique_ptr<aha::objectstore::S3ObjectStore>> DirectStore(
      const std::string& prefix) {
    aha::objectstore::S3Overrides ov;
    ov.endpoint = "http://127.0.0.1:" + std::to_string(s3rver_port_);
    ov.region = "us-east-1";
    ov.path_style = true;
    ov.credentials = std::make_shared<aha::objectstore::StaticCredentialsProvider>(
        aha::objectstore::sigv4::Credentials{"S3RVER", "S3RVER", ""});
    auto cfg = aha::objectstore::S3ConfigFromUrlAndEnv("s3://aha/" + prefix, ov);
    if (!cfg) return cfg.error();
    return aha::objectstore::S3ObjectStore::Create(std::move(*cfg));
  }
  bool Measure(const std::vector<std::string>& args, const EnvEdits& env,
               const std::string& log_out, const std::string& log_err, Sample* out) {
    const Counts before = proxy_.counts();
    Proc p;
    if (!p.Spawn(args, env, log_out, log_err)) return false;
    RunResult r = p.Finish(o_.deadline);
    // Connections may still be relaying the last bytes: the counts settle within a few ms.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    out->by_method = Diff(proxy_.counts(), before);
    out->requests = Total(out->by_method);
    out->seconds = r.seconds;
    out->rss_kib = r.max_rss_kib;
    out->cpu_s = r.cpu_s;
    if (!r.ok) {
      std::string cmd;
      for (const auto& a : args)
        cmd += a + " ";
      return Fail(cmd + "failed: " + r.why + "\n" + bench::Tail(bench::ReadText(log_err), 15) +
                  bench::Tail(bench::ReadText(log_out), 5));
    }
    return true;
  }

  Options o_;
  std::string tmp_, empty_rclone_conf_;
  bench::Child s3rver_;
  int s3rver_port_ = 0;
  CountingProxy proxy_;
};

double Median(std::vector<double> v) {
  return Percentile(std::move(v), 50);
}

// Per-tool samples of one measurement.
struct Series {
  std::string name;
  std::vector<Sample> s[3];
};

void PrintRuns(const Series& se, int tools) {
  std::printf("  %s, each run (time s / requests / peak RSS MiB / CPU s):\n", se.name.c_str());
  for (int t = 0; t < tools; ++t) {
    std::printf("    %-30s", kToolName[t]);
    for (const auto& x : se.s[t]) {
      std::printf("  %.2f/%llu/%.1f/%.2f", x.seconds, static_cast<unsigned long long>(x.requests),
                  static_cast<double>(x.rss_kib) / 1024, x.cpu_s);
    }
    std::printf("\n");
  }
  for (int t = 0; t < tools; ++t) {
    if (!se.s[t].empty()) {
      std::printf("    %-30s  requests by method (last run): %s\n", kToolName[t],
                  CountsText(se.s[t].back().by_method).c_str());
    }
  }
}

struct Medians {
  double seconds, requests, rss_mib, cpu_s;
};
Medians MedianOf(const std::vector<Sample>& v) {
  std::vector<double> a, b, c, d;
  for (const auto& x : v) {
    a.push_back(x.seconds);
    b.push_back(static_cast<double>(x.requests));
    c.push_back(static_cast<double>(x.rss_kib) / 1024);
    d.push_back(x.cpu_s);
  }
  return {Median(a), Median(b), Median(c), Median(d)};
}

void PrintTable(const Series& se, int tools, const std::string& extra_unit = "",
                double extra_divisor = 0) {
  const Medians aha = MedianOf(se.s[kAha]);
  std::printf("\n%s (median of %zu runs)\n", se.name.c_str(), se.s[kAha].size());
  std::printf("  %-14s %12s", "", "agency-ha");
  for (int t = 1; t < tools; ++t)
    std::printf(" %30s %8s", kToolName[t], "ratio");
  std::printf("\n");
  auto row = [&](const char* what, double a, auto get, const char* fmt) {
    std::printf("  %-14s ", what);
    std::printf(fmt, a);
    for (int t = 1; t < tools; ++t) {
      const double r = get(MedianOf(se.s[t]));
      std::printf("                  ");
      std::printf(fmt, r);
      std::printf(" %8.3f", r > 0 ? a / r : std::nan(""));
    }
    std::printf("\n");
  };
  row(
      "wall time s", aha.seconds, [](const Medians& m) { return m.seconds; }, "%12.3f");
  if (extra_divisor > 0) {
    const std::string label = extra_unit;
    std::printf("  %-14s %12.2f", label.c_str(), extra_divisor / aha.seconds);
    for (int t = 1; t < tools; ++t) {
      const double r = extra_divisor / MedianOf(se.s[t]).seconds;
      std::printf("                  %12.2f %8.3f", r, (extra_divisor / aha.seconds) / r);
    }
    std::printf("\n");
  }
  row(
      "HTTP requests", aha.requests, [](const Medians& m) { return m.requests; }, "%12.0f");
  row(
      "peak RSS MiB", aha.rss_mib, [](const Medians& m) { return m.rss_mib; }, "%12.1f");
  row(
      "CPU s", aha.cpu_s, [](const Medians& m) { return m.cpu_s; }, "%12.2f");
  std::printf("  (ratio = agency-ha / rclone)\n");
}

}  // namespace

int main(int argc, char** argv) {
  // First, while this process is small: the helper that spawns and reaps every measured child.
  Spawner spawner;
  if (!spawner.Start()) {
    std::perror("replication_bench: spawner");
    return 1;
  }
  g_spawner = &spawner;
  Options o;
  CLI::App app{
      "Runs `agency-ha replicate` and rclone side by side against one s3rver behind a counting\n"
      "proxy and prints full/incremental sync time, requests, peak RSS, restore throughput and\n"
      "the RPO of continuous mode, each next to rclone's with the ratio.",
      "replication_bench"};
  app.add_option("--runs", o.runs,
                 "runs per measurement (tools alternate, medians reported), default 3")
      ->type_name("N");
  app.add_option("--seed", o.seed, "seed of the generated trees, default 1")->type_name("N");
  app.add_option("--rpo-writes", o.rpo_writes, "writes timed in the RPO phase, default 40")
      ->type_name("N");
  app.add_option("--b-files", o.b_files, "small files of tree B, default 20000")->type_name("N");
  app.add_option("--lance-rows", o.lance_rows, "rows of tree B's LanceDB table, default 20000")
      ->type_name("N");
  app.add_option("--only", o.only,
                 "A|B|rpo: run only tree A, tree B (includes restore) or tree B + RPO")
      ->type_name("A|B|rpo");
  app.add_option("--deadline", o.deadline, "per child run (seconds), default 900")->type_name("S");
  bench::AddBinaryOption(app, &o.binary);
  app.add_option("--rclone", o.rclone, "rclone binary")->capture_default_str()->type_name("PATH");
  app.add_option("--node", o.node, "node binary, default: node in $PATH")->type_name("PATH");
  app.add_option("--s3rver", o.s3rver,
                 "s3rver CLI script, default " + kSourceDir +
                     "/bench/s3rver_durable.mjs (s3rver whose PUT is acknowledged after its "
                     "bytes are written)")
      ->type_name("PATH");
  app.add_option("--lance-script", o.lance_script,
                 "default " + kSourceDir + "/bench/make_lance.mjs")
      ->type_name("P");
  if (int rc = 0; !bench::ParseFlags(app, argc, argv, &rc)) return rc;
  if (o.runs < 1 || o.rpo_writes < 1 || o.b_files < 1 || o.lance_rows < 10 || o.deadline < 10 ||
      (!o.only.empty() && o.only != "A" && o.only != "B" && o.only != "rpo")) {
    std::fprintf(stderr,
                 "replication_bench: need runs, rpo-writes, b-files >= 1, lance-rows >= 10, "
                 "deadline >= 10, --only A|B|rpo (see --help)\n");
    return 2;
  }
  if (o.node.empty()) o.node = bench::FindNode();
  if (o.s3rver.empty()) o.s3rver = kSourceDir + "/bench/s3rver_durable.mjs";
  if (o.lance_script.empty()) o.lance_script = kSourceDir + "/bench/make_lance.mjs";
  for (const auto& [what, path] : std::vector<std::pair<std::string, std::string>>{
           {"agency-ha (--binary)", o.binary},
           {"rclone (--rclone)", o.rclone},
           {"node (--node)", o.node},
           {"s3rver.js (--s3rver)", o.s3rver},
           {"make_lance.mjs (--lance-script)", o.lance_script}}) {
    if (path.empty() || ::access(path.c_str(), R_OK) != 0) {
      std::fprintf(stderr, "replication_bench: %s not found: %s\n", what.c_str(), path.c_str());
      return 1;
    }
  }
  bench::InstallSignalHandlers();
  const int runs = static_cast<int>(o.runs);
  const bool do_a = o.only.empty() || o.only == "A";
  const bool do_b = o.only.empty() || o.only == "B" || o.only == "rpo";
  const bool do_rpo = o.only.empty() || o.only == "rpo";

  bench::TempDir tmp("agency-ha-replication-bench");
  if (!tmp.ok()) {
    std::perror("replication_bench: mkdtemp");
    return 1;
  }
  fs::create_directories(tmp.path() + "/logs");
  const std::string load_start = LoadAvg();
  const auto t_start = SteadyClock::now();
  Bench b(o, tmp.path());
  auto die = [&](const std::string& why) {
    if (!why.empty()) std::fprintf(stderr, "replication_bench: %s\n", why.c_str());
    return bench::g_interrupted ? 130 : 1;
  };
  if (!b.StartS3rver()) return die("");

  std::printf("agency-ha replication bench (seed %.0f, %d runs per measurement)\n", o.seed, runs);

  std::printf(
      "  agency-ha %s\n  rclone    %s\n  s3rver    127.0.0.1:%d behind the counting proxy "
      "127.0.0.1:%d\n  load average at start (1/5/15 min): %s\n",
      o.binary.c_str(), o.rclone.c_str(), b.s3rver_port(), b.proxy_port(), load_start.c_str());
  std::fflush(stdout);

  const int tools = 3;
  std::mt19937_64 change_rng(static_cast<uint64_t>(o.seed) * 31 + 7);
  // One tree, its full and incremental syncs, for every run (tool order rotated per run).
  auto sync_tree = [&](const std::string& name, const std::string& src, const TreeInfo& info,
                       Series* full, Series* incr, Series* restore) -> bool {
    full->name = "tree " + name + " full sync";
    incr->name = "tree " + name + " incremental sync (1 file changed)";
    if (restore) restore->name = "tree " + name + " restore";
    for (int run = 0; run < runs; ++run) {
      const std::string prefix = "run" + std::to_string(run + 1) + "-" + name;
      const std::string state = tmp.path() + "/state-" + prefix;
      for (int k = 0; k < tools; ++k) {
        const Tool t = static_cast<Tool>((run + k) % tools);
        Sample s;
        if (!b.Sync(t, src, prefix, state, &s)) return false;
        full->s[t].push_back(s);
        std::printf("  run %d %-32s full        %8.2f s %7llu requests %8.1f MiB\n", run + 1,
                    kToolName[t], s.seconds, static_cast<unsigned long long>(s.requests),
                    static_cast<double>(s.rss_kib) / 1024);
        std::fflush(stdout);
        std::printf("        requests by method: %s\n", CountsText(s.by_method).c_str());
      }
      if (!ChangeOne(src, info.small[change_rng() % info.small.size()], change_rng)) return false;
      for (int k = 0; k < tools; ++k) {
        const Tool t = static_cast<Tool>((run + k) % tools);
        Sample s;
        if (!b.Sync(t, src, prefix, state, &s)) return false;
        incr->s[t].push_back(s);
        std::printf("  run %d %-32s incremental %8.3f s %7llu requests %8.1f MiB\n", run + 1,
                    kToolName[t], s.seconds, static_cast<unsigned long long>(s.requests),
                    static_cast<double>(s.rss_kib) / 1024);
        std::fflush(stdout);
        std::printf("        requests by method: %s\n", CountsText(s.by_method).c_str());
      }
      if (restore) {
        for (int k = 0; k < 2; ++k) {
          const Tool t = static_cast<Tool>((run + k) % 2);
          const std::string to = tmp.path() + "/restore-" + kBucket[t] + "-" + prefix;
          Sample s;
          if (!b.RestoreTo(t, prefix, to, &s)) return false;
          int hints = 0;
          const std::string diff = CompareTrees(src, to, t == kAha, &hints);
          if (hints > 0) {
            std::printf(
                "  note: %d LanceDB latest_version_hint.json not in agency-ha's restore (by"
                " design: manifests only)\n",
                hints);
          }
          if (!diff.empty() && t != kAha) {
            // rclone's own correctness is not under test: record it and go on.
            std::printf("  WARNING: %s restore of %s is not identical to the source: %s\n",
                        kToolName[t], prefix.c_str(), diff.c_str());
          } else if (!diff.empty()) {
            std::fprintf(
                stderr, "replication_bench: %s restore of %s: %s\n%s\n", kToolName[t],
                prefix.c_str(), diff.c_str(),
                bench::Tail(
                    bench::ReadText(tmp.path() + "/logs/restore-" + kBucket[t] + "-" + prefix), 10)
                    .c_str());
            return false;
          }
          restore->s[t].push_back(s);
          std::printf("  run %d %-32s restore     %8.2f s %7llu requests %8.1f MiB (compared)\n",
                      run + 1, kToolName[t], s.seconds, static_cast<unsigned long long>(s.requests),
                      static_cast<double>(s.rss_kib) / 1024);
          std::printf("        requests by method: %s\n", CountsText(s.by_method).c_str());
          std::fflush(stdout);
          std::error_code ec;
          fs::remove_all(to, ec);
        }
      }
    }
    return true;
  };

  Series a_full, a_incr, b_full, b_incr, b_restore;
  TreeInfo a_info, b_info;
  if (do_a) {
    const std::string src = tmp.path() + "/treeA";
    if (!MakeTreeA(src, static_cast<uint64_t>(o.seed), &a_info)) return die("cannot write tree A");
    AgeTree(src);
    const TreeInfo t = Scan(src);
    a_info.files = t.files;
    a_info.bytes = t.bytes;
    std::printf("\ntree A: %llu files, %llu bytes (load %s)\n",
                static_cast<unsigned long long>(a_info.files),
                static_cast<unsigned long long>(a_info.bytes), LoadAvg().c_str());
    std::fflush(stdout);
    if (!sync_tree("A", src, a_info, &a_full, &a_incr, nullptr)) return die("");
  }
  std::vector<double> rpo;
  Sample rpo_proc;
  uint64_t rpo_snapshots = 0;
  Counts rpo_requests;
  if (do_b) {
    const std::string src = tmp.path() + "/treeB";
    if (!MakeTreeBSmall(src, static_cast<uint64_t>(o.seed), static_cast<int>(o.b_files), &b_info)) {
      return die("cannot write tree B");
    }
    fs::create_directories(src + "/brain");
    {
      Proc lance;
      if (!lance.Spawn({o.node, o.lance_script, src + "/brain", "--rows",
                        std::to_string(static_cast<int>(o.lance_rows)), "--seed",
                        std::to_string(static_cast<int>(o.seed))},
                       {}, tmp.path() + "/logs/lance.out", tmp.path() + "/logs/lance.log")) {
        return die("cannot start node");
      }
      RunResult r = lance.Finish(300);
      if (!r.ok) {
        return die("make_lance.mjs failed: " + r.why + "\n" +
                   bench::Tail(bench::ReadText(tmp.path() + "/logs/lance.log"), 10));
      }
    }
    AgeTree(src);
    const TreeInfo t = Scan(src);
    b_info.files = t.files;
    b_info.bytes = t.bytes;
    const TreeInfo lance = Scan(src + "/brain");
    std::printf(
        "\ntree B: %llu files, %llu bytes; LanceDB dataset %llu files, %llu bytes: %s"
        "  (load %s)\n",
        static_cast<unsigned long long>(b_info.files),
        static_cast<unsigned long long>(b_info.bytes), static_cast<unsigned long long>(lance.files),
        static_cast<unsigned long long>(lance.bytes),
        bench::Tail(bench::ReadText(tmp.path() + "/logs/lance.out"), 1).c_str(), LoadAvg().c_str());
    std::fflush(stdout);
    if (!sync_tree("B", src, b_info, &b_full, &b_incr, &b_restore)) return die("");
    if (do_rpo) {
      const std::string prefix = "run" + std::to_string(runs) + "-B";
      std::printf(
          "\nRPO: continuous `agency-ha replicate` at defaults on tree B (%s), %d writes "
          "(load %s)\n",
          prefix.c_str(), static_cast<int>(o.rpo_writes), LoadAvg().c_str());
      std::fflush(stdout);
      if (!b.Rpo(src, prefix, tmp.path() + "/state-" + prefix, &rpo, &rpo_proc, &rpo_snapshots,
                 &rpo_requests)) {
        return die("");
      }
    }
  }

  const double wall_s = MsBetween(t_start, SteadyClock::now()) / 1000;
  std::printf("\n======== results (medians; ratio = agency-ha / rclone) ========\n");
  std::printf(
      "(children were spawned by a helper of %.1f MiB peak RSS: the floor of every RSS"
      " figure)\n",
      static_cast<double>(bench::ProcKiB(spawner.pid(), "status", "VmHWM")) / 1024);
  if (do_a) {
    std::printf("\ntree A: %llu files, %llu bytes\n", static_cast<unsigned long long>(a_info.files),
                static_cast<unsigned long long>(a_info.bytes));
    PrintRuns(a_full, tools);
    PrintRuns(a_incr, tools);
    PrintTable(a_full, tools);
    PrintTable(a_incr, tools);
  }
  if (do_b) {
    std::printf("\ntree B: %llu files, %llu bytes\n", static_cast<unsigned long long>(b_info.files),
                static_cast<unsigned long long>(b_info.bytes));
    PrintRuns(b_full, tools);
    PrintRuns(b_incr, tools);
    PrintRuns(b_restore, 2);
    PrintTable(b_full, tools);
    PrintTable(b_incr, tools);
    PrintTable(b_restore, 2, "MB/s", static_cast<double>(b_info.bytes) / 1e6);
    const Medians ar = MedianOf(b_restore.s[kAha]), rr = MedianOf(b_restore.s[kRcloneDefault]);
    std::printf("  files/s        %12.0f                   %12.0f %8.3f\n",
                static_cast<double>(b_info.files) / ar.seconds,
                static_cast<double>(b_info.files) / rr.seconds, rr.seconds / ar.seconds);
  }
  if (do_rpo) {
    std::printf(
        "\nRPO, write -> snapshot record listing it readable on s3rver (continuous mode, "
        "defaults):\n"
        "  n %zu   min %.1f ms   p50 %.1f ms   p90 %.1f ms   p99 %.1f ms   max %.1f ms\n"
        "  %llu snapshots published, %llu requests (%s), %.1f requests per snapshot\n"
        "  replicate peak RSS %.1f MiB, CPU %.2f s over %.1f s\n",
        rpo.size(), Percentile(rpo, 0), Percentile(rpo, 50), Percentile(rpo, 90),
        Percentile(rpo, 99), Percentile(rpo, 100), static_cast<unsigned long long>(rpo_snapshots),
        static_cast<unsigned long long>(Total(rpo_requests)), CountsText(rpo_requests).c_str(),
        rpo_snapshots ? static_cast<double>(Total(rpo_requests)) / rpo_snapshots : 0.0,
        static_cast<double>(rpo_proc.rss_kib) / 1024, rpo_proc.cpu_s, rpo_proc.seconds);
  }

  std::printf("\n======== targets ========\n");
  auto verdict = [](bool met) { return met ? "MET" : "MISSED"; };
  auto targets = [&](const char* tree, const Series& full, const Series& incr) {
    const Medians af = MedianOf(full.s[kAha]), rf = MedianOf(full.s[kRcloneDefault]);
    const Medians rc = MedianOf(full.s[kRcloneChecksum]);
    const double fastest = std::min(rf.seconds, rc.seconds);
    std::printf("  tree %s full: time %.2f s vs fastest rclone %.2f s: %s (no slower)\n", tree,
                af.seconds, fastest, verdict(af.seconds <= fastest));
    const double min_rss = std::min(rf.rss_mib, rc.rss_mib);
    std::printf("  tree %s full: peak RSS %.1f MiB vs rclone %.1f MiB (ratio %.3f): %s (<= 1/4)\n",
                tree, af.rss_mib, min_rss, af.rss_mib / min_rss,
                verdict(af.rss_mib * 4 <= min_rss));
    const Medians ai = MedianOf(incr.s[kAha]), ri = MedianOf(incr.s[kRcloneDefault]);
    std::printf(
        "  tree %s incremental: %.3f s vs rclone default %.3f s (%.1fx faster): %s (>= 10x)"
        "\n",
        tree, ai.seconds, ri.seconds, ri.seconds / ai.seconds,
        verdict(ri.seconds >= 10 * ai.seconds));
    std::printf("  tree %s incremental: %.0f requests: %s (<= 5)\n", tree, ai.requests,
                verdict(ai.requests <= 5));
  };
  if (do_a) targets("A", a_full, a_incr);
  if (do_b) targets("B", b_full, b_incr);
  if (do_rpo) {
    std::printf("  RPO p99 %.1f ms: %s (<= 2000 ms)\n", Percentile(rpo, 99),
                verdict(Percentile(rpo, 99) <= 2000));
  }
  std::printf("\nwall time %.0f s; load average at start %s, at end %s\n", wall_s,
              load_start.c_str(), LoadAvg().c_str());
  return 0;
}
