#include "support/s3rver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/kube_server.h"  // NodeBinary(), SourceDir()

extern char** environ;

namespace aha::testing {

namespace {

int FreePort() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(s);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(s);
  return ntohs(a.sin_port);
}

bool Accepts(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

}  // namespace

S3rverProcess::S3rverProcess(const std::string& bucket, Conditional conditional) : bucket_(bucket) {
  const int port = FreePort();
  std::vector<std::string> args = {NodeBinary(),
                                   "--openssl-legacy-provider",
                                   SourceDir() + "/tests/support/s3rver.cjs",
                                   "--directory",
                                   dir_.path(),
                                   "--port",
                                   std::to_string(port),
                                   "--address",
                                   "127.0.0.1",
                                   "--silent",
                                   "--configure-bucket",
                                   bucket};
  if (conditional == Conditional::kIgnored) args.push_back("--no-conditional");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  // Output to /dev/null: a server that outlived a crashed test must not hold ctest's pipes.
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start node for s3rver");
  endpoint_ = "http://127.0.0.1:" + std::to_string(port);
  for (int i = 0; i < 300; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error(
          "s3rver exited at startup (is npm s3rver installed? run scripts/setup.sh)");
    }
    if (Accepts(port)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Stop();
  throw std::runtime_error("s3rver did not listen on " + endpoint_ + " within 15 s");
}

void S3rverProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

S3rverProcess& S3rverProcess::Shared() {
  static S3rverProcess server("aha-test-bucket");
  return server;
}

}  // namespace aha::testing
