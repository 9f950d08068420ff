#include "replication/command.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/fs.h"
#include "common/log.h"
#include "common/signals.h"
#include "config/controller_config.h"
#include "httpd/server.h"
#include "metrics/registry.h"
#include "objectstore/file_store.h"
#include "objectstore/s3_store.h"
#include "replication/publish.h"
#include "replication/restore.h"
#include "replication/scanner.h"
#include "replication/state.h"

namespace aha::replication {

using nlohmann::json;

Result<std::unique_ptr<objectstore::ObjectStore>> OpenRemote(const RemoteConfig& rc,
                                                             int parallelism) {
  if (auto why = ValidateRemoteUrl(rc.url); !why.empty()) return Err(rc.url + ": " + why);
  if (rc.url.rfind("file://", 0) == 0) {
    return std::unique_ptr<objectstore::ObjectStore>(
        std::make_unique<objectstore::FileObjectStore>(rc.url.substr(7)));
  }
  objectstore::S3Overrides ov;
  ov.region = rc.region;
  ov.endpoint = rc.endpoint;
  ov.path_style = rc.path_style;
  ov.parallelism = parallelism;
  auto cfg = objectstore::S3ConfigFromUrlAndEnv(rc.url, ov);
  if (!cfg) return cfg.error();
  auto s = objectstore::S3ObjectStore::Create(std::move(*cfg));
  if (!s) return s.error();
  return std::unique_ptr<objectstore::ObjectStore>(std::move(*s));
}

namespace {

std::string Hostname() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return host;
}

struct Remote {
  RemoteConfig cfg;
  std::unique_ptr<objectstore::ObjectStore> store;
};

struct Cycle {
  bool captured = false, all_ok = false, retry = false;
  std::string capture_error;
  Record record;
  ScanStats stats;
  std::vector<PublishReport> reports;
  json ToJson() const {
    json remotes = json::array();
    for (const auto& r : reports) {
      remotes.push_back({{"remote", r.remote},
                         {"ok", r.ok},
                         {"error", r.error},
                         {"refused", r.refused},
                         {"uploadedBlobs", r.uploaded_blobs},
                         {"uploadedBytes", r.uploaded_bytes},
                         {"presentBlobs", r.present_blobs},
                         {"requests", r.requests},
                         {"bytesUp", r.bytes_up},
                         {"deletedSnapshots", r.deleted_snapshots},
                         {"deletedBlobs", r.deleted_blobs},
                         {"seconds", r.seconds}});
    }
    json j = {{"ok", all_ok},
              {"snapshot", captured ? record.id : ""},
              {"files", stats.files},
              {"bytes", stats.bytes},
              {"hashedFiles", stats.hashed_files},
              {"hashedBytes", stats.hashed_bytes},
              {"cacheHits", stats.cache_hits},
              {"tornRetries", stats.torn_retries},
              {"datasetRetries", stats.dataset_retries},
              {"skipped", stats.skipped},
              {"datasets", record.datasets.size()},
              {"remotes", remotes}};
    if (!capture_error.empty()) j["error"] = capture_error;
    return j;
  }
};

class Replicator {
 public:
  Replicator(ReplicationConfig cfg, std::vector<Remote> remotes, LocalState state)
      : cfg_(std::move(cfg)), remotes_(std::move(remotes)), state_(std::move(state)) {}

  Cycle RunOnce(bool apply_retention = true) {
    Cycle c;
    ScanOptions so;
    so.exclude.push_back(cfg_.state_dir);
    HashCache cache;
    {
      std::lock_guard l(mu_);
      cache = state_.cache;
    }
    auto cap = CaptureTree(cfg_.source, &cache, so);
    if (!cap) {
      c.capture_error = cap.message();
      return c;
    }
    c.captured = true;
    c.stats = cap->stats;
    Record& r = c.record;
    {
      std::lock_guard l(mu_);
      state_.cache = std::move(cache);
      r.id = MakeSnapshotId(SystemClock::instance().wall(), ++state_.seq);
      r.generation = state_.generation;
    }
    r.region = cfg_.region;
    r.created_at = FormatTime(SystemClock::instance().wall());
    r.host = Hostname();
    r.files = std::move(cap->files);
    r.datasets = std::move(cap->datasets);

    PublishOptions po;
    po.source_root = cfg_.source;
    po.tmp_dir = cfg_.state_dir;
    po.parallelism = cfg_.parallelism;
    po.retention = cfg_.retention;
    po.apply_retention = apply_retention;
    {
      // The record is shared read-only by the publishing threads: fill it in before they start.
      std::lock_guard l(mu_);
      r.parent = state_.remotes[remotes_.front().cfg.url].lineage.last_published;
    }
    c.reports.resize(remotes_.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < remotes_.size(); ++i) {
      threads.emplace_back([&, i] {
        RemoteState* rs;
        {
          std::lock_guard l(mu_);
          rs = &state_.remotes[remotes_[i].cfg.url];
          if (rs->lineage.last_published.empty()) rs->lineage.restored_from = state_.restored_from;
        }
        c.reports[i] = Publish(
            *remotes_[i].store, r, rs, &mu_, [&] { return Persist(); }, po);
      });
    }
    for (auto& t : threads)
      t.join();
    c.all_ok = true;
    for (const auto& rep : c.reports) {
      c.all_ok = c.all_ok && rep.ok && rep.error.empty();
      c.retry = c.retry || rep.changed;
    }
    std::lock_guard l(mu_);
    (void)Persist();
    return c;
  }

  // Caller holds mu_.
  Status Persist() { return SaveLocalState(cfg_.state_dir, state_); }

 private:
  ReplicationConfig cfg_;
  std::vector<Remote> remotes_;
  std::mutex mu_;
  LocalState state_;
};

void RecordMetrics(metrics::Registry& m, const Cycle& c, double now_s, std::mutex& mu,
                   std::map<std::string, double>* last_ok) {
  std::lock_guard l(mu);
  for (const auto& r : c.reports) {
    metrics::Labels lb{{"remote", r.remote}};
    m.Add("agency_ha_replication_uploaded_bytes_total", lb, static_cast<double>(r.uploaded_bytes));
    m.Add("agency_ha_replication_uploaded_objects_total", lb,
          static_cast<double>(r.uploaded_blobs));
    m.Add("agency_ha_replication_requests_total", lb, static_cast<double>(r.requests));
    if (r.ok) {
      (*last_ok)[r.remote] = now_s;
      m.Set("agency_ha_replication_last_snapshot_timestamp_seconds", lb, now_s);
    } else {
      m.Add("agency_ha_replication_errors_total", lb);
    }
  }
  if (!c.captured) m.Add("agency_ha_replication_errors_total", {{"remote", ""}});
}

}  // namespace

int ReplicateCommand(const std::string& config_path, bool once, bool check) {
  auto cfg = LoadReplicationConfig(config_path);
  if (!cfg) {
    std::fprintf(stderr, "agency-ha replicate: %s\n", cfg.message().c_str());
    return 2;
  }
  std::vector<Remote> remotes;
  for (size_t i = 0; i < cfg->remotes.size(); ++i) {
    auto s = OpenRemote(cfg->remotes[i], cfg->parallelism);
    if (!s) {
      std::fprintf(stderr, "agency-ha replicate: remotes[%zu].url: %s\n", i, s.message().c_str());
      return 2;
    }
    remotes.push_back({cfg->remotes[i], std::move(*s)});
  }
  if (check) {
    std::printf("config ok: %zu remote(s), region %s\n", remotes.size(), cfg->region.c_str());
    return 0;
  }
  if (Status s = EnsureWritableDir(cfg->state_dir); !s) {
    std::fprintf(stderr, "agency-ha replicate: stateDir: %s\n", s.message().c_str());
    return 1;
  }
  auto state = LoadLocalState(cfg->state_dir);
  if (!state) {
    std::fprintf(stderr, "agency-ha replicate: %s\n", state.message().c_str());
    return 1;
  }
  Replicator rep(*cfg, std::move(remotes), std::move(*state));
  if (once) {
    Cycle c;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      c = rep.RunOnce();
      if (!c.retry) break;
      log::Warn("a file changed during the snapshot; capturing again", {{"attempt", attempt}});
    }
    std::printf("%s\n", c.ToJson().dump().c_str());
    return c.all_ok ? 0 : 1;
  }

  // Continuous mode: a full capture every syncIntervalSeconds (unchanged files cost a stat).
  BlockTerminationSignals();
  Stopper stop;
  SignalWatcher signals(stop);
  metrics::Registry m;
  m.DefineCounter("agency_ha_replication_uploaded_bytes_total", "Blob bytes uploaded");
  m.DefineCounter("agency_ha_replication_uploaded_objects_total", "Blobs uploaded");
  m.DefineCounter("agency_ha_replication_requests_total", "Requests sent to the remote");
  m.DefineCounter("agency_ha_replication_errors_total", "Failed snapshot publishes");
  m.DefineGauge("agency_ha_replication_last_snapshot_timestamp_seconds",
                "Capture time of the last snapshot published to the remote");
  m.DefineGauge("agency_ha_replication_lag_seconds",
                "Seconds since the last snapshot published to the remote was captured");
  std::mutex mu;
  std::map<std::string, double> last_ok;
  json last_cycle = json::object();
  auto now_s = [] {
    return std::chrono::duration<double>(SystemClock::instance().wall().time_since_epoch()).count();
  };
  httpd::HttpServer http;
  if (!cfg->listen.empty()) {
    http.Get("/healthz", [&] {
      std::lock_guard l(mu);
      return httpd::Response{200, "application/json", last_cycle.dump() + "\n"};
    });
    http.Get("/metrics", [&] {
      {
        std::lock_guard l(mu);
        for (const auto& [remote, t] : last_ok)
          m.Set("agency_ha_replication_lag_seconds", {{"remote", remote}}, now_s() - t);
      }
      return httpd::Response{200, "text/plain; version=0.0.4", m.Render()};
    });
    if (Status s = http.Start(cfg->listen); !s) {
      std::fprintf(stderr, "agency-ha replicate: listen: %s\n", s.message().c_str());
      return 1;
    }
  }
  log::Info("replicate starting", {{"source", cfg->source},
                                   {"region", cfg->region},
                                   {"remotes", cfg->remotes.size()},
                                   {"port", http.port()}});
  double last_retention = 0;
  while (!stop.stopped()) {
    const double t0 = now_s();
    const bool retention = t0 - last_retention >= 3600;  // listing the remote: hourly
    Cycle c = rep.RunOnce(retention);
    if (retention && c.all_ok) last_retention = t0;
    RecordMetrics(m, c, t0, mu, &last_ok);
    {
      std::lock_guard l(mu);
      last_cycle = c.ToJson();
    }
    log::Write(c.all_ok ? log::Level::kInfo : log::Level::kWarn, "snapshot", c.ToJson());
    stop.WaitFor(
        std::chrono::milliseconds(static_cast<long long>(cfg->sync_interval_seconds * 1000)));
  }
  http.Stop();
  log::Info("replicate stopped", {{"signal", signals.signal()}});
  return 0;
}

namespace {

Result<std::vector<std::unique_ptr<objectstore::ObjectStore>>> OpenAll(const RemoteArgs& a) {
  std::vector<std::unique_ptr<objectstore::ObjectStore>> out;
  if (a.remotes.empty()) return Err("--remote is required");
  if (!config::IsDns1123Label(a.region)) return Err("--region must be a DNS-1123 label");
  for (const auto& url : a.remotes) {
    RemoteConfig rc;
    rc.url = url;
    rc.endpoint = a.endpoint;
    auto s = OpenRemote(rc, 4);
    if (!s) return s.error();
    out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace

int SnapshotsCommand(const RemoteArgs& args, bool as_json) {
  auto stores = OpenAll(args);
  if (!stores) {
    std::fprintf(stderr, "agency-ha snapshots: %s\n", stores.message().c_str());
    return 2;
  }
  auto& store = *stores->front();
  auto list = store.List(SnapshotsPrefix(args.region));
  if (!list) {
    std::fprintf(stderr, "agency-ha snapshots: %s\n", list.message().c_str());
    return 1;
  }
  auto latest = ReadLatest(store, args.region);
  const std::string latest_id = latest && *latest ? (*latest)->id : "";
  json out = json::array();
  for (const auto& o : *list) {
    const std::string name = o.key.substr(SnapshotsPrefix(args.region).size());
    if (!name.ends_with(".json")) continue;
    const std::string id = name.substr(0, name.size() - 5);
    json row = {{"id", id}, {"latest", id == latest_id}};
    if (auto text = store.Get(o.key); text) {
      if (auto r = RecordFromJson(*text); r) {
        row["files"] = r->files.size();
        row["bytes"] = r->total_bytes();
        row["createdAt"] = r->created_at;
        row["generation"] = r->generation;
      } else {
        row["error"] = r.message();
      }
    } else {
      row["error"] = text.message();
    }
    out.push_back(row);
  }
  if (as_json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%-28s %8s %14s  %-25s\n", "ID", "FILES", "BYTES", "CREATED");
    for (const auto& row : out) {
      std::printf("%-28s %8llu %14llu  %-25s%s\n", row["id"].get<std::string>().c_str(),
                  static_cast<unsigned long long>(row.value("files", 0)),
                  static_cast<unsigned long long>(row.value("bytes", 0)),
                  row.value("createdAt", row.value("error", "")).c_str(),
                  row["latest"].get<bool>() ? "  latest" : "");
    }
  }
  return 0;
}

int RestoreCommand(const RemoteArgs& args, const std::string& to, const std::string& snapshot,
                   bool force) {
  auto stores = OpenAll(args);
  if (!stores) {
    std::fprintf(stderr, "agency-ha restore: %s\n", stores.message().c_str());
    return 2;
  }
  std::vector<objectstore::ObjectStore*> ptrs;
  for (auto& s : *stores)
    ptrs.push_back(s.get());
  RestoreOptions o;
  o.region = args.region;
  o.target = to;
  o.snapshot = snapshot.empty() ? "latest" : snapshot;
  o.force = force;
  auto r = Restore(ptrs, o);
  if (!r) {
    std::fprintf(stderr, "agency-ha restore: %s\n", r.message().c_str());
    return 1;
  }
  json j = {{"ok", true},
            {"snapshot", r->id},
            {"recordFrom", r->record_from},
            {"files", r->files},
            {"bytes", r->bytes},
            {"blobsFetched", r->blobs_fetched},
            {"fallbacks", r->fallbacks},
            {"warnings", r->warnings}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace aha::replication
