#include "replication/local_state.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/json_get.h"
#include "net/secret.h"

namespace aha::replication {

using nlohmann::json;

std::string StateFile(const std::string& state_dir) {
  return state_dir + "/replication-state.json";
}

std::string NewGeneration() {
  return net::RandomHex(8);
}

Result<LocalState> LocalStateFromJson(const std::string& text, const std::string& what) {
  namespace jg = jsonget;
  auto parsed = jg::Parse(text, what);
  if (!parsed) return Err(parsed.message() + "; move it away to start over");
  const json& j = *parsed;
  LocalState s;
  const json* cache = nullptr;
  const json* remotes = nullptr;
  for (Status st :
       {jg::ExpectObject(j, what), jg::OptString(j, "generation", &s.generation, what),
        jg::OptUint64(j, "seq", &s.seq, what),
        jg::OptString(j, "restoredFrom", &s.restored_from, what),
        jg::OptObject(j, "cache", &cache, what), jg::OptObject(j, "remotes", &remotes, what)}) {
    if (!st) return Err(st.message() + "; move it away to start over");
  }
  if (cache) {
    for (const auto& [path, e] : cache->items()) {
      // [size, mtimeNs, ino, sha256]
      const std::string where = jg::MemberPath(what + ".cache", path);
      CacheEntry ce;
      Status st = jg::ExpectArray(e, where);
      if (st && e.size() != 4) st = Err(where + ": expected [size, mtimeNs, ino, sha256]");
      if (st) st = jg::AsUint64(e[0], jg::IndexPath(where, 0), &ce.size);
      if (st) st = jg::AsInt64(e[1], jg::IndexPath(where, 1), &ce.mtime_ns);
      if (st) st = jg::AsUint64(e[2], jg::IndexPath(where, 2), &ce.ino);
      if (st) st = jg::AsString(e[3], jg::IndexPath(where, 3), &ce.sha256);
      if (!st) return Err(st.message() + "; move it away to start over");
      s.cache[path] = std::move(ce);
    }
  }
  if (remotes) {
    for (const auto& [url, r] : remotes->items()) {
      const std::string where = jg::MemberPath(what + ".remotes", url);
      RemoteState rs;
      std::vector<std::string> blobs;
      for (Status st : {jg::ExpectObject(r, where),
                        jg::OptString(r, "lastPublished", &rs.lineage.last_published, where),
                        jg::OptString(r, "pending", &rs.lineage.pending, where),
                        jg::OptStringList(r, "blobs", &blobs, where)}) {
        if (!st) return Err(st.message() + "; move it away to start over");
      }
      rs.blobs.insert(blobs.begin(), blobs.end());
      s.remotes[url] = std::move(rs);
    }
  }
  if (s.generation.empty()) s.generation = NewGeneration();
  return s;
}

Result<LocalState> LoadLocalState(const std::string& state_dir) {
  struct stat st {};
  if (::stat(StateFile(state_dir).c_str(), &st) != 0) {
    LocalState s;
    s.generation = NewGeneration();
    return s;
  }
  auto text = ReadFile(StateFile(state_dir));
  if (!text) return text.error();
  return LocalStateFromJson(*text, StateFile(state_dir));
}

Status SaveLocalState(const std::string& state_dir, const LocalState& s) {
  if (Status st = EnsureWritableDir(state_dir); !st) return st;
  json cache = json::object();
  for (const auto& [path, e] : s.cache)
    cache[path] = json::array({e.size, e.mtime_ns, e.ino, e.sha256});
  json remotes = json::object();
  for (const auto& [url, r] : s.remotes) {
    remotes[url] = {{"lastPublished", r.lineage.last_published},
                    {"pending", r.lineage.pending},
                    {"blobs", r.blobs}};
  }
  json j = {{"generation", s.generation},
            {"seq", s.seq},
            {"restoredFrom", s.restored_from},
            {"cache", cache},
            {"remotes", remotes}};
  return WriteFileAtomic(StateFile(state_dir), jsonget::Dump(j));
}

}  // namespace aha::replication
