// The demo's outputs, all computed from a DemoResult (measured events only): the printed
// timeline and tables, the JSON document (--json), and the HTML report with an SVG timeline.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "demo/drill.h"

namespace aha::demo {

// Client outcomes counted per second since the drill started, per phase, and in total.
struct Counts {
  std::map<std::string, uint64_t> served;  // region -> requests
  uint64_t failed = 0;
  uint64_t total() const;
};
std::map<long long, Counts> PerSecond(const DemoResult& r);
Counts InWindow(const DemoResult& r, double from_ms, double to_ms);

void PrintText(const DemoResult& r, std::FILE* out);
nlohmann::json ToJson(const DemoResult& r);
// The drill's DR evidence record, unsealed (the demo seals it with evidence::Seal, so integers
// only: times as RFC 3339 strings, durations in whole ms): fault type and region, the measured
// timeline, the RTO (injection -> the promoted region serving clients), the RPO from the data
// check (writes lost at failover and how long before the injection the oldest was acknowledged),
// the outcome and the binary's version. src/demo/evidence_record.cpp.
nlohmann::json EvidenceRecord(const DemoResult& r, const std::string& version);
std::string RenderHtml(const DemoResult& r);
// Minimal HTML escaping for text and attribute values.
std::string HtmlEscape(const std::string& s);

}  // namespace aha::demo
