// The pieces of get_replication_status (tools.h) that decide or format, as pure functions of what
// the remotes and the controller answered: which remote's latest is the lineage's head, the
// head's description, which remotes hold it, the summary line, and the regions whose gates
// report the lineage. SecurityMonitor::Replication does the I/O (remotes, live status) and
// assembles; these are table-tested (tests/unit/mcp_replication_status_test.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "mcp/controller_status.h"
#include "objectstore/store.h"
#include "replication/snapshot.h"

namespace aha::mcp {

// What one remote answered about a lineage: its latest pointer and the record it names, or the
// error that stopped the read (`error` set; then `record` may be unset even with a latest_id).
struct RemoteHead {
  std::string url;
  std::optional<replication::Record> record;  // set: latest named a readable record
  std::string latest_id;                      // "" when the remote has no latest
  int64_t latest_epoch = 0;
  std::string writer;
  bool released = false;
  objectstore::ObjectStore* store = nullptr;  // null when the remote could not be opened
  std::string error;
};

// The lineage's head: the newest (epoch, id) among the remotes whose record was read
// (docs/WRITER.md: a fenced writer's late snapshot never wins over a higher epoch); the first of
// equals; null when none.
const RemoteHead* LineageHead(const std::vector<RemoteHead>& remotes);

// The head as reported: {id, createdAt, ageSeconds (now - createdAt, ms rounded; null when
// createdAt does not parse), files, bytes, generation, epoch, writer, released, writerRegion
// (the writer's part before '/', null when empty)}.
nlohmann::json HeadJson(const RemoteHead& head, WallTime now);

// Per remote, whether it holds the head: `holds(remote)` asks a remote whose latest is not the
// head whether the head's record exists (called only then). A remote that failed, or whose
// answer failed, goes to `failed` {remote, error}; with no head every answering remote misses it.
struct RemoteTally {
  nlohmann::json have = nlohmann::json::array();     // urls
  nlohmann::json missing = nlohmann::json::array();  // urls
  nlohmann::json failed = nlohmann::json::array();   // {remote, error}
  nlohmann::json rows = nlohmann::json::array();     // one per remote, in order
};
RemoteTally TallyRemotes(const std::vector<RemoteHead>& remotes, const RemoteHead* head,
                         const std::function<Result<bool>(const RemoteHead&)>& holds);

// "<region>: latest <id> (<createdAt>, age <s> s, <files> files, <bytes> bytes) on <have>/<n>
// remotes[; <k> remote(s) failed]\n", or "<region>: no snapshot on any remote...\n".
std::string SummaryLine(const std::string& region, const RemoteHead* head,
                        const nlohmann::json& head_json, const RemoteTally& tally, size_t remotes);

// Who reports `lineage` in the controller's live view (regions for which `configured` holds;
// each region's data, or each of its data.endpoints): the data object plus region and
// behindLatestSeconds (0 when its snapshot is the head, else the difference of the two ids'
// times, never negative; null without a head or a parseable snapshot id), and one text line each.
struct LineagePositions {
  nlohmann::json positions = nlohmann::json::array();
  std::string text;
};
LineagePositions PositionsOfLineage(const LiveStatus& live,
                                    const std::function<bool(const std::string&)>& configured,
                                    const std::string& lineage, const RemoteHead* head);

// One line about a data position (controller::DataJson, sanitized), escaped for a terminal.
std::string DataSummary(const nlohmann::json& d);

}  // namespace aha::mcp
