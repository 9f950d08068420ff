// Shared helpers for the benchmarks: loopback endpoints that can be taken down and brought back,
// a child process spawned without a shell and always reaped, a temp dir removed on exit, /proc
// sampling, percentiles and command-line parsing (CLI11). Header-only; each bench is one
// translation unit.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace bench {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

inline double MsBetween(TimePoint a, TimePoint b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
inline SteadyClock::duration Seconds(double s) {
  return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
}

// SIGINT/SIGTERM set this flag; loops poll it and return, so destructors clean up.
inline std::atomic<bool> g_interrupted{false};
inline void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_interrupted.store(true); };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}
// Sleeps in small steps; false when interrupted.
inline bool SleepFor(double seconds) {
  const auto end = SteadyClock::now() + Seconds(seconds);
  while (SteadyClock::now() < end) {
    if (g_interrupted) return false;
    std::this_thread::sleep_for(
        std::min<SteadyClock::duration>(end - SteadyClock::now(), std::chrono::milliseconds(20)));
  }
  return !g_interrupted;
}

// A health endpoint on 127.0.0.1 answering `status` on GET /health. Down() closes the listener
// (new connections are refused from its return on); Up() reopens it on the same port. Every
// request is timestamped, so the bench can see when the controller's probe rounds happen.
class Endpoint {
 public:
  explicit Endpoint(int status = 200) : status_(status) {}
  ~Endpoint() {
    Down();
    Join();
  }
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  bool Up() {
    Join();
    server_ = std::make_unique<httplib::Server>();
    server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
    server_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      {
        std::lock_guard l(mu_);
        hits_.push_back(SteadyClock::now());
      }
      res.status = status_;
      res.set_content(status_ < 300 ? "ok\n" : "unavailable\n", "text/plain");
    });
    if (port_ == 0) {
      port_ = server_->bind_to_any_port("127.0.0.1");
      if (port_ <= 0) return false;
    } else if (!server_->bind_to_port("127.0.0.1", port_)) {
      return false;
    }
    thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
    // stop() is a no-op until the listen loop runs: wait for it so Down() always takes effect.
    const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
    while (!server_->is_running()) {
      if (SteadyClock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return true;
  }
  void Down() {
    if (server_) server_->stop();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/health"; }
  std::vector<TimePoint> Hits() const {
    std::lock_guard l(mu_);
    return hits_;
  }

 private:
  void Join() {
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }
  const int status_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<TimePoint> hits_;
};

// A temp directory removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + ".XXXXXX")).string();
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child started with posix_spawn (no shell) in its own process group, stdout and stderr
// appended to `log_path`. The destructor terminates the whole group and reaps it.
class Child {
 public:
  Child() = default;
  ~Child() { Terminate(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool Spawn(const std::vector<std::string>& args, const std::string& log_path) {
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);  // ignored here; the child gets the default back
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = ::posix_spawn(&pid_, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      std::fprintf(stderr, "posix_spawn %s: %s\n", argv[0], std::strerror(rc));
      pid_ = -1;
      return false;
    }
    return true;
  }
  pid_t pid() const { return pid_; }
  // True while the child has not exited (reaps it when it has).
  bool Running() {
    if (pid_ <= 0 || exited_) return false;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
    return !exited_;
  }
  // SIGTERM to the group, SIGKILL after `grace_s`; reaps the child and any group member that was
  // reparented to us. Returns the wait status of the child.
  int Terminate(double grace_s = 5.0) {
    if (pid_ <= 0) return status_;
    if (!exited_) {
      ::kill(-pid_, SIGTERM);
      const auto deadline = SteadyClock::now() + Seconds(grace_s);
      while (Running() && SteadyClock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (!exited_) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        exited_ = true;
      }
    }
    // Stragglers of the group (e.g. a curl whose bash was killed): with PR_SET_CHILD_SUBREAPER
    // they are our children now, and reaping them adds their usage to RUSAGE_CHILDREN.
    ::kill(-pid_, SIGKILL);
    while (::waitpid(-pid_, nullptr, 0) > 0 || errno == EINTR) {
    }
    pid_ = -1;
    return status_;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

inline bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  return static_cast<bool>(f);
}
inline std::string ReadText(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
// The last `n` lines of a log, for error messages.
inline std::string Tail(const std::string& text, int n) {
  size_t start = text.size();
  if (start > 0 && text[start - 1] == '\n') --start;
  for (int i = 0; i < n && start > 0; ++i) {
    size_t nl = text.rfind('\n', start - 1);
    start = nl == std::string::npos ? 0 : nl;
  }
  return start == 0 ? text : text.substr(start + 1);
}

// A "Field:  N kB" line of /proc/PID/<file> (e.g. "status": VmHWM, VmRSS, RssAnon, RssFile) in
// KiB, -1 when unreadable.
inline long ProcKiB(pid_t pid, const std::string& file, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/" + file);
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
    }
  }
  return -1;
}
// utime + stime of /proc/PID/stat (all threads, including exited ones) in seconds, -1 if gone.
inline double ProcCpuSeconds(pid_t pid) {
  std::string s = ReadText("/proc/" + std::to_string(pid) + "/stat");
  size_t close = s.rfind(')');  // comm may contain spaces
  if (close == std::string::npos) return -1;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {  // fields 14 and 15 (1-based)
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Nearest-rank percentile (p in 0..100) of an unsorted sample; NaN when empty.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// "--name VALUE" flag parsing: returns true and advances `i` when argv[i] is `name`.
// Parses the command line with CLI11: --help (-h) prints the options and returns 0 in *rc; an
// unknown flag, a missing value or a value of the wrong type prints the error and returns 2 in
// *rc. Returns true when the bench should run.
inline bool ParseFlags(CLI::App& app, int argc, char** argv, int* rc) {
  try {
    app.parse(argc, argv);
    return true;
  } catch (const CLI::ParseError& e) {
    *rc = app.exit(e) == 0 ? 0 : 2;
    return false;
  }
}

// --binary: the agency-ha binary the bench runs (every bench; the default is this build's).
inline void AddBinaryOption(CLI::App& app, std::string* binary) {
  app.add_option("--binary", *binary, "agency-ha binary")->capture_default_str()->type_name("PATH");
}

// --node and --server: what runs the kube test server (the benches that talk to a fake API).
inline void AddKubeServerOptions(CLI::App& app, std::string* node, std::string* server) {
  app.add_option("--node", *node, "node binary, default from $PATH")
      ->capture_default_str()
      ->type_name("PATH");
  app.add_option("--server", *server, "kube test server script")
      ->capture_default_str()
      ->type_name("PATH");
}

// False, with the reason on stderr, when no node binary was found or given.
inline bool HaveNode(const char* bench, const std::string& node) {
  if (!node.empty()) return true;
  std::fprintf(stderr, "%s: node not found in $PATH (use --node)\n", bench);
  return false;
}

// The controller config the benches run with: every region active, no failback delay worth
// waiting for, HTTP server as requested.
inline std::string ControllerYaml(const std::vector<std::string>& names,
                                  const std::vector<std::string>& urls, double interval,
                                  double timeout, int failure_threshold, int success_threshold,
                                  const std::string& state_dir, const std::string& listen) {
  std::string y = "regions:\n";
  for (size_t i = 0; i < names.size(); ++i) {
    y += "  - {name: " + names[i] + ", active: true, endpoint: \"" + urls[i] + "\"}\n";
  }
  char probe[256];
  std::snprintf(probe, sizeof probe,
                "probe: {intervalSeconds: %g, timeoutSeconds: %g, failureThreshold: %d, "
                "successThreshold: %d}\n",
                interval, timeout, failure_threshold, success_threshold);
  y += probe;
  y += "policy: {failbackSeconds: 5}\n";
  y += "state: {file: \"" + state_dir + "\"}\n";
  y += "listen: \"" + listen + "\"\n";
  return y;
}

inline std::string RegionName(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "r%02d", i);
  return buf;
}

}  // namespace bench
