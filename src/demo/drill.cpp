#include "demo/drill.h"

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "failover/failover_state.h"
#include "replication/position.h"
#include "replication/snapshot.h"

namespace aha::demo {

namespace fs = std::filesystem;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

double MsBetween(Mono a, Mono b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::vector<std::string> ListKey(const state::KeyValues& kv, const char* key) {
  auto it = kv.find(key);
  if (it == kv.end()) return {};
  auto l = failover::ParseRegionList(it->second);
  return l ? *l : std::vector<std::string>{};
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

int HttpStatus(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(std::chrono::milliseconds(500));
  c.set_read_timeout(std::chrono::milliseconds(1000));
  auto r = c.Get(path);
  return r ? r->status : 0;
}

const RegionRuntime* FindRegion(const World& w, const std::string& name) {
  for (const auto& r : w.regions)
    if (r.name == name) return &r;
  return nullptr;
}

std::optional<replication::Position> ReadPosition(const std::string& path) {
  auto p = replication::ReadPositionFile(path);
  if (!p) return std::nullopt;
  return *p;
}

// The "writer" lines of a sidecar's log (one per takeover), with the region that logged them.
std::vector<json> WriterLines(const RegionRuntime& r) {
  std::vector<json> out;
  std::ifstream in(r.sidecar_log);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_object() || j.value("msg", "") != "writer") continue;
    out.push_back({{"region", r.name},
                   {"ts", j.value("ts", "")},
                   {"lineage", j.value("lineage", "")},
                   {"epoch", j.value("epoch", json(nullptr))},
                   {"from", j.value("from", "")},
                   {"previousRole", j.value("previousRole", "")},
                   {"planned", j.value("planned", false)},
                   {"takeoverMs", j.value("takeoverMs", json(nullptr))}});
  }
  return out;
}

// The data check at promotion (see DataCheck): `head` is the failed region's snapshot the
// promoted region's sidecar took over.
DataCheck CheckTakeover(const World& w, const RegionRuntime& promoted, const std::string& head,
                        double sidecar_ms) {
  DataCheck dc;
  dc.done = true;
  dc.snapshot_id = head;
  dc.restore_ms = sidecar_ms;
  auto text = w.remote->Get(replication::RecordKey(w.failing, head));
  auto rec = text ? replication::RecordFromJson(*text) : Result<replication::Record>(text.error());
  if (!rec) {
    dc.error = "snapshot record " + head + " of " + w.failing + ": " + rec.message();
    return dc;
  }
  const fs::path root = promoted.agent_dir;
  for (const auto& f : rec->files) {
    if (f.path == "session.json") continue;  // rewritten by the app
    ++dc.record_files;
    dc.record_bytes += f.size;
    std::error_code ec;
    const auto size = fs::file_size(root / f.path, ec);
    if (ec) {
      dc.mismatches.push_back("missing " + f.path);
    } else if (size != f.size) {
      dc.mismatches.push_back("size of " + f.path);
    } else {
      ++dc.restored_files;
      dc.restored_bytes += size;
    }
  }
  for (const auto& d : rec->datasets) {
    if (d.path != "brain/memory.lance") continue;
    for (const auto& v : d.versions) {
      try {
        dc.captured_version = std::max<uint64_t>(dc.captured_version, std::stoull(v));
      } catch (...) {
        dc.mismatches.push_back("manifest name " + v);
      }
    }
  }
  for (auto* app : w.apps) {
    if (app->region() == w.failing) {
      dc.expected_rows = app->RowsAtVersion(dc.captured_version);
      dc.failed_app_version = app->version();
    }
  }
  if (dc.captured_version > 0) {
    auto brain = CountBrain(promoted.agent_dir, dc.captured_version);
    if (!brain) {
      dc.mismatches.push_back(brain.message());
    } else {
      dc.restored_rows = brain->counted_rows;
      dc.restored_manifest_rows = brain->manifest_rows;
    }
  }
  dc.ok = dc.mismatches.empty() && dc.captured_version > 0 && dc.expected_rows > 0 &&
          dc.restored_rows == dc.expected_rows && dc.restored_manifest_rows == dc.expected_rows &&
          dc.restored_files == dc.record_files && dc.restored_bytes == dc.record_bytes;
  return dc;
}

// Every JSON line of a sidecar's log (unparsable lines skipped).
std::vector<json> LogLines(const RegionRuntime& r) {
  std::vector<json> out;
  std::ifstream in(r.sidecar_log);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

LineageMonitor::LineageMonitor(std::unique_ptr<objectstore::ObjectStore> store,
                               std::vector<std::string> lineages, std::chrono::milliseconds every)
    : store_(std::move(store)), lineages_(std::move(lineages)), every_(every) {}

LineageMonitor::~LineageMonitor() {
  Stop();
}

void LineageMonitor::Start() {
  thread_ = std::thread([this] {
    std::map<std::string, Sample> last;
    do {
      for (const auto& l : lineages_) {
        auto text = store_->Get(replication::LatestKey(l));
        const Mono at = SteadyClock::now();
        if (!text) {
          if (text.code() != Code::kNotFound) {
            std::lock_guard g(mu_);
            ++errors_;
          }
          continue;
        }
        auto p = replication::LatestFromJson(*text);
        if (!p) {
          std::lock_guard g(mu_);
          ++errors_;
          continue;
        }
        Sample s{l, p->id, p->writer, p->epoch, p->released, at};
        auto it = last.find(l);
        if (it != last.end() && it->second.id == s.id && it->second.epoch == s.epoch &&
            it->second.writer == s.writer && it->second.released == s.released) {
          continue;
        }
        last[l] = s;
        std::lock_guard g(mu_);
        samples_.push_back(std::move(s));
      }
    } while (!stop_.WaitFor(every_));
  });
}

void LineageMonitor::Stop() {
  stop_.Stop();
  if (thread_.joinable()) thread_.join();
}

std::vector<LineageMonitor::Sample> LineageMonitor::Samples() const {
  std::lock_guard g(mu_);
  return samples_;
}

uint64_t LineageMonitor::errors() const {
  std::lock_guard g(mu_);
  return errors_;
}

json FencedPublishes(const World& w) {
  json events = json::array();
  json by_region = json::object();
  for (const auto& r : w.regions) {
    uint64_t n = 0;
    for (const auto& l : LogLines(r)) {
      if (Str(l, "msg") != "snapshot") continue;
      auto rs = l.find("remotes");
      if (rs == l.end() || !rs->is_array()) continue;
      for (const auto& rep : *rs) {
        if (!rep.is_object() || !rep.value("fenced", false)) continue;
        ++n;
        events.push_back({{"ts", Str(l, "ts")},
                          {"region", r.name},
                          {"lineage", Str(l, "lineage")},
                          {"remote", Str(rep, "remote")},
                          {"why", Str(rep, "error")}});
      }
    }
    by_region[r.name] = n;
  }
  std::stable_sort(events.begin(), events.end(), [](const json& a, const json& b) {
    return a.value("ts", "") < b.value("ts", "");
  });
  return {{"count", events.size()}, {"byRegion", by_region}, {"events", events}};
}

namespace {

// Published snapshot ids per lineage: as the sidecars logged them (a remote reported ok), and as
// the monitor saw them as latest.
std::map<std::string, std::set<std::string>> PublishedIds(
    const World& w, const std::vector<LineageMonitor::Sample>& samples) {
  std::map<std::string, std::set<std::string>> published;
  for (const auto& r : w.regions) {
    for (const auto& l : LogLines(r)) {
      if (Str(l, "msg") != "snapshot" || Str(l, "snapshot").empty()) continue;
      auto rs = l.find("remotes");
      if (rs == l.end() || !rs->is_array()) continue;
      for (const auto& rep : *rs)
        if (rep.is_object() && rep.value("ok", false))
          published[Str(l, "lineage")].insert(Str(l, "snapshot"));
    }
  }
  for (const auto& s : samples)
    published[s.lineage].insert(s.id);
  return published;
}

struct LineageRec {
  std::string id, writer, created;
  int64_t epoch = 0;
  bool published = false;
};

// The readable records of `lineage` on the remote (`unreadable` counts the others); false (and a
// violation) when its snapshots cannot be listed.
bool ReadLineageRecords(const World& w, const std::string& lineage,
                        const std::set<std::string>& published, std::vector<LineageRec>* recs,
                        uint64_t* unreadable, json* violations) {
  auto list = w.remote->List(replication::SnapshotsPrefix(lineage));
  if (!list) {
    violations->push_back(lineage + ": cannot list its snapshots: " + list.message());
    return false;
  }
  for (const auto& o : *list) {
    if (!o.key.ends_with(".json")) continue;
    auto text = w.remote->Get(o.key);
    auto rec =
        text ? replication::RecordFromJson(*text) : Result<replication::Record>(text.error());
    if (!rec) {
      ++*unreadable;
      continue;
    }
    LineageRec x{rec->id, rec->writer, rec->created_at, rec->epoch, false};
    x.published = published.count(x.id) > 0;
    recs->push_back(std::move(x));
  }
  return true;
}

// One writer per epoch (epoch 0: before epochs, no claim). Returns [{epoch, writers}].
json CheckEpochWriters(const std::string& lineage, const std::vector<LineageRec>& recs,
                       json* violations) {
  std::map<int64_t, std::set<std::string>> writers;
  for (const auto& x : recs)
    if (x.epoch > 0) writers[x.epoch].insert(x.writer);
  json epochs = json::array();
  for (const auto& [e, ws] : writers) {
    epochs.push_back({{"epoch", e}, {"writers", ws}});
    if (ws.size() > 1) {
      std::string all;
      for (const auto& x : ws)
        all += (all.empty() ? "" : ", ") + x;
      violations->push_back(lineage + ": epoch " + std::to_string(e) +
                            " has snapshots of two writers (" + all + ")");
    }
  }
  return epochs;
}

// Published snapshots in creation order: the epoch never goes down. Returns how many were
// published.
size_t CheckPublishOrder(const std::string& lineage, const std::vector<LineageRec>& recs,
                         json* violations) {
  std::vector<LineageRec> pub;
  for (const auto& x : recs)
    if (x.published) pub.push_back(x);
  std::sort(pub.begin(), pub.end(), [](const LineageRec& a, const LineageRec& b) {
    return std::tie(a.created, a.id) < std::tie(b.created, b.id);
  });
  for (size_t i = 1, hi = 0; i < pub.size(); ++i) {
    if (pub[i].epoch < pub[hi].epoch) {
      violations->push_back(lineage + ": snapshot " + pub[i].id + " (epoch " +
                            std::to_string(pub[i].epoch) + ", " + pub[i].writer +
                            ") was published after " + pub[hi].id + " of epoch " +
                            std::to_string(pub[hi].epoch) + " (" + pub[hi].writer + ")");
    } else {
      hi = i;
    }
  }
  return pub.size();
}

// What readers saw: latest never went back to a lower epoch or to another writer at one. Returns
// how many samples of `lineage` there were.
uint64_t CheckLatestSamples(const std::string& lineage,
                            const std::vector<LineageMonitor::Sample>& samples, json* violations) {
  const LineageMonitor::Sample* prev = nullptr;
  uint64_t seen = 0;
  for (const auto& s : samples) {
    if (s.lineage != lineage) continue;
    ++seen;
    if (prev && (s.epoch < prev->epoch ||
                 (s.epoch == prev->epoch && s.epoch > 0 && s.writer != prev->writer))) {
      violations->push_back(lineage + ": latest went from " + prev->id + " (epoch " +
                            std::to_string(prev->epoch) + ", " + prev->writer + ") to " + s.id +
                            " (epoch " + std::to_string(s.epoch) + ", " + s.writer + ")");
    }
    prev = &s;
  }
  return seen;
}

}  // namespace

json CheckLineages(const World& w, const std::vector<LineageMonitor::Sample>& samples) {
  json violations = json::array();
  json lineages = json::object();
  auto published = PublishedIds(w, samples);
  for (const auto& region : w.regions) {
    if (!region.active) continue;
    const std::string& lineage = region.name;
    std::vector<LineageRec> recs;
    uint64_t unreadable = 0;
    if (!ReadLineageRecords(w, lineage, published[lineage], &recs, &unreadable, &violations)) {
      continue;
    }
    json epochs = CheckEpochWriters(lineage, recs, &violations);
    size_t n_published = CheckPublishOrder(lineage, recs, &violations);
    uint64_t seen = CheckLatestSamples(lineage, samples, &violations);
    lineages[lineage] = {{"records", recs.size()},
                         {"unreadableRecords", unreadable},
                         {"published", n_published},
                         {"latestSamples", seen},
                         {"epochs", epochs}};
  }
  return {{"ok", violations.empty()}, {"violations", violations}, {"lineages", lineages}};
}

int FinalChecks(const World& w, int rc, DemoResult* out) {
  out->fenced_publishes = FencedPublishes(w);
  std::vector<LineageMonitor::Sample> samples;
  if (w.monitor) {
    w.monitor->Stop();
    samples = w.monitor->Samples();
  }
  out->lineage_check = CheckLineages(w, samples);
  if (w.monitor) out->lineage_check["monitorErrors"] = w.monitor->errors();
  if (rc != 0) return rc;
  auto fail = [&](const std::string& step, const std::string& why) {
    out->failed_step = step;
    out->failure = why;
    std::fprintf(stderr, "agency-ha demo: step \"%s\" failed: %s\n", step.c_str(), why.c_str());
    return 1;
  };
  if (!out->lineage_check.value("ok", false)) {
    std::string why;
    for (const auto& v : out->lineage_check["violations"])
      why += (why.empty() ? "" : "; ") + v.get<std::string>();
    return fail("single writer per lineage", why);
  }
  const json& lf = out->lost_at_failover;
  if (lf.is_object() && lf["oldestAgeMs"].is_number() &&
      lf["oldestAgeMs"].get<double>() > out->rpo_bound_ms) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "a write lost at failover was acknowledged %.0f ms before the outage, more "
                  "than the RPO bound (%.0f ms)",
                  lf["oldestAgeMs"].get<double>(), out->rpo_bound_ms);
    return fail("lost at failover within the RPO bound", buf);
  }
  return rc;
}

json WriterChanges(const World& w) {
  std::vector<json> all;
  for (const auto& r : w.regions)
    for (auto& l : WriterLines(r))
      all.push_back(std::move(l));
  std::stable_sort(all.begin(), all.end(), [](const json& a, const json& b) {
    return a.value("ts", "") < b.value("ts", "");
  });
  return all;
}

void FillPhases(DemoResult* r) {
  double end = 0;
  for (const auto& o : r->outcomes)
    end = std::max(end, MsBetween(r->t0, o.at) + 1);
  auto at = [&](const std::string& name) {
    for (const auto& s : r->steps)
      if (s.name == name) return s.at_ms;
    return end;
  };
  const double failed = at(r->failing + " in failedRegions");
  const double recovered = at(r->failing + " recovered (not in failedRegions)");
  const double demoted = at(r->passive + " demoted (failback)");
  const bool started = r->t0 != Mono{};
  r->phases = {{"before the drill", MsBetween(r->t0, r->load_start), started ? 0.0 : end}};
  if (!started) return;
  r->phases.push_back({"outage, not yet detected", 0, failed});
  r->phases.push_back({"failed over", failed, recovered});
  r->phases.push_back({"recovered, before failback", recovered, demoted});
  r->phases.push_back({"after failback", demoted, end});
}

namespace {

// The steps of one drill: each waits for something observable, is recorded with when it
// happened (ms after t0) and fails naming the step.
class Steps {
 public:
  Steps(World& w, DemoResult* out) : w_(w), out_(out) {}

  // Records the failed step; returns the exit code (130 when interrupted, else 1).
  int Fail(const std::string& step, const std::string& why) {
    out_->failed_step = step;
    if (w_.stop->stopped()) {
      out_->failure = "interrupted";
      std::fprintf(stderr, "agency-ha demo: interrupted during step \"%s\"\n", step.c_str());
      return 130;
    }
    out_->failure = why + (last_error.empty() ? "" : " (last check: " + last_error + ")");
    std::fprintf(stderr, "agency-ha demo: step \"%s\" failed: %s\n", step.c_str(),
                 out_->failure.c_str());
    return 1;
  }

  // Waits until pred() returns a detail (nullopt: not yet; a detail starting with \x01: the
  // step failed, for that reason). Fails on timeout, Ctrl-C or a child that died.
  int Wait(const std::string& step, double seconds,
           const std::function<std::optional<std::string>()>& pred, bool record = true,
           std::chrono::milliseconds poll = std::chrono::milliseconds(2)) {
    const auto deadline =
        SteadyClock::now() + std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    for (;;) {
      if (auto d = pred()) {
        if (!d->empty() && (*d)[0] == '\x01') return Fail(step, d->substr(1));
        if (record) out_->steps.push_back(Step{step, MsBetween(t0, SteadyClock::now()), *d});
        return 0;
      }
      if (Child* dead = w_.children->FirstDead()) {
        return Fail(step, dead->name() + " exited (" + dead->ExitText() + "); its log " +
                              dead->log_path() + " ends with:\n" + dead->LogTail());
      }
      if (SteadyClock::now() > deadline) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "did not happen within %.0f s", seconds);
        return Fail(step, buf);
      }
      if (w_.stop->WaitFor(drill_started ? poll : std::chrono::milliseconds(20))) {
        return Fail(step, "interrupted");
      }
    }
  }

  // Records a step that happened at `at` (observed by someone else: the fault's timer), in time
  // order among the steps recorded so far (a fault can be reverted before the takeover is seen).
  void Record(const std::string& step, Mono at, const std::string& detail) {
    Record(Step{step, MsBetween(t0, at), detail});
  }
  void Record(const Step& step) {
    auto pos = std::upper_bound(out_->steps.begin(), out_->steps.end(), step.at_ms,
                                [](double t, const Step& s) { return t < s.at_ms; });
    out_->steps.insert(pos, step);
  }

  Mono t0 = SteadyClock::now();  // the drill's start once it started
  bool drill_started = false;    // polls faster from then on
  std::string last_error;        // what the last poll of a step saw, for its failure message

 private:
  World& w_;
  DemoResult* out_;
};

// The run's settings, copied into its result.
void DescribeRun(const World& w, DemoResult* out) {
  out->regions = w.regions;
  out->failing = w.failing;
  out->passive = w.passive;
  out->remote_desc = w.remote_desc;
  out->status_url = w.status_url;
  out->drill_seconds = w.drill_seconds;
  out->interval_seconds = w.interval_seconds;
  out->failback_seconds = w.failback_seconds;
  out->rpo_bound_ms = w.rpo_bound_seconds * 1000;
  out->fault_type = w.fault_type;
  out->locations = w.load->locations();
}

// Start-up: every component up and the baseline reached (the active regions serving, none
// failed, a first snapshot of each, the passive region caught up, the entry point routing), then
// the load started and run for the baseline.
int StartUp(World& w, Steps& st, const std::vector<std::string>& actives, double detect_budget,
            DemoResult* out) {
  auto state_now = [&] { return w.state->Get().kv; };
  if (int rc = st.Wait(
          "controller ready (/readyz)", 60,
          [&]() -> std::optional<std::string> {
            if (HttpStatus(w.controller_port, "/readyz") == 200) return "";
            return std::nullopt;
          },
          false)) {
    return rc;
  }
  if (int rc = st.Wait(
          "baseline: " + Join(actives) + " serving, none failed", detect_budget,
          [&]() -> std::optional<std::string> {
            auto kv = state_now();
            if (ListKey(kv, failover::kServingRegionsKey) == actives &&
                ListKey(kv, failover::kFailedRegionsKey).empty() &&
                kv.count(failover::kFailedRegionsKey)) {
              return "";
            }
            return std::nullopt;
          },
          false)) {
    return rc;
  }
  for (const auto& region : w.regions) {
    if (!region.active) continue;
    const std::string& r = region.name;
    if (int rc = st.Wait(
            "first snapshot of " + r + " shipped to " + w.remote_desc, 45,
            [&]() -> std::optional<std::string> {
              auto latest = w.remote->Get(replication::LatestKey(r));
              if (latest && replication::LatestFromJson(*latest)) return "";
              st.last_error = latest                             ? "latest is malformed"
                              : latest.code() == Code::kNotFound ? "no snapshot yet"
                                                                 : latest.message();
              return std::nullopt;
            },
            false)) {
      return rc;
    }
  }
  st.last_error.clear();
  if (int rc = st.Wait(
          w.passive + " follows " + w.failing + " (caught up)", 60,
          [&]() -> std::optional<std::string> {
            auto p = ReadPosition(FindRegion(w, w.passive)->position_file);
            if (p && p->role == replication::Role::kFollower && p->lineage == w.failing &&
                p->caught_up) {
              return "";
            }
            if (p && !p->error.empty()) st.last_error = p->error;
            return std::nullopt;
          },
          false, std::chrono::milliseconds(20))) {
    return rc;
  }
  st.last_error.clear();
  if (int rc = st.Wait(
          "entry point routing to " + Join(actives), 60,
          [&]() -> std::optional<std::string> {
            if (w.entry->ReadySet() != actives) return std::nullopt;
            for (const auto& loc : w.load->locations())
              for (const auto& r : w.regions)
                if (w.entry->LatencyMs(loc, r.name) < 0) return std::nullopt;
            return "";
          },
          false)) {
    return rc;
  }
  w.load->Start();
  out->load_start = SteadyClock::now();
  if (w.stop->WaitFor(std::chrono::duration<double>(w.baseline_seconds))) {
    return st.Fail("baseline traffic", "interrupted");
  }

  return 0;
}

// Lost at failover: the failed region's acknowledged writes (its app's commits, each a data
// fragment) that the promoted region's volume does not hold after the takeover from snapshot
// `head`; null when the failed region has no app.
json LostAtFailover(const World& w, const RegionRuntime& passive, const std::string& head,
                    Mono t0) {
  for (auto* app : w.apps) {
    if (app->region() != w.failing) continue;
    uint64_t count = 0, rows = 0;
    std::optional<double> oldest;
    json lost = json::array();
    const auto commits = app->commits();
    for (const auto& c : commits) {
      std::error_code ec;
      if (fs::exists(fs::path(passive.agent_dir) / "brain/memory.lance/data" / c.fragment, ec)) {
        continue;
      }
      const double age = MsBetween(c.at, t0);  // > 0: acknowledged before the outage began
      ++count;
      rows += c.rows;
      oldest = std::max(oldest.value_or(age), age);
      lost.push_back(
          {{"version", c.version}, {"fragment", c.fragment}, {"rows", c.rows}, {"ageMs", age}});
    }
    return json{{"count", count},
                {"rows", rows},
                {"acknowledged", commits.size()},
                {"oldestAgeMs", oldest ? json(*oldest) : json(nullptr)},
                {"rpoBoundMs", w.rpo_bound_seconds * 1000},
                {"snapshot", head},
                {"writes", lost}};
  }
  return nullptr;
}

// The promoted region's data after the takeover: the snapshot its sidecar took over (the "from"
// of its "writer" line, logged right after the position) restored intact, and what the failed
// region acknowledged but the promoted one does not hold.
int CheckTakeoverData(const World& w, Steps& steps, const RegionRuntime& passive, DemoResult* out) {
  json line;  // allow for the write of the "writer" line after the position
  const std::string s_check =
      "data check: " + w.passive + " holds " + w.failing + "'s last snapshot";
  if (int rc = steps.Wait(
          s_check, 10,
          [&]() -> std::optional<std::string> {
            for (const auto& l : WriterLines(passive))
              if (l.value("lineage", "") == w.failing) line = l;
            if (line.is_null()) return std::nullopt;
            return "";
          },
          false, std::chrono::milliseconds(20))) {
    return rc;
  }
  const std::string head = line.value("from", "");
  if (head.empty()) {
    return steps.Fail(s_check, w.passive + "'s sidecar took over " + w.failing +
                                   "'s lineage from no snapshot (none was published)");
  }
  const double sidecar_ms = line["takeoverMs"].is_number() ? line["takeoverMs"].get<double>() : 0.0;
  DataCheck dc = CheckTakeover(w, passive, head, sidecar_ms);
  out->data = dc;
  if (json lost = LostAtFailover(w, passive, head, steps.t0); !lost.is_null()) {
    out->lost_at_failover = std::move(lost);
  }
  if (!dc.ok) {
    std::string why = "files " + std::to_string(dc.restored_files) + "/" +
                      std::to_string(dc.record_files) + ", rows " +
                      std::to_string(dc.restored_rows) + "/" + std::to_string(dc.expected_rows);
    for (const auto& m : dc.mismatches)
      why += "; " + m;
    if (!dc.error.empty()) why += "; " + dc.error;
    return steps.Fail(s_check, why);
  }
  out->steps.push_back(Step{s_check, MsBetween(steps.t0, SteadyClock::now()),
                            "snapshot " + head + ": " + std::to_string(dc.restored_files) +
                                " files, " + std::to_string(dc.restored_rows) + " rows (brain v" +
                                std::to_string(dc.captured_version) + ")"});
  return 0;
}

}  // namespace

std::string DemotionReason(const state::KeyValues& kv, const std::string& region) {
  std::string reason = "?";
  auto it = kv.find(failover::kStateJsonKey);
  if (it == kv.end()) return reason;
  json j = json::parse(it->second, nullptr, false);
  if (!j.is_object() || !j["transitions"].is_array()) return reason;
  for (const auto& t : j["transitions"]) {
    if (t.value("type", "") == "RegionDemoted" && t.value("region", "") == region) {
      reason = t.value("reason", "?");
    }
  }
  return reason;
}

std::vector<Step> FailbackSteps(const std::string& passive, const std::string& failing,
                                const FailbackTimes& t) {
  std::vector<Step> fb = {
      {passive + " demoted (failback)", t.demoted.value_or(0), t.demoted_detail},
      {passive + " gate /ready 503 (failback)", t.passive_503.value_or(0), "no longer serving"},
      {failing + " gate /ready 200 (data ready again)", t.failing_200.value_or(0),
       "its sidecar writes " + failing + "'s lineage again"}};
  std::stable_sort(fb.begin(), fb.end(),
                   [](const Step& a, const Step& b) { return a.at_ms < b.at_ms; });
  return fb;
}

FailbackTally TallyFailback(const std::vector<Commit>& commits,
                            const std::function<bool(const std::string&)>& holds) {
  FailbackTally t;
  for (const auto& c : commits) {
    t.rows += c.rows;
    t.last_version = std::max(t.last_version, c.version);
    if (!holds(c.fragment)) {
      t.missing_rows += c.rows;
      t.missing.push_back({{"version", c.version}, {"fragment", c.fragment}, {"rows", c.rows}});
    }
  }
  return t;
}

namespace {

state::KeyValues StateNow(const World& w) {
  return w.state->Get().kv;
}

// The outage is started through MCP (simulate_regional_outage); t0 is taken right before.
int StartDrill(World& w, McpClient& mcp, Steps& steps, DemoResult* out, std::string* drill_id) {
  steps.t0 = SteadyClock::now();
  out->t0 = steps.t0;
  out->t0_wall = std::chrono::system_clock::now();
  steps.drill_started = true;
  if (w.fault) {
    // --fault pod|network|node: the demo is the injector (the MCP server knows nothing of it).
    const std::string s_fault = "fault injected: " + w.fault_type + " on " + w.failing;
    auto did = w.fault->Inject(std::chrono::seconds(w.drill_seconds));
    if (!did) return steps.Fail(s_fault, did.message());
    out->steps.push_back(Step{s_fault, MsBetween(steps.t0, *w.fault->injected_at()),
                              *did + "; reverted after " + std::to_string(w.drill_seconds) + " s"});
    return 0;
  }
  auto started = mcp.CallTool("simulate_regional_outage",
                              {{"region", w.failing}, {"duration_seconds", w.drill_seconds}},
                              std::chrono::seconds(30));
  const std::string s_drill = "drill started via MCP: simulate_regional_outage " + w.failing;
  if (!started) return steps.Fail(s_drill, started.message());
  const json sc = (*started).value("structuredContent", json::object());
  out->steps.push_back(Step{s_drill, MsBetween(steps.t0, SteadyClock::now()),
                            "drill " + sc.value("drillId", std::string("?")) + ", " +
                                std::to_string(w.drill_seconds) + " s"});
  *drill_id = sc.value("drillId", std::string());
  return 0;
}

// Detection: the entry point stops routing to the failing region, the controller marks it failed
// and promotes the passive region. The three are polled together, each timed when first seen,
// then recorded in the order they happened (ties keep that order): which comes first depends on
// the fault (a frozen gate holds the entry point's health checks for their timeout while the
// controller's probes already fail). *t_promoted: when the promotion was seen.
int WaitOutageDetected(World& w, Steps& steps, double detect_budget, double* t_promoted) {
  const std::string s_drain = "entry point stops routing to " + w.failing;
  const std::string s_failed = w.failing + " in failedRegions";
  const std::string s_promoted = w.passive + " promoted (servingRegions)";
  std::optional<Step> drain, failed, promoted;
  if (int rc = steps.Wait(
          s_drain + ", " + s_failed + ", " + s_promoted, detect_budget,
          [&]() -> std::optional<std::string> {
            auto now = [&] { return MsBetween(steps.t0, SteadyClock::now()); };
            if (!drain) {
              auto rs = w.entry->ReadySet();
              if (!failover::ContainsRegion(rs, w.failing)) {
                drain = Step{s_drain, now(), "gate /ready 503; ready: " + Join(rs)};
              }
            }
            if (!failed || !promoted) {
              auto kv = StateNow(w);
              auto f = ListKey(kv, failover::kFailedRegionsKey);
              if (!failed && failover::ContainsRegion(f, w.failing)) {
                failed = Step{s_failed, now(), "failedRegions=" + Join(f)};
              }
              auto s = ListKey(kv, failover::kServingRegionsKey);
              if (!promoted && failover::ContainsRegion(s, w.passive)) {
                promoted = Step{s_promoted, now(), "servingRegions=" + Join(s)};
              }
            }
            if (drain && failed && promoted) return "";
            return std::nullopt;
          },
          false)) {
    return rc;
  }
  std::vector<Step> seen = {*drain, *failed, *promoted};
  std::stable_sort(seen.begin(), seen.end(),
                   [](const Step& a, const Step& b) { return a.at_ms < b.at_ms; });
  for (auto& st : seen)
    steps.Record(st);
  *t_promoted = promoted->at_ms;
  return 0;
}

// The takeover, right after the promotion step: the promoted region's sidecar writes the failed
// region's lineage (its position file), the data it took over is checked, clients are served.
int WaitTakeover(World& w, Steps& steps, double detect_budget, double t_promoted, DemoResult* out) {
  const RegionRuntime& passive = *FindRegion(w, w.passive);
  // The handoff is the sidecar's: observe the promoted region's position file.
  if (int rc = steps.Wait(w.passive + " data ready: its sidecar writes " + w.failing + "'s lineage",
                          60, [&]() -> std::optional<std::string> {
                            auto p = ReadPosition(passive.position_file);
                            if (!p || p->role != replication::Role::kWriter ||
                                p->lineage != w.failing || !p->data_ready) {
                              if (p && !p->error.empty()) steps.last_error = p->error;
                              return std::nullopt;
                            }
                            return "epoch " + std::to_string(p->epoch) + ", position dataReady";
                          })) {
    return rc;
  }
  steps.last_error.clear();
  out->takeover_ms = out->steps.back().at_ms - t_promoted;
  if (int rc = CheckTakeoverData(w, steps, passive, out)) return rc;
  return steps.Wait(
      w.passive + " serving clients", detect_budget, [&]() -> std::optional<std::string> {
        auto at = w.load->FirstServedBy(w.passive, steps.t0);
        if (!at) return std::nullopt;
        return "first request answered at t+" +
               std::to_string(static_cast<long long>(MsBetween(steps.t0, *at))) + " ms";
      });
}

// Recovery: the outage expires (the failing region's gate is healthy) and the controller takes
// the region back into servingRegions.
int WaitRecovery(World& w, Steps& steps, double detect_budget) {
  // The gate as the controller reaches it (through the endpoint proxy with --fault network).
  int failing_gate = 0;
  for (const auto& r : w.regions)
    if (r.name == w.failing) failing_gate = r.endpoint_gate_port;
  if (w.fault) {
    const std::string s_revert = "fault reverted: " + w.fault_type + " on " + w.failing;
    if (int rc = steps.Wait(
            s_revert, w.drill_seconds + 30,
            [&]() -> std::optional<std::string> {
              if (!w.fault->reverted_at()) return std::nullopt;
              return "";
            },
            false, std::chrono::milliseconds(5))) {
      return rc;
    }
    auto reverted = w.fault->Revert();  // done already: its detail, or why the revert failed
    if (!reverted) return steps.Fail(s_revert, reverted.message());
    steps.Record(s_revert, *w.fault->reverted_at(), *reverted);
  }
  if (int rc = steps.Wait(
          "outage expired: " + w.failing + " gate /health 200", w.drill_seconds + 30,
          [&]() -> std::optional<std::string> {
            if (HttpStatus(failing_gate, "/health") != 200) return std::nullopt;
            return "drill over after " + std::to_string(w.drill_seconds) + " s";
          },
          true, std::chrono::milliseconds(5))) {
    return rc;
  }
  return steps.Wait(
      w.failing + " recovered (not in failedRegions)", detect_budget,
      [&]() -> std::optional<std::string> {
        auto kv = StateNow(w);
        auto f = ListKey(kv, failover::kFailedRegionsKey);
        auto s = ListKey(kv, failover::kServingRegionsKey);
        if (failover::ContainsRegion(f, w.failing) || !failover::ContainsRegion(s, w.failing)) {
          return std::nullopt;
        }
        return "servingRegions=" + Join(s);
      });
}

// Failback: the controller demotes the promoted region (state), its gate stops being ready, the
// recovered region's gate becomes ready once its sidecar writes its lineage again. All three are
// polled together, each timed when first seen, then recorded in the order they happened.
int WaitFailback(World& w, Steps& steps, double detect_budget, FailbackTimes* t, DemoResult* out) {
  const RegionRuntime& passive = *FindRegion(w, w.passive);
  const RegionRuntime& failing = *FindRegion(w, w.failing);
  if (int rc = steps.Wait(
          w.passive + " demoted (failback)", detect_budget + w.failback_seconds + 30,
          [&]() -> std::optional<std::string> {
            const double now = MsBetween(steps.t0, SteadyClock::now());
            if (!t->demoted) {
              auto kv = StateNow(w);
              auto s = ListKey(kv, failover::kServingRegionsKey);
              if (!failover::ContainsRegion(s, w.passive)) {
                // A demotion for another reason (the passive region failed) is no failback.
                const std::string reason = DemotionReason(kv, w.passive);
                if (reason.rfind("failback", 0) != 0) {
                  return "\x01" + w.passive + " was demoted, but not by failback: " + reason;
                }
                t->demoted = now;
                t->demoted_detail = "servingRegions=" + Join(s) + " (" + reason + ")";
              }
            }
            if (!t->passive_503 && HttpStatus(passive.gate_port, "/ready") == 503) {
              t->passive_503 = MsBetween(steps.t0, SteadyClock::now());
            }
            if (!t->failing_200 && HttpStatus(failing.gate_port, "/ready") == 200) {
              t->failing_200 = MsBetween(steps.t0, SteadyClock::now());
            }
            if (t->demoted && t->passive_503 && t->failing_200) return "";
            return std::nullopt;
          },
          false, std::chrono::milliseconds(2))) {
    return rc;
  }
  for (auto& st : FailbackSteps(w.passive, w.failing, *t))
    out->steps.push_back(st);
  out->failback_pause_ms = *t->failing_200 - *t->passive_503;
  return steps.Wait(
      w.failing + " writer of its lineage again", 60,
      [&]() -> std::optional<std::string> {
        auto p = ReadPosition(failing.position_file);
        if (!p || p->role != replication::Role::kWriter || p->lineage != w.failing ||
            !p->data_ready) {
          return std::nullopt;
        }
        return "epoch " + std::to_string(p->epoch) + ", position dataReady";
      },
      true, std::chrono::milliseconds(10));
}

// No write lost at failback: every fragment the promoted app committed is in the recovered
// region's volume (checked once the promoted app stopped writing and the recovered app re-read
// its data after the demotion at `t_demoted`).
int CheckFailbackData(World& w, Steps& steps, double t_demoted, DemoResult* out) {
  const RegionRuntime& failing = *FindRegion(w, w.failing);
  SimulatedApp* passive_app = nullptr;
  SimulatedApp* failing_app = nullptr;
  for (auto* a : w.apps) {
    if (a->region() == w.passive) passive_app = a;
    if (a->region() == w.failing) failing_app = a;
  }
  const std::string s_lost =
      "failback check: " + w.failing + " holds every write " + w.passive + " committed";
  if (int rc = steps.Wait(
          s_lost, 30,
          [&]() -> std::optional<std::string> {
            // The promoted app stopped, and the recovered app re-read its data after failback.
            if (passive_app->writing()) return std::nullopt;
            for (const auto& r : failing_app->reloads())
              if (MsBetween(steps.t0, r.at) >= t_demoted) return "";
            return std::nullopt;
          },
          false, std::chrono::milliseconds(10))) {
    return rc;
  }
  const auto commits = passive_app->commits();
  const FailbackTally t = TallyFailback(commits, [&](const std::string& fragment) {
    std::error_code ec;
    return fs::exists(fs::path(failing.agent_dir) / "brain/memory.lance/data" / fragment, ec);
  });
  uint64_t reloaded = 0;
  for (const auto& r : failing_app->reloads())
    if (MsBetween(steps.t0, r.at) >= t_demoted) reloaded = r.version;
  out->lost_at_failback = t.missing_rows;
  out->failback_check = {{"promotedWrites", commits.size()},
                         {"promotedRows", t.rows},
                         {"promotedLastVersion", t.last_version},
                         {"missingWrites", t.missing},
                         {"recoveredAppReloadedVersion", reloaded}};
  if (commits.empty())
    return steps.Fail(s_lost, w.passive + "'s app committed nothing while promoted");
  if (t.missing_rows > 0) {
    return steps.Fail(s_lost, std::to_string(t.missing.size()) + " of " +
                                  std::to_string(commits.size()) + " writes (" +
                                  std::to_string(t.missing_rows) + " rows) missing in " +
                                  w.failing);
  }
  out->steps.push_back(Step{s_lost, MsBetween(steps.t0, SteadyClock::now()),
                            std::to_string(commits.size()) + " writes, " + std::to_string(t.rows) +
                                " rows (through v" + std::to_string(t.last_version) + "), 0 lost"});
  return 0;
}

// The end: the recovered region serves clients again (after its gate became ready at
// `t_failing_200`), its preserved divergent tail is recorded, the MCP drill report completes.
int FinishDrill(World& w, McpClient& mcp, Steps& steps, double detect_budget, double t_failing_200,
                const std::string& drill_id, DemoResult* out) {
  const Mono failback_at =
      steps.t0 + std::chrono::microseconds(static_cast<long long>(t_failing_200 * 1000));
  if (int rc = steps.Wait(
          w.failing + " serving clients again", detect_budget, [&]() -> std::optional<std::string> {
            auto at = w.load->FirstServedBy(w.failing, failback_at);
            if (!at) return std::nullopt;
            return "first request answered at t+" +
                   std::to_string(static_cast<long long>(MsBetween(steps.t0, *at))) + " ms";
          })) {
    return rc;
  }
  if (auto p = ReadPosition(FindRegion(w, w.failing)->position_file)) {
    out->divergent_preserved = {
        {"files", p->divergent.files}, {"bytes", p->divergent.bytes}, {"path", p->divergent.path}};
  }
  if (w.fault) {  // no MCP drill: the demo injected the fault itself
    w.stop->WaitFor(std::chrono::duration<double>(w.tail_seconds));
    return 0;
  }
  if (int rc = steps.Wait(
          "drill report complete (get_drill_report)", 30,
          [&]() -> std::optional<std::string> {
            auto r = mcp.CallTool("get_drill_report", {{"drill_id", drill_id}},
                                  std::chrono::seconds(10));
            if (!r) return std::nullopt;
            json rep = (*r).value("structuredContent", json::object());
            if (!rep.value("complete", false)) return std::nullopt;
            out->mcp_report = rep;
            return "phase " + rep.value("phase", std::string());
          },
          true, std::chrono::milliseconds(100))) {
    return rc;
  }
  w.stop->WaitFor(std::chrono::duration<double>(w.tail_seconds));
  return 0;
}

}  // namespace

int RunDrill(World& w, McpClient& mcp, DemoResult* out) {
  DescribeRun(w, out);
  std::vector<std::string> actives;
  for (const auto& r : w.regions)
    if (r.active) actives.push_back(r.name);
  std::sort(actives.begin(), actives.end());

  Steps steps(w, out);
  const double detect_budget =
      w.interval_seconds * 12 + 20;  // generous: ASan builds on loaded CI machines
  if (int rc = StartUp(w, steps, actives, detect_budget, out)) return rc;
  std::string drill_id;
  if (int rc = StartDrill(w, mcp, steps, out, &drill_id)) return rc;
  double t_promoted = 0;
  if (int rc = WaitOutageDetected(w, steps, detect_budget, &t_promoted)) return rc;
  if (int rc = WaitTakeover(w, steps, detect_budget, t_promoted, out)) return rc;
  if (int rc = WaitRecovery(w, steps, detect_budget)) return rc;
  FailbackTimes fb;
  if (int rc = WaitFailback(w, steps, detect_budget, &fb, out)) return rc;
  if (int rc = CheckFailbackData(w, steps, *fb.demoted, out)) return rc;
  return FinishDrill(w, mcp, steps, detect_budget, *fb.failing_200, drill_id, out);
}

}  // namespace aha::demo
