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
std::string RenderHtml(const DemoResult& r);
// Minimal HTML escaping for text and attribute values.
std::string HtmlEscape(const std::string& s);

}  // namespace aha::demo
