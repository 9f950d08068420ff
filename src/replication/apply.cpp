#include "replication/apply.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/fs.h"
#include "common/printable.h"
#include "replication/local_state.h"
#include "replication/restore.h"
#include "replication/scanner.h"

namespace aha::replication {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string AppliedPath(const std::string& state_dir) {
  return state_dir + "/applied-snapshot.json";
}

struct Current {
  std::map<std::string, FileEntry> files;
  std::map<std::string, SymlinkEntry> links;
};

// The directory's files and symlinks as they are now (sha256 from the hash cache where valid).
Result<Current> CurrentTree(const ApplyOptions& opts, HashCache* cache) {
  ScanOptions so;
  so.exclude.push_back(opts.state_dir);
  so.pin_budget = 0;
  auto cap = CaptureTree(opts.dir, cache, so);
  if (!cap) return Wrap("reading " + opts.dir + ": ", cap.error());
  Current out;
  for (auto& f : cap->files)
    out.files.emplace(f.path, std::move(f));
  for (auto& l : cap->symlinks)
    out.links.emplace(l.path, std::move(l));
  return out;
}

bool SameContent(const FileEntry& a, const FileEntry& b) {
  return a.sha256 == b.sha256 && a.size == b.size;
}

// Makes every parent directory of `rel` under `root` a real directory (a file or symlink in the
// way is not in the record: removed).
Status MakeParents(const fs::path& root, const std::string& rel) {
  fs::path cur = root;
  const fs::path p = fs::path(rel).parent_path();
  for (const auto& part : p) {
    cur /= part;
    struct stat st {};
    if (::lstat(cur.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) continue;
      if (::unlink(cur.c_str()) != 0)
        return Err("unlink " + cur.string() + ": " + ErrnoText(errno));
    }
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return Err("mkdir " + cur.string() + ": " + ErrnoText(errno));
    }
  }
  return Status::Ok();
}

void SetModeAndTime(const std::string& path, const FileEntry& f) {
  ::chmod(path.c_str(), f.mode & 0777);
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(f.mtime_ns / 1000000000LL);
  ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(f.mtime_ns % 1000000000LL);
  ::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

// proper-lockfile (the brain's LanceDB locks) holds a lock as a directory `<file>.lock`. Records
// hold files only, so a lock is never restored as held; and a lock a local process holds now is
// never removed by an apply.
bool IsLockDir(const fs::path& p) {
  const std::string n = p.filename().string();
  return n.size() > 5 && n.ends_with(".lock");
}

}  // namespace

int ApplyRank(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  if (name == "_latest.manifest") return 2;
  if (path.find("/_versions/") != std::string::npos || path.rfind("_versions/", 0) == 0) return 1;
  return 0;
}

std::optional<Record> LoadAppliedRecord(const std::string& state_dir) {
  auto text = ReadFile(AppliedPath(state_dir));
  if (!text) return std::nullopt;
  auto r = RecordFromJson(*text);
  if (!r) return std::nullopt;
  return std::move(*r);
}

ApplyPlan PlanApply(const Record& record, const std::map<std::string, FileEntry>& current,
                    const std::string& state_rel) {
  ApplyPlan plan;
  for (const auto& f : record.files) {
    if (f.path.rfind(state_rel, 0) == 0) {
      plan.warnings.push_back(f.path + ": inside the state dir; skipped");
      continue;
    }
    auto it = current.find(f.path);
    if (it != current.end() && SameContent(it->second, f)) {
      if (it->second.mode != (f.mode & 0777) || it->second.mtime_ns != f.mtime_ns) {
        plan.touch.push_back(&f);
      }
      continue;
    }
    plan.fetch.push_back(f);
  }
  return plan;
}

Record ExpectedAfterApply(const Record& record, const std::map<std::string, FileEntry>& files,
                          const std::map<std::string, SymlinkEntry>& links,
                          const std::string& state_rel) {
  Record expected;
  expected.id = record.id;
  std::set<std::string> in_record;
  for (const auto& f : record.files) {
    if (f.path.rfind(state_rel, 0) == 0) continue;
    expected.files.push_back(f);
    in_record.insert(f.path);
  }
  for (const auto& l : record.symlinks) {
    expected.symlinks.push_back(l);
    in_record.insert(l.path);
  }
  for (const auto& [path, f] : files) {
    if (!in_record.count(path)) expected.files.push_back(f);
  }
  for (const auto& [path, l] : links) {
    if (!in_record.count(path)) expected.symlinks.push_back(l);
  }
  return expected;
}

namespace {

// Step 0: symlinks leaving the tree are refused before anything is written (RecordFromJson
// already refuses them; a record built in memory is checked here too).
Status CheckSymlinks(const Record& record, const ApplyOptions& opts) {
  for (const auto& l : record.symlinks) {
    if (std::string why = SymlinkProblem(l.path, l.target); !why.empty()) {
      return Err("snapshot " + record.id + ": symlink " + Printable(l.path) + " -> " +
                 Printable(l.target) + " refused: " + why + "; " + opts.dir + " unchanged");
    }
  }
  return Status::Ok();
}

// The staging area under the state dir (same filesystem as the volume): `tree` receives the
// fetched files, `download` the blobs being fetched. Removed by Cleanup().
struct Staging {
  std::string root, tree, download;
  void Cleanup() const {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

Result<Staging> MakeStaging(const ApplyOptions& opts) {
  Staging s;
  s.root = opts.state_dir + "/apply";
  std::error_code ec;
  fs::remove_all(s.root, ec);
  if (::mkdir(s.root.c_str(), 0700) != 0) {
    return Err("cannot create " + s.root + ": " + ErrnoText(errno));
  }
  s.tree = s.root + "/tree";
  s.download = s.root + "/download";
  ::mkdir(s.tree.c_str(), 0755);
  ::mkdir(s.download.c_str(), 0700);
  return s;
}

// Step 2: fetches (or copies from `reuse`) the files to fetch into staging, verified.
Status FetchIntoStaging(const Record& record, std::vector<FileEntry> fetch,
                        const std::vector<objectstore::ObjectStore*>& remotes,
                        std::map<std::string, LocalCopy> reuse, const Staging& staging,
                        const ApplyOptions& opts, ApplyReport* rep) {
  if (fetch.empty()) return Status::Ok();
  Record need = record;
  need.files = std::move(fetch);
  need.symlinks.clear();  // placed later, as links
  MaterializeOptions mo;
  mo.reuse = std::move(reuse);
  mo.allow_links = false;
  mo.clock = opts.clock;
  mo.cancelled = opts.cancelled;
  mo.parallelism = opts.parallelism;
  auto m = Materialize(need, remotes, staging.tree, staging.download + "/blob", mo);
  if (!m) {
    Error e = m.error();
    e.message += "; " + opts.dir + " unchanged";
    return e;
  }
  rep->fetched = m->blobs_fetched;
  rep->bytes_fetched = m->bytes_fetched;
  rep->copied = m->copied;
  for (auto& w : m->warnings)
    rep->warnings.push_back(std::move(w));
  return Status::Ok();
}

// A directory in the way of `dst` is not in the record: removed.
void RemoveDirInTheWay(const fs::path& dst) {
  struct stat st {};
  std::error_code ec;
  if (::lstat(dst.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) fs::remove_all(dst, ec);
}

// Step 3a: each staged file renamed over its path: data first, then LanceDB version manifests,
// then _latest.manifest.
Status PlaceFiles(const std::vector<FileEntry>& fetched, const fs::path& root,
                  const Staging& staging, ApplyReport* rep) {
  std::vector<const FileEntry*> order;
  for (const auto& f : fetched)
    order.push_back(&f);
  std::stable_sort(order.begin(), order.end(), [](const FileEntry* a, const FileEntry* b) {
    return ApplyRank(a->path) < ApplyRank(b->path);
  });
  for (const FileEntry* f : order) {
    const fs::path dst = root / f->path;
    if (Status s = MakeParents(root, f->path); !s) return s;
    RemoveDirInTheWay(dst);
    const fs::path src = fs::path(staging.tree) / f->path;
    if (::rename(src.c_str(), dst.c_str()) != 0) {
      const int e = errno;
      return SysErr("rename " + src.string() + " -> " + dst.string() + ": " + ErrnoText(e), e);
    }
    rep->written++;
  }
  return Status::Ok();
}

// Step 3c: symlinks (after the files: nothing is written through one): created in staging,
// renamed over their path (atomic per link); an unchanged link is left alone.
Status PlaceSymlinks(const Record& record, const std::map<std::string, SymlinkEntry>& current,
                     const std::string& state_rel, const fs::path& root, const Staging& staging,
                     ApplyReport* rep) {
  for (const auto& l : record.symlinks) {
    if (l.path.rfind(state_rel, 0) == 0 || l.path + "/" == state_rel) {
      rep->warnings.push_back(l.path + ": inside the state dir; skipped");
      continue;
    }
    auto it = current.find(l.path);
    if (it != current.end() && it->second.target == l.target) continue;
    const fs::path dst = root / l.path;
    if (Status s = MakeParents(root, l.path); !s) return s;
    RemoveDirInTheWay(dst);
    const std::string tmp = staging.root + "/link";
    ::unlink(tmp.c_str());
    if (::symlink(l.target.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), dst.c_str()) != 0) {
      const int e = errno;
      return SysErr("symlink " + Printable(l.path) + ": " + ErrnoText(e), e);
    }
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(l.mtime_ns / 1000000000LL);
    ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(l.mtime_ns % 1000000000LL);
    ::utimensat(AT_FDCWD, dst.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    rep->written++;
  }
  return Status::Ok();
}

// Step 5: removes what the record does not have (files and links, then directories left empty;
// never the state dir, never inside a held lock directory). Returns how many files and links.
uint64_t RemoveNotInRecord(const Record& record, const fs::path& root, const ApplyOptions& opts) {
  uint64_t removed = 0;
  std::set<std::string> want;
  for (const auto& f : record.files)
    want.insert(f.path);
  for (const auto& l : record.symlinks)
    want.insert(l.path);
  std::vector<fs::path> dirs;
  const fs::path state_abs = fs::path(opts.state_dir).lexically_normal();
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->path().lexically_normal() == state_abs) {
      it.disable_recursion_pending();
      continue;
    }
    const std::string rel = it->path().lexically_relative(root).generic_string();
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (IsLockDir(it->path())) {
        it.disable_recursion_pending();  // a lock the local process holds: never ours to remove
        continue;
      }
      dirs.push_back(it->path());
      continue;
    }
    if (!want.count(rel)) {
      if (::unlink(it->path().c_str()) == 0) removed++;
    }
  }
  std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
    return a.string().size() > b.string().size();  // deepest first
  });
  for (const auto& d : dirs) {
    bool in_lock = false;
    for (fs::path q = d; !q.empty() && q != root; q = q.parent_path())
      in_lock = in_lock || IsLockDir(q);
    if (!in_lock) ::rmdir(d.c_str());  // fails (kept) while not empty
  }
  return removed;
}

// Step 6: the directory is now exactly the record: lineage state and applied record say so,
// then one syncfs().
Status RecordApplied(const Record& record, const fs::path& root, const ApplyOptions& opts) {
  HashCache fresh;
  for (const auto& f : record.files) {
    struct stat st {};
    if (::stat((root / f.path).c_str(), &st) == 0) {
      fresh[f.path] = CacheEntry{f.size, f.mtime_ns, static_cast<uint64_t>(st.st_ino), f.sha256};
    }
  }
  LocalState ls;
  ls.generation = record.generation.empty() ? NewGeneration() : record.generation;
  ls.restored_from = record.id;
  ls.cache = std::move(fresh);
  if (Status s = WriteFileAtomic(AppliedPath(opts.state_dir), RecordToJson(record)); !s) {
    return Wrap("writing the applied record: ", s.error());
  }
  if (Status s = SaveLocalState(opts.state_dir, ls); !s) {
    return Wrap("writing lineage state: ", s.error());
  }
  return SyncFilesystemOf(opts.dir);
}

}  // namespace

Result<ApplyReport> ApplyInPlace(const Record& record,
                                 const std::vector<objectstore::ObjectStore*>& remotes,
                                 const ApplyOptions& opts) {
  ApplyReport rep;
  rep.files = record.files.size();
  rep.bytes = record.total_bytes();
  std::error_code ec;
  fs::create_directories(opts.dir, ec);
  fs::create_directories(opts.state_dir, ec);
  if (ec) return Err("cannot create " + opts.state_dir + ": " + ec.message());
  if (Status s = CheckSymlinks(record, opts); !s) return s.error();

  // 1. What differs.
  HashCache cache;
  if (auto st = LoadLocalState(opts.state_dir); st) cache = st->cache;
  auto tree = CurrentTree(opts, &cache);
  if (!tree) return tree.error();
  std::map<std::string, LocalCopy> reuse;
  for (const auto& [path, f] : tree->files)
    reuse.emplace(f.sha256, LocalCopy{(fs::path(opts.dir) / path).string(), f});
  // A record never holds the state dir (captures exclude it); a hostile one must not overwrite it.
  const std::string state_rel =
      fs::path(opts.state_dir).lexically_relative(opts.dir).generic_string() + "/";
  ApplyPlan plan = PlanApply(record, tree->files, state_rel);
  for (auto& w : plan.warnings)
    rep.warnings.push_back(std::move(w));

  // 2. Fetch (or copy) what differs into staging, verified. 3. Into place: files, mode/mtime-only
  // changes, symlinks.
  auto staging = MakeStaging(opts);
  if (!staging) return staging.error();
  const fs::path root = opts.dir;
  Status placed =
      FetchIntoStaging(record, plan.fetch, remotes, std::move(reuse), *staging, opts, &rep);
  if (placed) placed = PlaceFiles(plan.fetch, root, *staging, &rep);
  if (placed) {
    for (const FileEntry* f : plan.touch) {
      SetModeAndTime((root / f->path).string(), *f);
      rep.touched++;
    }
    placed = PlaceSymlinks(record, tree->links, state_rel, root, *staging, &rep);
  }
  staging->Cleanup();
  if (!placed) return placed.error();

  // 4. Writes the app made while this apply ran are preserved before anything is removed: the
  // volume should now hold the record's files plus, where the record has none, what the step-1
  // capture saw; anything else is a late write (a second scan; the window left is that scan).
  auto late = PreserveDivergent(
      ExpectedAfterApply(record, tree->files, tree->links, state_rel), record.epoch,
      "written while the volume was being replaced by " + record.region + " " + record.id, opts);
  if (!late) {
    return Err("preserving files written during the apply: " + late.message() +
               "; nothing removed from " + opts.dir);
  }
  rep.late = std::move(*late);

  // 5. Remove what the record does not have. 6. Say the directory is the record.
  rep.removed += RemoveNotInRecord(record, root, opts);
  if (Status s = RecordApplied(record, root, opts); !s) return s.error();
  return rep;
}

namespace {

// What diverged in a volume from `base`, the record it last held (none: everything is added):
// added or changed files and symlinks, and the paths deleted (sorted). Points into `base` and
// the current tree.
struct Divergence {
  std::map<std::string, const FileEntry*> had;
  std::map<std::string, const SymlinkEntry*> had_links;
  std::vector<const FileEntry*> files;
  std::vector<const SymlinkEntry*> links;
  std::vector<std::string> deleted;
};

Divergence FindDivergence(const std::optional<Record>& base, const Current& tree) {
  Divergence d;
  if (base) {
    for (const auto& f : base->files)
      d.had[f.path] = &f;
    for (const auto& l : base->symlinks)
      d.had_links[l.path] = &l;
  }
  for (const auto& [path, f] : tree.files) {
    auto it = d.had.find(path);
    if (it == d.had.end() || !SameContent(*it->second, f)) d.files.push_back(&f);
  }
  for (const auto& [path, l] : tree.links) {
    auto it = d.had_links.find(path);
    if (it == d.had_links.end() || it->second->target != l.target) d.links.push_back(&l);
  }
  for (const auto& [path, f] : d.had) {
    if (!tree.files.count(path)) d.deleted.push_back(path);
  }
  for (const auto& [path, l] : d.had_links) {
    if (!tree.links.count(path)) d.deleted.push_back(path);
  }
  std::sort(d.deleted.begin(), d.deleted.end());
  return d;
}

// A new directory for a divergent tail, next to the volume `dir`:
// .agency-ha-divergent/<time>-epoch<epoch>[-<n>], with its files/ subdirectory.
Result<fs::path> MakeTailDir(const fs::path& dir, const Clock& clock, int64_t epoch) {
  const fs::path parent = dir.parent_path() / ".agency-ha-divergent";
  std::string stamp = FormatTime(clock.wall());
  std::replace(stamp.begin(), stamp.end(), ':', '-');
  fs::path dest = parent / (stamp + "-epoch" + std::to_string(epoch));
  std::error_code ec;
  for (int n = 2; fs::exists(dest, ec); ++n)
    dest = parent / (stamp + "-epoch" + std::to_string(epoch) + "-" + std::to_string(n));
  fs::create_directories(dest / "files", ec);
  if (ec) return Err("cannot create " + dest.string() + ": " + ec.message());
  return dest;
}

// Copies the diverged files and symlinks of `dir` under dest/files, one manifest entry each.
Status CopyTail(const Divergence& d, bool has_base, const fs::path& dir, const fs::path& dest,
                DivergentTail* tail, json* files) {
  std::error_code ec;
  for (const FileEntry* f : d.files) {
    const fs::path to = dest / "files" / f->path;
    fs::create_directories(to.parent_path(), ec);
    fs::copy_file(dir / f->path, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return Err("preserving " + f->path + " to " + to.string() + ": " + ec.message());
    tail->files++;
    tail->bytes += f->size;
    const bool changed = has_base && d.had.count(f->path);
    files->push_back({{"path", f->path},
                      {"size", f->size},
                      {"sha256", f->sha256},
                      {"mode", f->mode},
                      {"change", changed ? "changed" : "added"}});
  }
  for (const SymlinkEntry* l : d.links) {
    // Kept as a link (never followed): its target text is what diverged.
    const fs::path to = dest / "files" / l->path;
    fs::create_directories(to.parent_path(), ec);
    if (::symlink(l->target.c_str(), to.c_str()) != 0) {
      return Err("preserving the symlink " + l->path + " to " + to.string() + ": " +
                 ErrnoText(errno));
    }
    tail->files++;
    files->push_back({{"path", l->path},
                      {"symlink", l->target},
                      {"change", d.had_links.count(l->path) ? "changed" : "added"}});
  }
  return Status::Ok();
}

}  // namespace

Result<DivergentTail> PreserveDivergent(const std::optional<Record>& base, int64_t epoch,
                                        const std::string& why, const ApplyOptions& opts) {
  DivergentTail tail;
  HashCache cache;
  if (auto st = LoadLocalState(opts.state_dir); st) cache = st->cache;
  auto tree = CurrentTree(opts, &cache);
  if (!tree) return tree.error();
  const Divergence d = FindDivergence(base, *tree);
  tail.deleted = d.deleted;
  if (d.files.empty() && d.links.empty() && tail.deleted.empty()) return tail;

  const fs::path dir = fs::path(opts.dir).lexically_normal();
  auto dest = MakeTailDir(dir, *opts.clock, epoch);
  if (!dest) return dest.error();
  json files = json::array();
  if (Status s = CopyTail(d, base.has_value(), dir, *dest, &tail, &files); !s) return s.error();
  json manifest = {{"why", why},
                   {"epoch", epoch},
                   {"base", base ? base->id : ""},
                   {"preservedAt", FormatTime(opts.clock->wall())},
                   {"volume", dir.string()},
                   {"files", files},
                   {"deleted", tail.deleted},
                   {"bytes", tail.bytes}};
  const fs::path manifest_path = *dest / "manifest.json";
  if (Status s = WriteFileAtomic(manifest_path.string(),
                                 manifest.dump(2, ' ', false, json::error_handler_t::replace));
      !s) {
    return Err("writing " + manifest_path.string() + ": " + s.message());
  }
  if (Status s = SyncFilesystemOf(dest->string()); !s) return s.error();
  tail.path = dest->string();
  return tail;
}

}  // namespace aha::replication
