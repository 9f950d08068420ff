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

// One Publish call: the state its steps share (the report, the remote's known blobs, the version
// of latest read) and the steps in protocol order. A step that returns false has set rep_.error
// (or the fencing flags) and the publish stops there.
class Publication {
 public:
  Publication(objectstore::ObjectStore& store, const Record& record, RemoteState* rs,
              std::mutex* mu, const std::function<Status()>& persist, const PublishOptions& opts)
      : store_(store), record_(record), rs_(rs), mu_(mu), persist_(persist), opts_(opts) {
    rep_.remote = store.Describe();
  }

  PublishReport Run();

 private:
  // Blob uploads shared by the worker threads.
  struct Uploads {
    std::atomic<size_t> next{0};
    std::mutex err_mu;
    std::string first_err;
    std::atomic<uint64_t> blobs{0}, bytes{0};
    std::vector<std::string> done;
  };

  PublishReport Finish();
  bool Stop(const std::string& msg) {
    rep_.error = msg;
    return false;
  }
  bool ReadAndDecide(std::optional<LatestPointer>* out);
  bool LearnKnownBlobs(const std::optional<LatestPointer>& latest);
  Status UploadOne(const FileEntry& f);
  void UploadWorker(const UploadPlan& plan, Uploads* u);
  void UploadMissing(const UploadPlan& plan, Uploads* u);
  void RememberBlobs(bool remote_empty, const std::vector<std::string>& done);
  bool WriteRecord();
  bool WriteLatest();
  bool MarkPublished();
  void Retain();

  objectstore::ObjectStore& store_;
  const Record& record_;
  RemoteState* rs_;
  std::mutex* mu_;
  const std::function<Status()>& persist_;
  const PublishOptions& opts_;
  PublishReport rep_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  const objectstore::Stats before_ = store_.stats();
  RemoteLineage lineage_;
  std::set<std::string> known_;
  std::string version_;  // of the latest read: the PutIf condition
};

PublishReport Publication::Finish() {
  const objectstore::Stats after = store_.stats();
  rep_.requests = after.requests - before_.requests;
  rep_.bytes_up = after.bytes_up - before_.bytes_up;
  rep_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return rep_;
}

// Reads latest with its version and decides (fencing, lineage); false when not publishing.
bool Publication::ReadAndDecide(std::optional<LatestPointer>* out) {
  auto heads = ReadHeads({&store_}, record_.region, /*versioned=*/true);
  if (!heads[0].error.empty()) return Stop(heads[0].error);
  *out = heads[0].latest;
  version_ = heads[0].version;
  const PublishDecision d =
      DecidePublish(*out, opts_.epoch, opts_.writer, lineage_, record_.region);
  if (d.verdict == PublishVerdict::kPublish) return true;
  rep_.fenced = d.verdict == PublishVerdict::kFenced;
  rep_.refused = d.verdict == PublishVerdict::kRefused;
  return Stop(d.why);
}

// Settles which blobs the remote has before planning the uploads.
bool Publication::LearnKnownBlobs(const std::optional<LatestPointer>& latest) {
  if (!latest) {
    known_.clear();  // empty (or wiped) remote: trust nothing we remember about it
  } else if (known_.empty() || lineage_.last_published != latest->id) {
    // Adopting a lineage (restored source, lost local state): every blob of the latest record
    // is on the remote by the publish protocol.
    auto text = store_.Get(RecordKey(record_.region, latest->id));
    if (!text) return Stop("reading record " + latest->id + ": " + text.message());
    auto r = RecordFromJson(*text);
    if (!r) return Stop("record " + latest->id + ": " + r.message());
    for (const auto& f : r->files)
      known_.insert(f.sha256);
  }
  return true;
}

Status Publication::UploadOne(const FileEntry& f) {
  const std::string* pinned = nullptr;  // the bytes hashed at capture (hot small files)
  if (opts_.pinned) {
    auto it = opts_.pinned->find(f.sha256);
    if (it != opts_.pinned->end()) pinned = &it->second;
  }
  return pinned ? store_.Put(BlobKey(record_.region, f.sha256), *pinned)
                : UploadVerified(store_, BlobKey(record_.region, f.sha256),
                                 opts_.source_root + "/" + f.path, f, opts_.tmp_dir);
}

void Publication::UploadWorker(const UploadPlan& plan, Uploads* u) {
  for (;;) {
    const size_t i = u->next.fetch_add(1);
    if (i >= plan.uploads.size()) return;
    {
      std::lock_guard l(u->err_mu);
      if (!u->first_err.empty()) return;
    }
    const FileEntry& f = plan.uploads[i];
    Status s = UploadOne(f);
    std::lock_guard l(u->err_mu);
    if (!s) {
      if (u->first_err.empty()) u->first_err = s.message();
      if (s.code() == Code::kConflict) rep_.changed = true;
    } else {
      u->blobs++;
      u->bytes += f.size;
      u->done.push_back(f.sha256);
    }
  }
}

// Uploads the planned blobs on up to opts_.parallelism threads; stops at the first error.
void Publication::UploadMissing(const UploadPlan& plan, Uploads* u) {
  const int n =
      std::max(1, std::min<int>(opts_.parallelism, static_cast<int>(plan.uploads.size())));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([this, &plan, u] { UploadWorker(plan, u); });
  for (auto& t : threads)
    t.join();
  rep_.uploaded_blobs = u->blobs;
  rep_.uploaded_bytes = u->bytes;
}

// Blobs that made it are on the remote whether or not the record follows.
void Publication::RememberBlobs(bool remote_empty, const std::vector<std::string>& done) {
  std::lock_guard l(*mu_);
  if (remote_empty) rs_->blobs.clear();
  rs_->blobs.insert(known_.begin(), known_.end());
  rs_->blobs.insert(done.begin(), done.end());
}

// Notes the record as pending locally, then writes it to the remote.
bool Publication::WriteRecord() {
  {
    std::lock_guard l(*mu_);
    rs_->lineage.pending = record_.id;
    if (Status s = persist_(); !s) return Stop("saving local state: " + s.message());
  }
  if (Status s = store_.Put(RecordKey(record_.region, record_.id), RecordToJson(record_)); !s) {
    return Stop("writing record: " + s.message());
  }
  return true;
}

// PutIf(latest, the version read); a lost race re-reads and decides once more.
bool Publication::WriteLatest() {
  LatestPointer mine;
  mine.id = record_.id;
  mine.generation = record_.generation;
  mine.epoch = opts_.epoch;
  mine.writer = opts_.writer;
  mine.released = opts_.release;
  for (int attempt = 1;; ++attempt) {
    auto put = store_.PutIf(LatestKey(record_.region), LatestToJson(mine), version_);
    if (put) return true;
    if (put.code() != Code::kPreconditionFailed || attempt == 2)
      return Stop("writing latest: " + put.message());
    std::optional<LatestPointer> now;
    const bool go_on = ReadAndDecide(&now);
    if (now && now->id == mine.id && now->epoch == mine.epoch && now->writer == mine.writer &&
        now->released == mine.released) {
      return true;  // our own write: its reply was lost and the retry found it
    }
    if (!go_on) return false;
  }
}

bool Publication::MarkPublished() {
  std::lock_guard l(*mu_);
  rs_->lineage.last_published = record_.id;
  rs_->lineage.pending.clear();
  rs_->lineage.restored_from.clear();
  if (Status s = persist_(); !s) return Stop("saving local state: " + s.message());
  return true;
}

void Publication::Retain() {
  if (Status s = ApplyRetention(store_, record_, rs_, mu_, opts_, &rep_); !s) {
    rep_.error = "retention: " + s.message();  // the snapshot itself is published
  }
  std::lock_guard l(*mu_);
  (void)persist_();
}

PublishReport Publication::Run() {
  {
    std::lock_guard l(*mu_);
    lineage_ = rs_->lineage;
    known_ = rs_->blobs;
  }
  std::optional<LatestPointer> latest;
  if (!ReadAndDecide(&latest)) return Finish();
  if (record_.files.empty() && latest) {
    rep_.skipped_empty = true;
    Stop("source is empty: not publishing an empty snapshot over " + latest->id +
         " (remote data kept; an empty source is more likely a missing volume than a wish)");
    return Finish();
  }
  if (!LearnKnownBlobs(latest)) return Finish();
  UploadPlan plan = PlanUploads(record_.files, known_);
  rep_.present_blobs = plan.already_present;
  Uploads u;
  UploadMissing(plan, &u);
  RememberBlobs(!latest, u.done);
  if (!u.first_err.empty()) {
    std::lock_guard l(*mu_);
    (void)persist_();
    Stop("uploading blobs: " + u.first_err);
    return Finish();
  }
  if (!WriteRecord() || !WriteLatest() || !MarkPublished()) return Finish();
  rep_.ok = true;
  if (opts_.apply_retention) Retain();
  return Finish();
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
  return Publication(store, record, rs, mu, persist, opts).Run();
}

}  // namespace aha::replication
