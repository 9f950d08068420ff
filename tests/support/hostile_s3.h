// HostileS3: a loopback HTTP/1.1 peer that answers like a broken or malicious S3 endpoint, for
// the bounds tests of S3ObjectStore (and the AWS credential endpoints). Raw sockets: a handler
// writes whatever bytes it likes (lying Content-Length, endless or trickling bodies), which a
// well-behaved HTTP library would not let it do.
//
// Each connection gets its own thread; a handler sees the parsed request (body read and dropped)
// and a Conn to write to. Conn::Send returns false once the client went away or the server is
// stopping, so endless handlers end. The destructor stops and joins everything.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace aha::testing {

class HostileS3 {
 public:
  struct Request {
    std::string method, path, query;  // path without the query string
  };
  class Conn {
   public:
    // Writes all of `data`; false when the peer closed or the server stops.
    bool Send(std::string_view data);
    // Sleeps up to `ms`, false when the server stops meanwhile.
    bool Sleep(int ms);
    // Closes the connection now (the handler's return closes it too).
    void Close();

   private:
    friend class HostileS3;
    Conn(int fd, HostileS3* server) : fd_(fd), server_(server) {}
    int fd_;
    HostileS3* server_;
  };
  using Handler = std::function<void(const Request&, Conn&)>;

  explicit HostileS3(Handler handler);
  ~HostileS3();
  HostileS3(const HostileS3&) = delete;
  HostileS3& operator=(const HostileS3&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }
  uint64_t bytes_sent() const { return bytes_sent_.load(); }  // body and headers, all conns

  // Canned pieces for handlers.
  static std::string Head(int status, const std::vector<std::string>& headers);
  static std::string XmlReply(int status, const std::string& xml);  // with Content-Length

 private:
  void AcceptLoop();
  void Serve(int fd);
  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<uint64_t> bytes_sent_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::vector<int> fds_;
};

// VmRSS of this process in bytes (/proc/self/status), 0 when unknown.
uint64_t CurrentRss();

}  // namespace aha::testing
