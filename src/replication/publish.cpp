#include "replication/publish.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/fs.h"
#include "objectstore/sigv4.h"
#include "replication/writer.h"

namespace aha::replication {

namespace {

constexpr uint64_t kInMemoryMax = 16ull << 20;

// Uploads one file after checking its bytes are the captured ones.
Status UploadVerified(objectstore::ObjectStore& store, const std::string& key,
                      const std::string& abs, const FileEntry& f, const std::string& tmp_dir) {
  if (f.size <= kInMemoryMax) {
    auto data = ReadFile(abs);
    if (!data && ::access(abs.c_str(), F_OK) != 0 && errno == ENOENT) {
      return Err(f.path + ": removed after capture; retrying in the next snapshot",
                 Code::kConflict);
    }
    if (!data) return Err(f.path + ": " + data.message());
    if (data->size() != f.size || objectstore::sigv4::Sha256Hex(*data) != f.sha256) {
      return Err(f.path + ": changed after capture; retrying in the next snapshot",
                 Code::kConflict);
    }
    return store.Put(key, *data);
  }
  // Large: copy to a private temp file, verify the copy, upload the copy.
  std::string tmpl = tmp_dir + "/upload.XXXXXX";
  int out = ::mkstemp(tmpl.data());
  if (out < 0) return Err("cannot create temp file in " + tmp_dir + ": " + ErrnoText(errno));
  int in = ::open(abs.c_str(), O_RDONLY | O_CLOEXEC);
  Status st;
  if (in < 0) {
    const int e = errno;  // a file removed since the capture: retried in the next snapshot
    st = Err(f.path + ": " + ErrnoText(e), e == ENOENT ? Code::kConflict : CodeFromErrno(e));
  } else {
    std::string buf(1 << 20, '\0');
    for (;;) {
      ssize_t n = ::read(in, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        st = Err(f.path + ": " + ErrnoText(errno));
        break;
      }
      if (n == 0) break;
      if (::write(out, buf.data(), static_cast<size_t>(n)) != n) {
        st = Err("temp copy of " + f.path + ": " + ErrnoText(errno));
        break;
      }
    }
    ::close(in);
  }
  ::close(out);
  if (st) {
    auto sha = Sha256File(tmpl);
    if (!sha) {
      st = sha.error();
    } else if (*sha != f.sha256) {
      st = Err(f.path + ": changed after capture; retrying in the next snapshot", Code::kConflict);
    } else {
      st = store.PutFile(key, tmpl);
    }
  }
  ::unlink(tmpl.c_str());
  return st;
}

Status ApplyRetention(objectstore::ObjectStore& store, const Record& record, RemoteState* rs,
                      std::mutex* mu, const PublishOptions& opts, PublishReport* rep) {
  const std::string prefix = SnapshotsPrefix(record.region);
  auto list = store.List(prefix);
  if (!list) return list.error();
  std::vector<std::string> ids;
  for (const auto& o : *list) {
    std::string name = o.key.substr(prefix.size());
    if (name.size() > 5 && name.ends_with(".json")) ids.push_back(name.substr(0, name.size() - 5));
  }
  auto doomed = PlanRetention(ids, record.id, opts.clock->wall(), opts.retention);
  if (doomed.empty()) return Status::Ok();
  for (const auto& id : doomed) {
    if (Status s = store.Delete(RecordKey(record.region, id)); !s) return s;
    rep->deleted_snapshots++;
  }
  // Blob GC: keep every blob some remaining record references. Only this writer adds blobs to
  // this region (lineage check), and it is not uploading now.
  std::set<std::string> referenced;
  std::set<std::string> dset(doomed.begin(), doomed.end());
  for (const auto& id : ids) {
    if (dset.count(id)) continue;
    std::vector<FileEntry> files;
    if (id == record.id) {
      files = record.files;
    } else {
      auto text = store.Get(RecordKey(record.region, id));
      if (!text) return text.error();
      auto r = RecordFromJson(*text);
      if (!r) return Err("record " + id + ": " + r.message() + " (blob GC skipped)");
      files = std::move(r->files);
    }
    for (const auto& f : files)
      referenced.insert(f.sha256);
  }
  auto blobs = store.List(BlobsPrefix(record.region));
  if (!blobs) return blobs.error();
  for (const auto& o : *blobs) {
    const std::string sha = o.key.substr(o.key.rfind('/') + 1);
    if (referenced.count(sha)) continue;
    {
      std::lock_guard l(*mu);
      rs->blobs.erase(sha);
    }
    if (Status s = store.Delete(o.key); !s) return s;
    rep->deleted_blobs++;
  }
  return Status::Ok();
}

}  // namespace

Result<std::optional<LatestPointer>> ReadLatest(objectstore::ObjectStore& store,
                                                const std::string& region) {
  auto text = store.Get(LatestKey(region));
  if (!text) {
    if (text.code() == Code::kNotFound) return std::optional<LatestPointer>();
    return text.error();
  }
  auto p = LatestFromJson(*text);
  if (!p) return Err(store.Describe() + " " + LatestKey(region) + ": " + p.message());
  return std::optional<LatestPointer>(*p);
}

PublishReport Publish(objectstore::ObjectStore& store, const Record& record, RemoteState* rs,
                      std::mutex* mu, const std::function<Status()>& persist,
                      const PublishOptions& opts) {
  PublishReport rep;
  rep.remote = store.Describe();
  const auto start = std::chrono::steady_clock::now();
  const objectstore::Stats before = store.stats();
  auto finish = [&](PublishReport& r) {
    const objectstore::Stats after = store.stats();
    r.requests = after.requests - before.requests;
    r.bytes_up = after.bytes_up - before.bytes_up;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  };
  auto fail = [&](const std::string& msg) {
    rep.error = msg;
    return finish(rep);
  };

  RemoteLineage lineage;
  std::set<std::string> known;
  {
    std::lock_guard l(*mu);
    lineage = rs->lineage;
    known = rs->blobs;
  }
  // Reads latest with its version and decides (fencing, lineage); false when not publishing.
  std::string version;
  auto read_and_decide = [&](std::optional<LatestPointer>* out) -> bool {
    auto heads = ReadHeads({&store}, record.region, /*versioned=*/true);
    if (!heads[0].error.empty()) {
      rep.error = heads[0].error;
      return false;
    }
    *out = heads[0].latest;
    version = heads[0].version;
    const PublishDecision d = DecidePublish(*out, opts.epoch, opts.writer, lineage, record.region);
    if (d.verdict == PublishVerdict::kPublish) return true;
    rep.fenced = d.verdict == PublishVerdict::kFenced;
    rep.refused = d.verdict == PublishVerdict::kRefused;
    rep.error = d.why;
    return false;
  };
  std::optional<LatestPointer> latest;
  if (!read_and_decide(&latest)) return finish(rep);
  if (record.files.empty() && latest) {
    rep.skipped_empty = true;
    return fail("source is empty: not publishing an empty snapshot over " + latest->id +
                " (remote data kept; an empty source is more likely a missing volume than a wish)");
  }
  if (!latest) {
    known.clear();  // empty (or wiped) remote: trust nothing we remember about it
  } else if (known.empty() || lineage.last_published != latest->id) {
    // Adopting a lineage (restored source, lost local state): every blob of the latest record
    // is on the remote by the publish protocol.
    auto text = store.Get(RecordKey(record.region, latest->id));
    if (!text) return fail("reading record " + latest->id + ": " + text.message());
    auto r = RecordFromJson(*text);
    if (!r) return fail("record " + latest->id + ": " + r.message());
    for (const auto& f : r->files)
      known.insert(f.sha256);
  }

  UploadPlan plan = PlanUploads(record.files, known);
  rep.present_blobs = plan.already_present;
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  std::string first_err;
  std::atomic<uint64_t> up_blobs{0}, up_bytes{0};
  std::vector<std::string> done;
  auto worker = [&] {
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= plan.uploads.size()) return;
      {
        std::lock_guard l(err_mu);
        if (!first_err.empty()) return;
      }
      const FileEntry& f = plan.uploads[i];
      const std::string* pinned = nullptr;  // the bytes hashed at capture (hot small files)
      if (opts.pinned) {
        auto it = opts.pinned->find(f.sha256);
        if (it != opts.pinned->end()) pinned = &it->second;
      }
      Status s = pinned ? store.Put(BlobKey(record.region, f.sha256), *pinned)
                        : UploadVerified(store, BlobKey(record.region, f.sha256),
                                         opts.source_root + "/" + f.path, f, opts.tmp_dir);
      std::lock_guard l(err_mu);
      if (!s) {
        if (first_err.empty()) first_err = s.message();
        if (s.code() == Code::kConflict) rep.changed = true;
      } else {
        up_blobs++;
        up_bytes += f.size;
        done.push_back(f.sha256);
      }
    }
  };
  const int n = std::max(1, std::min<int>(opts.parallelism, static_cast<int>(plan.uploads.size())));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back(worker);
  for (auto& t : threads)
    t.join();
  rep.uploaded_blobs = up_blobs;
  rep.uploaded_bytes = up_bytes;
  {
    std::lock_guard l(*mu);
    // Blobs that made it are on the remote whether or not the record follows.
    if (!latest) rs->blobs.clear();
    rs->blobs.insert(known.begin(), known.end());
    rs->blobs.insert(done.begin(), done.end());
  }
  if (!first_err.empty()) {
    std::lock_guard l(*mu);
    (void)persist();
    return fail("uploading blobs: " + first_err);
  }
  {
    std::lock_guard l(*mu);
    rs->lineage.pending = record.id;
    if (Status s = persist(); !s) return fail("saving local state: " + s.message());
  }
  if (Status s = store.Put(RecordKey(record.region, record.id), RecordToJson(record)); !s) {
    return fail("writing record: " + s.message());
  }
  LatestPointer mine;
  mine.id = record.id;
  mine.generation = record.generation;
  mine.epoch = opts.epoch;
  mine.writer = opts.writer;
  mine.released = opts.release;
  for (int attempt = 1;; ++attempt) {
    auto put = store.PutIf(LatestKey(record.region), LatestToJson(mine), version);
    if (put) break;
    if (put.code() != Code::kPreconditionFailed || attempt == 2)
      return fail("writing latest: " + put.message());
    std::optional<LatestPointer> now;
    const bool go_on = read_and_decide(&now);
    if (now && now->id == mine.id && now->epoch == mine.epoch && now->writer == mine.writer &&
        now->released == mine.released) {
      break;  // our own write: its reply was lost and the retry found it
    }
    if (!go_on) return finish(rep);
  }
  {
    std::lock_guard l(*mu);
    rs->lineage.last_published = record.id;
    rs->lineage.pending.clear();
    rs->lineage.restored_from.clear();
    if (Status s = persist(); !s) return fail("saving local state: " + s.message());
  }
  rep.ok = true;
  if (!opts.apply_retention) return finish(rep);
  if (Status s = ApplyRetention(store, record, rs, mu, opts, &rep); !s) {
    rep.error = "retention: " + s.message();  // the snapshot itself is published
  }
  {
    std::lock_guard l(*mu);
    (void)persist();
  }
  return finish(rep);
}

}  // namespace aha::replication
