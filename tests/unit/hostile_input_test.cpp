// Hostile input for every parser of outside JSON: state keys (simulatedOutages, state.json,
// drills), snapshot records and `latest`, the replication local state, the sidecar's position
// file and a quorum peer's observations report. Table-driven from one valid document
// per parser: every value in it (recursively) is replaced in turn by each value of a table of
// wrong types, huge and negative numbers and deep nesting; and raw texts add invalid UTF-8 and
// broken JSON. Invariants: the parser never throws; a rejected document's error names the key
// path of what was replaced; a value of another type than the original (null aside: optional
// members may be null) is rejected, never silently read as something else.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/json_get.h"
#include "failover/failover_state.h"
#include "failover/outages.h"
#include "mcp/report.h"
#include "quorum/report.h"
#include "replication/local_state.h"
#include "replication/position.h"
#include "replication/snapshot.h"

namespace aha {
namespace {

using nlohmann::json;

std::string Deep(int n) {
  return std::string(n, '[') + std::string(n, ']');
}

// The replacement values: text, as they appear in the document.
const std::vector<std::string>& HostileValues() {
  static const std::vector<std::string> v = {"5",
                                             "-1",
                                             "1.5",
                                             "1e300",
                                             "18446744073709551615",
                                             "-9223372036854775808",
                                             "\"x\"",
                                             "\"\\u001b[2J\"",
                                             "true",
                                             "null",
                                             "[]",
                                             "{}",
                                             "[1, \"a\"]",
                                             "{\"a\": [1]}",
                                             Deep(10),
                                             Deep(100)};
  return v;
}

struct Mutation {
  std::string text;     // the whole document with one value replaced
  std::string pointer;  // JSON pointer of the replaced value
  std::string key;      // how an error names it: the member name, or "[i]"
  json original;
  std::string replacement;
};

// Every value of `doc` replaced by every hostile value. The document is serialized with a
// placeholder at the spot, which is then replaced by the raw text (so the deep nesting and the
// exact number spellings reach the parser as written).
void ForEachMutation(const json& doc, const std::function<void(const Mutation&)>& f) {
  const json flat = doc.flatten();  // leaves only; add the containers too
  std::set<std::string> pointers;
  for (const auto& [p, v] : flat.items()) {
    std::string ptr = p;
    while (!ptr.empty()) {
      pointers.insert(ptr);
      ptr = ptr.substr(0, ptr.rfind('/'));
    }
  }
  for (const auto& ptr : pointers) {
    std::string last = ptr.substr(ptr.rfind('/') + 1);
    for (size_t at; (at = last.find("~1")) != std::string::npos;)
      last.replace(at, 2, "/");
    for (size_t at; (at = last.find("~0")) != std::string::npos;)
      last.replace(at, 2, "~");
    const json::json_pointer jp(ptr);
    const json& parent = doc.at(jp.parent_pointer());
    const std::string key = parent.is_array() ? "[" + last + "]" : last;
    for (const auto& value : HostileValues()) {
      json m = doc;
      m[jp] = "@@HOSTILE@@";
      std::string text = m.dump();
      text.replace(text.find("\"@@HOSTILE@@\""), 13, value);
      f(Mutation{text, ptr, key, doc.at(jp), value});
    }
  }
}

template <class T>
using Parser = std::function<Result<T>(const std::string&)>;

// `lenient`: pointers (prefixes) under which values are free-form (not type-checked by design).
template <class T>
void CheckParser(const char* name, const json& valid, const Parser<T>& parse,
                 const std::vector<std::string>& lenient = {}) {
  SCOPED_TRACE(name);
  {
    auto ok = parse(valid.dump());
    ASSERT_TRUE(ok.ok()) << "the valid document must parse: " << ok.message();
  }
  int rejected = 0;
  ForEachMutation(valid, [&](const Mutation& m) {
    SCOPED_TRACE(m.pointer + " = " + m.replacement.substr(0, 40));
    std::optional<Result<T>> r;
    ASSERT_NO_THROW(r.emplace(parse(m.text)));
    bool free_form = false;
    for (const auto& p : lenient)
      free_form = free_form || m.pointer.rfind(p, 0) == 0;
    if (r->ok()) {
      const json repl = json::parse(m.replacement, nullptr, false);
      const bool same_type = !repl.is_discarded() && std::string(jsonget::TypeName(repl)) ==
                                                         std::string(jsonget::TypeName(m.original));
      EXPECT_TRUE(same_type || repl.is_null() || m.original.is_null() || free_form)
          << "accepted a " << (repl.is_discarded() ? "?" : jsonget::TypeName(repl)) << " for a "
          << jsonget::TypeName(m.original);
      return;
    }
    ++rejected;
    const std::string& msg = r->message();
    if (msg.find("nested deeper than") != std::string::npos) return;
    EXPECT_NE(msg.find(m.key), std::string::npos) << "the error does not name the key: " << msg;
    for (unsigned char c : msg)
      ASSERT_FALSE(c < 0x20 || c == 0x7f) << "raw control byte in: " << msg;
  });
  EXPECT_GT(rejected, 0);
}

template <class T>
void CheckRawTexts(const Parser<T>& parse, const std::string& valid) {
  const std::vector<std::string> texts = {
      "\xff\xfe",   "{\"a\": \"\xff\xfe\"}",  valid.substr(0, valid.size() / 2),
      Deep(100000), std::string(100000, '{'), "[" + valid + "]",
      "null",       "\"" + valid + "\"",      valid + valid,
  };
  for (const auto& t : texts) {
    std::optional<Result<T>> r;
    ASSERT_NO_THROW(r.emplace(parse(t))) << t.substr(0, 40);
    EXPECT_FALSE(r->ok()) << t.substr(0, 40);
  }
}

TEST(HostileInput, SimulatedOutages) {
  const json valid = json::parse(R"({"apiVersion": "agency-ha/v1", "outages": [
    {"id": "d1", "region": "us-east-1", "failureType": "health", "startedAt": "2026-11-27T17:00:00Z",
     "expiresAt": "2026-11-27T17:05:00Z", "by": "mcp"}]})");
  Parser<std::vector<failover::SimulatedOutage>> p = failover::ParseOutages;
  // apiVersion is written, not read.
  CheckParser("simulatedOutages", valid, p, {"/apiVersion"});
  CheckRawTexts(p, valid.dump());
}

TEST(HostileInput, StateJson) {
  const json valid = json::parse(R"({"apiVersion": "agency-ha/v1", "kind": "FailoverState",
    "generation": 7, "updatedAt": "2026-11-27T17:00:00Z", "panic": false, "panicSince": null,
    "failedRegions": ["eu-west-1"], "servingRegions": ["us-east-1"],
    "partitioned": false, "partitionedSince": null,
    "regions": {
      "us-east-1": {"active": true, "status": "healthy", "serving": true,
        "since": "2026-11-27T16:00:00Z", "reason": "ok", "consecutiveFailures": 0,
        "consecutiveSuccesses": 3, "promoted": false, "promotedFor": [], "promotedSince": null,
        "lastProbe": {"ok": true, "latencyMs": 1.5, "detail": "HTTP 200",
                      "at": "2026-11-27T17:00:00Z"}, "localStatus": "healthy"},
      "eu-west-1": {"status": "failed", "since": "2026-11-27T16:30:00Z", "promotedFor": ["x"]}},
    "transitions": [{"type": "RegionFailed", "region": "eu-west-1", "at": "2026-11-27T16:30:00Z",
                     "reason": "down", "firstProbeAt": "2026-11-27T16:29:59Z"}],
    "quorum": {"size": 2, "observers": 3, "reachable": 3}})");
  Parser<failover::State> p = failover::StateFromJson;
  // Written for readers' convenience and not read back: kind, failedRegions, per-region active,
  // serving, counters, votes; the quorum summary.
  CheckParser("state.json", valid, p,
              {"/kind", "/failedRegions", "/quorum", "/regions/us-east-1/active",
               "/regions/us-east-1/serving", "/regions/us-east-1/consecutive"});
  CheckRawTexts(p, valid.dump());
  // The exact messages for the cases from the review.
  auto r = failover::StateFromJson(R"({"apiVersion": "agency-ha/v1", "generation": 1,
    "panic": false, "servingRegions": [], "regions": {"us-east-1": 5}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "state.json.regions.us-east-1: expected object, got number 5");
  r = failover::StateFromJson(R"({"apiVersion": "agency-ha/v1", "generation": -1})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "state.json.generation: expected a non-negative integer, got -1");
}

TEST(HostileInput, Drills) {
  const json valid = json::parse(R"({"apiVersion": "agency-ha/v1", "drills": [
    {"id": "drill-us-east-1-1", "region": "us-east-1", "failureType": "health",
     "durationSeconds": 60, "injectedAt": "2026-11-27T17:00:00Z",
     "expiresAt": "2026-11-27T17:01:00Z", "endedEarlyAt": null,
     "servingBefore": ["us-east-1"], "failedBefore": [],
     "observations": [{"at": "2026-11-27T17:00:05Z", "failed": ["us-east-1"], "serving": [],
                       "gap": true}],
     "completedAt": "2026-11-27T17:02:00Z",
     "report": {"phase": "complete", "timeline": {"injectedAt": "2026-11-27T17:00:00Z",
                                                  "demotedAt": null},
                "durationsSeconds": {"outage": 60, "injectedToRegionFailed": null},
                "regional_failover_recovery_time": 1.5, "notes": ["n"]}}]})");
  Parser<std::vector<mcp::Drill>> p = mcp::ParseDrills;
  // The report is kept as written; only what readers of it use is type-checked.
  CheckParser("drills", valid, p, {"/apiVersion", "/drills/0/report/notes"});
  CheckRawTexts(p, valid.dump());
  auto r = mcp::ParseDrills(R"({"drills": [{"id": "d", "region": "us-east-1", "failureType": 5,
    "injectedAt": "2026-11-27T17:00:00Z", "expiresAt": "2026-11-27T17:01:00Z"}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "drills.drills[0].failureType: expected string, got number 5");
}

TEST(HostileInput, SnapshotRecord) {
  const std::string sha(64, 'a');
  const json valid = {
      {"format", 1},
      {"id", "20261127T181500.123Z-000042"},
      {"region", "us-east-1"},
      {"generation", "g"},
      {"parent", ""},
      {"createdAt", "2026-11-27T18:15:00.123Z"},
      {"host", "h"},
      {"fileCount", 2},
      {"totalBytes", 3},
      {"datasets", {{{"path", "brain/memory.lance"}, {"versions", {"3.manifest"}}}}},
      {"files",
       {{{"path", "a/b.txt"}, {"sha256", sha}, {"size", 1}, {"mode", 420}, {"mtimeNs", 5}},
        {{"path", "c"}, {"sha256", std::string(64, 'b')}, {"size", 2}}}}};
  Parser<replication::Record> p = replication::RecordFromJson;
  CheckParser("snapshot record", valid, p, {"/fileCount", "/totalBytes"});
  CheckRawTexts(p, valid.dump());
  struct Case {
    std::string field, value, want;
  };
  const std::vector<Case> cases = {
      {"mode", "\"644\"", "files[0].mode: expected non-negative integer, got string"},
      {"mtimeNs", "\"5\"", "files[0].mtimeNs: expected integer, got string"},
      {"size", "-1", "files[0].size: expected a non-negative integer, got -1"},
      {"size", "18446744073709551616", "files[0].size: expected non-negative integer, got number"},
      {"path", "\"../etc/passwd\"", "files[0].path: unsafe path \"../etc/passwd\""},
  };
  for (const auto& c : cases) {
    json m = valid;
    m["files"][0][c.field] = "@@";
    std::string text = m.dump();
    text.replace(text.find("\"@@\""), 4, c.value);
    auto r = replication::RecordFromJson(text);
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_NE(r.message().find(c.want), std::string::npos) << r.message();
  }
  // A control byte in a path is allowed by the format; it reaches messages escaped.
  json m = valid;
  m["files"][0]["path"] = "a\x1b[2Jb";
  m["files"][1]["path"] = "a\x1b[2Jb";
  auto r = replication::RecordFromJson(m.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("duplicate path a\\x1b[2Jb"), std::string::npos) << r.message();
  m = valid;
  m["datasets"] = {1};
  r = replication::RecordFromJson(m.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("datasets[0]: expected object, got number 1"), std::string::npos)
      << r.message();
  m = valid;
  m["files"][0]["size"] = UINT64_MAX;
  m["files"][1]["size"] = 2;
  r = replication::RecordFromJson(m.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("total size overflows"), std::string::npos) << r.message();
}

TEST(HostileInput, LatestPointer) {
  const json valid = json::parse(R"({"format": 2, "id": "20261127T181500.123Z-000042",
    "generation": "g", "epoch": 3, "writer": "us-east-1/abc", "released": false})");
  Parser<replication::LatestPointer> p = replication::LatestFromJson;
  CheckParser("latest", valid, p);
  CheckRawTexts(p, valid.dump());
  auto r = p(R"({"format": 2, "id": "20261127T181500.123Z-000042", "generation": 5, "epoch": 1})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "latest.generation: expected string, got number 5");
}

// The sidecar's position file (read by the gate through the shared volume).
TEST(HostileInput, Position) {
  const json valid = json::parse(R"({"lineage": "us-east-1", "role": "follower", "epoch": 3,
    "snapshot": "20261203T221500.123Z-000042", "headEpoch": 4,
    "head": "20261203T221501.000Z-000001", "caughtUp": false, "dataReady": false,
    "updatedAt": "2026-12-03T22:15:01.123Z",
    "divergent": {"files": 2, "bytes": 10, "path": "/data/x"}, "error": "boom"})");
  Parser<replication::Position> p = replication::PositionFromJson;
  CheckParser("position", valid, p);
  CheckRawTexts(p, valid.dump());
}

// GET /v1/observations from a quorum peer. Before json_get, a wrong type came back as nlohmann's
// message without the key ("type must be boolean, but is number"), and a consecutive count of
// 1e300 was converted to int (undefined behaviour).
TEST(HostileInput, QuorumObservations) {
  const json valid = json::parse(R"({"apiVersion": "agency-ha/v1", "kind": "Observations",
    "observer": "us-east-1", "instance": "2026-11-27T19:00:00.000Z/4711", "generation": 42,
    "producedAt": "2026-11-27T19:00:01.000Z", "partitioned": false,
    "regions": {"eu-west-1": {"up": true, "down": false, "since": "2026-11-27T18:00:00.000Z",
                              "consecutiveFailures": 0, "consecutiveSuccesses": 12,
                              "detail": "HTTP 200", "latencyMs": 1.2,
                              "at": "2026-11-27T19:00:00.500Z"}}})");
  Parser<quorum::Report> p = quorum::ReportFromJson;
  CheckParser("observations", valid, p);
  CheckRawTexts(p, valid.dump());
  struct Case {
    std::string pointer, value, want;
  };
  for (const Case& c : std::vector<Case>{
           {"/regions/eu-west-1/down", "1",
            "observations.regions.eu-west-1.down: expected boolean"},
           {"/regions/eu-west-1/consecutiveFailures", "1e300",
            "observations.regions.eu-west-1.consecutiveFailures: expected integer"},
           {"/regions/eu-west-1/consecutiveFailures", "4294967296",
            "observations.regions.eu-west-1.consecutiveFailures: 4294967296 is out of range"},
           {"/regions/eu-west-1/latencyMs", "\"1\"", "observations.regions.eu-west-1.latencyMs"},
           {"/regions/eu-west-1", "5", "observations.regions.eu-west-1: expected object"},
           {"/generation", "-1", "observations.generation: expected a non-negative integer"},
           {"/partitioned", "\"no\"", "observations.partitioned: expected boolean"},
       }) {
    json m = valid;
    m[json::json_pointer(c.pointer)] = "@@";
    std::string text = m.dump();
    text.replace(text.find("\"@@\""), 4, c.value);
    std::optional<Result<quorum::Report>> r;
    ASSERT_NO_THROW(r.emplace(p(text))) << c.pointer;
    ASSERT_FALSE(r->ok()) << c.pointer;
    EXPECT_NE(r->message().find(c.want), std::string::npos) << r->message();
  }
}

TEST(HostileInput, ReplicationLocalState) {
  const json valid = json::parse(R"({"generation": "0123abcd", "seq": 3,
    "restoredFrom": "20261127T181500.123Z-000042",
    "cache": {"a/b.txt": [1, 1700000000000000000, 42, "abc"]},
    "remotes": {"s3://bucket/p": {"lastPublished": "x", "pending": "", "blobs": ["aa", "bb"]}}})");
  Parser<replication::LocalState> p = [](const std::string& t) {
    return replication::LocalStateFromJson(t, "replication-state.json");
  };
  CheckParser("replication local state", valid, p);
  CheckRawTexts(p, valid.dump());
  auto r = p(R"({"cache": {"f": [1, 2, 3]}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(),
            "replication-state.json.cache.f: expected [size, mtimeNs, ino, sha256]; move it away "
            "to start over");
}

}  // namespace
}  // namespace aha
