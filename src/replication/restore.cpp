#include "replication/restore.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "common/fs.h"
#include "common/printable.h"
#include "replication/writer.h"

namespace aha::replication {

namespace fs = std::filesystem;

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  }
  return buf;
}

std::string DescribeFilesystem(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  // The deepest existing ancestor: the target itself may not exist yet.
  while (!p.empty() && !fs::exists(p, ec) && p != p.parent_path())
    p = p.parent_path();
  fs::path real = fs::canonical(p, ec);
  if (ec) real = p;
  std::string mount = "/", type = "?";
  std::ifstream mi("/proc/self/mountinfo");
  std::string line;
  const std::string r = real.string();
  while (std::getline(mi, line)) {
    // id parent major:minor root MOUNTPOINT options [optional...] - FSTYPE source superoptions
    std::istringstream in(line);
    std::string id, parent, dev, root, mp;
    in >> id >> parent >> dev >> root >> mp;
    std::string tok;
    while (in >> tok && tok != "-") {
    }
    std::string fstype;
    in >> fstype;
    const bool under = r == mp || (r.rfind(mp, 0) == 0 && (mp == "/" || r[mp.size()] == '/'));
    if (under && mp.size() >= mount.size()) {  // later lines win: the last mount on top
      mount = mp;
      type = fstype;
    }
  }
  struct statvfs sv {};
  std::string space;
  if (::statvfs(real.c_str(), &sv) == 0) {
    space = ", " + HumanBytes(static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize) + " free of " +
            HumanBytes(static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize);
  }
  return "filesystem " + mount + " (" + type + space + ")";
}

Status FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int e = errno;
    return SysErr("fsync " + path + ": " + ErrnoText(e), e);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return SysErr("fsync " + path + ": " + ErrnoText(e), e);
  }
  ::close(fd);
  return Status::Ok();
}

namespace {

bool DirIsEmpty(const std::string& p) {
  std::error_code ec;
  return fs::is_empty(p, ec) && !ec;
}

// Whether an error means the disk is full: by code (the stores and fs helpers keep the errno of
// a failed write), never by message text.
bool IsNoSpace(const Error& e) {
  return e.code == Code::kNoSpace;
}
bool IsNoSpace(int sys_errno) {
  return CodeFromErrno(sys_errno) == Code::kNoSpace;
}

Result<Record> FetchRecord(objectstore::ObjectStore& store, const std::string& region,
                           std::string id) {
  if (id.empty() || id == "latest") {
    auto text = store.Get(LatestKey(region));
    if (!text) {
      // 404 is also a missing bucket: keep the store's words (NoSuchKey / NoSuchBucket).
      return Err(text.code() == Code::kNotFound
                     ? "no snapshots for region " + region + " (" + text.message() + ")"
                     : "reading latest: " + text.message(),
                 text.code());
    }
    auto p = LatestFromJson(*text);
    if (!p) return p.error();
    id = p->id;
  } else if (!IsSnapshotId(id)) {
    return Err("invalid snapshot id " + id);
  }
  auto text = store.Get(RecordKey(region, id));
  if (!text) return Wrap("reading snapshot " + id + ": ", text.error());
  auto r = RecordFromJson(*text);
  if (!r) return r.error();
  if (r->id != id) return Err("record " + id + " names itself " + r->id);
  return r;
}

// Copies with a fresh inode (made durable later by the syncfs of the whole staging tree).
Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return SysErr("copy " + from + " -> " + to + ": " + ec.message(), ec.value());
  return Status::Ok();
}

// Creates the parent directories of `rel` below `root` as real directories; a symlink or file in
// the way is an error (never followed).
Status MakeRealParents(const fs::path& root, const std::string& rel) {
  fs::path cur = root;
  for (const auto& part : fs::path(rel).parent_path()) {
    cur /= part;
    struct stat st {};
    if (::lstat(cur.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) continue;
      return SysErr(cur.string() + " is not a directory", ENOTDIR);
    }
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      const int e = errno;
      return SysErr("mkdir " + cur.string() + ": " + ErrnoText(e), e);
    }
  }
  return Status::Ok();
}

// syncfs() of the filesystem holding `dir`: every dirty file and directory on it is written
// back, and (Linux >= 5.8) a writeback error since the fd was opened is reported.
Status SyncFilesystem(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return SysErr("syncfs " + dir + ": " + ErrnoText(e), e);
  }
  if (::syncfs(fd) != 0) {
    const int e = errno;
    ::close(fd);
    return SysErr("syncfs " + dir + ": " + ErrnoText(e), e);
  }
  ::close(fd);
  return Status::Ok();
}

// One Materialize call: its inputs, the report, and the progress and results shared with the
// fetch workers (those under `mu_`). Run() is the phases in order; each phase is one method.
class Materializer {
 public:
  Materializer(const Record& record, const std::vector<objectstore::ObjectStore*>& order,
               const std::string& staging_dir, const std::string& dl,
               const MaterializeOptions& opts)
      : record_(record),
        order_(order),
        staging_dir_(staging_dir),
        staging_(staging_dir),
        dl_(dl),
        opts_(opts),
        fetched_(record.files.size(), 0),
        linked_(record.files.size(), 0) {
    rep_.id = record.id;
  }

  Result<RestoreReport> Run() {
    if (Status s = CheckSpace(); !s) return s.error();
    Progress(false);
    if (Status s = MakeDirectories(); !s) return s.error();
    if (Status s = FetchBlobs(); !s) return s.error();
    if (!failed_.empty()) return NotRestored();
    if (Status s = PlaceOtherFiles(); !s) return s.error();
    if (Status s = SetModesAndWriteState(); !s) return s.error();
    if (Status s = MakeSymlinks(); !s) return s.error();
    // Durable before the swap: one syncfs() of the staging filesystem writes back every staged
    // file and directory (a hard link's data is the previous snapshot's, already durable)
    // instead of one fsync per file.
    if (Status s = SyncFilesystem(staging_dir_); !s) return NoSpaceOr(s);
    Progress(true);
    return rep_;
  }

 private:
  bool Cancelled() const { return opts_.cancelled && opts_.cancelled(); }

  // A reused local file is hard-linked only when nothing per-inode differs.
  bool Linkable(const FileEntry& f) const {
    auto it = opts_.reuse.find(f.sha256);
    return opts_.allow_links && it != opts_.reuse.end() && it->second.entry.mode == f.mode &&
           it->second.entry.mtime_ns == f.mtime_ns;
  }

  Error NoSpace(const std::string& detail) const {
    return SysErr("no space left on device: " + DescribeFilesystem(staging_dir_) + " cannot hold " +
                      "snapshot " + record_.id + " (" + HumanBytes(need_) + " to write, " +
                      std::to_string(record_.files.size()) + " files): " + detail,
                  ENOSPC);
  }
  // `s` as it is, or as "no space left" when the disk is full.
  Error NoSpaceOr(const Status& s) const {
    return IsNoSpace(s.error()) ? NoSpace(s.message()) : s.error();
  }

  // Space: everything that is not hard-linked is written (a duplicate of a fetched blob is a
  // copy). Checked up front so a restore that cannot fit fails before fetching anything.
  Status CheckSpace() {
    for (const auto& f : record_.files) {
      total_ += f.size;
      if (!Linkable(f)) need_ += f.size;
    }
    prog_.files_total = record_.files.size();
    prog_.bytes_total = total_;
    struct statvfs sv {};
    if (::statvfs(staging_dir_.c_str(), &sv) == 0) {
      const uint64_t avail = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
      if (need_ > avail) return NoSpace("only " + HumanBytes(avail) + " available");
    }
    return Status::Ok();
  }

  void Progress(bool final) {
    if (!opts_.progress) return;
    std::lock_guard<std::mutex> lock(mu_);
    const MonoTime now = opts_.clock->mono();
    if (!final && last_progress_ != MonoTime{} && now - last_progress_ < opts_.progress_interval) {
      return;
    }
    last_progress_ = now;
    prog_.final = final;
    opts_.progress(prog_);
  }

  void CountFile(const FileEntry& f) {  // under `mu_` or with no worker running
    rep_.files++;
    rep_.bytes += f.size;
    prog_.files_done = rep_.files;
    prog_.bytes_done = rep_.bytes;
  }

  // 1. Directories, and one fetch per blob no local copy holds (its first file gets it).
  Status MakeDirectories() {
    std::map<std::string, size_t> first_of;  // sha256 -> the file fetching it
    for (size_t i = 0; i < record_.files.size(); ++i) {
      if (Cancelled()) return Err("stopped", Code::kCancelled);
      const FileEntry& f = record_.files[i];
      const fs::path dst = staging_ / f.path;
      std::error_code ec;
      fs::create_directories(dst.parent_path(), ec);
      if (ec) {
        const std::string m = "mkdir " + dst.parent_path().string() + ": " + ec.message();
        if (IsNoSpace(ec.value())) return NoSpace(m);
        return Err(m);
      }
      if (opts_.reuse.count(f.sha256) == 0 && first_of.emplace(f.sha256, i).second) {
        fetches_.push_back(i);
      }
    }
    return Status::Ok();
  }

  // 2. The fetches, in parallel. Each worker has its own download path; a blob comes from the
  // first remote with a verified copy. A missing blob is collected (all are named at the end);
  // any other error stops every worker.
  Status FetchBlobs() {
    const size_t nworkers = std::max<size_t>(1, std::min(opts_.parallelism, fetches_.size()));
    if (nworkers == 1 || fetches_.empty()) {
      FetchWorker(0);
    } else {
      std::vector<std::thread> pool;
      pool.reserve(nworkers);
      for (size_t w = 0; w < nworkers; ++w)
        pool.emplace_back([this, w] { FetchWorker(w); });
      for (auto& t : pool)
        t.join();
    }
    if (first_error_) return *first_error_;
    std::sort(fallback_warnings_.begin(), fallback_warnings_.end());
    for (auto& [idx, w] : fallback_warnings_)
      rep_.warnings.push_back(std::move(w));
    std::sort(failed_.begin(), failed_.end());
    return Status::Ok();
  }

  void Halt(Error e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!first_error_) first_error_ = std::move(e);
    stop_ = true;
  }

  void FetchWorker(size_t w) {
    const std::string wdl = dl_ + "." + std::to_string(w);
    while (!stop_) {
      if (opts_.cancelled) {
        bool c;
        {
          std::lock_guard<std::mutex> lock(mu_);  // the callback need not be thread-safe
          c = opts_.cancelled();
        }
        if (c) return Halt(Err("stopped", Code::kCancelled));
      }
      const size_t n = next_++;
      if (n >= fetches_.size()) return;
      const size_t idx = fetches_[n];
      std::string why;
      const bool got = FetchBlob(idx, wdl, &why);
      if (stop_) return;
      if (!got) {
        std::lock_guard<std::mutex> lock(mu_);
        failed_.emplace_back(idx, record_.files[idx].path + " (" + why + ")");
        continue;
      }
      Progress(false);
    }
  }

  // Fetches file `idx`'s blob from the first remote with a verified copy into its staged path,
  // through the worker's download path `wdl`. False when no remote had one (`why` says what each
  // said) or every worker was stopped (a full disk or a failed rename here stops them all).
  bool FetchBlob(size_t idx, const std::string& wdl, std::string* why) {
    const FileEntry& f = record_.files[idx];
    const fs::path dst = staging_ / f.path;
    for (size_t k = 0; k < order_.size() && !stop_; ++k) {
      // Not durable here: everything staged is made durable by one syncfs() at the end.
      // The recorded size bounds the download: a remote cannot write more than that.
      Status s =
          order_[k]->GetToFile(BlobKey(record_.region, f.sha256), wdl, /*durable=*/false, f.size);
      if (!s) {
        if (IsNoSpace(s.error())) {
          ::unlink(wdl.c_str());
          Halt(NoSpace(f.path + ": " + s.message()));
          return false;
        }
        *why += (why->empty() ? "" : "; ") + order_[k]->Describe() + ": " + s.message();
        continue;
      }
      if (std::string bad = VerifyDownload(f, wdl); !bad.empty()) {
        ::unlink(wdl.c_str());
        *why += (why->empty() ? "" : "; ") + order_[k]->Describe() + ": " + bad;
        continue;
      }
      if (::rename(wdl.c_str(), dst.c_str()) != 0) {
        Halt(Err("rename into staging: " + ErrnoText(errno)));
        return false;
      }
      std::lock_guard<std::mutex> lock(mu_);
      if (k > 0) {
        rep_.fallbacks++;
        fallback_warnings_.emplace_back(idx, f.path + ": " + *why);
      }
      fetched_[idx] = 1;
      CountFile(f);
      return true;
    }
    return false;
  }

  // Counts the download and checks it against the record: "" when it holds `f`'s bytes, else
  // what is wrong.
  std::string VerifyDownload(const FileEntry& f, const std::string& wdl) {
    struct stat st {};
    ::stat(wdl.c_str(), &st);
    {
      std::lock_guard<std::mutex> lock(mu_);
      rep_.blobs_fetched++;
      rep_.bytes_fetched += static_cast<uint64_t>(st.st_size);
    }
    if (static_cast<uint64_t>(st.st_size) != f.size) {
      return "size mismatch (want " + std::to_string(f.size) + " bytes, got " +
             std::to_string(st.st_size) + ")";
    }
    auto sha = Sha256File(wdl);
    if (!sha) return "cannot hash the download: " + sha.message();
    if (*sha != f.sha256) return "SHA-256 mismatch (want " + f.sha256 + ", got " + *sha + ")";
    return "";
  }

  // Every file whose blob could not be fetched, named.
  Error NotRestored() const {
    std::string msg = "snapshot " + record_.id + ": " + std::to_string(failed_.size()) +
                      " file(s) could not be restored intact: ";
    for (size_t i = 0; i < failed_.size(); ++i)
      msg += (i ? "; " : "") + failed_[i].second;
    return Err(msg);
  }

  // 3. The other files (serial, no worker left): copies of a fetched or local blob, hard links.
  Status PlaceOtherFiles() {
    std::map<std::string, std::string> placed;  // sha256 -> staged path holding it
    for (size_t idx : fetches_)
      if (fetched_[idx])
        placed[record_.files[idx].sha256] = (staging_ / record_.files[idx].path).string();
    for (size_t i = 0; i < record_.files.size(); ++i) {
      if (fetched_[i]) continue;
      if (Cancelled()) return Err("stopped", Code::kCancelled);
      const FileEntry& f = record_.files[i];
      const fs::path dst = staging_ / f.path;
      if (auto it = placed.find(f.sha256); it != placed.end()) {
        if (Status s = CopyFile(it->second, dst.string()); !s) return NoSpaceOr(s);
        rep_.copied++;
      } else if (auto lc = opts_.reuse.find(f.sha256); lc != opts_.reuse.end()) {
        // A local file known to hold these bytes: a hard link when nothing per-inode differs
        // (mode/mtime would otherwise change the source file too), else a copy.
        if (Linkable(f) && ::link(lc->second.abs_path.c_str(), dst.c_str()) == 0) {
          rep_.linked++;
          linked_[i] = 1;  // shares the inode: its mode and mtime are already right, keep ctime
        } else {
          if (Status s = CopyFile(lc->second.abs_path, dst.string()); !s) return NoSpaceOr(s);
          rep_.copied++;
        }
        placed[f.sha256] = dst.string();
      } else {
        continue;  // its blob could not be fetched (not reached: NotRestored() answered)
      }
      CountFile(f);
      Progress(false);
    }
    return Status::Ok();
  }

  // 4. Modes and mtimes (after every copy: a mode like 0200 would forbid reading the source),
  // and the hash cache with each staged inode. Then adopt the lineage, and keep the record:
  // `follow` needs every file's mode and mtime.
  Status SetModesAndWriteState() {
    HashCache cache;
    for (size_t i = 0; i < record_.files.size(); ++i) {
      const FileEntry& f = record_.files[i];
      const fs::path dst = staging_ / f.path;
      if (!linked_[i]) {
        ::chmod(dst.c_str(), f.mode & kRestoredModeMask);
        struct timespec ts[2];
        ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(f.mtime_ns / 1000000000LL);
        ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(f.mtime_ns % 1000000000LL);
        ::utimensat(AT_FDCWD, dst.c_str(), ts, 0);
      }
      struct stat st {};
      if (::stat(dst.c_str(), &st) == 0) {
        cache[f.path] = CacheEntry{f.size, f.mtime_ns, static_cast<uint64_t>(st.st_ino), f.sha256};
      }
    }
    LocalState ls;
    ls.generation = record_.generation.empty() ? NewGeneration() : record_.generation;
    ls.restored_from = record_.id;
    ls.cache = std::move(cache);
    if (Status s = SaveLocalState((staging_ / ".agency-ha").string(), ls); !s) {
      if (IsNoSpace(s.error())) return NoSpace(s.message());
      return Err("writing lineage state: " + s.message());
    }
    if (Status s = WriteFileAtomic((staging_ / kAppliedRecordFile).string(), RecordToJson(record_));
        !s) {
      if (IsNoSpace(s.error())) return NoSpace(s.message());
      return Err("writing the applied record: " + s.message());
    }
    return Status::Ok();
  }

  // 5. Symlinks, last: every file and the state are written, so nothing is ever written through
  // a link (a record never holds an entry below a symlink, nor a link leaving the tree:
  // RecordFromJson refuses both; checked again here for records built in memory).
  Status MakeSymlinks() {
    for (const auto& l : record_.symlinks) {
      if (Cancelled()) return Err("stopped", Code::kCancelled);
      if (std::string why = SymlinkProblem(l.path, l.target); !why.empty()) {
        return Err("snapshot " + record_.id + ": symlink " + Printable(l.path) + " -> " +
                   Printable(l.target) + " refused: " + why);
      }
      const fs::path dst = staging_ / l.path;
      if (Status s = MakeRealParents(staging_, l.path); !s) return NoSpaceOr(s);
      if (::symlink(l.target.c_str(), dst.c_str()) != 0) {
        const int e = errno;
        const std::string m = "symlink " + Printable(l.path) + ": " + ErrnoText(e);
        if (IsNoSpace(e)) return NoSpace(m);
        return SysErr(m, e);
      }
      struct timespec ts[2];
      ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(l.mtime_ns / 1000000000LL);
      ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(l.mtime_ns % 1000000000LL);
      ::utimensat(AT_FDCWD, dst.c_str(), ts, AT_SYMLINK_NOFOLLOW);
      rep_.symlinks++;
    }
    return Status::Ok();
  }

  const Record& record_;
  const std::vector<objectstore::ObjectStore*>& order_;
  const std::string staging_dir_;
  const fs::path staging_;
  const std::string dl_;
  const MaterializeOptions& opts_;
  uint64_t need_ = 0;            // bytes written (not hard-linked)
  uint64_t total_ = 0;           // bytes of every file
  std::vector<size_t> fetches_;  // indexes into record.files, one per blob to fetch
  std::vector<char> fetched_;    // per file: its blob was fetched into it
  std::vector<char> linked_;     // per file: hard-linked to a local copy
  std::atomic<bool> stop_{false};
  std::atomic<size_t> next_{0};  // the next entry of fetches_ a worker takes

  std::mutex mu_;  // guards everything below while workers run
  RestoreReport rep_;
  RestoreProgress prog_;
  MonoTime last_progress_{};
  std::optional<Error> first_error_;
  std::vector<std::pair<size_t, std::string>> failed_;             // file index, text
  std::vector<std::pair<size_t, std::string>> fallback_warnings_;  // file index, text
};

}  // namespace

Result<Record> FetchRecordFromAny(const std::vector<objectstore::ObjectStore*>& remotes,
                                  const std::string& region, const std::string& id, size_t* from,
                                  std::vector<std::string>* warnings) {
  // "latest": the lineage's head across every remote, by (epoch, id) (docs/WRITER.md): a fenced
  // writer's late snapshot on one remote loses to a higher epoch on another.
  std::vector<size_t> idx(remotes.size());
  for (size_t i = 0; i < idx.size(); ++i)
    idx[i] = i;
  std::string want = id;
  if (want.empty() || want == "latest") {
    auto heads = ReadHeads(remotes, region, /*versioned=*/false);
    auto head = PickHead(heads);
    if (!head) {
      const std::string all = DescribeHeadErrors(heads, region);
      if (warnings) {
        for (const auto& h : heads)
          if (!h.error.empty()) warnings->push_back(h.error);
      }
      return Err("no remote could provide the snapshot: " + all);
    }
    for (const auto& h : heads) {
      if (!h.error.empty() && warnings) warnings->push_back(h.error);
    }
    want = heads[*head].latest->id;
    std::rotate(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(*head),
                idx.begin() + static_cast<std::ptrdiff_t>(*head) + 1);
  }
  std::string all;
  for (size_t i : idx) {
    auto r = FetchRecord(*remotes[i], region, want);
    if (r) {
      if (from) *from = i;
      return r;
    }
    const std::string w = remotes[i]->Describe() + ": " + r.message();
    if (warnings) warnings->push_back(w);
    all += (all.empty() ? "" : "; ") + w;
  }
  return Err("no remote could provide the snapshot: " + all);
}

Result<RestoreReport> Materialize(const Record& record,
                                  const std::vector<objectstore::ObjectStore*>& order,
                                  const std::string& staging_dir, const std::string& dl,
                                  const MaterializeOptions& opts) {
  return Materializer(record, order, staging_dir, dl, opts).Run();
}

Status SwapIntoPlace(const std::string& staging, const std::string& target, bool target_exists) {
  if (!target_exists) {
    if (::rename(staging.c_str(), target.c_str()) != 0) {
      return Err("rename " + staging + " -> " + target + ": " + ErrnoText(errno));
    }
  } else if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) !=
             0) {
    const int e = errno;
    std::string hint;
    if (e == EBUSY) hint = " (is the target a mount point? restore into a directory inside it)";
    return Err("swap " + staging + " <-> " + target + ": " + ErrnoText(e) + hint);
  }
  // The swap happened: a failed fsync of the parent cannot undo it (best effort, as rename is).
  const std::string parent = fs::path(target).parent_path().string();
  (void)FsyncPath(parent.empty() ? "." : parent);
  return Status::Ok();
}

namespace {

// The target as an absolute, normalized path without a trailing slash.
Result<fs::path> ResolveTarget(const std::string& given) {
  std::error_code ec;
  fs::path target = fs::absolute(given, ec);
  if (ec) return Err("target " + given + ": " + ec.message());
  target = target.lexically_normal();
  if (target.filename().empty()) target = target.parent_path();
  return target;
}

// Whether the restore may go ahead: an error when the target must not be replaced, the reason
// to skip (--if-empty: the target has content, or no remote has a snapshot of the region), or
// "" to restore.
Result<std::string> CheckTarget(const std::vector<objectstore::ObjectStore*>& remotes,
                                const RestoreOptions& opts, const fs::path& target, bool exists) {
  std::error_code ec;
  if (exists && !fs::is_directory(target, ec)) return Err(target.string() + " is not a directory");
  if (exists && !DirIsEmpty(target) && !opts.force) {
    if (opts.if_empty) return "target " + target.string() + " is not empty";
    return Err("target " + target.string() + " is not empty (use --force to replace it)");
  }
  if (opts.if_empty && (opts.snapshot.empty() || opts.snapshot == "latest")) {
    size_t missing = 0;
    for (auto* r : remotes) {
      auto latest = r->Get(LatestKey(opts.region));
      if (!latest && latest.code() == Code::kNotFound) ++missing;
    }
    if (missing == remotes.size()) return "no snapshot of region " + opts.region + " on any remote";
  }
  return std::string();
}

// The staging dir next to the target, and a sibling for the downloads (record paths cannot
// collide; the stores' temp files stay in it, so removing it removes every trace of a failed
// fetch).
struct RestoreStaging {
  std::string dir, dl_dir;
  void Remove() const {
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::remove_all(dl_dir, ec);
  }
};

Result<RestoreStaging> MakeRestoreStaging(const fs::path& target) {
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  std::string tmpl =
      (target.parent_path() / ("." + target.filename().string() + ".aha-restore-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) {
    const int e = errno;
    if (e == ENOSPC) {
      return SysErr("no space left on device: " + DescribeFilesystem(target.parent_path()) +
                        ": cannot create the staging dir; target untouched",
                    ENOSPC);
    }
    return Err("cannot create staging dir: " + ErrnoText(e));
  }
  ::chmod(tmpl.c_str(), 0755);  // mkdtemp makes it 0700
  RestoreStaging s{tmpl, tmpl + ".download"};
  if (::mkdir(s.dl_dir.c_str(), 0700) != 0) {
    const int e = errno;
    s.Remove();
    if (e == ENOSPC) {
      return SysErr("no space left on device: " + DescribeFilesystem(target.parent_path()) +
                        ": cannot create the download dir; target untouched",
                    ENOSPC);
    }
    return Err("cannot create " + s.dl_dir + ": " + ErrnoText(e));
  }
  return s;
}

}  // namespace

Result<RestoreReport> Restore(const std::vector<objectstore::ObjectStore*>& remotes,
                              const RestoreOptions& opts) {
  if (remotes.empty()) return Err("no remotes given");
  auto resolved = ResolveTarget(opts.target);
  if (!resolved) return resolved.error();
  const fs::path target = *resolved;
  std::error_code ec;
  const bool exists = fs::exists(target, ec);
  auto skip = CheckTarget(remotes, opts, target, exists);
  if (!skip) return skip.error();
  if (!skip->empty()) {
    RestoreReport r;
    r.skipped = *skip;
    return r;
  }

  // 1. The record.
  std::vector<std::string> warnings;
  size_t record_remote = 0;
  auto record = FetchRecordFromAny(remotes, opts.region, opts.snapshot, &record_remote, &warnings);
  if (!record) return record.error();
  std::vector<objectstore::ObjectStore*> order{remotes[record_remote]};
  for (size_t i = 0; i < remotes.size(); ++i)
    if (i != record_remote) order.push_back(remotes[i]);

  // 2. Staging next to the target.
  auto staging = MakeRestoreStaging(target);
  if (!staging) return staging.error();
  MaterializeOptions mo;
  mo.progress = opts.progress;
  mo.progress_interval = opts.progress_interval;
  mo.clock = opts.clock;
  mo.parallelism = opts.parallelism;
  auto rep = Materialize(*record, order, staging->dir, staging->dl_dir + "/blob", mo);
  if (!rep) {
    staging->Remove();
    Error e = rep.error();
    e.message += "; target left untouched, staging removed";
    return e;
  }
  rep->record_from = remotes[record_remote]->Describe();
  for (auto& w : warnings)
    rep->warnings.insert(rep->warnings.begin(), w);

  // 3. Swap.
  if (Status s = SwapIntoPlace(staging->dir, target.string(), exists); !s) {
    staging->Remove();
    return Err(s.message() + "; target left untouched");
  }
  if (exists) {
    staging->Remove();  // staging now holds the old content
  } else {
    fs::remove_all(staging->dl_dir, ec);  // the download dir, empty after a success
  }
  return rep;
}

Status SyncFilesystemOf(const std::string& dir) {
  return SyncFilesystem(dir);
}

}  // namespace aha::replication
