#include "replication/state.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "objectstore/sigv4.h"

namespace aha::replication {

using nlohmann::json;

std::string StateFile(const std::string& state_dir) {
  return state_dir + "/replication-state.json";
}

std::string NewGeneration() {
  unsigned char b[8];
  RAND_bytes(b, sizeof b);
  return objectstore::sigv4::Hex(std::string_view(reinterpret_cast<char*>(b), sizeof b));
}

Result<LocalState> LoadLocalState(const std::string& state_dir) {
  LocalState s;
  struct stat st {};
  if (::stat(StateFile(state_dir).c_str(), &st) != 0) {
    s.generation = NewGeneration();
    return s;
  }
  auto text = ReadFile(StateFile(state_dir));
  if (!text) return text.error();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Err(StateFile(state_dir) + " is not valid JSON; move it away to start over");
  }
  try {
    s.generation = j.value("generation", "");
    if (s.generation.empty()) s.generation = NewGeneration();
    s.seq = j.value("seq", uint64_t{0});
    s.restored_from = j.value("restoredFrom", "");
    if (j.contains("cache")) {
      for (auto& [path, e] : j["cache"].items()) {
        s.cache[path] = CacheEntry{e.at(0).get<uint64_t>(), e.at(1).get<int64_t>(),
                                   e.at(2).get<uint64_t>(), e.at(3).get<std::string>()};
      }
    }
    if (j.contains("remotes")) {
      for (auto& [url, r] : j["remotes"].items()) {
        RemoteState rs;
        rs.lineage.last_published = r.value("lastPublished", "");
        rs.lineage.pending = r.value("pending", "");
        for (auto& b : r.value("blobs", json::array()))
          rs.blobs.insert(b.get<std::string>());
        s.remotes[url] = std::move(rs);
      }
    }
  } catch (const json::exception& e) {
    return Err(StateFile(state_dir) + ": malformed: " + e.what());
  }
  return s;
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
  return WriteFileAtomic(StateFile(state_dir), j.dump());
}

}  // namespace aha::replication
