// Child processes of the demo: the real roles (`agency-ha controller|gate|replicate|mcp`), started
// from this very binary with an argv (no shell), each in its own process group, stderr to a log
// file. Every child gets PR_SET_PDEATHSIG(SIGTERM), so a demo that is killed outright still takes
// its children with it; a normal exit or Ctrl-C terminates them in order (SIGTERM, then SIGKILL
// after a grace period) and reaps them.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked exits, so every fork happens on one
// spawner thread that lives as long as the ChildSet.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"

namespace aha::demo {

struct ChildSpec {
  std::string name;               // for messages: "gate us-east-1"
  std::vector<std::string> args;  // after argv[0] (this binary)
  std::string log_path;           // stderr goes here (stdout too, unless pipe_stdio)
  bool pipe_stdio = false;        // stdin/stdout as pipes (the MCP client speaks over them)
};

class Child {
 public:
  const std::string& name() const { return spec_.name; }
  const std::string& log_path() const { return spec_.log_path; }
  pid_t pid() const { return pid_; }
  int stdin_fd() const { return in_fd_; }
  int stdout_fd() const { return out_fd_; }
  // Non-blocking: true while the process has not exited (reaps it when it has).
  bool Running();
  // The exit status text once it exited ("exit 2", "signal 9").
  std::string ExitText() const { return exit_text_; }
  // SIGTERM, wait up to `grace`, then SIGKILL; reaps. Idempotent.
  void Terminate(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  // The last `max_bytes` of its log (for error messages).
  std::string LogTail(size_t max_bytes = 600) const;

 private:
  friend class ChildSet;
  bool RunningLocked();
  std::mutex mu_;
  ChildSpec spec_;
  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1;
  bool reaped_ = false;
  std::atomic<bool> terminating_{false};
  std::string exit_text_;
};

class ChildSet {
 public:
  ChildSet();
  ~ChildSet();  // terminates every child still running, in reverse start order
  // Starts `spec` (on the spawner thread). The Child stays owned by the set.
  Result<Child*> Start(const ChildSpec& spec);
  // Terminates all children (reverse start order).
  void TerminateAll();
  // The child started with spec.name `name`, or nullptr.
  Child* Find(const std::string& name);
  // The first child that exited although it was not terminated by us, or nullptr.
  Child* FirstDead();

 private:
  Result<Child*> SpawnHere(const ChildSpec& spec);
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool quit_ = false;
  std::thread spawner_;
  std::vector<std::unique_ptr<Child>> children_;
};

// The path of this binary (/proc/self/exe).
std::string SelfExe();

}  // namespace aha::demo
