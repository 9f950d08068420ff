// libFuzzer target for the state-key parsers every reader runs on what an operator may have
// edited by hand: simulatedOutages (every gate), servingRegions/failedRegions, state.json and
// drills (the MCP server), and a quorum peer's /v1/observations report (every controller with
// peers). The same bytes go to each parser.
// Invariants checked: no parser throws (an uncaught exception aborts, which libFuzzer reports);
// an error message has no raw control bytes; what parses survives its own round trip and
// serializes through jsonget::Dump.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/json_get.h"
#include "failover/failover_state.h"
#include "failover/outages.h"
#include "mcp/report.h"
#include "quorum/report.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

template <class R>
void CheckError(const R& r) {
  if (r.ok()) return;
  for (unsigned char c : r.message())
    Check(c >= 0x20 && c != 0x7f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using namespace aha;

  auto o = failover::ParseOutages(text);
  CheckError(o);
  if (o.ok()) {
    auto again = failover::ParseOutages(failover::OutagesToJson(*o));
    Check(again.ok() && again->size() == o->size());
  }

  auto l = failover::ParseRegionList(text);
  CheckError(l);
  if (l.ok()) {
    auto again = failover::ParseRegionList(failover::FormatRegionList(*l));
    Check(again.ok() && *again == *l);
  }

  auto s = failover::StateFromJson(text);
  CheckError(s);
  if (s.ok()) {
    // Times are written with millisecond precision: compare the second round trip to the first.
    auto again = failover::StateFromJson(failover::StateToJson(*s, {}));
    Check(again.ok());
    auto third = failover::StateFromJson(failover::StateToJson(*again, {}));
    Check(third.ok() && failover::DecisionEqual(*again, *third));
  }

  auto d = mcp::ParseDrills(text);
  CheckError(d);
  if (d.ok()) {
    auto again = mcp::ParseDrills(mcp::DrillsToJson(*d));
    Check(again.ok() && again->size() == std::min(d->size(), mcp::kMaxStoredDrills));
    if (!d->empty()) {
      (void)jsonget::Dump(mcp::BuildDrillReport(d->back(), {}, d->back().observations, WallTime{}));
    }
  }

  auto q = quorum::ReportFromJson(text);
  CheckError(q);
  if (q.ok()) {
    auto again = quorum::ReportFromJson(quorum::ReportToJson(*q));
    Check(again.ok() && again->observer == q->observer && again->generation == q->generation &&
          again->regions.size() == q->regions.size());
  }
  return 0;
}
