#include "state/source.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <optional>
#include <random>

#include "common/json_get.h"
#include "common/log.h"
#include "kube/kubeconfig.h"
#include "state/configmap_store.h"

namespace aha::state {

using nlohmann::json;

Snapshot StateSource::Get() const {
  std::lock_guard l(mu_);
  return snap_;
}

Snapshot StateSource::WaitNewer(uint64_t after,
                                std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock l(mu_);
  cv_.wait_until(l, deadline, [&] { return snap_.version > after; });
  return snap_;
}

uint64_t StateSource::restarts() const {
  std::lock_guard l(mu_);
  return restarts_;
}

void StateSource::Publish(KeyValues kv) {
  {
    std::lock_guard l(mu_);
    snap_.error.clear();
    const bool changed = !snap_.synced || kv != snap_.kv;
    snap_.synced = true;
    if (!changed) return;
    snap_.kv = std::move(kv);
    snap_.version++;
    snap_.updated_at = SystemClock::instance().wall();
  }
  cv_.notify_all();
}

void StateSource::SetError(std::string error) {
  std::lock_guard l(mu_);
  snap_.error = std::move(error);
}

void StateSource::CountRestart() {
  std::lock_guard l(mu_);
  ++restarts_;
}

// ---- FileSource ----

FileSource::FileSource(std::string dir, std::chrono::milliseconds resync, const Clock& clock)
    : dir_(std::move(dir)), resync_(resync), clock_(clock) {}

void FileSource::Reload() {
  FileStateStore store(dir_);
  auto kv = store.Read();
  if (!kv) {
    SetError(kv.message());
    return;
  }
  Publish(std::move(*kv));
}

void FileSource::Run(Stopper& stop) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  int wd = -1;
  auto next_resync = clock_.mono();
  while (!stop.stopped()) {
    if (fd >= 0 && wd < 0) {
      wd = inotify_add_watch(fd, dir_.c_str(),
                             IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM |
                                 IN_DELETE_SELF | IN_MOVE_SELF);
      if (wd >= 0) Reload();  // the directory (re)appeared
    }
    const auto now = clock_.mono();
    if (now >= next_resync) {
      Reload();
      next_resync = now + resync_;
    }
    int timeout_ms = wd >= 0 ? 200 : 100;  // bounded so Stop() is noticed quickly
    if (fd < 0) {
      stop.WaitFor(clock_, std::chrono::milliseconds(timeout_ms));
      continue;
    }
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n > 0 && (p.revents & POLLIN)) {
      alignas(inotify_event) char buf[16384];
      bool self_gone = false;
      ssize_t len;
      while ((len = ::read(fd, buf, sizeof buf)) > 0) {
        for (char* ptr = buf; ptr < buf + len;) {
          auto* ev = reinterpret_cast<inotify_event*>(ptr);
          if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) self_gone = true;
          ptr += sizeof(inotify_event) + ev->len;
        }
      }
      if (self_gone) {
        inotify_rm_watch(fd, wd);
        wd = -1;
      }
      Reload();
    }
  }
  if (fd >= 0) ::close(fd);
}

// ---- ConfigMapSource ----

ConfigMapSource::ConfigMapSource(std::shared_ptr<kube::Client> client, std::string ns,
                                 std::string name)
    : client_(std::move(client)), ns_(std::move(ns)), name_(std::move(name)) {}

// Between failed attempts: a delay from 200 ms doubling up to 10 s, waited in full or jittered
// (uniform in [delay/2, delay]); a clean end of a watch resets it.
struct ConfigMapSource::Backoff {
  std::mt19937_64 rng{std::random_device{}()};
  std::chrono::milliseconds delay{200};

  // Both return true when `stop` was requested (the delay is then left as it was).
  bool WaitJittered(Stopper& stop, const Clock& clock) {
    std::uniform_int_distribution<long long> d(delay.count() / 2, delay.count());
    if (stop.WaitFor(clock, std::chrono::milliseconds(d(rng)))) return true;
    Grow();
    return false;
  }
  bool Wait(Stopper& stop, const Clock& clock) {
    if (stop.WaitFor(clock, delay)) return true;
    Grow();
    return false;
  }
  void Grow() { delay = std::min(delay * 2, std::chrono::milliseconds(10000)); }
  void Reset() { delay = std::chrono::milliseconds(200); }
};

void ConfigMapSource::Run(Stopper& stop) {
  Backoff backoff;
  const std::string selector = "metadata.name=" + name_;
  while (!stop.stopped()) {
    // List: the authoritative snapshot and the resourceVersion to watch from.
    std::optional<std::string> rv = ListAndPublish(selector, backoff, stop);
    if (rv) WatchFrom(selector, std::move(*rv), backoff, stop);
  }
}

std::optional<std::string> ConfigMapSource::ListAndPublish(const std::string& selector,
                                                           Backoff& backoff, Stopper& stop) {
  auto list = client_->List(kube::kConfigMaps, ns_, selector);
  if (!list) {
    SetError("list: " + list.message());
    log::Warn("state source unreachable; keeping the last known state (fail-static)",
              {{"source", Describe()}, {"error", list.message()}});
    backoff.WaitJittered(stop, client_->clock());
    return std::nullopt;
  }
  // The list is outside input: a malformed one keeps the last known state (fail-static).
  const json* items = nullptr;
  Result<KeyValues> kv = KeyValues{};
  Status ok = jsonget::OptArray(*list, "items", &items, "ConfigMapList");
  if (ok && items && !items->empty()) {
    kv = ConfigMapStateStore::DataOf((*items)[0]);
    if (!kv) ok = kv.error();
  }
  auto list_rv = kube::ResourceVersionOf(*list);
  if (ok && !list_rv) ok = list_rv.error();
  if (!ok) {
    SetError("list: " + ok.message());
    log::Warn("state source answered a malformed list; keeping the last known state",
              {{"source", Describe()}, {"error", ok.message()}});
    backoff.Wait(stop, client_->clock());
    return std::nullopt;
  }
  Publish(std::move(*kv));
  return *list_rv;
}

void ConfigMapSource::OnWatchEvent(const kube::WatchEvent& ev, std::string* rv) {
  if (auto erv = kube::ResourceVersionOf(ev.object); erv && !erv->empty()) *rv = *erv;
  if (ev.type == "ADDED" || ev.type == "MODIFIED") {
    auto data = ConfigMapStateStore::DataOf(ev.object);
    if (!data) {
      SetError("watch: " + data.message());
      log::Warn("malformed ConfigMap in a watch event; keeping the last known state",
                {{"source", Describe()}, {"error", data.message()}});
    } else {
      Publish(std::move(*data));
    }
  } else if (ev.type == "DELETED") {
    Publish({});
  }
}

void ConfigMapSource::WatchFrom(const std::string& selector, std::string rv, Backoff& backoff,
                                Stopper& stop) {
  // Resumes from the last resourceVersion seen until the server says it is too old.
  while (!stop.stopped()) {
    kube::WatchOptions opts;
    opts.field_selector = selector;
    opts.resource_version = rv;
    opts.bookmarks = true;
    opts.timeout_seconds = 300;
    Status s = client_->Watch(
        kube::kConfigMaps, ns_, opts,
        [&](const kube::WatchEvent& ev) {
          OnWatchEvent(ev, &rv);
          return true;
        },
        &stop);
    if (stop.stopped()) return;
    CountRestart();
    if (!s) {
      if (s.code() == Code::kGone) {
        log::Info("watch expired (410 Gone); relisting", {{"source", Describe()}});
        return;  // relist
      }
      SetError("watch: " + s.message());
      log::Warn("watch failed; keeping the last known state (fail-static)",
                {{"source", Describe()}, {"error", s.message()}});
      if (backoff.WaitJittered(stop, client_->clock())) return;
      // A cut stream (transport error, a malformed event: no HTTP status) resumes from the
      // last resourceVersion seen; an API error (403, 500, ...) relists, since events may
      // have been missed.
      if (s.error().http_status == 0) continue;
      return;
    }
    backoff.Reset();  // clean end of stream: re-watch from rv
  }
}

Result<std::unique_ptr<StateSource>> OpenStateSource(const config::StateSourceConfig& state,
                                                     const std::string& kubeconfig) {
  if (!state.is_configmap()) return std::unique_ptr<StateSource>(new FileSource(state.file));
  auto conn = kube::Resolve(
      kube::LoadOptions{kubeconfig, "", "/var/run/secrets/kubernetes.io/serviceaccount"});
  if (!conn) return Err("kubeconfig: " + conn.message());
  const std::string ns = state.configmap_namespace.empty() ? conn->ns : state.configmap_namespace;
  return std::unique_ptr<StateSource>(
      new ConfigMapSource(std::make_shared<kube::Client>(*conn), ns, state.configmap_name));
}

}  // namespace aha::state
