#include "demo/children.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>

namespace aha::demo {

std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "agency-ha";
  return std::string(buf, static_cast<size_t>(n));
}

namespace {
std::string DescribeStatus(int st) {
  if (WIFEXITED(st)) return "exit " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return "signal " + std::to_string(WTERMSIG(st));
  return "status " + std::to_string(st);
}
}  // namespace

bool Child::Running() {
  std::lock_guard l(mu_);
  return RunningLocked();
}

bool Child::RunningLocked() {
  if (reaped_ || pid_ <= 0) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    exit_text_ = DescribeStatus(st);
    return false;
  }
  return true;
}

void Child::Terminate(std::chrono::milliseconds grace) {
  std::lock_guard l(mu_);
  terminating_ = true;
  if (in_fd_ >= 0) {
    ::close(in_fd_);  // end of input: the MCP server exits on it
    in_fd_ = -1;
  }
  if (RunningLocked()) {
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (RunningLocked() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (RunningLocked()) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      if (::waitpid(pid_, &st, 0) == pid_) {
        reaped_ = true;
        exit_text_ = DescribeStatus(st);
      }
    }
  }
  if (out_fd_ >= 0) {
    ::close(out_fd_);
    out_fd_ = -1;
  }
}

std::string Child::LogTail(size_t max_bytes) const {
  std::ifstream in(spec_.log_path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  while (!s.empty() && s.back() == '\n')
    s.pop_back();
  return s;
}

ChildSet::ChildSet() {
  spawner_ = std::thread([this] {
    std::unique_lock l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return quit_ || !jobs_.empty(); });
      if (jobs_.empty() && quit_) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      l.unlock();
      job();
      l.lock();
    }
  });
}

ChildSet::~ChildSet() {
  TerminateAll();
  {
    std::lock_guard l(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  spawner_.join();
}

Result<Child*> ChildSet::Start(const ChildSpec& spec) {
  std::promise<Result<Child*>> done;
  auto fut = done.get_future();
  {
    std::lock_guard l(mu_);
    jobs_.push_back([&] { done.set_value(SpawnHere(spec)); });
  }
  cv_.notify_all();
  return fut.get();
}

Result<Child*> ChildSet::SpawnHere(const ChildSpec& spec) {
  const std::string exe = SelfExe();
  std::vector<std::string> argv_s{exe};
  argv_s.insert(argv_s.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  int log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Err(spec.log_path + ": " + std::strerror(errno));
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
  if (spec.pipe_stdio && (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0)) {
    ::close(log_fd);
    return Err(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return Err(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);  // Ctrl-C reaches the demo, which then stops everything in order
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the demo blocks SIGTERM/SIGINT for its watcher
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(spec.pipe_stdio ? in_pipe[0] : devnull, 0);
    ::dup2(spec.pipe_stdio ? out_pipe[1] : log_fd, 1);
    ::dup2(log_fd, 2);
    ::close_range(3, ~0U, 0);  // no listener or pipe of the demo leaks into a role
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  auto c = std::make_unique<Child>();
  c->spec_ = spec;
  c->pid_ = pid;
  if (spec.pipe_stdio) {
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    c->in_fd_ = in_pipe[1];
    c->out_fd_ = out_pipe[0];
  }
  std::lock_guard l(mu_);
  children_.push_back(std::move(c));
  return children_.back().get();
}

void ChildSet::TerminateAll() {
  std::vector<Child*> cs;
  {
    std::lock_guard l(mu_);
    for (auto& c : children_)
      cs.push_back(c.get());
  }
  for (auto it = cs.rbegin(); it != cs.rend(); ++it)
    (*it)->terminating_ = true;
  // SIGTERM all first (they stop in parallel), then wait for each.
  for (auto it = cs.rbegin(); it != cs.rend(); ++it) {
    if ((*it)->Running()) ::kill((*it)->pid(), SIGTERM);
  }
  for (auto it = cs.rbegin(); it != cs.rend(); ++it)
    (*it)->Terminate();
}

Child* ChildSet::Find(const std::string& name) {
  std::lock_guard l(mu_);
  for (auto& c : children_)
    if (c->name() == name) return c.get();
  return nullptr;
}

Child* ChildSet::FirstDead() {
  std::lock_guard l(mu_);
  for (auto& c : children_) {
    if (!c->Running() && !c->terminating_) return c.get();  // Terminate() sets it first
  }
  return nullptr;
}

}  // namespace aha::demo
