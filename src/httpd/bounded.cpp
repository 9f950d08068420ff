#include "httpd/bounded.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>

#include "common/log.h"

namespace aha::httpd {

using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr int kReadsPerWakeup = 4;  // fairness: one busy client cannot monopolise the I/O thread

bool HasCrLf(const std::string& s) {
  return s.find_first_of("\r\n") != std::string::npos;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

Response Plain(int status, const std::string& why) {
  return Response{status, "text/plain; charset=utf-8", why + "\n", {}};
}

}  // namespace

struct BoundedServer::Conn {
  enum class Phase {
    kRead,    // idle (no byte of the next request yet) or reading a request
    kWork,    // a worker runs the handler; the socket is not polled
    kWrite,   // writing a response
    kLinger,  // response written, write side shut down; draining input until EOF
  };
  Conn(uint64_t i, int f, const ServerOptions& o)
      : id(i), fd(f), parser(o.max_head_bytes, o.max_headers) {}
  uint64_t id;
  int fd;
  bool dead = false;
  Phase phase = Phase::kRead;
  RequestParser parser;
  std::string pending;  // bytes after a complete request (pipelining), parsed after the answer
  std::string out;
  size_t out_off = 0;
  bool keep_alive_after = false;
  Clock::time_point started;   // first byte of the current request
  Clock::time_point deadline;  // of the current phase
  size_t charged = 0;          // body bytes counted against the budget
};

BoundedServer::BoundedServer(ServerOptions opts) : opts_(std::move(opts)) {
  if (opts_.body_budget_bytes == 0) opts_.body_budget_bytes = 8 * opts_.max_body_bytes;
  opts_.body_budget_bytes = std::max(opts_.body_budget_bytes, opts_.max_body_bytes);
  opts_.workers = std::max<size_t>(opts_.workers, 1);
  opts_.max_connections = std::max<size_t>(opts_.max_connections, 1);
}

BoundedServer::~BoundedServer() {
  Stop();
}

void BoundedServer::Route(const std::string& method, const std::string& path, RouteHandler h,
                          bool accepts_body) {
  routes_[path][method] = RouteEntry{std::move(h), accepts_body};
}

Status BoundedServer::Start(const std::string& host, int port) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string node = host.empty() ? "0.0.0.0" : host;
  if (int rc = getaddrinfo(node.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    return Err("listen " + where + ": " + gai_strerror(rc));
  }
  std::string why = "no address";
  for (addrinfo* ai = res; ai != nullptr && listen_fd_ < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
      why = std::strerror(errno);
      close(fd);
      continue;
    }
    listen_fd_ = fd;
  }
  freeaddrinfo(res);
  if (listen_fd_ < 0) return Err("listen " + where + ": cannot bind: " + why);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    return Err("listen " + where + ": eventfd: " + std::strerror(errno));
  }
  // Never plan for more connections than file descriptors allow (the rest of the process needs
  // some too).
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur < opts_.max_connections + 128) {
    opts_.max_connections = std::max<size_t>(16, rl.rlim_cur > 256 ? rl.rlim_cur - 128 : 16);
  }
  for (size_t i = 0; i < opts_.workers; ++i)
    workers_.emplace_back([this] { Worker(); });
  io_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void BoundedServer::Stop() {
  if (!io_.joinable() && workers_.empty()) return;
  stopping_ = true;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
  }
  if (io_.joinable()) io_.join();
  {
    std::lock_guard l(mu_);
    cv_.notify_all();
  }
  for (auto& w : workers_)
    w.join();
  workers_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

void BoundedServer::Loop() {
  std::vector<pollfd> fds;
  std::vector<Conn*> polled;
  while (!stopping_) {
    auto now = Clock::now();
    fds.clear();
    polled.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    const bool accepting = now >= accept_paused_until_;
    if (accepting) fds.push_back({listen_fd_, POLLIN, 0});
    auto next = now + std::chrono::seconds(1);
    if (!accepting) next = std::min(next, accept_paused_until_);
    for (auto& [id, c] : conns_) {
      if (c->phase == Conn::Phase::kWork) continue;
      fds.push_back(
          {c->fd, static_cast<short>(c->phase == Conn::Phase::kWrite ? POLLOUT : POLLIN), 0});
      polled.push_back(c.get());
      next = std::min(next, c->deadline);
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
    const int n = poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait, 0)));
    if (stopping_) break;
    if (n < 0 && errno != EINTR) {
      log::Error("http server: poll failed", {{"error", std::strerror(errno)}});
      break;
    }
    if (n > 0) {
      if (fds[0].revents != 0) {
        uint64_t v;
        [[maybe_unused]] auto r = read(wake_fd_, &v, sizeof v);
        std::vector<Done> done;
        {
          std::lock_guard l(mu_);
          done.swap(done_);
        }
        for (auto& d : done) {
          auto it = conns_.find(d.conn);
          if (it == conns_.end() || it->second->dead) continue;
          ReleaseBudget(*it->second);
          StartWrite(*it->second, std::move(d.bytes), d.keep_alive);
        }
      }
      size_t first = 1;
      if (accepting) {
        if (fds[1].revents != 0) Accept();
        first = 2;
      }
      for (size_t i = first; i < fds.size(); ++i) {
        Conn& c = *polled[i - first];
        if (c.dead || fds[i].revents == 0) continue;
        if (c.phase == Conn::Phase::kWrite) {
          OnWritable(c);
        } else if (c.phase == Conn::Phase::kRead || c.phase == Conn::Phase::kLinger) {
          OnReadable(c);
        }
      }
    }
    now = Clock::now();
    for (auto& [id, c] : conns_) {
      if (c->dead || c->phase == Conn::Phase::kWork || now < c->deadline) continue;
      if (c->phase == Conn::Phase::kRead && c->parser.started()) {
        // Best effort: tell the client why; the connection is closed either way.
        const std::string bytes =
            Serialize(Plain(408, "request not received in time"), false, false);
        [[maybe_unused]] auto w = send(c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      }
      Close(id);
    }
    for (auto it = conns_.begin(); it != conns_.end();) {
      it = it->second->dead ? conns_.erase(it) : std::next(it);
    }
  }
  for (auto& [id, c] : conns_)
    if (!c->dead) close(c->fd);
  conns_.clear();
}

void BoundedServer::Accept() {
  for (int i = 0; i < 64; ++i) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the pending connection stays in the backlog; retry shortly
        // instead of spinning on a listener that stays readable.
        accept_paused_until_ = Clock::now() + std::chrono::milliseconds(100);
        log::Warn("http server: accept paused", {{"error", std::strerror(errno)}});
        return;
      }
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      return;  // EAGAIN
    }
    int one = 1;
    // Headers and body go out in one write, but keep-alive clients pipeline small requests:
    // without TCP_NODELAY, Nagle plus delayed ACK adds ~40 ms to answers.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    size_t live = 0;
    Conn* oldest_idle = nullptr;  // waiting for a request's first byte
    Conn* slowest = nullptr;      // reading the request that started longest ago
    for (auto& [id, c] : conns_) {
      if (c->dead) continue;
      ++live;
      if (c->phase != Conn::Phase::kRead) continue;
      if (!c->parser.started()) {
        if (!oldest_idle) oldest_idle = c.get();  // the map is ordered by id, i.e. by age
      } else if (!slowest || c->started < slowest->started) {
        slowest = c.get();
      }
    }
    if (live >= opts_.max_connections) {
      if (Conn* victim = oldest_idle ? oldest_idle : slowest) {
        // A request still being read is the slowest one (fast clients finish in milliseconds):
        // dropping it keeps a slow-loris flood larger than the cap from locking others out.
        Close(victim->id);
      } else {
        Response busy = Plain(503, "too many connections, retry");
        busy.headers.emplace_back("Retry-After", "1");
        const std::string kBusy = Serialize(busy, false, false);
        [[maybe_unused]] auto w = send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL);
        close(fd);
        continue;
      }
    }
    auto c = std::make_unique<Conn>(next_id_++, fd, opts_);
    c->deadline = Clock::now() + opts_.idle_timeout;
    conns_.emplace(c->id, std::move(c));
  }
}

void BoundedServer::OnReadable(Conn& c) {
  char buf[kReadChunk];
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n == 0) {
      Close(c.id);  // the client is gone (or done, when lingering)
      return;
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) Close(c.id);
      return;
    }
    if (c.phase == Conn::Phase::kLinger) continue;  // drained and dropped
    OnBytes(c, std::string_view(buf, static_cast<size_t>(n)));
    if (c.dead || c.phase != Conn::Phase::kRead) return;
  }
}

void BoundedServer::OnBytes(Conn& c, std::string_view data) {
  while (!c.dead && c.phase == Conn::Phase::kRead) {
    const RequestParser::State st = c.parser.state();
    if (st == RequestParser::State::kError) {
      Refuse(c, Plain(c.parser.error_status(), c.parser.error()), false);
      break;
    }
    if (st == RequestParser::State::kHeadDone) {
      OnHead(c);
      continue;
    }
    if (st == RequestParser::State::kDone) {
      Dispatch(c);
      break;
    }
    if (data.empty()) break;
    const bool was_started = c.parser.started();
    data.remove_prefix(c.parser.Feed(data));
    if (!was_started && c.parser.started()) {
      c.started = Clock::now();
      c.deadline = c.started + opts_.header_timeout;
    }
    const size_t body = c.parser.request().body.size();
    if (body > c.charged) {
      budget_used_ += body - c.charged;
      c.charged = body;
      if (budget_used_ > opts_.body_budget_bytes) {
        Refuse(c, Plain(503, "too many request bodies in flight, retry"), false);
        break;
      }
    }
  }
  // Bytes after an answered or dispatched request belong to the next request on a kept-alive
  // connection: parse them once the answer is out. (At most one read's worth: a connection is
  // not read while its request is being handled or answered.)
  if (!data.empty() && !c.dead &&
      (c.phase == Conn::Phase::kWork || (c.phase == Conn::Phase::kWrite && c.keep_alive_after))) {
    c.pending.append(data);
  }
}

void BoundedServer::OnHead(Conn& c) {
  const Request& req = c.parser.request();
  // A refusal may keep the connection only when no body is left unread.
  const bool clean = !c.parser.HasBody() && req.KeepAlive();
  auto pit = routes_.find(req.path);
  if (pit == routes_.end()) return Refuse(c, Plain(404, "not found"), clean);
  // A body for a path that takes none is refused before the method is even considered: 413,
  // unread, whatever the method.
  const bool any_body_route = std::any_of(pit->second.begin(), pit->second.end(),
                                          [](const auto& kv) { return kv.second.accepts_body; });
  if (c.parser.HasBody() && !any_body_route) {
    return Refuse(c, Plain(413, "this endpoint takes no request body"), false);
  }
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  auto mit = pit->second.find(method);
  if (mit == pit->second.end()) {
    std::string allow;
    for (const auto& [m, r] : pit->second)
      allow += (allow.empty() ? "" : ", ") + m + (m == "GET" ? ", HEAD" : "");
    Response r = Plain(405, "method not allowed");
    r.headers.emplace_back("Allow", allow);
    return Refuse(c, std::move(r), clean);
  }
  const RouteEntry& route = mit->second;
  if (c.parser.HasBody() && !route.accepts_body) {
    return Refuse(c, Plain(413, "this endpoint takes no request body"), false);
  }
  const size_t limit = route.accepts_body ? opts_.max_body_bytes : 0;
  if (c.parser.framing() == RequestParser::BodyFraming::kLength &&
      c.parser.content_length() > limit) {
    return Refuse(c, Plain(413, "request body larger than " + std::to_string(limit) + " bytes"),
                  false);
  }
  if (admission_) {
    if (std::optional<Response> r = admission_(req)) return Refuse(c, std::move(*r), clean);
  }
  if (c.parser.framing() == RequestParser::BodyFraming::kLength) {
    // Reserve the declared length up front: BeginBody allocates it.
    const size_t len = static_cast<size_t>(c.parser.content_length());
    if (budget_used_ + len > opts_.body_budget_bytes) {
      return Refuse(c, Plain(503, "too many request bodies in flight, retry"), false);
    }
    budget_used_ += len;
    c.charged += len;
  }
  c.parser.BeginBody(limit);
  if (c.parser.state() == RequestParser::State::kError) {
    return Refuse(c, Plain(c.parser.error_status(), c.parser.error()), false);
  }
  if (c.parser.state() == RequestParser::State::kBody) {
    c.deadline = c.started + opts_.request_timeout;
    if (IEquals(req.Header("expect"), "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      if (send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT) !=
          static_cast<ssize_t>(kContinue.size())) {
        Close(c.id);
      }
    }
  }
}

void BoundedServer::Dispatch(Conn& c) {
  c.phase = Conn::Phase::kWork;
  Request& req = c.parser.request();
  const bool keep_alive = req.KeepAlive();
  {
    std::lock_guard l(mu_);
    jobs_.push_back(Job{c.id, std::move(req), keep_alive});
  }
  cv_.notify_one();
}

void BoundedServer::Refuse(Conn& c, Response r, bool keep_alive) {
  ReleaseBudget(c);
  const bool head = c.parser.request().method == "HEAD";
  StartWrite(c, Serialize(r, keep_alive, head), keep_alive);
}

void BoundedServer::StartWrite(Conn& c, std::string bytes, bool keep_alive) {
  c.out = std::move(bytes);
  c.out_off = 0;
  c.keep_alive_after = keep_alive;
  c.phase = Conn::Phase::kWrite;
  c.deadline = Clock::now() + opts_.write_timeout;
  OnWritable(c);
}

void BoundedServer::OnWritable(Conn& c) {
  while (c.out_off < c.out.size()) {
    const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      Close(c.id);
      return;
    }
    c.out_off += static_cast<size_t>(n);
  }
  FinishWrite(c);
}

void BoundedServer::FinishWrite(Conn& c) {
  std::string().swap(c.out);
  c.out_off = 0;
  if (!c.keep_alive_after) {
    // Half-close and drain: closing with unread input would reset the connection and could
    // destroy the answer before the client reads it.
    shutdown(c.fd, SHUT_WR);
    c.phase = Conn::Phase::kLinger;
    c.deadline = Clock::now() + opts_.linger_timeout;
    return;
  }
  c.parser.Reset();
  c.phase = Conn::Phase::kRead;
  c.deadline = Clock::now() + opts_.idle_timeout;
  if (!c.pending.empty()) {
    const std::string next = std::move(c.pending);
    c.pending.clear();
    OnBytes(c, next);
  }
}

void BoundedServer::ReleaseBudget(Conn& c) {
  budget_used_ -= std::min(budget_used_, c.charged);
  c.charged = 0;
}

void BoundedServer::Close(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second->dead) return;
  Conn& c = *it->second;
  ReleaseBudget(c);
  close(c.fd);
  c.fd = -1;
  c.dead = true;  // erased at the end of the loop iteration (callers may still hold a reference)
}

void BoundedServer::Worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock l(mu_);
      cv_.wait(l, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    const Response r = Handle(job.req);
    std::string bytes = Serialize(r, job.keep_alive, job.req.method == "HEAD");
    {
      std::lock_guard l(mu_);
      done_.push_back(Done{job.conn, std::move(bytes), job.keep_alive});
    }
    uint64_t one = 1;
    [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
  }
}

Response BoundedServer::Handle(const Request& req) {
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  const RouteEntry& route = routes_.at(req.path).at(method);  // checked by OnHead
  try {
    return route.handler(req);
  } catch (const std::exception& e) {
    log::Error("http handler threw", {{"path", req.path}, {"error", e.what()}});
  } catch (...) {
    log::Error("http handler threw", {{"path", req.path}});
  }
  return Plain(500, "internal error");
}

std::string BoundedServer::Serialize(const Response& r, bool keep_alive, bool head_only) const {
  std::string s;
  s.reserve(256 + (head_only ? 0 : r.body.size()));
  s += "HTTP/1.1 " + std::to_string(r.status) + " " + ReasonPhrase(r.status) + "\r\n";
  if (!r.body.empty() && !HasCrLf(r.content_type)) {
    s += "Content-Type: " + r.content_type + "\r\n";
  }
  s += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  for (const auto& [k, v] : r.headers) {
    if (k.empty() || HasCrLf(k) || HasCrLf(v) || k.find(':') != std::string::npos) continue;
    s += k + ": " + v + "\r\n";
  }
  if (keep_alive) {
    s += "Keep-Alive: timeout=" + std::to_string(opts_.keep_alive_advertised.count()) + "\r\n";
  } else {
    s += "Connection: close\r\n";
  }
  s += "\r\n";
  if (!head_only) s += r.body;
  return s;
}

}  // namespace aha::httpd
