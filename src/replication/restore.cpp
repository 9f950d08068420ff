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
  if (fd < 0) return Err("fsync " + path + ": " + ErrnoText(errno), errno);
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return Err("fsync " + path + ": " + ErrnoText(e), e);
  }
  ::close(fd);
  return Status::Ok();
}

namespace {

bool DirIsEmpty(const std::string& p) {
  std::error_code ec;
  return fs::is_empty(p, ec) && !ec;
}

// Whether an error means the disk is full (the stores put strerror() text into messages).
bool IsNoSpace(const std::string& msg, int code) {
  return code == ENOSPC || code == EDQUOT || msg.find(std::strerror(ENOSPC)) != std::string::npos ||
         msg.find(std::strerror(EDQUOT)) != std::string::npos;
}

Result<Record> FetchRecord(objectstore::ObjectStore& store, const std::string& region,
                           std::string id) {
  if (id.empty() || id == "latest") {
    auto text = store.Get(LatestKey(region));
    if (!text) {
      // 404 is also a missing bucket: keep the store's words (NoSuchKey / NoSuchBucket).
      return Err(text.code() == 404
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
  if (!text) return Err("reading snapshot " + id + ": " + text.message(), text.code());
  auto r = RecordFromJson(*text);
  if (!r) return r.error();
  if (r->id != id) return Err("record " + id + " names itself " + r->id);
  return r;
}

// Copies with a fresh inode (made durable later by the syncfs of the whole staging tree).
Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return Err("copy " + from + " -> " + to + ": " + ec.message(), ec.value());
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
      return Err(cur.string() + " is not a directory", ENOTDIR);
    }
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      const int e = errno;
      return Err("mkdir " + cur.string() + ": " + ErrnoText(e), e);
    }
  }
  return Status::Ok();
}

// syncfs() of the filesystem holding `dir`: every dirty file and directory on it is written
// back, and (Linux >= 5.8) a writeback error since the fd was opened is reported.
Status SyncFilesystem(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Err("syncfs " + dir + ": " + ErrnoText(errno), errno);
  if (::syncfs(fd) != 0) {
    const int e = errno;
    ::close(fd);
    return Err("syncfs " + dir + ": " + ErrnoText(e), e);
  }
  ::close(fd);
  return Status::Ok();
}

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
  RestoreReport rep;
  rep.id = record.id;
  const fs::path staging = staging_dir;
  std::error_code ec;

  // Space: everything that is not hard-linked is written (a duplicate of a fetched blob is a
  // copy). Checked up front so a restore that cannot fit fails before fetching anything.
  auto linkable = [&](const FileEntry& f) {
    auto it = opts.reuse.find(f.sha256);
    return opts.allow_links && it != opts.reuse.end() && it->second.entry.mode == f.mode &&
           it->second.entry.mtime_ns == f.mtime_ns;
  };
  uint64_t need = 0, total = 0;
  for (const auto& f : record.files) {
    total += f.size;
    if (!linkable(f)) need += f.size;
  }
  auto no_space = [&](const std::string& detail) {
    return Err("no space left on device: " + DescribeFilesystem(staging_dir) + " cannot hold " +
                   "snapshot " + record.id + " (" + HumanBytes(need) + " to write, " +
                   std::to_string(record.files.size()) + " files): " + detail,
               ENOSPC);
  };
  struct statvfs sv {};
  if (::statvfs(staging_dir.c_str(), &sv) == 0) {
    const uint64_t avail = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
    if (need > avail) return no_space("only " + HumanBytes(avail) + " available");
  }

  // Progress and the report are shared with the fetch workers: both under `mu`.
  std::mutex mu;
  RestoreProgress prog;
  prog.files_total = record.files.size();
  prog.bytes_total = total;
  MonoTime last_progress{};
  auto progress = [&](bool final) {
    if (!opts.progress) return;
    std::lock_guard<std::mutex> lock(mu);
    const MonoTime now = opts.clock->mono();
    if (!final && last_progress != MonoTime{} && now - last_progress < opts.progress_interval) {
      return;
    }
    last_progress = now;
    prog.final = final;
    opts.progress(prog);
  };
  auto count_file = [&](const FileEntry& f) {  // under `mu` or with no worker running
    rep.files++;
    rep.bytes += f.size;
    prog.files_done = rep.files;
    prog.bytes_done = rep.bytes;
  };
  progress(false);

  // 1. Directories, and one fetch per blob no local copy holds (its first file gets it).
  std::vector<size_t> fetches;  // indexes into record.files
  std::vector<char> fetched(record.files.size(), 0);
  {
    std::map<std::string, size_t> first_of;  // sha256 -> the file fetching it
    for (size_t i = 0; i < record.files.size(); ++i) {
      if (opts.cancelled && opts.cancelled()) return Err("stopped", 499);
      const FileEntry& f = record.files[i];
      const fs::path dst = staging / f.path;
      fs::create_directories(dst.parent_path(), ec);
      if (ec) {
        const std::string m = "mkdir " + dst.parent_path().string() + ": " + ec.message();
        if (IsNoSpace(m, ec.value())) return no_space(m);
        return Err(m);
      }
      if (opts.reuse.count(f.sha256) == 0 && first_of.emplace(f.sha256, i).second) {
        fetches.push_back(i);
      }
    }
  }

  // 2. The fetches, in parallel. Each worker has its own download path; a blob comes from the
  // first remote with a verified copy. A missing blob is collected (all are named at the end);
  // any other error stops every worker.
  std::vector<std::pair<size_t, std::string>> failed, fallback_warnings;  // file index, text
  std::optional<Error> first_error;
  std::atomic<bool> stop{false};
  std::atomic<size_t> next{0};
  auto halt = [&](Error e) {
    std::lock_guard<std::mutex> lock(mu);
    if (!first_error) first_error = std::move(e);
    stop = true;
  };
  auto worker = [&](size_t w) {
    const std::string wdl = dl + "." + std::to_string(w);
    while (!stop) {
      if (opts.cancelled) {
        bool c;
        {
          std::lock_guard<std::mutex> lock(mu);  // the callback need not be thread-safe
          c = opts.cancelled();
        }
        if (c) return halt(Err("stopped", 499));
      }
      const size_t n = next++;
      if (n >= fetches.size()) return;
      const size_t idx = fetches[n];
      const FileEntry& f = record.files[idx];
      const fs::path dst = staging / f.path;
      bool got = false;
      std::string why;
      for (size_t k = 0; k < order.size() && !got && !stop; ++k) {
        // Not durable here: everything staged is made durable by one syncfs() at the end.
        // The recorded size bounds the download: a remote cannot write more than that.
        Status s =
            order[k]->GetToFile(BlobKey(record.region, f.sha256), wdl, /*durable=*/false, f.size);
        if (!s) {
          if (IsNoSpace(s.message(), s.code())) {
            ::unlink(wdl.c_str());
            return halt(no_space(f.path + ": " + s.message()));
          }
          why += (why.empty() ? "" : "; ") + order[k]->Describe() + ": " + s.message();
          continue;
        }
        struct stat st {};
        ::stat(wdl.c_str(), &st);
        {
          std::lock_guard<std::mutex> lock(mu);
          rep.blobs_fetched++;
          rep.bytes_fetched += static_cast<uint64_t>(st.st_size);
        }
        std::string bad;
        if (static_cast<uint64_t>(st.st_size) != f.size) {
          bad = "size mismatch (want " + std::to_string(f.size) + " bytes, got " +
                std::to_string(st.st_size) + ")";
        } else if (auto sha = Sha256File(wdl); !sha) {
          bad = "cannot hash the download: " + sha.message();
        } else if (*sha != f.sha256) {
          bad = "SHA-256 mismatch (want " + f.sha256 + ", got " + *sha + ")";
        }
        if (!bad.empty()) {
          ::unlink(wdl.c_str());
          why += (why.empty() ? "" : "; ") + order[k]->Describe() + ": " + bad;
          continue;
        }
        if (::rename(wdl.c_str(), dst.c_str()) != 0) {
          return halt(Err("rename into staging: " + ErrnoText(errno)));
        }
        got = true;
        std::lock_guard<std::mutex> lock(mu);
        if (k > 0) {
          rep.fallbacks++;
          fallback_warnings.emplace_back(idx, f.path + ": " + why);
        }
        fetched[idx] = 1;
        count_file(f);
      }
      if (stop) return;
      if (!got) {
        std::lock_guard<std::mutex> lock(mu);
        failed.emplace_back(idx, f.path + " (" + why + ")");
        continue;
      }
      progress(false);
    }
  };
  const size_t nworkers = std::max<size_t>(1, std::min(opts.parallelism, fetches.size()));
  if (nworkers == 1 || fetches.empty()) {
    worker(0);
  } else {
    std::vector<std::thread> pool;
    pool.reserve(nworkers);
    for (size_t w = 0; w < nworkers; ++w)
      pool.emplace_back(worker, w);
    for (auto& t : pool)
      t.join();
  }
  if (first_error) return *first_error;
  std::sort(fallback_warnings.begin(), fallback_warnings.end());
  for (auto& [idx, w] : fallback_warnings)
    rep.warnings.push_back(std::move(w));
  std::sort(failed.begin(), failed.end());

  // 3. The other files (serial, no worker left): copies of a fetched or local blob, hard links.
  std::map<std::string, std::string> placed;  // sha256 -> staged path holding it
  for (size_t idx : fetches)
    if (fetched[idx])
      placed[record.files[idx].sha256] = (staging / record.files[idx].path).string();
  std::vector<char> linked(record.files.size(), 0);
  for (size_t i = 0; i < record.files.size() && failed.empty(); ++i) {
    if (fetched[i]) continue;
    if (opts.cancelled && opts.cancelled()) return Err("stopped", 499);
    const FileEntry& f = record.files[i];
    const fs::path dst = staging / f.path;
    if (auto it = placed.find(f.sha256); it != placed.end()) {
      if (Status s = CopyFile(it->second, dst.string()); !s) {
        if (IsNoSpace(s.message(), s.code())) return no_space(s.message());
        return s.error();
      }
      rep.copied++;
    } else if (auto lc = opts.reuse.find(f.sha256); lc != opts.reuse.end()) {
      // A local file known to hold these bytes: a hard link when nothing per-inode differs
      // (mode/mtime would otherwise change the source file too), else a copy.
      if (linkable(f) && ::link(lc->second.abs_path.c_str(), dst.c_str()) == 0) {
        rep.linked++;
        linked[i] = 1;  // shares the inode: its mode and mtime are already right, keep ctime too
      } else {
        if (Status s = CopyFile(lc->second.abs_path, dst.string()); !s) {
          if (IsNoSpace(s.message(), s.code())) return no_space(s.message());
          return s.error();
        }
        rep.copied++;
      }
      placed[f.sha256] = dst.string();
    } else {
      continue;  // its blob could not be fetched: already in `failed`
    }
    count_file(f);
    progress(false);
  }
  if (!failed.empty()) {
    std::string msg = "snapshot " + record.id + ": " + std::to_string(failed.size()) +
                      " file(s) could not be restored intact: ";
    for (size_t i = 0; i < failed.size(); ++i)
      msg += (i ? "; " : "") + failed[i].second;
    return Err(msg);
  }
  // 4. Modes and mtimes (after every copy: a mode like 0200 would forbid reading the source),
  // and the hash cache with each staged inode.
  HashCache cache;
  for (size_t i = 0; i < record.files.size(); ++i) {
    const FileEntry& f = record.files[i];
    const fs::path dst = staging / f.path;
    if (!linked[i]) {
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
  // Adopt the lineage, and keep the record: `follow` needs every file's mode and mtime.
  LocalState ls;
  ls.generation = record.generation.empty() ? NewGeneration() : record.generation;
  ls.restored_from = record.id;
  ls.cache = std::move(cache);
  if (Status s = SaveLocalState((staging / ".agency-ha").string(), ls); !s) {
    if (IsNoSpace(s.message(), s.code())) return no_space(s.message());
    return Err("writing lineage state: " + s.message());
  }
  if (Status s = WriteFileAtomic((staging / kAppliedRecordFile).string(), RecordToJson(record));
      !s) {
    if (IsNoSpace(s.message(), s.code())) return no_space(s.message());
    return Err("writing the applied record: " + s.message());
  }
  // 5. Symlinks, last: every file and the state are written, so nothing is ever written through
  // a link (a record never holds an entry below a symlink, nor a link leaving the tree:
  // RecordFromJson refuses both; checked again here for records built in memory).
  for (const auto& l : record.symlinks) {
    if (opts.cancelled && opts.cancelled()) return Err("stopped", 499);
    if (std::string why = SymlinkProblem(l.path, l.target); !why.empty()) {
      return Err("snapshot " + record.id + ": symlink " + Printable(l.path) + " -> " +
                 Printable(l.target) + " refused: " + why);
    }
    const fs::path dst = staging / l.path;
    if (Status s = MakeRealParents(staging, l.path); !s) {
      if (IsNoSpace(s.message(), s.code())) return no_space(s.message());
      return s.error();
    }
    if (::symlink(l.target.c_str(), dst.c_str()) != 0) {
      const int e = errno;
      const std::string m = "symlink " + Printable(l.path) + ": " + ErrnoText(e);
      if (IsNoSpace(m, e)) return no_space(m);
      return Err(m, e);
    }
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(l.mtime_ns / 1000000000LL);
    ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(l.mtime_ns % 1000000000LL);
    ::utimensat(AT_FDCWD, dst.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    rep.symlinks++;
  }
  // Durable before the swap: one syncfs() of the staging filesystem writes back every staged
  // file and directory (a hard link's data is the previous snapshot's, already durable) instead
  // of one fsync per file.
  if (Status s = SyncFilesystem(staging_dir); !s) {
    if (IsNoSpace(s.message(), s.code())) return no_space(s.message());
    return s.error();
  }
  progress(true);
  return rep;
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

Result<RestoreReport> Restore(const std::vector<objectstore::ObjectStore*>& remotes,
                              const RestoreOptions& opts) {
  if (remotes.empty()) return Err("no remotes given");
  std::error_code ec;
  fs::path target = fs::absolute(opts.target, ec);
  if (ec) return Err("target " + opts.target + ": " + ec.message());
  target = target.lexically_normal();
  if (target.filename().empty()) target = target.parent_path();
  const bool exists = fs::exists(target, ec);
  if (exists && !fs::is_directory(target, ec)) return Err(target.string() + " is not a directory");
  if (exists && !DirIsEmpty(target) && !opts.force) {
    if (opts.if_empty) {
      RestoreReport skip;
      skip.skipped = "target " + target.string() + " is not empty";
      return skip;
    }
    return Err("target " + target.string() + " is not empty (use --force to replace it)");
  }
  if (opts.if_empty && (opts.snapshot.empty() || opts.snapshot == "latest")) {
    size_t missing = 0;
    for (auto* r : remotes) {
      auto latest = r->Get(LatestKey(opts.region));
      if (!latest && latest.code() == 404) ++missing;
    }
    if (missing == remotes.size()) {
      RestoreReport skip;
      skip.skipped = "no snapshot of region " + opts.region + " on any remote";
      return skip;
    }
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
  fs::create_directories(target.parent_path(), ec);
  std::string tmpl =
      (target.parent_path() / ("." + target.filename().string() + ".aha-restore-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) {
    const int e = errno;
    if (e == ENOSPC) {
      return Err("no space left on device: " + DescribeFilesystem(target.parent_path()) +
                     ": cannot create the staging dir; target untouched",
                 ENOSPC);
    }
    return Err("cannot create staging dir: " + ErrnoText(e));
  }
  const fs::path staging = tmpl;
  ::chmod(staging.c_str(), 0755);  // mkdtemp makes it 0700
  // Downloads land in a sibling dir (record paths cannot collide; the stores' temp files stay in
  // it, so removing it removes every trace of a failed fetch).
  const std::string dl_dir = tmpl + ".download";
  const std::string dl = dl_dir + "/blob";
  auto cleanup = [&] {
    fs::remove_all(staging, ec);
    fs::remove_all(dl_dir, ec);
  };
  if (::mkdir(dl_dir.c_str(), 0700) != 0) {
    const int e = errno;
    cleanup();
    if (e == ENOSPC) {
      return Err("no space left on device: " + DescribeFilesystem(target.parent_path()) +
                     ": cannot create the download dir; target untouched",
                 ENOSPC);
    }
    return Err("cannot create " + dl_dir + ": " + ErrnoText(e));
  }
  MaterializeOptions mo;
  mo.progress = opts.progress;
  mo.progress_interval = opts.progress_interval;
  mo.clock = opts.clock;
  mo.parallelism = opts.parallelism;
  auto rep = Materialize(*record, order, staging.string(), dl, mo);
  if (!rep) {
    cleanup();
    return Err(rep.message() + "; target left untouched, staging removed", rep.code());
  }
  rep->record_from = remotes[record_remote]->Describe();
  for (auto& w : warnings)
    rep->warnings.insert(rep->warnings.begin(), w);

  // 3. Swap.
  if (Status s = SwapIntoPlace(staging.string(), target.string(), exists); !s) {
    cleanup();
    return Err(s.message() + "; target left untouched");
  }
  if (exists) {
    cleanup();  // staging now holds the old content
  } else {
    fs::remove_all(dl_dir, ec);  // the download dir, empty after a success
  }
  return rep;
}

Status SyncFilesystemOf(const std::string& dir) {
  return SyncFilesystem(dir);
}

}  // namespace aha::replication
