#include "demo/report.h"

#include <algorithm>
#include <cmath>

namespace aha::demo {

using json = nlohmann::json;

namespace {

double MsOf(const DemoResult& r, Mono at) {
  return std::chrono::duration<double, std::milli>(at - r.t0).count();
}

const Step* FindStep(const DemoResult& r, const std::string& prefix) {
  for (const auto& s : r.steps)
    if (s.name.rfind(prefix, 0) == 0) return &s;
  return nullptr;
}

json Between(const DemoResult& r, const std::string& a, const std::string& b) {
  const Step* x = a.empty() ? nullptr : FindStep(r, a);
  const Step* y = FindStep(r, b);
  if ((!a.empty() && !x) || !y) return nullptr;
  return y->at_ms - (x ? x->at_ms : 0.0);
}

// Durations between steps, by meaning.
json Durations(const DemoResult& r) {
  return {
      {"drillToEntryPointDrain", Between(r, "", "entry point stops routing to " + r.failing)},
      {"drillToFailedRegions", Between(r, "", r.failing + " in failedRegions")},
      {"drillToPassivePromoted", Between(r, "", r.passive + " promoted")},
      {"takeoverMs", r.takeover_ms},
      {"sidecarTakeoverMs", r.data.done ? json(r.data.restore_ms) : json(nullptr)},
      {"drillToPassiveServingClients", Between(r, "", r.passive + " serving clients")},
      {"drillToOutageExpired", Between(r, "", "outage expired")},
      {"outageExpiredToRecovered",
       Between(r, "outage expired", r.failing + " recovered (not in failedRegions)")},
      {"recoveredToFailback",
       Between(r, r.failing + " recovered (not in failedRegions)", r.passive + " demoted")},
  };
}

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string MsText(const json& v) {
  return v.is_number() ? Fmt("%.1f ms", v.get<double>()) : "-";
}

std::string ObservedText(const json& v, const char* unit) {
  if (v.is_number_float()) return Fmt("%.1f", v.get<double>()) + unit;
  if (v.is_number()) return v.dump() + unit;
  return "not observed";
}

}  // namespace

uint64_t Counts::total() const {
  uint64_t n = failed;
  for (const auto& [r, c] : served)
    n += c;
  return n;
}

std::map<long long, Counts> PerSecond(const DemoResult& r) {
  std::map<long long, Counts> out;
  for (const auto& o : r.outcomes) {
    auto sec = static_cast<long long>(std::floor(MsOf(r, o.at) / 1000.0));
    auto& c = out[sec];
    if (o.served_by.empty()) {
      ++c.failed;
    } else {
      ++c.served[o.served_by];
    }
  }
  return out;
}

Counts InWindow(const DemoResult& r, double from_ms, double to_ms) {
  Counts c;
  for (const auto& o : r.outcomes) {
    double t = MsOf(r, o.at);
    if (t < from_ms || t >= to_ms) continue;
    if (o.served_by.empty()) {
      ++c.failed;
    } else {
      ++c.served[o.served_by];
    }
  }
  return c;
}

std::string HtmlEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

namespace {

// Writes each region's app acknowledged (committed) in [from, to), ms since the drill started.
json WritesIn(const DemoResult& r, double from_ms, double to_ms) {
  json out = json::object();
  for (const auto& [region, at] : r.writes_ms) {
    uint64_t n = 0;
    for (double t : at)
      n += t >= from_ms && t < to_ms;
    out[region] = n;
  }
  return out;
}

std::string LostAtFailoverText(const DemoResult& r) {
  const json& l = r.lost_at_failover;
  if (!l.is_object()) return "not observed";
  std::string t = l["count"].dump() + " of " + l["acknowledged"].dump() + " writes (" +
                  l["rows"].dump() + " rows)";
  if (l["oldestAgeMs"].is_number()) {
    t += Fmt(", oldest acknowledged %.0f ms before the outage", l["oldestAgeMs"].get<double>());
  }
  return t + Fmt(" (RPO bound %.0f ms)", r.rpo_bound_ms);
}

std::string FencedText(const DemoResult& r) {
  const json& f = r.fenced_publishes;
  if (!f.is_object()) return "not observed";
  std::string t = f["count"].dump();
  std::string per;
  for (const auto& [region, n] : f["byRegion"].items())
    if (n.is_number() && n.get<uint64_t>() > 0)
      per += (per.empty() ? "" : ", ") + region + " " + n.dump();
  return per.empty() ? t : t + " (" + per + ")";
}

std::string LineageCheckText(const DemoResult& r) {
  const json& c = r.lineage_check;
  if (!c.is_object()) return "not checked";
  std::string t = c.value("ok", false) ? "ok" : "VIOLATED";
  for (const auto& [name, l] : c["lineages"].items()) {
    t += "; " + name + ": " + l["published"].dump() + " published of " + l["records"].dump() +
         " snapshots, epochs";
    for (const auto& e : l["epochs"])
      t += " " + e["epoch"].dump();
  }
  for (const auto& v : c["violations"])
    t += "; " + v.get<std::string>();
  return t;
}

uint64_t TwoWriterViolations(const DemoResult& r) {
  const json& c = r.lineage_check;
  return c.is_object() && c["violations"].is_array() ? c["violations"].size() : 0;
}

}  // namespace

json ToJson(const DemoResult& r) {
  json steps = json::array();
  for (const auto& s : r.steps)
    steps.push_back({{"step", s.name}, {"atMs", s.at_ms}, {"detail", s.detail}});
  auto counts_json = [&](const Counts& c) {
    return json{{"served", c.served}, {"failed", c.failed}, {"total", c.total()}};
  };
  json phases = json::array();
  for (const auto& p : r.phases) {
    json j = counts_json(InWindow(r, p.from_ms, p.to_ms));
    j["phase"] = p.name;
    j["fromMs"] = p.from_ms;
    j["toMs"] = p.to_ms;
    j["writes"] = WritesIn(r, p.from_ms, p.to_ms);
    phases.push_back(j);
  }
  json per_second = json::array();
  for (const auto& [sec, c] : PerSecond(r)) {
    json j = counts_json(c);
    j["second"] = sec;
    per_second.push_back(j);
  }
  const auto& d = r.data;
  json regions = json::array();
  for (const auto& x : r.regions)
    regions.push_back({{"name", x.name}, {"active", x.active}});
  return {
      {"regions", regions},
      {"drilledRegion", r.failing},
      {"fault", r.fault_type},
      {"passiveRegion", r.passive},
      {"remote", r.remote_desc},
      {"drillSeconds", r.drill_seconds},
      {"timeline", steps},
      {"failedStep", r.failed_step.empty() ? json(nullptr) : json(r.failed_step)},
      {"failure", r.failure.empty() ? json(nullptr) : json(r.failure)},
      {"durationsMs", Durations(r)},
      {"phases", phases},
      {"perSecond", per_second},
      {"latencyMs", r.latency_ms},
      {"dataCheck",
       {{"ok", d.ok},
        {"snapshot", d.snapshot_id},
        {"recordFiles", d.record_files},
        {"restoredFiles", d.restored_files},
        {"recordBytes", d.record_bytes},
        {"restoredBytes", d.restored_bytes},
        {"capturedBrainVersion", d.captured_version},
        {"failedRegionLastVersion", d.failed_app_version},
        {"expectedRows", d.expected_rows},
        {"restoredRows", d.restored_rows},
        {"restoredManifestRows", d.restored_manifest_rows},
        {"sidecarTakeoverMs", d.restore_ms},
        {"mismatches", d.mismatches}}},
      {"takeoverMs", r.takeover_ms},
      {"lostAtFailback", r.lost_at_failback},
      {"failbackCheck", r.failback_check},
      {"divergentPreserved", r.divergent_preserved},
      {"writerChanges", r.writer_changes},
      {"failbackPauseMs", r.failback_pause_ms},
      {"lostAtFailover", r.lost_at_failover},
      {"fencedPublishes",
       r.fenced_publishes.is_object() ? r.fenced_publishes["count"] : json(nullptr)},
      {"fencingCheck", r.fenced_publishes},
      {"twoWriterViolations",
       r.lineage_check.is_object() ? json(TwoWriterViolations(r)) : json(nullptr)},
      {"lineageCheck", r.lineage_check},
      {"mcpDrillReport", r.mcp_report},
  };
}

namespace {

std::vector<std::string> RegionNames(const DemoResult& r) {
  std::vector<std::string> names;
  for (const auto& x : r.regions)
    names.push_back(x.name);
  return names;
}

void PrintTimeline(const DemoResult& r, std::FILE* out) {
  std::fprintf(out, "\n%-58s %9s  %s\n", "timeline (measured; t=0: drill started)", "t+ms",
               "detail");
  for (const auto& s : r.steps) {
    std::fprintf(out, "%-58s %9.1f  %s\n", s.name.c_str(), s.at_ms, s.detail.c_str());
  }
  if (!r.failed_step.empty()) {
    std::fprintf(out, "%-58s %9s  %s\n", ("FAILED: " + r.failed_step).c_str(), "-",
                 r.failure.c_str());
  }
}

void PrintDurations(const DemoResult& r, std::FILE* out) {
  json du = Durations(r);
  std::fprintf(out, "\ndurations:\n");
  std::fprintf(out, "  drill -> entry point stops routing to %-14s %s\n", r.failing.c_str(),
               MsText(du["drillToEntryPointDrain"]).c_str());
  std::fprintf(out, "  drill -> failedRegions (detection)                     %s\n",
               MsText(du["drillToFailedRegions"]).c_str());
  std::fprintf(out, "  promotion -> %-15s data ready (takeoverMs)   %s\n", r.passive.c_str(),
               MsText(du["takeoverMs"]).c_str());
  std::fprintf(out, "  drill -> %-15s serving clients               %s\n", r.passive.c_str(),
               MsText(du["drillToPassiveServingClients"]).c_str());
  std::fprintf(out, "  outage expired -> %-15s recovered            %s\n", r.failing.c_str(),
               MsText(du["outageExpiredToRecovered"]).c_str());
  std::fprintf(out, "  recovered -> failback (policy %.1f s)                   %s\n",
               r.failback_seconds, MsText(du["recoveredToFailback"]).c_str());
}

// The request tables: a label column, one column per region, failed and total.
void PrintCountsHeader(std::FILE* out, const std::vector<std::string>& names, const char* first) {
  std::fprintf(out, "%-28s", first);
  for (const auto& n : names)
    std::fprintf(out, " %14s", n.c_str());
  std::fprintf(out, " %8s %7s\n", "failed", "total");
}

void PrintCountsRow(std::FILE* out, const std::vector<std::string>& names, const std::string& label,
                    const Counts& c) {
  std::fprintf(out, "%-28s", label.c_str());
  for (const auto& n : names) {
    auto it = c.served.find(n);
    std::fprintf(out, " %14llu",
                 static_cast<unsigned long long>(it == c.served.end() ? 0 : it->second));
  }
  std::fprintf(out, " %8llu %7llu\n", static_cast<unsigned long long>(c.failed),
               static_cast<unsigned long long>(c.total()));
}

void PrintClientCounts(const DemoResult& r, const std::vector<std::string>& names, std::FILE* out) {
  if (r.outcomes.empty()) return;
  std::fprintf(out, "\nclient requests through the entry point, served per region:\n");
  PrintCountsHeader(out, names, "phase");
  for (const auto& p : r.phases)
    PrintCountsRow(out, names, p.name, InWindow(r, p.from_ms, p.to_ms));
  std::fprintf(out, "\nper second (t=0: drill started):\n");
  PrintCountsHeader(out, names, "second");
  for (const auto& [sec, c] : PerSecond(r)) {
    PrintCountsRow(out, names, (sec >= 0 ? "+" : "") + std::to_string(sec), c);
  }
}

void PrintLatency(const DemoResult& r, const std::vector<std::string>& names, std::FILE* out) {
  if (r.latency_ms.empty()) return;
  std::fprintf(out, "\nentry point latency, measured (ms, client location -> region):\n");
  std::fprintf(out, "%-28s", "clients near");
  for (const auto& n : names)
    std::fprintf(out, " %14s", n.c_str());
  std::fprintf(out, "\n");
  for (const auto& [loc, m] : r.latency_ms) {
    std::fprintf(out, "%-28s", loc.c_str());
    for (const auto& n : names) {
      auto it = m.find(n);
      std::fprintf(out, " %14.1f", it == m.end() ? -1.0 : it->second);
    }
    std::fprintf(out, "\n");
  }
}

void PrintDataCheck(const DemoResult& r, std::FILE* out) {
  const auto& d = r.data;
  if (!d.done) return;
  std::fprintf(out,
               "\ndata check (%s): snapshot %s of %s taken over by %s's sidecar (it measured "
               "%.1f ms)\n"
               "  immutable files %llu in place / %llu in the snapshot, bytes %llu / %llu\n"
               "  brain rows %llu counted in the fragments on disk / %llu in its manifest / "
               "%llu committed by %s at v%llu (its last write: v%llu)\n",
               d.ok ? "ok" : "FAILED", d.snapshot_id.c_str(), r.failing.c_str(), r.passive.c_str(),
               d.restore_ms, static_cast<unsigned long long>(d.restored_files),
               static_cast<unsigned long long>(d.record_files),
               static_cast<unsigned long long>(d.restored_bytes),
               static_cast<unsigned long long>(d.record_bytes),
               static_cast<unsigned long long>(d.restored_rows),
               static_cast<unsigned long long>(d.restored_manifest_rows),
               static_cast<unsigned long long>(d.expected_rows), r.failing.c_str(),
               static_cast<unsigned long long>(d.captured_version),
               static_cast<unsigned long long>(d.failed_app_version));
}

std::string DivergentPreservedText(const DemoResult& r) {
  const json& p = r.divergent_preserved;
  if (!p.is_object()) return "not observed";
  return p["files"].dump() + " files, " + p["bytes"].dump() + " bytes" +
         (p.value("path", "").empty() ? std::string() : " in " + p.value("path", ""));
}

void PrintHandoff(const DemoResult& r, std::FILE* out) {
  std::fprintf(out, "\nhandoff (observed; the sidecars move the data, the demo only checks it):\n");
  std::fprintf(out, "  takeoverMs (promotion seen -> %s position dataReady)   %s\n",
               r.passive.c_str(), ObservedText(r.takeover_ms, " ms").c_str());
  std::fprintf(out, "  failbackPauseMs (%s /ready 503 -> %s /ready 200)   %s\n", r.passive.c_str(),
               r.failing.c_str(), ObservedText(r.failback_pause_ms, " ms").c_str());
  std::fprintf(out, "  lostAtFailback (rows %s committed, missing in %s)   %s", r.passive.c_str(),
               r.failing.c_str(), ObservedText(r.lost_at_failback, "").c_str());
  if (r.failback_check.is_object()) {
    std::fprintf(out, " of %s rows in %s writes", r.failback_check["promotedRows"].dump().c_str(),
                 r.failback_check["promotedWrites"].dump().c_str());
  }
  std::fprintf(out, "\n  divergentPreserved (%s position)   %s\n", r.failing.c_str(),
               DivergentPreservedText(r).c_str());
  std::fprintf(out, "  lostAtFailover (%s writes missing in %s after takeover)   %s\n",
               r.failing.c_str(), r.passive.c_str(), LostAtFailoverText(r).c_str());
  std::fprintf(out, "  fencedPublishes (publishes refused to a fenced writer)   %s\n",
               FencedText(r).c_str());
  std::fprintf(out, "  single writer per lineage (remote history + latest samples)   %s\n",
               LineageCheckText(r).c_str());
}

void PrintWriterChanges(const DemoResult& r, std::FILE* out) {
  std::fprintf(out, "  writerChanges (sidecar \"writer\" log lines):%s\n",
               r.writer_changes.empty() ? " not observed" : "");
  for (const auto& c : r.writer_changes) {
    std::fprintf(out, "    %s  %-15s writes %-15s epoch %s%s\n", c.value("ts", "").c_str(),
                 c.value("region", "").c_str(), c.value("lineage", "").c_str(),
                 c["epoch"].dump().c_str(), c.value("planned", false) ? " (planned)" : "");
  }
}

void PrintMcpReport(const DemoResult& r, std::FILE* out) {
  if (!r.mcp_report.is_object()) return;
  const json& ds = r.mcp_report["durationsSeconds"];
  std::fprintf(out, "\nMCP drill report (get_drill_report %s): phase %s",
               r.mcp_report.value("drillId", std::string()).c_str(),
               r.mcp_report.value("phase", std::string()).c_str());
  for (const auto& [k, v] : ds.items()) {
    if (v.is_number()) std::fprintf(out, ", %s %.3f s", k.c_str(), v.get<double>());
  }
  std::fprintf(out, "\n");
}

}  // namespace

void PrintText(const DemoResult& r, std::FILE* out) {
  const std::vector<std::string> names = RegionNames(r);
  PrintTimeline(r, out);
  PrintDurations(r, out);
  PrintClientCounts(r, names, out);
  PrintLatency(r, names, out);
  PrintDataCheck(r, out);
  PrintHandoff(r, out);
  PrintWriterChanges(r, out);
  PrintMcpReport(r, out);
}

namespace {

const char* RegionColor(const std::vector<std::string>& names, const std::string& n) {
  static const char* const palette[] = {"#0969da", "#1a7f37", "#8250df",
                                        "#bc4c00", "#1b7c83", "#9a6700"};
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == n) return palette[i % 6];
  return "#57606a";
}

// The SVG timeline's layout: seconds [s_min, s_max] across, requests per second [0, peak] up the
// chart, one labelled lane per step below it.
struct Chart {
  static constexpr double W = 1000, left = 50, right = 20, top = 20, chart_h = 200;
  static constexpr double lanes_top = top + chart_h + 30, lane_h = 18;
  long long s_min = 0, s_max = 1;
  uint64_t peak = 1;
  double H = 0;
  double X(double sec) const {
    return left + (sec - static_cast<double>(s_min)) / static_cast<double>(s_max - s_min) *
                      (W - left - right);
  }
};

Chart ChartOf(const DemoResult& r, const std::map<long long, Counts>& per_sec) {
  Chart g;
  for (const auto& [s, c] : per_sec) {
    g.s_min = std::min(g.s_min, s);
    g.s_max = std::max(g.s_max, s + 1);
  }
  for (const auto& st : r.steps)
    g.s_max = std::max<long long>(g.s_max, std::ceil(st.at_ms / 1000));
  for (const auto& [s, c] : per_sec)
    g.peak = std::max(g.peak, c.total());
  g.H = Chart::lanes_top + Chart::lane_h * static_cast<double>(r.steps.size()) + 30;
  return g;
}

// Per-second stacked bars: served per region, failed on top in red.
std::string SvgBars(const Chart& g, const std::map<long long, Counts>& per_sec,
                    const std::vector<std::string>& names) {
  std::string svg;
  const double bw =
      (Chart::W - Chart::left - Chart::right) / static_cast<double>(g.s_max - g.s_min) * 0.8;
  for (const auto& [sec, c] : per_sec) {
    double y = Chart::top + Chart::chart_h;
    auto seg = [&](uint64_t n, const std::string& fill, const std::string& label) {
      if (n == 0) return;
      double h = Chart::chart_h * static_cast<double>(n) / static_cast<double>(g.peak);
      y -= h;
      svg += "<rect x=\"" + Fmt("%.1f", g.X(static_cast<double>(sec))) + "\" y=\"" +
             Fmt("%.1f", y) + "\" width=\"" + Fmt("%.1f", bw) + "\" height=\"" + Fmt("%.1f", h) +
             "\" fill=\"" + fill + "\"><title>" +
             HtmlEscape("t+" + std::to_string(sec) + " s: " + std::to_string(n) + " " + label) +
             "</title></rect>\n";
    };
    for (const auto& n : names) {
      auto it = c.served.find(n);
      seg(it == c.served.end() ? 0 : it->second, RegionColor(names, n), "served by " + n);
    }
    seg(c.failed, "#cf222e", "failed");
  }
  return svg;
}

std::string SvgAxes(const Chart& g) {
  std::string svg;
  for (long long s = g.s_min; s <= g.s_max; ++s) {
    svg += "<text x=\"" + Fmt("%.1f", g.X(static_cast<double>(s))) + "\" y=\"" +
           Fmt("%.1f", Chart::top + Chart::chart_h + 14) +
           "\" font-size=\"10\" text-anchor=\"middle\" fill=\"#57606a\">" + std::to_string(s) +
           "</text>\n";
  }
  svg += "<text x=\"4\" y=\"" + Fmt("%.0f", Chart::top + 10) +
         "\" font-size=\"10\" fill=\"#57606a\">req/s</text>\n";
  svg += "<text x=\"4\" y=\"" + Fmt("%.0f", Chart::top + Chart::chart_h) +
         "\" font-size=\"10\" fill=\"#57606a\">" + std::to_string(0) + "</text><text x=\"4\" y=\"" +
         Fmt("%.0f", Chart::top + 20) + "\" font-size=\"10\" fill=\"#57606a\">" +
         std::to_string(g.peak) + "</text>\n";
  return svg;
}

// Steps: a vertical line on the chart and one labelled lane each.
std::string SvgSteps(const Chart& g, const std::vector<Step>& steps) {
  std::string svg;
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& st = steps[i];
    const double x = g.X(st.at_ms / 1000.0);
    const double y = Chart::lanes_top + Chart::lane_h * static_cast<double>(i);
    svg += "<line x1=\"" + Fmt("%.1f", x) + "\" x2=\"" + Fmt("%.1f", x) + "\" y1=\"" +
           Fmt("%.1f", Chart::top) + "\" y2=\"" + Fmt("%.1f", y + 6) +
           "\" stroke=\"#24292f\" stroke-dasharray=\"2,3\" stroke-width=\"0.7\"/>\n";
    svg += "<circle cx=\"" + Fmt("%.1f", x) + "\" cy=\"" + Fmt("%.1f", y + 6) +
           "\" r=\"4\" fill=\"#24292f\"/>\n";
    const bool right_side = x < Chart::W * 0.6;
    svg += "<text x=\"" + Fmt("%.1f", right_side ? x + 8 : x - 8) + "\" y=\"" +
           Fmt("%.1f", y + 10) + "\" font-size=\"11\" text-anchor=\"" +
           (right_side ? "start" : "end") + "\">" +
           HtmlEscape(st.name + " (t+" + Fmt("%.0f", st.at_ms) + " ms)") + "</text>\n";
  }
  return svg;
}

std::string SvgTimeline(const DemoResult& r, const std::vector<std::string>& names) {
  const auto per_sec = PerSecond(r);
  const Chart g = ChartOf(r, per_sec);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + Fmt("%.0f", Chart::W) + " " +
         Fmt("%.0f", g.H) + "\" width=\"100%\">\n" + SvgBars(g, per_sec, names) + SvgAxes(g) +
         SvgSteps(g, r.steps) + "</svg>\n";
}

const char* const kHtmlHead =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>agency-ha demo "
    "drill report</title>\n<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:"
    "1100px;color:#1f2328}table{border-collapse:collapse;margin:8px 0 20px}td,th{border-bottom:"
    "1px solid #d0d7de;padding:4px 10px;text-align:left}th{background:#f6f8fa}td.n{text-align:"
    "right;font-variant-numeric:tabular-nums}.ok{color:#1a7f37;font-weight:600}.bad{color:"
    "#cf222e;font-weight:600}.sw{display:inline-block;width:12px;height:10px;margin:0 4px 0 "
    "12px}</style></head><body>\n";

// The title, the drill's summary and the timeline with its legend.
std::string HtmlIntro(const DemoResult& r, const std::vector<std::string>& names) {
  std::string h =
      "<h1>agency-ha demo: regional failover drill</h1>\n<p>Drill: <b>" + HtmlEscape(r.failing) +
      "</b> down for " + std::to_string(r.drill_seconds) +
      (r.fault_type == "health"
           ? std::string(" s (simulate_regional_outage via MCP); ")
           : " s (--fault " + HtmlEscape(r.fault_type) + ", injected and reverted by the demo); ") +
      "passive region <b>" + HtmlEscape(r.passive) + "</b>; snapshots on " +
      HtmlEscape(r.remote_desc) + ". Result: " +
      (r.failed_step.empty() ? "<span class=\"ok\">every step happened</span>"
                             : "<span class=\"bad\">failed at step " + HtmlEscape(r.failed_step) +
                                   ": " + HtmlEscape(r.failure) + "</span>") +
      "</p>\n<h2>Timeline</h2>\n<p>Client requests per second through the entry point "
      "(stacked: served per region; failed in red); x axis in seconds since the drill "
      "started.";
  for (const auto& n : names) {
    h += "<span class=\"sw\" style=\"background:" + std::string(RegionColor(names, n)) +
         "\"></span>" + HtmlEscape(n);
  }
  h +=
      "<span class=\"sw\" style=\"background:#cf222e\"></span>failed</p>\n" + SvgTimeline(r, names);
  return h;
}

std::string HtmlSteps(const DemoResult& r) {
  std::string h =
      "<h2>Steps (measured)</h2>\n<table><tr><th>step</th><th>t+ms</th><th>detail</th></tr>\n";
  for (const auto& s : r.steps) {
    h += "<tr><td>" + HtmlEscape(s.name) + "</td><td class=\"n\">" + Fmt("%.1f", s.at_ms) +
         "</td><td>" + HtmlEscape(s.detail) + "</td></tr>\n";
  }
  return h;
}

std::string HtmlPhases(const DemoResult& r, const std::vector<std::string>& names) {
  std::string h = "</table>\n<h2>Client requests per phase</h2>\n<table><tr><th>phase</th>";
  for (const auto& n : names)
    h += "<th>" + HtmlEscape(n) + "</th>";
  h += "<th>failed</th><th>total</th></tr>\n";
  for (const auto& p : r.phases) {
    Counts c = InWindow(r, p.from_ms, p.to_ms);
    h += "<tr><td>" + HtmlEscape(p.name) + "</td>";
    for (const auto& n : names) {
      auto it = c.served.find(n);
      h += "<td class=\"n\">" + std::to_string(it == c.served.end() ? 0 : it->second) + "</td>";
    }
    h += "<td class=\"n\">" + std::to_string(c.failed) + "</td><td class=\"n\">" +
         std::to_string(c.total()) + "</td></tr>\n";
  }
  return h;
}

std::string HtmlDataCheck(const DemoResult& r) {
  const auto& d = r.data;
  std::string h =
      "</table>\n<h2>Data check</h2>\n<p class=\"" + std::string(d.ok ? "ok" : "bad") + "\">" +
      (d.ok ? "in place = last snapshot" : "mismatch") + "</p>\n<table>" +
      "<tr><th></th><th>in place in " + HtmlEscape(r.passive) + "</th><th>snapshot " +
      HtmlEscape(d.snapshot_id) + " of " + HtmlEscape(r.failing) + "</th></tr>" +
      "<tr><td>immutable files</td><td class=\"n\">" + std::to_string(d.restored_files) +
      "</td><td class=\"n\">" + std::to_string(d.record_files) + "</td></tr>" +
      "<tr><td>bytes</td><td class=\"n\">" + std::to_string(d.restored_bytes) +
      "</td><td class=\"n\">" + std::to_string(d.record_bytes) + "</td></tr>" +
      "<tr><td>brain rows (v" + std::to_string(d.captured_version) + ")</td><td class=\"n\">" +
      std::to_string(d.restored_rows) + "</td><td class=\"n\">" + std::to_string(d.expected_rows) +
      "</td></tr></table>\n";
  h += "<p>" + HtmlEscape(r.passive) + "'s sidecar measured its takeover at " +
       Fmt("%.1f", d.restore_ms) + " ms.</p>\n";
  return h;
}

std::string HtmlHandoff(const DemoResult& r) {
  std::string h =
      "<h2>Handoff (observed)</h2>\n<table><tr><th>field</th><th>value</th><th>measured "
      "as</th></tr>\n";
  auto row = [&](const char* field, const std::string& value, const std::string& how) {
    h += "<tr><td>" + std::string(field) + "</td><td class=\"n\">" + HtmlEscape(value) +
         "</td><td>" + HtmlEscape(how) + "</td></tr>\n";
  };
  row("takeoverMs", ObservedText(r.takeover_ms, " ms"),
      "promotion seen in the state -> " + r.passive + " position dataReady");
  row("failbackPauseMs", ObservedText(r.failback_pause_ms, " ms"),
      r.passive + " gate /ready 503 -> " + r.failing + " gate /ready 200");
  row("lostAtFailback", ObservedText(r.lost_at_failback, " rows"),
      "rows " + r.passive + "'s app committed while promoted, missing in " + r.failing +
          " after failback");
  row("divergentPreserved",
      r.divergent_preserved.is_object() ? r.divergent_preserved.dump() : "not observed",
      r.failing + "'s position file");
  row("lostAtFailover", LostAtFailoverText(r),
      r.failing + "'s acknowledged writes missing in " + r.passive +
          "'s volume after its takeover; age relative to the outage start");
  row("fencedPublishes", FencedText(r), "publishes a remote refused as fenced (sidecar logs)");
  row("twoWriterViolations", LineageCheckText(r),
      "lineage history on the remote (one writer per epoch, epochs never go down) and latest "
      "sampled during the drill");
  return h;
}

std::string HtmlWriterChanges(const DemoResult& r) {
  std::string h =
      "</table>\n<h3>writerChanges</h3>\n<table><tr><th>ts</th><th>sidecar</th><th>lineage</th>"
      "<th>epoch</th><th>from snapshot</th><th>planned</th><th>takeoverMs</th></tr>\n";
  for (const auto& c : r.writer_changes) {
    h += "<tr><td>" + HtmlEscape(c.value("ts", "")) + "</td><td>" +
         HtmlEscape(c.value("region", "")) + "</td><td>" + HtmlEscape(c.value("lineage", "")) +
         "</td><td class=\"n\">" + HtmlEscape(c["epoch"].dump()) + "</td><td>" +
         HtmlEscape(c.value("from", "")) + "</td><td>" +
         (c.value("planned", false) ? "yes" : "no") + "</td><td class=\"n\">" +
         HtmlEscape(c["takeoverMs"].dump()) + "</td></tr>\n";
  }
  if (r.writer_changes.empty()) h += "<tr><td colspan=\"7\">not observed</td></tr>\n";
  return h;
}

}  // namespace

std::string RenderHtml(const DemoResult& r) {
  const std::vector<std::string> names = RegionNames(r);
  std::string h = kHtmlHead;
  h += HtmlIntro(r, names);
  h += HtmlSteps(r);
  h += HtmlPhases(r, names);
  h += HtmlDataCheck(r);
  h += HtmlHandoff(r);
  h += HtmlWriterChanges(r);
  h += "</table>\n</body></html>\n";
  return h;
}

}  // namespace aha::demo
