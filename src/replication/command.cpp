#include "replication/command.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/fs.h"
#include "common/json_get.h"
#include "common/log.h"
#include "common/printable.h"
#include "common/signals.h"
#include "common/url.h"
#include "config/controller_config.h"
#include "httpd/server.h"
#include "metrics/registry.h"
#include "objectstore/open.h"
#include "objectstore/sigv4.h"
#include "replication/continuous.h"
#include "replication/follow.h"
#include "replication/local_state.h"
#include "replication/metrics.h"
#include "replication/publish.h"
#include "replication/replicator.h"
#include "replication/restore.h"
#include "replication/scanner.h"
#include "replication/writer.h"

namespace aha::replication {

using nlohmann::json;

namespace {

int ReplicateFail(int rc, const std::string& msg) {
  std::fprintf(stderr, "agency-ha replicate: %s\n", Printable(msg, true).c_str());
  return rc;
}

// `replicate --once`: one snapshot (captured again, up to 3 times, while files change during it),
// its JSON report on stdout; 0 when every remote took it.
int ReplicateOnce(Replicator& rep) {
  Cycle c;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    c = rep.RunOnce();
    if (!c.retry) break;
    log::Warn("a file changed during the snapshot; capturing again", {{"attempt", attempt}});
  }
  std::printf("%s\n", jsonget::Dump(c.ToJson()).c_str());
  return c.all_ok ? 0 : 1;
}

}  // namespace

int ReplicateCommand(const std::string& config_path, bool once, bool check) {
  auto cfg = config::LoadReplicationConfig(config_path);
  if (!cfg) return ReplicateFail(2, cfg.message());
  std::vector<Remote> remotes;
  for (size_t i = 0; i < cfg->remotes.size(); ++i) {
    auto s = objectstore::OpenRemote(cfg->remotes[i], cfg->parallelism);
    if (!s) return ReplicateFail(2, "remotes[" + std::to_string(i) + "].url: " + s.message());
    remotes.push_back({cfg->remotes[i], std::move(*s)});
  }
  if (check) {
    std::printf("config ok: %zu remote(s), region %s\n", remotes.size(), cfg->region.c_str());
    return 0;
  }
  if (Status s = EnsureWritableDir(cfg->state_dir); !s) {
    return ReplicateFail(1, "stateDir: " + s.message());
  }
  auto state = LoadLocalState(cfg->state_dir);
  if (!state) return ReplicateFail(1, state.message());
  Replicator rep(*cfg, std::move(remotes), std::move(*state));
  if (once) return ReplicateOnce(rep);

  BlockTerminationSignals();
  Stopper stop;
  SignalWatcher signals(stop);
  ContinuousReplicate loop(*cfg, rep, stop, SystemClock::instance());
  if (Status s = loop.StartHttp(); !s) return ReplicateFail(1, "listen: " + s.message());
  loop.Run();
  log::Info("replicate stopped", {{"signal", signals.signal()}});
  return 0;
}

namespace {

struct Opened {
  std::vector<std::unique_ptr<objectstore::ObjectStore>> stores;
  std::string region;
  std::vector<objectstore::ObjectStore*> ptrs() const {
    std::vector<objectstore::ObjectStore*> p;
    for (const auto& s : stores)
      p.push_back(s.get());
    return p;
  }
};

// Usage errors (Code::kInvalid) name the flag and the value.
Result<Opened> OpenAll(const RemoteArgs& a) {
  Opened o;
  std::vector<config::RemoteConfig> rcs;
  if (!a.config.empty()) {
    auto cfg = config::LoadReplicationConfig(a.config);
    if (!cfg) return Err("--config " + a.config + ": " + cfg.message(), Code::kInvalid);
    o.region = cfg->region;
    rcs = cfg->remotes;
  }
  if (!a.region.empty()) o.region = a.region;
  if (!a.remotes.empty()) {
    rcs.clear();
    for (const auto& url : a.remotes) {
      if (auto why = config::ValidateRemoteUrl(url); !why.empty()) {
        return Err("--remote \"" + RedactUrl(url) + "\": " + why, Code::kInvalid);
      }
      config::RemoteConfig rc;
      rc.url = url;
      rcs.push_back(rc);
    }
  }
  if (rcs.empty()) return Err("--remote (or --config) is required", Code::kInvalid);
  if (o.region.empty()) return Err("--region (or --config) is required", Code::kInvalid);
  if (!config::IsDns1123Label(o.region)) {
    return Err("--region \"" + o.region + "\": must be a DNS-1123 label", Code::kInvalid);
  }
  if (!a.endpoint.empty()) {
    auto u = ParseUrl(a.endpoint);
    if (!u || (u->scheme != "http" && u->scheme != "https") || u->host.empty()) {
      return Err("--endpoint \"" + RedactUrl(a.endpoint) + "\": want http(s)://host[:port]",
                 Code::kInvalid);
    }
  }
  if (!a.s3_region.empty() &&
      a.s3_region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    return Err("--s3-region \"" + a.s3_region + "\": want an AWS region name like eu-west-1",
               Code::kInvalid);
  }
  for (auto& rc : rcs) {
    if (!a.endpoint.empty()) rc.endpoint = a.endpoint;
    if (!a.s3_region.empty()) rc.region = a.s3_region;
    if (a.path_style) rc.path_style = a.path_style;
    auto s = objectstore::OpenRemote(rc, 4);
    if (!s) return Err("remote " + s.message(), Code::kInvalid);
    o.stores.push_back(std::move(*s));
  }
  return o;
}

}  // namespace

int SnapshotsCommand(const RemoteArgs& args, bool as_json) {
  auto opened = OpenAll(args);
  if (!opened) {
    std::fprintf(stderr, "agency-ha snapshots: %s\n", Printable(opened.message(), true).c_str());
    return 2;
  }
  const std::string region = opened->region;
  auto& store = *opened->stores.front();
  auto list = store.List(SnapshotsPrefix(region));
  if (!list) {
    std::fprintf(stderr, "agency-ha snapshots: %s\n", Printable(list.message(), true).c_str());
    return 1;
  }
  auto latest = ReadLatest(store, region);
  const std::string latest_id = latest && *latest ? (*latest)->id : "";
  std::vector<std::pair<std::pair<int64_t, std::string>, json>> rows;  // ordered by (epoch, id)
  for (const auto& o : *list) {
    const std::string name = o.key.substr(SnapshotsPrefix(region).size());
    if (!name.ends_with(".json")) continue;
    const std::string id = name.substr(0, name.size() - 5);
    json row = {{"id", id}, {"latest", id == latest_id}};
    int64_t epoch = 0;
    if (auto text = store.Get(o.key); text) {
      if (auto r = RecordFromJson(*text); r) {
        row["files"] = r->files.size();
        row["bytes"] = r->total_bytes();
        row["createdAt"] = r->created_at;
        row["generation"] = r->generation;
        row["epoch"] = epoch = r->epoch;
        row["writer"] = r->writer;
      } else {
        row["error"] = r.message();
      }
    } else {
      row["error"] = text.message();
    }
    rows.emplace_back(std::make_pair(epoch, id), std::move(row));
  }
  // Readers order snapshots by (epoch, id) (docs/WRITER.md): a fenced writer's late snapshot
  // sorts below every snapshot of the epoch that fenced it.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  json out = json::array();
  for (auto& [k, row] : rows)
    out.push_back(std::move(row));
  if (as_json) {
    std::printf("%s\n", jsonget::Dump(out).c_str());
  } else {
    std::printf("%-28s %6s %8s %14s  %-25s\n", "ID", "EPOCH", "FILES", "BYTES", "CREATED");
    for (const auto& row : out) {
      std::printf("%-28s %6lld %8llu %14llu  %-25s%s\n",
                  Printable(row["id"].get<std::string>()).c_str(),
                  static_cast<long long>(row.value("epoch", int64_t{0})),
                  static_cast<unsigned long long>(row.value("files", 0)),
                  static_cast<unsigned long long>(row.value("bytes", 0)),
                  Printable(row.value("createdAt", row.value("error", ""))).c_str(),
                  row["latest"].get<bool>() ? "  latest" : "");
    }
  }
  return 0;
}

int RestoreCommand(const RemoteArgs& args, const std::string& to, const std::string& snapshot,
                   bool force, bool quiet, bool if_empty) {
  auto opened = OpenAll(args);
  if (!opened) {
    std::fprintf(stderr, "agency-ha restore: %s\n", Printable(opened.message(), true).c_str());
    return 2;
  }
  RestoreOptions o;
  o.region = opened->region;
  o.target = to;
  o.snapshot = snapshot.empty() ? "latest" : snapshot;
  o.force = force;
  o.if_empty = if_empty;
  if (!quiet) {
    o.progress = [](const RestoreProgress& p) {
      const double pct =
          p.bytes_total ? 100.0 * static_cast<double>(p.bytes_done) / p.bytes_total : 100.0;
      std::fprintf(stderr, "restore: %llu/%llu files, %s/%s (%.0f%%)%s\n",
                   static_cast<unsigned long long>(p.files_done),
                   static_cast<unsigned long long>(p.files_total), HumanBytes(p.bytes_done).c_str(),
                   HumanBytes(p.bytes_total).c_str(), pct, p.final ? ", fsynced" : "");
    };
  }
  auto r = Restore(opened->ptrs(), o);
  if (!r) {
    std::fprintf(stderr, "agency-ha restore: %s\n", Printable(r.message(), true).c_str());
    return 1;
  }
  if (!r->skipped.empty()) {
    std::fprintf(stderr, "agency-ha restore: nothing restored: %s\n",
                 Printable(r->skipped, true).c_str());
    std::printf("%s\n", jsonget::Dump(json{{"ok", true}, {"skipped", r->skipped}}).c_str());
    return 0;
  }
  json j = {{"ok", true},
            {"snapshot", r->id},
            {"recordFrom", r->record_from},
            {"files", r->files},
            {"symlinks", r->symlinks},
            {"bytes", r->bytes},
            {"blobsFetched", r->blobs_fetched},
            {"bytesFetched", r->bytes_fetched},
            {"fallbacks", r->fallbacks},
            {"warnings", r->warnings}};
  std::printf("%s\n", jsonget::Dump(j).c_str());
  return 0;
}

namespace {

json RoundJson(const FollowRound& r) {
  json j = {{"ok", r.ok},
            {"applied", r.applied},
            {"refused", r.refused},
            {"behind", r.behind},
            {"snapshot", r.snapshot},
            {"latest", r.latest},
            {"latestEpoch", r.latest_epoch},
            {"latestFrom", r.latest_from},
            {"files", r.files},
            {"bytes", r.bytes},
            {"blobsFetched", r.blobs_fetched},
            {"bytesFetched", r.bytes_fetched},
            {"linked", r.linked},
            {"copied", r.copied},
            {"fallbacks", r.fallbacks},
            {"requests", r.requests},
            {"seconds", r.seconds},
            {"warnings", r.warnings}};
  if (!r.ok) j["error"] = r.error;
  return j;
}

// `follow`'s flags, checked before anything is opened; the message names the flag.
Status CheckFollowArgs(const FollowArgs& f) {
  if (f.to.empty()) return Err("--to is required", Code::kInvalid);
  if (!(f.interval_seconds >= 0.1 && f.interval_seconds <= 86400)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "--interval %g: must be between 0.1 and 86400",
                  f.interval_seconds);
    return Err(buf, Code::kInvalid);
  }
  if (!f.listen.empty()) {
    if (auto hp = ParseHostPort(f.listen); !hp) {
      return Err("--listen \"" + f.listen + "\": " + hp.message(), Code::kInvalid);
    }
  }
  return {};
}

double WallSeconds(WallTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// What the continuous `follow` shows on /healthz and /metrics: the last round's report and the
// follow metrics, written by the loop and read by the HTTP threads (under mu_).
class FollowStatus {
 public:
  explicit FollowStatus(Follower& follower) : follower_(follower), fm_(m_) {}

  // Records one round (metrics, the /healthz body) and returns its JSON report.
  json Note(const FollowRound& r) {
    json j = RoundJson(r);
    std::lock_guard l(mu_);
    fm_.rounds.Add();
    fm_.requests.Add({}, static_cast<double>(r.requests));
    fm_.fetched_bytes.Add({}, static_cast<double>(r.bytes_fetched));
    fm_.fetched_objects.Add({}, static_cast<double>(r.blobs_fetched));
    fm_.reused_files.Add({}, static_cast<double>(r.linked + r.copied));
    if (r.applied) fm_.applied.Add();
    if (!r.ok) fm_.errors.Add();
    if (!r.latest.empty()) fm_.last_check.Set(NowSeconds());
    fm_.refused.Set(r.refused ? 1 : 0);
    NoteApplied();
    last_ = j;
    healthy_ = r.ok && follower_.applied().has_value();
    return j;
  }

  // Serves /healthz (200 once a round succeeded with a snapshot applied, else 503) and /metrics.
  Status Serve(httpd::HttpServer& http, const std::string& listen) {
    http.Get("/healthz", [this] {
      std::lock_guard l(mu_);
      json j = last_;
      j["lagSeconds"] = Lag();
      return httpd::Response{healthy_ ? 200 : 503, "application/json", jsonget::Dump(j) + "\n"};
    });
    http.Get("/metrics", [this] {
      {
        std::lock_guard l(mu_);
        fm_.lag.Set(Lag());
      }
      return httpd::Response{200, "text/plain; version=0.0.4", m_.Render()};
    });
    return http.Start(listen);
  }

 private:
  static double NowSeconds() { return WallSeconds(SystemClock::instance().wall()); }
  // Under mu_.
  void NoteApplied() {
    WallTime t;
    if (!follower_.AppliedTime(&t)) return;
    applied_s_ = WallSeconds(t);
    if (applied_id_ != follower_.applied()->id) {
      fm_.last_applied_info.Clear();
      applied_id_ = follower_.applied()->id;
      fm_.last_applied_info.Set({{"snapshot", applied_id_}}, 1);
    }
    fm_.last_applied.Set(applied_s_);
  }
  // Under mu_.
  double Lag() const { return applied_s_ < 0 ? 0.0 : std::max(0.0, NowSeconds() - applied_s_); }

  Follower& follower_;
  metrics::Registry m_;
  const FollowMetrics fm_;
  std::mutex mu_;
  json last_ = json::object();
  bool healthy_ = false;
  double applied_s_ = -1;
  std::string applied_id_;
};

void LogRound(const FollowRound& r, const json& j) {
  if (r.applied) {
    log::Info("applied", j);
  } else if (!r.ok) {
    log::Write(r.refused ? log::Level::kError : log::Level::kWarn, "follow round failed", j);
  } else {
    log::Debug("up to date", j);
  }
}

// Rounds every `interval` until `stop`; a failed round (not a refusal) is retried sooner, backing
// off from 500 ms, doubling, up to the interval.
void FollowLoop(Follower& follower, FollowStatus& status, Stopper& stop,
                std::chrono::milliseconds interval) {
  auto backoff = std::chrono::milliseconds(500);
  while (!stop.stopped()) {
    FollowRound r = follower.RunOnce();
    if (stop.stopped() && !r.ok) break;  // interrupted mid-apply: DIR is unchanged
    LogRound(r, status.Note(r));
    auto wait = interval;
    if (!r.ok && !r.refused) {
      wait = std::min(interval, backoff);
      backoff = std::min<std::chrono::milliseconds>(2 * backoff, interval);
    } else {
      backoff = std::chrono::milliseconds(500);
    }
    stop.WaitFor(wait);
  }
}

int FollowFail(int rc, const std::string& msg) {
  std::fprintf(stderr, "agency-ha follow: %s\n", Printable(msg, true).c_str());
  return rc;
}

}  // namespace

int FollowCommand(const RemoteArgs& args, const FollowArgs& f) {
  if (Status s = CheckFollowArgs(f); !s) return FollowFail(2, s.message());
  BlockTerminationSignals();
  auto opened = OpenAll(args);
  if (!opened) return FollowFail(2, opened.message());
  Stopper stop;
  SignalWatcher signals(stop);
  FollowOptions fo;
  fo.region = opened->region;
  fo.target = f.to;
  fo.cancelled = [&] { return stop.stopped(); };
  Follower follower(opened->ptrs(), fo);
  if (Status s = follower.Init(); !s) return FollowFail(1, s.message());
  if (f.once) {
    FollowRound r = follower.RunOnce();
    std::printf("%s\n", jsonget::Dump(RoundJson(r)).c_str());
    if (!r.ok) FollowFail(1, r.error);
    return r.ok ? 0 : 1;
  }
  FollowStatus status(follower);
  httpd::HttpServer http;
  if (!f.listen.empty()) {
    if (Status s = status.Serve(http, f.listen); !s) return FollowFail(1, "listen: " + s.message());
  }
  log::Info("follow starting", {{"to", follower.target()},
                                {"region", opened->region},
                                {"remotes", opened->stores.size()},
                                {"interval", f.interval_seconds},
                                {"port", http.port()}});
  FollowLoop(follower, status, stop,
             std::chrono::milliseconds(static_cast<long long>(f.interval_seconds * 1000)));
  http.Stop();
  log::Info("follow stopped", {{"signal", signals.signal()},
                               {"snapshot", follower.applied() ? follower.applied()->id : ""}});
  return 0;
}

}  // namespace aha::replication
