#include "replication/restore.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "common/fs.h"
#include "replication/state.h"

namespace aha::replication {

namespace fs = std::filesystem;

namespace {

bool DirIsEmpty(const std::string& p) {
  std::error_code ec;
  return fs::is_empty(p, ec) && !ec;
}

Result<Record> FetchRecord(objectstore::ObjectStore& store, const RestoreOptions& o) {
  std::string id = o.snapshot;
  if (id.empty() || id == "latest") {
    auto text = store.Get(LatestKey(o.region));
    if (!text) {
      return Err(text.code() == 404 ? "no snapshots for region " + o.region
                                    : "reading latest: " + text.message(),
                 text.code());
    }
    auto p = LatestFromJson(*text);
    if (!p) return p.error();
    id = p->id;
  } else if (!IsSnapshotId(id)) {
    return Err("invalid snapshot id " + id);
  }
  auto text = store.Get(RecordKey(o.region, id));
  if (!text) return Err("reading snapshot " + id + ": " + text.message(), text.code());
  auto r = RecordFromJson(*text);
  if (!r) return r.error();
  if (r->id != id) return Err("record " + id + " names itself " + r->id);
  return r;
}

Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return Err("copy " + to + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

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
    return Err("target " + target.string() + " is not empty (use --force to replace it)");
  }

  RestoreReport rep;
  // 1. The record.
  std::optional<Record> record;
  size_t record_remote = 0;
  for (size_t i = 0; i < remotes.size(); ++i) {
    auto r = FetchRecord(*remotes[i], opts);
    if (r) {
      record = std::move(*r);
      record_remote = i;
      break;
    }
    rep.warnings.push_back(remotes[i]->Describe() + ": " + r.message());
  }
  if (!record) {
    std::string all;
    for (auto& w : rep.warnings)
      all += (all.empty() ? "" : "; ") + w;
    return Err("no remote could provide the snapshot: " + all);
  }
  rep.id = record->id;
  rep.record_from = remotes[record_remote]->Describe();
  std::vector<objectstore::ObjectStore*> order{remotes[record_remote]};
  for (size_t i = 0; i < remotes.size(); ++i)
    if (i != record_remote) order.push_back(remotes[i]);

  // 2. Staging next to the target.
  fs::create_directories(target.parent_path(), ec);
  std::string tmpl =
      (target.parent_path() / ("." + target.filename().string() + ".aha-restore-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) return Err("cannot create staging dir: " + ErrnoText(errno));
  const fs::path staging = tmpl;
  ::chmod(staging.c_str(), 0755);  // mkdtemp makes it 0700
  auto cleanup = [&] {
    fs::remove_all(staging, ec);
    fs::remove(tmpl + ".download", ec);
  };
  auto fail = [&](const std::string& msg) -> Result<RestoreReport> {
    cleanup();
    return Err(msg);
  };

  std::map<std::string, std::string> placed;  // sha256 -> staged path holding it
  HashCache cache;
  std::vector<std::string> failed;
  const std::string dl = tmpl + ".download";  // a sibling: record paths cannot collide
  for (const auto& f : record->files) {
    const fs::path dst = staging / f.path;
    fs::create_directories(dst.parent_path(), ec);
    if (ec) return fail("mkdir " + dst.parent_path().string() + ": " + ec.message());
    if (auto it = placed.find(f.sha256); it != placed.end()) {
      if (Status s = CopyFile(it->second, dst.string()); !s) return fail(s.message());
    } else {
      bool got = false;
      std::string why;
      for (size_t k = 0; k < order.size() && !got; ++k) {
        Status s = order[k]->GetToFile(BlobKey(record->region, f.sha256), dl);
        if (!s) {
          why += (why.empty() ? "" : "; ") + order[k]->Describe() + ": " + s.message();
          continue;
        }
        rep.blobs_fetched++;
        auto sha = Sha256File(dl);
        struct stat st {};
        ::stat(dl.c_str(), &st);
        if (!sha || *sha != f.sha256 || static_cast<uint64_t>(st.st_size) != f.size) {
          why += (why.empty() ? "" : "; ") + order[k]->Describe() + ": SHA-256 mismatch (want " +
                 f.sha256 + ", got " + (sha ? *sha : sha.message()) + ")";
          continue;
        }
        if (::rename(dl.c_str(), dst.c_str()) != 0) {
          return fail("rename into staging: " + ErrnoText(errno));
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
    ::chmod(dst.c_str(), f.mode & 07777);
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(f.mtime_ns / 1000000000LL);
    ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(f.mtime_ns % 1000000000LL);
    ::utimensat(AT_FDCWD, dst.c_str(), ts, 0);
    struct stat st {};
    if (::stat(dst.c_str(), &st) == 0) {
      cache[f.path] = CacheEntry{f.size, f.mtime_ns, static_cast<uint64_t>(st.st_ino), f.sha256};
    }
    rep.files++;
    rep.bytes += f.size;
  }
  if (!failed.empty()) {
    std::string msg = "snapshot " + record->id + ": " + std::to_string(failed.size()) +
                      " file(s) could not be restored intact: ";
    for (size_t i = 0; i < failed.size(); ++i)
      msg += (i ? "; " : "") + failed[i];
    return fail(msg + "; target left untouched");
  }
  // 3. Adopt the lineage.
  LocalState ls;
  ls.generation = record->generation.empty() ? NewGeneration() : record->generation;
  ls.restored_from = record->id;
  ls.cache = std::move(cache);
  if (Status s = SaveLocalState((staging / ".agency-ha").string(), ls); !s) {
    return fail("writing lineage state: " + s.message());
  }
  // 4. Swap.
  if (!exists) {
    if (::rename(staging.c_str(), target.c_str()) != 0) {
      return fail("rename " + staging.string() + " -> " + target.string() + ": " +
                  ErrnoText(errno));
    }
  } else {
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
      return fail("swap " + staging.string() + " <-> " + target.string() + ": " + ErrnoText(errno));
    }
    cleanup();  // now holds the old content
  }
  return rep;
}

}  // namespace aha::replication
