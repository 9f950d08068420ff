#include "replication/follow.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "common/fs.h"
#include "replication/local_state.h"
#include "replication/writer.h"

namespace aha::replication {

namespace fs = std::filesystem;

namespace {

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

uint64_t TotalRequests(const std::vector<objectstore::ObjectStore*>& remotes) {
  uint64_t n = 0;
  for (auto* r : remotes)
    n += r->stats().requests;
  return n;
}

// How CheckPristine words a refusal: "<dir> has local writes since snapshot <id>: <what>; ...".
struct Refusal {
  std::string why, tail;
  Error operator()(const std::string& what) const {
    return Err(why + what + tail, Code::kConflict);
  }
};

// DIR's lineage state must show no `replicate` activity and name the applied snapshot.
Status CheckLineageState(const LocalState& st, const Record& applied, const Refusal& refuse) {
  if (st.seq > 0 || !st.remotes.empty()) {
    return refuse("`replicate` has taken snapshots of it (it is a primary now)");
  }
  if (st.restored_from != applied.id) {
    return refuse("its lineage state names snapshot \"" + st.restored_from + "\"");
  }
  return Status::Ok();
}

// A symlink in DIR must be one of the record's, with the record's target.
Status CheckSymlink(const fs::path& path, const std::string& rel,
                    const std::map<std::string, const SymlinkEntry*>& want_links,
                    const Refusal& refuse) {
  auto l = want_links.find(rel);
  if (l == want_links.end()) return refuse(rel + " was added");
  std::string text(l->second->target.size() + 1, '\0');
  const ssize_t n = ::readlink(path.c_str(), text.data(), text.size());
  if (n < 0 || static_cast<size_t>(n) != l->second->target.size() ||
      text.compare(0, static_cast<size_t>(n), l->second->target) != 0) {
    return refuse(rel + " was modified");
  }
  return Status::Ok();
}

// A file in DIR must be the record's `f` as written: size, hash and stat as the cache has them.
Status CheckFile(const struct stat& s, const std::string& rel, const FileEntry& f,
                 const LocalState& st, const Refusal& refuse) {
  auto c = st.cache.find(rel);
  if (c == st.cache.end() || static_cast<uint64_t>(s.st_size) != f.size ||
      c->second.size != f.size || c->second.sha256 != f.sha256 ||
      MtimeNs(s) != c->second.mtime_ns || static_cast<uint64_t>(s.st_ino) != c->second.ino ||
      (s.st_mode & 07777) != (f.mode & kRestoredModeMask)) {
    return refuse(rel + " was modified");
  }
  return Status::Ok();
}

// Every entry of the record must still exist (called when the walk matched fewer).
Status CheckNoneRemoved(const fs::path& root, const Record& applied, const Refusal& refuse) {
  for (const auto& f : applied.files) {
    struct stat s {};
    if (::lstat((root / f.path).c_str(), &s) != 0) return refuse(f.path + " was removed");
  }
  for (const auto& l : applied.symlinks) {
    struct stat s {};
    if (::lstat((root / l.path).c_str(), &s) != 0) return refuse(l.path + " was removed");
  }
  return Status::Ok();
}

// The remote the head came from first, then the others in their order.
std::vector<objectstore::ObjectStore*> SourceFirst(
    const std::vector<objectstore::ObjectStore*>& remotes, size_t from) {
  std::vector<objectstore::ObjectStore*> order{remotes[from]};
  for (size_t i = 0; i < remotes.size(); ++i)
    if (i != from) order.push_back(remotes[i]);
  return order;
}

// A staging dir next to DIR and a sibling for downloads (and the stores' temp files), both under
// the stale-entry prefix Init removes.
struct Staging {
  std::string dir, dl_dir;
  void Remove() const {
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::remove_all(dl_dir, ec);
  }
};

Result<Staging> MakeStaging(const std::string& parent, const std::string& name,
                            const std::string& target) {
  std::string tmpl = parent + "/." + name + ".aha-follow-XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    return Err("cannot create a staging dir next to " + target + ": " + ErrnoText(errno));
  }
  ::chmod(tmpl.c_str(), 0755);
  Staging s{tmpl, tmpl + ".download"};
  if (::mkdir(s.dl_dir.c_str(), 0700) != 0) {
    const int e = errno;
    s.Remove();
    return Err("cannot create " + s.dl_dir + ": " + ErrnoText(e));
  }
  return s;
}

// Records a failed round; returns false for the caller to return.
bool Fail(FollowRound* r, const std::string& msg, Code code = Code::kUnknown) {
  r->ok = false;
  r->error = msg;
  r->refused = code == Code::kConflict;
  return false;
}

}  // namespace

Result<std::map<std::string, LocalCopy>> CheckPristine(const std::string& dir,
                                                       const Record& applied) {
  const std::string state_dir = dir + "/.agency-ha";
  auto st = LoadLocalState(state_dir);
  if (!st) return Err(st.message(), Code::kConflict);
  const Refusal refuse{
      dir + " has local writes since snapshot " + applied.id + ": ",
      "; refusing to overwrite them (a promoted region's data is never followed over). Stop "
      "follow, or move the directory away to start a fresh standby"};
  if (Status s = CheckLineageState(*st, applied, refuse); !s) return s.error();
  std::map<std::string, const FileEntry*> want;
  for (const auto& f : applied.files)
    want[f.path] = &f;
  std::map<std::string, const SymlinkEntry*> want_links;
  for (const auto& l : applied.symlinks)
    want_links[l.path] = &l;
  std::map<std::string, LocalCopy> reuse;
  size_t seen = 0, seen_links = 0;
  std::error_code ec;
  const fs::path root = dir;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const std::string rel = it->path().lexically_relative(root).generic_string();
    if (rel == ".agency-ha") {
      it.disable_recursion_pending();
      continue;
    }
    struct stat s {};
    if (::lstat(it->path().c_str(), &s) != 0) {
      const int e = errno;
      return refuse(rel + " cannot be read: " + ErrnoText(e));
    }
    if (S_ISDIR(s.st_mode)) continue;
    if (S_ISLNK(s.st_mode)) {
      if (Status c = CheckSymlink(it->path(), rel, want_links, refuse); !c) return c.error();
      ++seen_links;
      continue;
    }
    auto w = want.find(rel);
    if (!S_ISREG(s.st_mode) || w == want.end()) return refuse(rel + " was added");
    if (Status c = CheckFile(s, rel, *w->second, *st, refuse); !c) return c.error();
    ++seen;
    reuse.emplace(w->second->sha256, LocalCopy{it->path().string(), *w->second});
  }
  if (ec) return Err("walking " + dir + ": " + ec.message(), Code::kConflict);
  if (seen != applied.files.size() || seen_links != applied.symlinks.size()) {
    if (Status c = CheckNoneRemoved(root, applied, refuse); !c) return c.error();
  }
  return reuse;
}

Follower::Follower(std::vector<objectstore::ObjectStore*> remotes, FollowOptions opts)
    : remotes_(std::move(remotes)), opts_(std::move(opts)) {
  std::error_code ec;
  fs::path t = fs::absolute(opts_.target, ec).lexically_normal();
  if (t.filename().empty()) t = t.parent_path();
  target_ = t.string();
  parent_ = t.parent_path().string();
  name_ = t.filename().string();
}

Follower::~Follower() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status Follower::Init() {
  if (remotes_.empty()) return Err("no remotes given");
  std::error_code ec;
  fs::create_directories(parent_, ec);
  if (ec) return Err("cannot create " + parent_ + ": " + ec.message());
  if (fs::exists(target_, ec) && !fs::is_directory(target_, ec)) {
    return Err(target_ + " is not a directory");
  }
  const std::string lock = parent_ + "/." + name_ + ".aha-follow.lock";
  auto lfd = OpenLockFile(lock);
  if (!lfd) return lfd.error();
  lock_fd_ = *lfd;
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Err("another follow is already keeping " + target_ + " (lock " + lock + " is held)");
  }
  // We hold the lock: staging entries are leftovers of a killed follow (before the swap: a
  // partial new tree; after it: the old tree). Either way, DIR itself is complete.
  const std::string stale = "." + name_ + ".aha-follow-";
  for (const auto& e : fs::directory_iterator(parent_, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(stale, 0) == 0) fs::remove_all(e.path(), ec);
  }
  return Status::Ok();
}

Status Follower::LoadApplied() {
  std::error_code ec;
  applied_.reset();
  if (!fs::exists(target_, ec) || fs::is_empty(target_, ec)) {
    loaded_ = true;
    return Status::Ok();
  }
  const std::string path = target_ + "/" + kAppliedRecordFile;
  auto text = ReadFile(path);
  if (!text) {
    return Err(target_ + " is not empty and holds no snapshot written by restore or follow (no " +
                   kAppliedRecordFile + "); refusing to overwrite it: move it away first",
               Code::kConflict);
  }
  auto r = RecordFromJson(*text);
  if (!r) return Err(path + ": " + r.message(), Code::kConflict);
  applied_ = std::move(*r);
  loaded_ = true;
  return Status::Ok();
}

bool Follower::AppliedTime(WallTime* out) const {
  if (!applied_) return false;
  if (ParseTime(applied_->created_at, out)) return true;
  return SnapshotIdTime(applied_->id, out);
}

FollowRound Follower::RunOnce() {
  FollowRound r;
  const MonoTime t0 = opts_.clock->mono();
  const uint64_t req0 = TotalRequests(remotes_);
  (void)Round(&r);
  r.requests = TotalRequests(remotes_) - req0;
  r.seconds = std::chrono::duration<double>(opts_.clock->mono() - t0).count();
  if (applied_) {
    r.snapshot = applied_->id;
    if (!r.applied) {
      r.files = applied_->files.size();
      r.bytes = applied_->total_bytes();
    }
  }
  return r;
}

bool Follower::Round(FollowRound* r) {
  if (!loaded_) {
    if (Status s = LoadApplied(); !s) return Fail(r, s.message(), s.code());
  }

  // 1. The lineage's head: the newest latest by (epoch, id) across every remote
  // (docs/WRITER.md), so a fenced writer's late snapshot on one remote never wins over a higher
  // epoch on another.
  auto heads = ReadHeads(remotes_, opts_.region, /*versioned=*/false);
  const auto head = PickHead(heads);
  for (const auto& h : heads) {
    if (!h.error.empty()) {
      r->warnings.push_back(h.error);
    } else if (h.missing) {
      r->warnings.push_back(h.remote + ": no snapshots for region " + opts_.region);
    }
  }
  if (!head) {
    return Fail(r, "no remote could provide the latest snapshot: " +
                       DescribeHeadErrors(heads, opts_.region));
  }
  const LatestPointer latest = *heads[*head].latest;
  r->latest = latest.id;
  r->latest_epoch = latest.epoch;
  r->latest_from = remotes_[*head]->Describe();
  if (applied_ && (latest.id == applied_->id ||
                   HeadOlder(latest.epoch, latest.id, applied_->epoch, applied_->id))) {
    // Up to date (a claim raises the epoch of the same snapshot), or every remote lags behind
    // one we applied from earlier: never go back.
    r->behind = latest.id != applied_->id;
    r->ok = true;
    return true;
  }

  // 2. The record, from the same remote first.
  const std::vector<objectstore::ObjectStore*> order = SourceFirst(remotes_, *head);
  auto record = FetchRecordFromAny(order, opts_.region, latest.id, nullptr, &r->warnings);
  if (!record) return Fail(r, record.message());

  // 3. DIR must still be what we (or restore) wrote.
  std::map<std::string, LocalCopy> reuse;
  if (applied_) {
    auto p = CheckPristine(target_, *applied_);
    if (!p) return Fail(r, p.message(), p.code());
    reuse = std::move(*p);
  }
  return Apply(std::move(*record), order, std::move(reuse), r);
}

// Steps 4 and 5: stage the record next to DIR, re-check DIR, swap, drop the old tree.
bool Follower::Apply(Record record, const std::vector<objectstore::ObjectStore*>& order,
                     std::map<std::string, LocalCopy> reuse, FollowRound* r) {
  auto staging = MakeStaging(parent_, name_, target_);
  if (!staging) return Fail(r, staging.message());
  MaterializeOptions mo;
  mo.reuse = std::move(reuse);
  mo.clock = opts_.clock;
  mo.cancelled = opts_.cancelled;
  auto rep = Materialize(record, order, staging->dir, staging->dl_dir + "/blob", mo);
  if (!rep) {
    staging->Remove();
    return Fail(r, rep.message() + "; " + target_ + " left at " +
                       (applied_ ? "snapshot " + applied_->id : std::string("its old content")));
  }
  r->blobs_fetched = rep->blobs_fetched;
  r->bytes_fetched = rep->bytes_fetched;
  r->linked = rep->linked;
  r->copied = rep->copied;
  r->fallbacks = rep->fallbacks;
  for (auto& w : rep->warnings)
    r->warnings.push_back(w);

  // A write may have landed while we fetched.
  if (applied_) {
    if (auto p = CheckPristine(target_, *applied_); !p) {
      staging->Remove();
      return Fail(r, p.message(), p.code());
    }
  }
  std::error_code ec;
  const bool exists = fs::exists(target_, ec);
  if (Status s = SwapIntoPlace(staging->dir, target_, exists); !s) {
    staging->Remove();
    return Fail(r, s.message());
  }
  applied_ = std::move(record);
  staging->Remove();  // the old tree (or nothing)
  r->ok = r->applied = true;
  r->files = rep->files;
  r->bytes = rep->bytes;
  return true;
}

}  // namespace aha::replication
