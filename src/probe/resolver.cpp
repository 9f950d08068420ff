// SystemResolver: getaddrinfo() with a deadline.
//
// getaddrinfo() cannot be cancelled and, with an unreachable name server, blocks for
// resolv.conf's timeout * attempts (10 s and more by default). The lookup therefore runs on a
// detached helper thread that owns its result through a shared_ptr; the caller waits at most
// `timeout` and walks away, leaving the thread to finish (and free the state) on its own.
//
// Lookups of the same host name that overlap in time share one helper thread, so a name server
// that hangs costs at most one stuck thread per distinct name (not one per probe round).
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "probe/prober.h"

namespace aha::probe {
namespace {

// Result of one getaddrinfo() call, shared by the helper thread and every waiter.
struct Lookup {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::vector<std::string> addresses;
  std::string error;  // set when the lookup failed
};

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

void RunLookup(const std::string& host, Lookup* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  std::vector<std::string> addresses;
  std::string error;
  if (rc != 0) {
    error = gai_strerror(rc);
  } else {
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* src = nullptr;
      if (ai->ai_family == AF_INET) {
        src = &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr;
      } else if (ai->ai_family == AF_INET6) {
        src = &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr;
      } else {
        continue;
      }
      if (inet_ntop(ai->ai_family, src, text, sizeof(text)) == nullptr) continue;
      std::string addr(text);
      if (std::find(addresses.begin(), addresses.end(), addr) == addresses.end()) {
        addresses.push_back(std::move(addr));
      }
    }
    freeaddrinfo(res);
    if (addresses.empty()) error = "no addresses";
  }
  std::lock_guard lock(out->mu);
  out->addresses = std::move(addresses);
  out->error = std::move(error);
  out->done = true;
  out->cv.notify_all();
}

class SystemResolverImpl final : public Resolver {
 public:
  Result<std::vector<std::string>> Resolve(const std::string& host,
                                           std::chrono::milliseconds timeout) override {
    if (IsIpLiteral(host)) return std::vector<std::string>{host};
    if (host.empty()) return Err("empty host name");
    if (timeout.count() <= 0) return Err("timed out after 0 ms");

    std::shared_ptr<Lookup> lookup = Join(host);
    if (!lookup) return Err("cannot start a resolver thread");
    std::unique_lock lock(lookup->mu);
    if (!lookup->cv.wait_for(lock, timeout, [&] { return lookup->done; })) {
      return Err("timed out after " + std::to_string(timeout.count()) + " ms");
    }
    if (!lookup->error.empty()) return Err(lookup->error);
    return lookup->addresses;
  }

 private:
  // Returns the in-flight lookup for `host`, starting one if there is none; null when no thread
  // could be started.
  std::shared_ptr<Lookup> Join(const std::string& host) {
    std::lock_guard lock(mu_);
    // Forget finished lookups so that the map holds only names whose lookup is still running.
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      bool done;
      {
        std::lock_guard l(it->second->mu);
        done = it->second->done;
      }
      it = done ? in_flight_.erase(it) : std::next(it);
    }
    auto it = in_flight_.find(host);
    if (it != in_flight_.end()) return it->second;
    auto lookup = std::make_shared<Lookup>();
    try {
      std::thread([lookup, host] { RunLookup(host, lookup.get()); }).detach();
    } catch (const std::system_error&) {
      return nullptr;
    }
    in_flight_.emplace(host, lookup);
    return lookup;
  }

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Lookup>> in_flight_;
};

}  // namespace

std::shared_ptr<Resolver> SystemResolver() {
  // One instance per process so that overlapping lookups are shared by every Prober.
  static const std::shared_ptr<Resolver> instance = std::make_shared<SystemResolverImpl>();
  return instance;
}

}  // namespace aha::probe
