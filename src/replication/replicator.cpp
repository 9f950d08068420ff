#include "replication/replicator.h"

#include <unistd.h>

#include <thread>

#include "common/clock.h"
#include "common/printable.h"
#include "net/secret.h"
#include "objectstore/sigv4.h"

namespace aha::replication {

std::string Hostname() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return host;
}

std::string CaptureSignature(const std::vector<FileEntry>& files,
                             const std::vector<DatasetInfo>& datasets,
                             const std::vector<SymlinkEntry>& symlinks) {
  std::string s;
  for (const auto& l : symlinks)
    s += "L\0" + l.path + '\0' + l.target + '\0' + std::to_string(l.mtime_ns) + '\n';
  for (const auto& f : files) {
    s += f.path + '\0' + f.sha256 + '\0' + std::to_string(f.size) + '\0' + std::to_string(f.mode) +
         '\0' + std::to_string(f.mtime_ns) + '\n';
  }
  for (const auto& d : datasets) {
    s += d.path;
    for (const auto& v : d.versions)
      s += '\0' + v;
    s += '\n';
  }
  return objectstore::sigv4::Sha256Hex(s);
}

namespace {

// A symlink is replicated only when its target stays inside the tree (docs/FORMAT.md): any
// other one fails the capture naming it, never dropped silently (nothing is published, the lag
// grows, the log says which link). "" when every link is fine.
std::string SymlinkRefusal(const std::vector<SymlinkEntry>& symlinks) {
  for (const auto& l : symlinks) {
    if (std::string why = SymlinkProblem(l.path, l.target); !why.empty()) {
      return "symlink " + Printable(l.path) + " -> " + Printable(l.target) + " refused: " + why +
             " (only links that stay inside the source are replicated; make it relative and "
             "inside, or replace it with the file)";
    }
  }
  return "";
}

}  // namespace

Cycle Replicator::RunOnce(bool apply_retention, bool skip_unchanged) {
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
  c.capture_error = SymlinkRefusal(cap->symlinks);
  if (!c.capture_error.empty()) return c;
  c.captured = true;
  c.stats = cap->stats;
  const std::string sig = CaptureSignature(cap->files, cap->datasets, cap->symlinks);
  const std::vector<size_t> targets = PublishTargets(sig, skip_unchanged);
  if (targets.empty()) {
    std::lock_guard l(mu_);
    state_.cache = std::move(cache);  // same content; at most access-only cache changes
    c.unchanged = c.all_ok = true;
    return c;
  }
  const std::map<std::string, std::string> pinned = FillRecord(&*cap, std::move(cache), &c.record);
  PublishAll(targets, PublishOptionsFor(apply_retention, &pinned), &c);
  for (size_t k = 0; k < targets.size(); ++k) {
    published_sig_[targets[k]] = c.reports[k].ok ? sig : std::string();
  }
  c.all_ok = true;
  for (const auto& rep : c.reports) {
    c.all_ok = c.all_ok && rep.ok && rep.error.empty();
    c.retry = c.retry || rep.changed;
  }
  std::lock_guard l(mu_);
  (void)Persist();
  return c;
}

// The remotes to publish to: all of them, or (skip_unchanged) those whose last successful
// publish by this process had other content than `sig`.
std::vector<size_t> Replicator::PublishTargets(const std::string& sig, bool skip_unchanged) {
  published_sig_.resize(remotes_.size());
  std::vector<size_t> targets;
  for (size_t i = 0; i < remotes_.size(); ++i) {
    if (!skip_unchanged || published_sig_[i] != sig) targets.push_back(i);
  }
  return targets;
}

// Stores the capture's hash cache and makes the record of the capture (a new snapshot id, this
// writer's generation and epoch); returns the capture's pinned bytes.
std::map<std::string, std::string> Replicator::FillRecord(Capture* cap, HashCache cache,
                                                          Record* r) {
  {
    std::lock_guard l(mu_);
    state_.cache = std::move(cache);
    r->id = MakeSnapshotId(SystemClock::instance().wall(), ++state_.seq);
    r->generation = state_.generation;
    r->epoch = epoch_;
    r->writer = writer_;
  }
  r->region = cfg_.region;
  r->created_at = FormatTime(SystemClock::instance().wall());
  r->host = Hostname();
  r->files = std::move(cap->files);
  r->symlinks = std::move(cap->symlinks);
  r->datasets = std::move(cap->datasets);
  return std::move(cap->pinned);
}

PublishOptions Replicator::PublishOptionsFor(bool apply_retention,
                                             const std::map<std::string, std::string>* pinned) {
  PublishOptions po;
  po.source_root = cfg_.source;
  po.tmp_dir = cfg_.state_dir;
  po.parallelism = cfg_.parallelism;
  po.retention = cfg_.retention;
  po.apply_retention = apply_retention;
  po.pinned = pinned;
  std::lock_guard l(mu_);
  po.epoch = epoch_;
  po.writer = writer_;
  return po;
}

// Publishes c->record to the target remotes concurrently, one report per target.
void Replicator::PublishAll(const std::vector<size_t>& targets, const PublishOptions& po,
                            Cycle* c) {
  Record& r = c->record;
  {
    // The record is shared read-only by the publishing threads: fill it in before they start.
    std::lock_guard l(mu_);
    r.parent = state_.remotes[remotes_.front().cfg.url].lineage.last_published;
  }
  c->reports.resize(targets.size());
  std::vector<std::thread> threads;
  for (size_t k = 0; k < targets.size(); ++k) {
    threads.emplace_back([&, k] {
      const size_t i = targets[k];
      RemoteState* rs;
      {
        std::lock_guard l(mu_);
        rs = &state_.remotes[remotes_[i].cfg.url];
        if (rs->lineage.last_published.empty()) rs->lineage.restored_from = state_.restored_from;
      }
      if (!EnsureConditional(i, &c->reports[k])) return;
      c->reports[k] = Publish(
          *remotes_[i].store, r, rs, &mu_, [&] { return Persist(); }, po);
    });
  }
  for (auto& t : threads)
    t.join();
}

// docs/WRITER.md: a remote that does not enforce conditional writes is refused for writing
// (fencing would be silently unsafe there). Probed once per process before the first publish
// to it; a probe that cannot tell (remote unreachable) is repeated next cycle.
bool Replicator::EnsureConditional(size_t i, PublishReport* rep) {
  {
    std::lock_guard l(mu_);
    conditional_.resize(remotes_.size(), 0);
    conditional_err_.resize(remotes_.size());
    if (conditional_[i] == 1) return true;
    if (conditional_[i] == -1) {
      rep->remote = remotes_[i].store->Describe();
      rep->refused = true;
      rep->error = conditional_err_[i];
      return false;
    }
  }
  Status s = objectstore::ProbeConditionalWrites(
      *remotes_[i].store, cfg_.region + "/probe/conditional-writes-" + net::RandomHex(8));
  std::lock_guard l(mu_);
  if (s) {
    conditional_[i] = 1;
    return true;
  }
  rep->remote = remotes_[i].store->Describe();
  if (s.code() == Code::kUnsupported) {
    conditional_[i] = -1;
    conditional_err_[i] =
        "refused for writing: " + s.message() +
        " (the writer protocol needs S3 conditional writes: AWS S3, MinIO and R2 have them)";
    rep->refused = true;
    rep->error = conditional_err_[i];
  } else {
    rep->error = s.message();
  }
  return false;
}

}  // namespace aha::replication
