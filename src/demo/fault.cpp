#include "demo/fault.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/clock.h"

namespace aha::demo {

bool IsFaultType(const std::string& type) {
  return type == "health" || type == "pod" || type == "network" || type == "node";
}

namespace {

// Closes with a reset (SO_LINGER 0): the peer sees the connection refused/reset at once.
void CloseReset(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

bool SendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TcpProxy::TcpProxy(int upstream_port) : upstream_(upstream_port) {}

TcpProxy::~TcpProxy() {
  Stop();
}

Status TcpProxy::Start() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Err(std::string("proxy socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
      ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Err(std::string("proxy listen: ") + std::strerror(errno));
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void TcpProxy::Stop() {
  if (!thread_.joinable()) return;
  quit_ = true;
  char c = 'q';
  (void)!::write(wake_[1], &c, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void TcpProxy::SetDown(bool down) {
  down_ = down;
  char c = 'd';
  (void)!::write(wake_[1], &c, 1);
}

void TcpProxy::Loop() {
  struct Pair {
    int client, upstream;
  };
  std::vector<Pair> pairs;
  auto close_all = [&] {
    for (auto& p : pairs) {
      CloseReset(p.client);
      CloseReset(p.upstream);
    }
    pairs.clear();
  };
  char buf[65536];
  while (!quit_) {
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const auto& p : pairs) {
      fds.push_back({p.client, POLLIN, 0});
      fds.push_back({p.upstream, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) {
      while (::read(wake_[0], buf, sizeof buf) > 0) {
      }
      if (down_) close_all();
      if (quit_) break;
      continue;  // the fd list changed
    }
    std::vector<size_t> dead;
    for (size_t i = 0; i < pairs.size(); ++i) {
      for (int side = 0; side < 2; ++side) {
        const pollfd& f = fds[2 + 2 * i + side];
        if (!f.revents) continue;
        const int from = side == 0 ? pairs[i].client : pairs[i].upstream;
        const int to = side == 0 ? pairs[i].upstream : pairs[i].client;
        ssize_t n = ::recv(from, buf, sizeof buf, 0);
        if (n <= 0 || !SendAll(to, buf, static_cast<size_t>(n))) {
          dead.push_back(i);
          break;
        }
      }
    }
    for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
      ::close(pairs[*it].client);
      ::close(pairs[*it].upstream);
      pairs.erase(pairs.begin() + static_cast<std::ptrdiff_t>(*it));
    }
    if (fds[1].revents & POLLIN) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (down_) {
        ++refused_;
        CloseReset(c);
        continue;
      }
      int u = ConnectLoopback(upstream_);
      if (u < 0) {
        CloseReset(c);
        continue;
      }
      pairs.push_back({c, u});
    }
  }
  close_all();
}

Fault::Fault(std::string type, std::string region, SimulatedApp* app, std::vector<Child*> children,
             std::vector<TcpProxy*> proxies)
    : type_(std::move(type)),
      region_(std::move(region)),
      app_(app),
      children_(std::move(children)),
      proxies_(std::move(proxies)) {}

Fault::~Fault() {
  timer_stop_.Stop();
  if (timer_.joinable()) timer_.join();
  (void)Revert();
}

Result<std::string> Fault::Inject(std::chrono::milliseconds duration) {
  std::string what;
  {
    std::lock_guard l(mu_);
    if (injected_) return Err("fault already injected");
    injected_ = true;
    injected_at_ = SystemClock::instance().mono();
    if (type_ == "pod" || type_ == "node") {
      app_->Stop();
      what = "app of " + region_ + " killed";
    }
    if (type_ == "node") {
      for (Child* c : children_) {
        ::kill(-c->pid(), SIGSTOP);  // its process group: the child and anything it started
        what += ", " + c->name() + " (pid " + std::to_string(c->pid()) + ") SIGSTOP";
      }
    }
    if (type_ == "network") {
      for (TcpProxy* p : proxies_)
        p->SetDown(true);
      what = std::to_string(proxies_.size()) + " endpoint proxies of " + region_ +
             " refuse connections";
    }
  }
  timer_ = std::thread([this, duration] {
    if (!timer_stop_.WaitFor(duration)) (void)Revert();
  });
  return what;
}

Result<std::string> Fault::Revert() {
  std::lock_guard l(mu_);
  if (!injected_ || reverted_) return revert_detail_;
  reverted_ = true;
  std::string what;
  if (type_ == "node") {
    for (Child* c : children_) {
      ::kill(-c->pid(), SIGCONT);
      what += c->name() + " SIGCONT, ";
    }
  }
  if (type_ == "network") {
    for (TcpProxy* p : proxies_)
      p->SetDown(false);
    what = "endpoint proxies of " + region_ + " pass traffic again";
  }
  Status restarted = Status::Ok();
  if (type_ == "pod" || type_ == "node") {
    restarted = app_->Start();
    what += restarted ? "app of " + region_ + " restarted on port " + std::to_string(app_->port())
                      : "app restart failed: " + restarted.message();
  }
  reverted_at_ = SystemClock::instance().mono();
  revert_detail_ = what;
  if (!restarted) return Err(what);
  return what;
}

std::optional<std::chrono::steady_clock::time_point> Fault::injected_at() const {
  std::lock_guard l(mu_);
  return injected_at_;
}

std::optional<std::chrono::steady_clock::time_point> Fault::reverted_at() const {
  std::lock_guard l(mu_);
  return reverted_at_;
}

std::string Fault::revert_detail() const {
  std::lock_guard l(mu_);
  return revert_detail_;
}

}  // namespace aha::demo
