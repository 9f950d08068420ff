#include "replication/restore.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/fs.h"

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

// Copies with a fresh inode (fsynced later with the whole staging tree).
Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return Err("copy " + from + " -> " + to + ": " + ec.message(), ec.value());
  return Status::Ok();
}

// fsyncs every directory under `root` (files are fsynced as they are placed).
Status FsyncDirs(const fs::path& root) {
  std::error_code ec;
  std::vector<fs::path> dirs{root};
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const auto st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(st)) dirs.push_back(it->path());
  }
  if (ec) return Err("walking " + root.string() + ": " + ec.message(), ec.value());
  // Children before parents: a directory's entries are durable before its own entry is.
  for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) {
    if (Status s = FsyncPath(d->string()); !s) return s;
  }
  return Status::Ok();
}

}  // namespace

Result<Record> FetchRecordFromAny(const std::vector<objectstore::ObjectStore*>& remotes,
                                  const std::string& region, const std::string& id, size_t* from,
                                  std::vector<std::string>* warnings) {
  std::string all;
  for (size_t i = 0; i < remotes.size(); ++i) {
    auto r = FetchRecord(*remotes[i], region, id);
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
    return it != opts.reuse.end() && it->second.entry.mode == f.mode &&
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

  RestoreProgress prog;
  prog.files_total = record.files.size();
  prog.bytes_total = total;
  MonoTime last_progress{};
  auto progress = [&](bool final) {
    if (!opts.progress) return;
    const MonoTime now = opts.clock->mono();
    if (!final && last_progress != MonoTime{} && now - last_progress < opts.progress_interval) {
      return;
    }
    last_progress = now;
    prog.final = final;
    opts.progress(prog);
  };
  progress(false);

  std::map<std::string, std::string> placed;  // sha256 -> staged path holding it
  HashCache cache;
  std::vector<std::string> failed;
  for (const auto& f : record.files) {
    if (opts.cancelled && opts.cancelled()) return Err("stopped", 499);
    const fs::path dst = staging / f.path;
    fs::create_directories(dst.parent_path(), ec);
    if (ec) {
      const std::string m = "mkdir " + dst.parent_path().string() + ": " + ec.message();
      if (IsNoSpace(m, ec.value())) return no_space(m);
      return Err(m);
    }
    bool linked = false;
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
        linked = true;  // shares the inode: its mode and mtime are already right, keep ctime too
      } else {
        if (Status s = CopyFile(lc->second.abs_path, dst.string()); !s) {
          if (IsNoSpace(s.message(), s.code())) return no_space(s.message());
          return s.error();
        }
        rep.copied++;
      }
      placed[f.sha256] = dst.string();
    } else {
      bool got = false;
      std::string why;
      for (size_t k = 0; k < order.size() && !got; ++k) {
        Status s = order[k]->GetToFile(BlobKey(record.region, f.sha256), dl);
        if (!s) {
          if (IsNoSpace(s.message(), s.code())) {
            ::unlink(dl.c_str());
            return no_space(f.path + ": " + s.message());
          }
          why += (why.empty() ? "" : "; ") + order[k]->Describe() + ": " + s.message();
          continue;
        }
        rep.blobs_fetched++;
        struct stat st {};
        ::stat(dl.c_str(), &st);
        rep.bytes_fetched += static_cast<uint64_t>(st.st_size);
        auto sha = Sha256File(dl);
        if (!sha || *sha != f.sha256 || static_cast<uint64_t>(st.st_size) != f.size) {
          why += (why.empty() ? "" : "; ") + order[k]->Describe() + ": SHA-256 mismatch (want " +
                 f.sha256 + ", got " + (sha ? *sha : sha.message()) + ")";
          continue;
        }
        if (::rename(dl.c_str(), dst.c_str()) != 0) {
          return Err("rename into staging: " + ErrnoText(errno));
        }
        got = true;
        if (k > 0) {
          rep.fallbacks++;
          rep.warnings.push_back(f.path + ": " + why);
        }
      }
      if (!got) {
        failed.push_back(f.path + " (" + why + ")");
        continue;
      }
      placed[f.sha256] = dst.string();
    }
    if (!linked) {
      // Durable before the swap; done before chmod (a mode like 0200 would forbid the open).
      // A hard link's data is the previous snapshot's, fsynced when that one was applied.
      if (Status s = FsyncPath(dst.string()); !s) {
        if (IsNoSpace(s.message(), s.code())) return no_space(s.message());
        return s.error();
      }
      ::chmod(dst.c_str(), f.mode & 07777);
      struct timespec ts[2];
      ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(f.mtime_ns / 1000000000LL);
      ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(f.mtime_ns % 1000000000LL);
      ::utimensat(AT_FDCWD, dst.c_str(), ts, 0);
    }
    struct stat st {};
    if (::stat(dst.c_str(), &st) == 0) {
      cache[f.path] = CacheEntry{f.size, f.mtime_ns, static_cast<uint64_t>(st.st_ino), f.sha256};
    }
    rep.files++;
    rep.bytes += f.size;
    prog.files_done = rep.files;
    prog.bytes_done = rep.bytes;
    progress(false);
  }
  if (!failed.empty()) {
    std::string msg = "snapshot " + record.id + ": " + std::to_string(failed.size()) +
                      " file(s) could not be restored intact: ";
    for (size_t i = 0; i < failed.size(); ++i)
      msg += (i ? "; " : "") + failed[i];
    return Err(msg);
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
  if (Status s = FsyncDirs(staging); !s) {
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
  if (exists) cleanup();  // now holds the old content
  return rep;
}

}  // namespace aha::replication
