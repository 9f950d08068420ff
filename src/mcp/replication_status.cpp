#include "mcp/replication_status.h"

#include <algorithm>
#include <cmath>

#include "common/json_get.h"
#include "common/printable.h"

namespace aha::mcp {

using nlohmann::json;

namespace {

bool Flag(const json& d, const char* key) {
  const json* v = jsonget::Find(d, key);
  return v && v->is_boolean() && v->get<bool>();
}

std::string Str(const json& d, const char* key) {
  const json* v = jsonget::Find(d, key);
  return v && v->is_string() ? Printable(v->get<std::string>()) : std::string("?");
}

// Seconds `snapshot` is behind the head (ids carry their creation time); null when unknown.
json BehindHead(const json& e, const RemoteHead* head) {
  const json* snap = jsonget::Find(e, "snapshot");
  if (!head || !snap || !snap->is_string()) return nullptr;
  if (snap->get<std::string>() == head->latest_id) return 0.0;
  WallTime a{}, b{};
  if (!replication::SnapshotIdTime(snap->get<std::string>(), &a) ||
      !replication::SnapshotIdTime(head->latest_id, &b)) {
    return nullptr;
  }
  return static_cast<double>(std::max<int64_t>(0, EpochMillis(b) - EpochMillis(a))) / 1000.0;
}

}  // namespace

std::string DataSummary(const json& d) {
  if (!d.is_object()) return "data not reported";
  const std::string role = Str(d, "role");
  const json* epoch = jsonget::Find(d, "epoch");
  std::string s = (Flag(d, "fenced") ? std::string("FENCED ") : std::string()) + role + " of " +
                  Str(d, "lineage") + " @ epoch " +
                  (epoch && epoch->is_number() ? jsonget::Dump(*epoch) : std::string("?"));
  const json* behind = jsonget::Find(d, "behindSeconds");
  if (role == "writer") {
    s += Flag(d, "ready") ? ", data ready" : ", data not ready";
  } else if (Flag(d, "caughtUp")) {
    s += ", caught up";
  } else if (behind && behind->is_number()) {
    s += ", " + jsonget::Dump(*behind) + " s behind its lineage's head";
  } else {
    s += ", not caught up";
  }
  return s;
}

const RemoteHead* LineageHead(const std::vector<RemoteHead>& remotes) {
  const RemoteHead* best = nullptr;
  for (const auto& p : remotes) {
    if (p.record && (!best || replication::HeadOlder(best->latest_epoch, best->latest_id,
                                                     p.latest_epoch, p.latest_id))) {
      best = &p;
    }
  }
  return best;
}

json HeadJson(const RemoteHead& head, WallTime now) {
  WallTime created{};
  json age = nullptr;
  if (ParseTime(head.record->created_at, &created)) {
    age = std::round(static_cast<double>(EpochMillis(now) - EpochMillis(created))) / 1000.0;
  }
  const std::string writer_region = head.writer.substr(0, head.writer.find('/'));
  return {{"id", head.latest_id},
          {"createdAt", head.record->created_at},
          {"ageSeconds", age},
          {"files", head.record->files.size()},
          {"bytes", head.record->total_bytes()},
          {"generation", head.record->generation},
          {"epoch", head.latest_epoch},
          {"writer", head.writer},
          {"released", head.released},
          {"writerRegion", writer_region.empty() ? json(nullptr) : json(writer_region)}};
}

RemoteTally TallyRemotes(const std::vector<RemoteHead>& remotes, const RemoteHead* head,
                         const std::function<Result<bool>(const RemoteHead&)>& holds) {
  RemoteTally t;
  for (const auto& p : remotes) {
    json row = {{"remote", p.url},
                {"ok", p.error.empty()},
                {"latestId", p.latest_id.empty() ? json(nullptr) : json(p.latest_id)},
                {"latestCreatedAt", p.record ? json(p.record->created_at) : json(nullptr)},
                {"latestEpoch", p.latest_id.empty() ? json(nullptr) : json(p.latest_epoch)},
                {"error", p.error.empty() ? json(nullptr) : json(p.error)}};
    if (!p.error.empty()) {
      t.failed.push_back({{"remote", p.url}, {"error", p.error}});
    } else if (head) {
      bool has = p.latest_id == head->latest_id;
      if (!has) {
        auto e = holds(p);
        if (!e) {
          row["ok"] = false;
          row["error"] = e.message();
          t.failed.push_back({{"remote", p.url}, {"error", e.message()}});
          t.rows.push_back(row);
          continue;
        }
        has = *e;
      }
      (has ? t.have : t.missing).push_back(p.url);
      row["hasLatest"] = has;
    } else {
      t.missing.push_back(p.url);
      row["hasLatest"] = false;
    }
    t.rows.push_back(row);
  }
  return t;
}

std::string SummaryLine(const std::string& region, const RemoteHead* head, const json& head_json,
                        const RemoteTally& tally, size_t remotes) {
  return region + ": " +
         (head ? "latest " + head->latest_id + " (" + head->record->created_at + ", age " +
                     jsonget::Dump(head_json["ageSeconds"]) + " s, " +
                     jsonget::Dump(head_json["files"]) + " files, " +
                     jsonget::Dump(head_json["bytes"]) + " bytes) on " +
                     std::to_string(tally.have.size()) + "/" + std::to_string(remotes) + " remotes"
               : std::string("no snapshot on any remote")) +
         (tally.failed.empty() ? ""
                               : "; " + std::to_string(tally.failed.size()) + " remote(s) failed") +
         "\n";
}

LineagePositions PositionsOfLineage(const LiveStatus& live,
                                    const std::function<bool(const std::string&)>& configured,
                                    const std::string& lineage, const RemoteHead* head) {
  LineagePositions out;
  for (const auto& [name, lv] : live.regions) {
    if (!configured(name)) continue;
    const json* d = jsonget::Find(lv, "data");
    if (!d || !d->is_object()) continue;
    std::vector<json> reports;
    if (const json* eps = jsonget::Find(*d, "endpoints"); eps && eps->is_array()) {
      reports.assign(eps->begin(), eps->end());
    } else {
      reports.push_back(*d);
    }
    for (const json& e : reports) {
      const json* lin = jsonget::Find(e, "lineage");
      if (!lin || !lin->is_string() || lin->get<std::string>() != lineage) continue;
      json p = e;
      p["region"] = name;
      const json behind = BehindHead(e, head);
      p["behindLatestSeconds"] = behind;
      out.positions.push_back(p);
      out.text += "  " + name + ": " + DataSummary(e) +
                  (behind.is_number() ? "; " + jsonget::Dump(behind) + " s behind the latest"
                                      : std::string()) +
                  "\n";
    }
  }
  return out;
}

}  // namespace aha::mcp
