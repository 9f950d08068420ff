#include "support/hostile_s3.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace aha::testing {

bool HostileS3::Conn::Send(std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    if (server_->stop_) return false;
    pollfd p{fd_, POLLOUT, 0};
    const int pr = ::poll(&p, 1, 100);  // wake up now and then to see stop_
    if (pr < 0 && errno != EINTR) return false;
    if (pr <= 0) continue;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return false;
    const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    off += static_cast<size_t>(n);
    server_->bytes_sent_ += static_cast<uint64_t>(n);
  }
  return true;
}

bool HostileS3::Conn::Sleep(int ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (server_->stop_) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !server_->stop_;
}

void HostileS3::Conn::Close() {
  ::shutdown(fd_, SHUT_RDWR);
}

HostileS3::HostileS3(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("HostileS3: socket failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("HostileS3: bind/listen failed");
  }
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

HostileS3::~HostileS3() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (int fd : fds_)
      ::shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (auto& t : workers)
    t.join();
}

void HostileS3::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) {
      ::close(fd);
      break;
    }
    fds_.push_back(fd);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void HostileS3::Serve(int fd) {
  std::string buf;
  char chunk[65536];
  bool open = true;
  while (open && !stop_) {
    // Read one request: headers, then Content-Length bytes of body (dropped).
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      const int pr = ::poll(&p, 1, 100);
      if (stop_) break;
      if (pr <= 0) continue;
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        open = false;
        break;
      }
      buf.append(chunk, static_cast<size_t>(n));
    }
    if (!open || stop_) break;
    const std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    Request req;
    const size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    req.method = head.substr(0, sp1);
    std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    uint64_t body = 0;
    for (const char* name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
      const size_t at = head.find(name);
      if (at != std::string::npos) body = std::strtoull(head.c_str() + at + 17, nullptr, 10);
    }
    while (buf.size() < body && !stop_) {
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        open = false;
        break;
      }
      buf.append(chunk, static_cast<size_t>(n));
    }
    if (!open) break;
    buf.erase(0, std::min<uint64_t>(body, buf.size()));
    ++requests_;
    Conn c(fd, this);
    handler_(req, c);
  }
  ::shutdown(fd, SHUT_RDWR);
  std::lock_guard<std::mutex> l(mu_);
  for (auto& f : fds_)
    if (f == fd) f = -1;
  ::close(fd);
}

std::string HostileS3::Head(int status, const std::vector<std::string>& headers) {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " Whatever\r\n";
  for (const auto& line : headers)
    h += line + "\r\n";
  return h + "\r\n";
}

std::string HostileS3::XmlReply(int status, const std::string& xml) {
  return Head(status,
              {"Content-Type: application/xml", "Content-Length: " + std::to_string(xml.size())}) +
         xml;
}

uint64_t CurrentRss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

}  // namespace aha::testing
