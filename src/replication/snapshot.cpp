#include "replication/snapshot.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "common/json_get.h"
#include "common/printable.h"

namespace aha::replication {

using nlohmann::json;

uint64_t Record::total_bytes() const {
  uint64_t n = 0;
  for (const auto& f : files)
    n += f.size;
  return n;
}

namespace {

bool IsSha256(const std::string& s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

bool SafeRelativePath(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.back() == '/' || p.find('\0') != std::string::npos) {
    return false;
  }
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    const std::string seg = p.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

namespace {

// Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF), as the JSON writer wants.
bool Utf8Valid(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

std::string SymlinkProblem(const std::string& path, const std::string& target) {
  if (target.empty()) return "empty target";
  if (target.size() > 4096) return "target longer than 4096 bytes";
  if (target.find('\0') != std::string::npos) return "target contains NUL";
  if (!Utf8Valid(target)) return "target is not valid UTF-8";
  if (target.front() == '/') return "absolute target (it points outside the tree)";
  // Depth of the link's directory below the root.
  int64_t depth = static_cast<int64_t>(std::count(path.begin(), path.end(), '/'));
  bool named = false;
  size_t start = 0;
  while (start <= target.size()) {
    size_t end = target.find('/', start);
    if (end == std::string::npos) end = target.size();
    const std::string seg = target.substr(start, end - start);
    start = end + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (named) return "target has \"..\" after a name (it could leave the tree)";
      if (--depth < 0) return "target points outside the tree";
      continue;
    }
    named = true;
  }
  return "";
}

std::string RecordToJson(const Record& r) {
  json files = json::array();
  for (const auto& f : r.files) {
    files.push_back({{"path", f.path},
                     {"sha256", f.sha256},
                     {"size", f.size},
                     {"mode", f.mode},
                     {"mtimeNs", f.mtime_ns}});
  }
  json datasets = json::array();
  for (const auto& d : r.datasets)
    datasets.push_back({{"path", d.path}, {"versions", d.versions}});
  json j = {{"format", r.symlinks.empty() ? kRecordFormat : kRecordFormatSymlinks},
            {"id", r.id},
            {"region", r.region},
            {"generation", r.generation},
            {"parent", r.parent},
            {"createdAt", r.created_at},
            {"host", r.host},
            {"epoch", r.epoch},
            {"writer", r.writer},
            {"fileCount", r.files.size()},
            {"totalBytes", r.total_bytes()},
            {"datasets", datasets},
            {"files", files}};
  if (!r.symlinks.empty()) {
    json links = json::array();
    for (const auto& l : r.symlinks)
      links.push_back({{"path", l.path}, {"target", l.target}, {"mtimeNs", l.mtime_ns}});
    j["symlinks"] = std::move(links);
  }
  // Never throws: the scanner refuses names that are not valid UTF-8 (scanner.h), and Dump
  // replaces what could still slip through instead of aborting the publisher.
  return jsonget::Dump(j, 1) + "\n";
}

namespace {

// The record's optional `symlinks` array (format 2). `paths` holds the record's file paths.
Status SymlinksFromJson(const json& j, const std::string& rec, std::set<std::string> paths,
                        std::vector<SymlinkEntry>* out) {
  namespace jg = jsonget;
  const json* links = nullptr;
  if (Status s = jg::OptArray(j, "symlinks", &links); !s) return Err(rec + s.message());
  if (!links) return Status::Ok();
  std::set<std::string> link_paths;
  for (size_t i = 0; i < links->size(); ++i) {
    const json& l = (*links)[i];
    const std::string where = jg::IndexPath("symlinks", i);
    SymlinkEntry e;
    for (Status s : {jg::ExpectObject(l, where), jg::GetString(l, "path", &e.path, where),
                     jg::GetString(l, "target", &e.target, where),
                     jg::OptInt64(l, "mtimeNs", &e.mtime_ns, where)}) {
      if (!s) return Err(rec + s.message());
    }
    if (!SafeRelativePath(e.path)) {
      return Err(rec + where + ".path: unsafe path \"" + Printable(e.path) + "\"");
    }
    if (std::string why = SymlinkProblem(e.path, e.target); !why.empty()) {
      return Err(rec + where + ": symlink " + Printable(e.path) + " -> " + Printable(e.target) +
                 " refused: " + why);
    }
    if (!paths.insert(e.path).second) {
      return Err(rec + where + ".path: duplicate path " + Printable(e.path));
    }
    link_paths.insert(e.path);
    out->push_back(std::move(e));
  }
  // Nothing below a symlink: restoring it would write through the link.
  for (const auto& p : paths) {
    for (size_t k = p.find('/'); k != std::string::npos; k = p.find('/', k + 1)) {
      if (link_paths.count(p.substr(0, k))) {
        return Err(rec + "path " + Printable(p) + " lies below the symlink " +
                   Printable(p.substr(0, k)) + " (restore never writes through a symlink)");
      }
    }
  }
  std::sort(out->begin(), out->end(),
            [](const SymlinkEntry& a, const SymlinkEntry& b) { return a.path < b.path; });
  return Status::Ok();
}

}  // namespace

Result<Record> RecordFromJson(const std::string& text) {
  namespace jg = jsonget;
  auto parsed = jg::Parse(text, "snapshot record");
  if (!parsed) return parsed.error();
  const json& j = *parsed;
  if (!j.is_object()) return Err("snapshot record is not a JSON object");
  int64_t format = 0;
  if (Status s = jg::GetInt64(j, "format", &format);
      !s || (format != kRecordFormat && format != kRecordFormatSymlinks)) {
    return Err("snapshot record: unsupported format (want " + std::to_string(kRecordFormat) +
               " or " + std::to_string(kRecordFormatSymlinks) + ")" +
               (s ? "" : ": " + s.message()));
  }
  Record r;
  const json* files = nullptr;
  const json* datasets = nullptr;
  for (Status s :
       {jg::GetString(j, "id", &r.id), jg::OptString(j, "region", &r.region),
        jg::OptString(j, "generation", &r.generation), jg::OptString(j, "parent", &r.parent),
        jg::OptString(j, "createdAt", &r.created_at), jg::OptString(j, "host", &r.host),
        jg::GetArray(j, "files", &files), jg::OptArray(j, "datasets", &datasets)}) {
    if (!s) return Err("snapshot record: " + s.message());
  }
  if (!IsSnapshotId(r.id))
    return Err("snapshot record: id: invalid id \"" + Printable(r.id) + "\"");
  const std::string rec = "snapshot record " + r.id + ": ";
  for (Status s : {jg::OptInt64(j, "epoch", &r.epoch), jg::OptString(j, "writer", &r.writer)}) {
    if (!s) return Err(rec + s.message());
  }
  if (r.epoch < 0) return Err(rec + "epoch: negative (" + std::to_string(r.epoch) + ")");
  std::set<std::string> seen;
  uint64_t total = 0;
  r.files.reserve(files->size());
  for (size_t i = 0; i < files->size(); ++i) {
    const json& f = (*files)[i];
    const std::string where = jg::IndexPath("files", i);
    FileEntry e;
    uint64_t mode = 0644;
    for (Status s :
         {jg::ExpectObject(f, where), jg::GetString(f, "path", &e.path, where),
          jg::GetString(f, "sha256", &e.sha256, where), jg::GetUint64(f, "size", &e.size, where),
          jg::OptUint64(f, "mode", &mode, where), jg::OptInt64(f, "mtimeNs", &e.mtime_ns, where)}) {
      if (!s) return Err(rec + s.message());
    }
    e.mode = static_cast<uint32_t>(mode & 07777u);
    if (!SafeRelativePath(e.path)) {
      return Err(rec + where + ".path: unsafe path \"" + Printable(e.path) + "\"");
    }
    if (!IsSha256(e.sha256)) {
      return Err(rec + where + ".sha256: bad sha256 for " + Printable(e.path));
    }
    if (!seen.insert(e.path).second) {
      return Err(rec + where + ".path: duplicate path " + Printable(e.path));
    }
    if (e.size > UINT64_MAX - total) return Err(rec + where + ".size: total size overflows");
    total += e.size;
    r.files.push_back(std::move(e));
  }
  if (Status s = SymlinksFromJson(j, rec, seen, &r.symlinks); !s) return s.error();
  for (size_t i = 0; datasets && i < datasets->size(); ++i) {
    const json& d = (*datasets)[i];
    const std::string where = jg::IndexPath("datasets", i);
    DatasetInfo di;
    for (Status s : {jg::ExpectObject(d, where), jg::OptString(d, "path", &di.path, where),
                     jg::OptStringList(d, "versions", &di.versions, where)}) {
      if (!s) return Err(rec + s.message());
    }
    r.datasets.push_back(std::move(di));
  }
  return r;
}

std::string LatestToJson(const LatestPointer& p) {
  return jsonget::Dump(json{{"format", kLatestFormat},
                            {"id", p.id},
                            {"generation", p.generation},
                            {"epoch", p.epoch},
                            {"writer", p.writer},
                            {"released", p.released}}) +
         "\n";
}

Result<LatestPointer> LatestFromJson(const std::string& text) {
  auto j = jsonget::Parse(text, "latest pointer");
  if (!j) return j.error();
  const std::string path = "latest";
  if (Status s = jsonget::ExpectObject(*j, path); !s) return s.error();
  LatestPointer p;
  p.format = 1;
  if (Status s = jsonget::OptInt(*j, "format", &p.format, path); !s) return s.error();
  if (p.format != 1 && p.format != 2) {
    return Err("latest.format: unsupported format " + std::to_string(p.format) +
               " (this agency-ha reads 1 and 2; a newer version wrote it?)");
  }
  if (Status s = jsonget::GetString(*j, "id", &p.id, path); !s) return s.error();
  if (Status s = jsonget::OptString(*j, "generation", &p.generation, path); !s) return s.error();
  if (p.format >= 2) {
    if (Status s = jsonget::GetInt64(*j, "epoch", &p.epoch, path); !s) return s.error();
    if (p.epoch < 0) return Err("latest.epoch: negative (" + std::to_string(p.epoch) + ")");
    if (Status s = jsonget::OptString(*j, "writer", &p.writer, path); !s) return s.error();
    if (Status s = jsonget::OptBool(*j, "released", &p.released, path); !s) return s.error();
  }
  if (!IsSnapshotId(p.id)) return Err("latest pointer names an invalid id");
  return p;
}

bool HeadOlder(int64_t ea, const std::string& ia, int64_t eb, const std::string& ib) {
  if (ea != eb) return ea < eb;
  return ia < ib;
}

std::string MakeSnapshotId(WallTime t, uint64_t seq) {
  const UtcFields u = ToUtc(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d.%03dZ-%06llu", u.year, u.month, u.day,
                u.hour, u.minute, u.second, static_cast<int>(u.nanos / 1000000),
                static_cast<unsigned long long>(seq % 1000000));
  return buf;
}

bool SnapshotIdTime(const std::string& id, WallTime* out) {
  int y, mo, d, h, mi, s, ms;
  unsigned long long seq;
  char z, dash;
  if (id.size() != 27 || std::sscanf(id.c_str(), "%4d%2d%2dT%2d%2d%2d.%3d%c%c%6llu", &y, &mo, &d,
                                     &h, &mi, &s, &ms, &z, &dash, &seq) != 10) {
    return false;
  }
  if (z != 'Z' || dash != '-') return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::time_t secs = timegm(&tm);
  if (out) *out = WallTime{} + std::chrono::seconds(secs) + std::chrono::milliseconds(ms);
  return true;
}

bool IsSnapshotId(const std::string& id) {
  if (id.size() != 27) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool ok = (i == 8 && c == 'T') || (i == 15 && c == '.') || (i == 19 && c == 'Z') ||
                    (i == 20 && c == '-') || (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return SnapshotIdTime(id, nullptr);
}

std::string BlobKey(const std::string& region, const std::string& sha256) {
  return region + "/blobs/" + sha256.substr(0, 2) + "/" + sha256;
}
std::string RecordKey(const std::string& region, const std::string& id) {
  return region + "/snapshots/" + id + ".json";
}
std::string LatestKey(const std::string& region) {
  return region + "/latest";
}
std::string SnapshotsPrefix(const std::string& region) {
  return region + "/snapshots/";
}
std::string BlobsPrefix(const std::string& region) {
  return region + "/blobs/";
}

Status CheckLineage(const std::optional<LatestPointer>& remote_latest, const RemoteLineage& local,
                    const std::string& region) {
  if (!remote_latest) return Status::Ok();
  const std::string& id = remote_latest->id;
  if (!local.last_published.empty() && id == local.last_published) return Status::Ok();
  if (!local.pending.empty() && id == local.pending) return Status::Ok();
  if (local.last_published.empty() && !local.restored_from.empty() && id == local.restored_from) {
    return Status::Ok();
  }
  std::string why = "remote already has snapshot " + id + " (generation " +
                    (remote_latest->generation.empty() ? "?" : remote_latest->generation) +
                    ") as latest for region " + region + ", ";
  if (local.last_published.empty()) {
    why +=
        "and this source never published there: refusing to start a second lineage over it "
        "(restore it first with `agency-ha restore`, or use another region name)";
  } else {
    why += "newer than " + local.last_published +
           ", the last one this source published: another writer (or a restored copy) advanced "
           "the lineage; refusing to publish";
  }
  return Err(why, Code::kConflict);
}

UploadPlan PlanUploads(const std::vector<FileEntry>& files,
                       const std::set<std::string>& remote_has) {
  UploadPlan p;
  std::set<std::string> planned, skipped;
  for (const auto& f : files) {
    if (remote_has.count(f.sha256)) {
      skipped.insert(f.sha256);
      continue;
    }
    if (!planned.insert(f.sha256).second) continue;
    p.uploads.push_back(f);
    p.upload_bytes += f.size;
  }
  p.already_present = skipped.size();
  return p;
}

std::vector<std::string> PlanRetention(const std::vector<std::string>& ids,
                                       const std::string& latest, WallTime now,
                                       const config::RetentionConfig& retention) {
  std::vector<std::string> out;
  if (retention.keep_last == 0 && retention.keep_within_seconds == 0) return out;
  const size_t n = ids.size();
  for (size_t i = 0; i < n; ++i) {
    const std::string& id = ids[i];
    if (id == latest) continue;
    const bool in_last = n - i <= static_cast<size_t>(retention.keep_last);
    WallTime t{};
    const bool parsed = SnapshotIdTime(id, &t);
    const bool young =
        !parsed || std::chrono::duration<double>(now - t).count() < retention.keep_within_seconds;
    if (!in_last && !young) out.push_back(id);
  }
  return out;
}

}  // namespace aha::replication
