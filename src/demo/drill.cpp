#include "demo/drill.h"

#include <httplib.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>

#include "failover/state.h"
#include "replication/restore.h"
#include "replication/snapshot.h"

namespace aha::demo {

namespace fs = std::filesystem;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

double MsBetween(Mono a, Mono b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::vector<std::string> ListKey(const state::KeyValues& kv, const char* key) {
  auto it = kv.find(key);
  if (it == kv.end()) return {};
  auto l = failover::ParseRegionList(it->second);
  return l ? *l : std::vector<std::string>{};
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

int HttpStatus(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(std::chrono::milliseconds(500));
  c.set_read_timeout(std::chrono::milliseconds(1000));
  auto r = c.Get(path);
  return r ? r->status : 0;
}

}  // namespace

Status RestoreForPromotion(World& w, const std::string& failed_region) {
  const Mono start = SteadyClock::now();
  {
    std::lock_guard l(w.mu);
    w.restore_started = start;
    w.restore_done.reset();
    w.data = DataCheck{};
  }
  auto finish = [&](DataCheck dc) {
    std::lock_guard l(w.mu);
    dc.done = true;
    w.data = std::move(dc);
    w.restore_done = SteadyClock::now();
  };
  if (w.stop_passive_sidecar) w.stop_passive_sidecar();
  const RegionRuntime* passive = nullptr;
  for (const auto& r : w.regions)
    if (r.name == w.passive) passive = &r;
  DataCheck dc;
  replication::RestoreOptions ro;
  ro.region = failed_region;
  ro.target = passive->agent_dir;
  ro.snapshot = "latest";
  ro.force = true;
  auto rep = replication::Restore({w.remote}, ro);
  dc.restore_ms = MsBetween(start, SteadyClock::now());
  if (!rep) {
    dc.error = "restore of " + failed_region + "'s latest snapshot: " + rep.message();
    finish(dc);
    return Err(dc.error);
  }
  dc.snapshot_id = rep->id;

  // The record, as published by the failed region's sidecar.
  auto text = w.remote->Get(replication::RecordKey(failed_region, rep->id));
  auto rec = text ? replication::RecordFromJson(*text) : Result<replication::Record>(text.error());
  if (!rec) {
    dc.error = "snapshot record " + rep->id + ": " + rec.message();
    finish(dc);
    return Status::Ok();  // restored; the data check fails
  }
  dc.record_files = rec->files.size();
  dc.record_bytes = rec->total_bytes();
  std::map<std::string, uint64_t> want;
  for (const auto& f : rec->files)
    want[f.path] = f.size;
  std::map<std::string, uint64_t> have;
  std::error_code ec;
  const fs::path root = passive->agent_dir;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string rel = fs::relative(it->path(), root).generic_string();
    if (rel == ".agency-ha" && it->is_directory()) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) have[rel] = it->file_size();
  }
  dc.restored_files = have.size();
  for (const auto& [p, s] : have)
    dc.restored_bytes += s;
  for (const auto& [p, s] : want) {
    auto h = have.find(p);
    if (h == have.end()) {
      dc.mismatches.push_back("missing " + p);
    } else if (h->second != s) {
      dc.mismatches.push_back("size of " + p);
    }
  }
  for (const auto& [p, s] : have)
    if (!want.count(p)) dc.mismatches.push_back("extra " + p);

  // Rows: the brain version the snapshot captured, the rows the failed app had committed at that
  // version (its own bookkeeping), and the rows counted in the restored fragments.
  for (const auto& d : rec->datasets) {
    if (d.path != "brain/memory.lance") continue;
    for (const auto& v : d.versions) {
      try {
        dc.captured_version = std::max<uint64_t>(dc.captured_version, std::stoull(v));
      } catch (...) {
        dc.mismatches.push_back("manifest name " + v);
      }
    }
  }
  for (auto* app : w.apps) {
    if (app->region() == failed_region) {
      dc.expected_rows = app->RowsAtVersion(dc.captured_version);
      dc.failed_app_version = app->version();
    }
  }
  auto brain = CountBrain(passive->agent_dir);
  if (!brain) {
    dc.mismatches.push_back(brain.message());
  } else {
    dc.restored_rows = brain->counted_rows;
    dc.restored_manifest_rows = brain->manifest_rows;
    if (brain->version != dc.captured_version) {
      dc.mismatches.push_back("restored brain version " + std::to_string(brain->version) +
                              " != captured " + std::to_string(dc.captured_version));
    }
  }
  dc.ok = dc.mismatches.empty() && dc.captured_version > 0 && dc.expected_rows > 0 &&
          dc.restored_rows == dc.expected_rows && dc.restored_manifest_rows == dc.expected_rows &&
          dc.restored_files == dc.record_files && dc.restored_bytes == dc.record_bytes;
  finish(dc);
  if (w.start_passive_sidecar) {
    if (Status s = w.start_passive_sidecar(); !s) return s;
  }
  return Status::Ok();
}

void FillPhases(DemoResult* r) {
  double end = 0;
  for (const auto& o : r->outcomes)
    end = std::max(end, MsBetween(r->t0, o.at) + 1);
  auto at = [&](const std::string& name) {
    for (const auto& s : r->steps)
      if (s.name == name) return s.at_ms;
    return end;
  };
  const double failed = at(r->failing + " in failedRegions");
  const double recovered = at(r->failing + " recovered (not in failedRegions)");
  const double demoted = at(r->passive + " demoted (failback)");
  const bool started = r->t0 != Mono{};
  r->phases = {{"before the drill", MsBetween(r->t0, r->load_start), started ? 0.0 : end}};
  if (!started) return;
  r->phases.push_back({"outage, not yet detected", 0, failed});
  r->phases.push_back({"failed over", failed, recovered});
  r->phases.push_back({"recovered, before failback", recovered, demoted});
  r->phases.push_back({"after failback", demoted, end});
}

int RunDrill(World& w, McpClient& mcp, DemoResult* out) {
  out->regions = w.regions;
  out->failing = w.failing;
  out->passive = w.passive;
  out->remote_desc = w.remote_desc;
  out->status_url = w.status_url;
  out->drill_seconds = w.drill_seconds;
  out->interval_seconds = w.interval_seconds;
  out->failback_seconds = w.failback_seconds;
  out->locations = w.load->locations();
  std::vector<std::string> actives;
  for (const auto& r : w.regions)
    if (r.active) actives.push_back(r.name);
  std::sort(actives.begin(), actives.end());

  Mono t0 = SteadyClock::now();
  bool drill_started = false;
  std::string last_error;  // what the last poll of a step saw, for its failure message
  auto fail = [&](const std::string& step, const std::string& why) {
    out->failed_step = step;
    if (w.stop->stopped()) {
      out->failure = "interrupted";
      std::fprintf(stderr, "agency-ha demo: interrupted during step \"%s\"\n", step.c_str());
      return 130;
    }
    out->failure = why + (last_error.empty() ? "" : " (last check: " + last_error + ")");
    std::fprintf(stderr, "agency-ha demo: step \"%s\" failed: %s\n", step.c_str(),
                 out->failure.c_str());
    return 1;
  };
  // Waits until pred() returns a detail (nullopt: not yet). Fails on timeout, Ctrl-C or a child
  // that died.
  auto wait = [&](const std::string& step, double seconds,
                  const std::function<std::optional<std::string>()>& pred, bool record = true,
                  std::chrono::milliseconds poll = std::chrono::milliseconds(2)) -> int {
    const auto deadline =
        SteadyClock::now() + std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    for (;;) {
      if (auto d = pred()) {
        if (!d->empty() && (*d)[0] == '\x01') return fail(step, d->substr(1));
        if (record) out->steps.push_back(Step{step, MsBetween(t0, SteadyClock::now()), *d});
        return 0;
      }
      if (Child* dead = w.children->FirstDead()) {
        return fail(step, dead->name() + " exited (" + dead->ExitText() + "); its log " +
                              dead->log_path() + " ends with:\n" + dead->LogTail());
      }
      if (SteadyClock::now() > deadline) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "did not happen within %.0f s", seconds);
        return fail(step, buf);
      }
      if (w.stop->WaitFor(drill_started ? poll : std::chrono::milliseconds(20))) {
        return fail(step, "interrupted");
      }
    }
  };
  auto state_now = [&] { return w.state->Get().kv; };
  const double round = w.interval_seconds;
  const double detect_budget = round * 12 + 20;  // generous: ASan builds on loaded CI machines

  // --- Start-up: every component up and the baseline reached. ---
  if (int rc = wait(
          "controller ready (/readyz)", 60,
          [&]() -> std::optional<std::string> {
            if (HttpStatus(w.controller_port, "/readyz") == 200) return "";
            return std::nullopt;
          },
          false)) {
    return rc;
  }
  if (int rc = wait(
          "baseline: " + Join(actives) + " serving, none failed", detect_budget,
          [&]() -> std::optional<std::string> {
            auto kv = state_now();
            if (ListKey(kv, failover::kServingRegionsKey) == actives &&
                ListKey(kv, failover::kFailedRegionsKey).empty() &&
                kv.count(failover::kFailedRegionsKey)) {
              return "";
            }
            return std::nullopt;
          },
          false)) {
    return rc;
  }
  for (const auto& region : w.regions) {
    if (!region.active) continue;
    const std::string& r = region.name;
    if (int rc = wait(
            "first snapshot of " + r + " shipped to " + w.remote_desc, 45,
            [&]() -> std::optional<std::string> {
              auto latest = w.remote->Get(replication::LatestKey(r));
              if (latest && replication::LatestFromJson(*latest)) return "";
              last_error = latest                 ? "latest is malformed"
                           : latest.code() == 404 ? "no snapshot yet"
                                                  : latest.message();
              return std::nullopt;
            },
            false)) {
      return rc;
    }
  }
  last_error.clear();
  if (int rc = wait(
          "entry point routing to " + Join(actives), 60,
          [&]() -> std::optional<std::string> {
            if (w.entry->ReadySet() != actives) return std::nullopt;
            for (const auto& loc : w.load->locations())
              for (const auto& r : w.regions)
                if (w.entry->LatencyMs(loc, r.name) < 0) return std::nullopt;
            return "";
          },
          false)) {
    return rc;
  }
  w.load->Start();
  out->load_start = SteadyClock::now();
  if (w.stop->WaitFor(std::chrono::duration<double>(w.baseline_seconds))) {
    return fail("baseline traffic", "interrupted");
  }

  // --- The drill. ---
  t0 = SteadyClock::now();
  out->t0 = t0;
  drill_started = true;
  auto started = mcp.CallTool("simulate_regional_outage",
                              {{"region", w.failing}, {"duration_seconds", w.drill_seconds}},
                              std::chrono::seconds(30));
  const std::string s_drill = "drill started via MCP: simulate_regional_outage " + w.failing;
  if (!started) return fail(s_drill, started.message());
  const json sc = (*started).value("structuredContent", json::object());
  out->steps.push_back(Step{s_drill, MsBetween(t0, SteadyClock::now()),
                            "drill " + sc.value("drillId", std::string("?")) + ", " +
                                std::to_string(w.drill_seconds) + " s"});
  const std::string drill_id = sc.value("drillId", std::string());

  if (int rc = wait("entry point stops routing to " + w.failing, detect_budget,
                    [&]() -> std::optional<std::string> {
                      auto rs = w.entry->ReadySet();
                      if (failover::ContainsRegion(rs, w.failing)) return std::nullopt;
                      return "gate /ready 503; ready: " + Join(rs);
                    })) {
    return rc;
  }
  if (int rc =
          wait(w.failing + " in failedRegions", detect_budget, [&]() -> std::optional<std::string> {
            auto kv = state_now();
            auto f = ListKey(kv, failover::kFailedRegionsKey);
            if (!failover::ContainsRegion(f, w.failing)) return std::nullopt;
            return "failedRegions=" + Join(f);
          })) {
    return rc;
  }
  if (int rc = wait(w.passive + " promoted (servingRegions)", detect_budget,
                    [&]() -> std::optional<std::string> {
                      auto s = ListKey(state_now(), failover::kServingRegionsKey);
                      if (!failover::ContainsRegion(s, w.passive)) return std::nullopt;
                      return "servingRegions=" + Join(s);
                    })) {
    return rc;
  }
  if (int rc = wait(w.passive + " restored " + w.failing + "'s latest snapshot", 60,
                    [&]() -> std::optional<std::string> {
                      std::lock_guard l(w.mu);
                      if (!w.data.done) return std::nullopt;
                      if (!w.data.error.empty()) return "\x01" + w.data.error;
                      char buf[160];
                      std::snprintf(buf, sizeof buf, "snapshot %s, %llu files, %.1f ms",
                                    w.data.snapshot_id.c_str(),
                                    static_cast<unsigned long long>(w.data.restored_files),
                                    w.data.restore_ms);
                      return std::string(buf);
                    })) {
    return rc;
  }
  {
    std::lock_guard l(w.mu);
    out->data = w.data;
    const std::string s_check = "data check: restored = " + w.failing + "'s last snapshot";
    if (!w.data.ok) {
      std::string why = "files " + std::to_string(w.data.restored_files) + "/" +
                        std::to_string(w.data.record_files) + ", rows " +
                        std::to_string(w.data.restored_rows) + "/" +
                        std::to_string(w.data.expected_rows);
      for (const auto& m : w.data.mismatches)
        why += "; " + m;
      if (!w.data.error.empty()) why += "; " + w.data.error;
      return fail(s_check, why);
    }
    out->steps.push_back(Step{s_check, MsBetween(t0, *w.restore_done),
                              std::to_string(w.data.restored_files) + " files, " +
                                  std::to_string(w.data.restored_rows) + " rows (brain v" +
                                  std::to_string(w.data.captured_version) + ")"});
  }
  if (int rc =
          wait(w.passive + " serving clients", detect_budget, [&]() -> std::optional<std::string> {
            auto at = w.load->FirstServedBy(w.passive, t0);
            if (!at) return std::nullopt;
            return "first request answered at t+" +
                   std::to_string(static_cast<long long>(MsBetween(t0, *at))) + " ms";
          })) {
    return rc;
  }
  int failing_gate = 0;
  for (const auto& r : w.regions)
    if (r.name == w.failing) failing_gate = r.gate_port;
  if (int rc = wait(
          "outage expired: " + w.failing + " gate /health 200", w.drill_seconds + 30,
          [&]() -> std::optional<std::string> {
            if (HttpStatus(failing_gate, "/health") != 200) return std::nullopt;
            return "drill over after " + std::to_string(w.drill_seconds) + " s";
          },
          true, std::chrono::milliseconds(5))) {
    return rc;
  }
  double t_recovered = 0;
  if (int rc = wait(w.failing + " recovered (not in failedRegions)", detect_budget,
                    [&]() -> std::optional<std::string> {
                      auto kv = state_now();
                      auto f = ListKey(kv, failover::kFailedRegionsKey);
                      auto s = ListKey(kv, failover::kServingRegionsKey);
                      if (failover::ContainsRegion(f, w.failing) ||
                          !failover::ContainsRegion(s, w.failing)) {
                        return std::nullopt;
                      }
                      return "servingRegions=" + Join(s);
                    })) {
    return rc;
  }
  t_recovered = out->steps.back().at_ms;
  const Mono recovered_at =
      t0 + std::chrono::microseconds(static_cast<long long>(t_recovered * 1000));
  if (int rc = wait(w.failing + " serving clients again", detect_budget,
                    [&]() -> std::optional<std::string> {
                      auto at = w.load->FirstServedBy(w.failing, recovered_at);
                      if (!at) return std::nullopt;
                      return "first request answered at t+" +
                             std::to_string(static_cast<long long>(MsBetween(t0, *at))) + " ms";
                    })) {
    return rc;
  }
  if (int rc = wait(w.passive + " demoted (failback)", detect_budget + w.failback_seconds,
                    [&]() -> std::optional<std::string> {
                      auto kv = state_now();
                      auto s = ListKey(kv, failover::kServingRegionsKey);
                      if (failover::ContainsRegion(s, w.passive)) return std::nullopt;
                      // A demotion for another reason (the passive region failed) is no failback.
                      std::string reason = "?";
                      if (auto it = kv.find(failover::kStateJsonKey); it != kv.end()) {
                        json j = json::parse(it->second, nullptr, false);
                        if (j.is_object() && j["transitions"].is_array()) {
                          for (const auto& t : j["transitions"]) {
                            if (t.value("type", "") == "RegionDemoted" &&
                                t.value("region", "") == w.passive) {
                              reason = t.value("reason", "?");
                            }
                          }
                        }
                      }
                      if (reason.rfind("failback", 0) != 0) {
                        return "\x01" + w.passive + " was demoted, but not by failback: " + reason;
                      }
                      return "servingRegions=" + Join(s) + " (" + reason + ")";
                    })) {
    return rc;
  }
  if (int rc = wait(
          w.passive + " sidecar shipped its own snapshot", 60,
          [&]() -> std::optional<std::string> {
            auto l = w.remote->Get(replication::LatestKey(w.passive));
            if (!l) return std::nullopt;
            auto p = replication::LatestFromJson(*l);
            if (!p) return std::nullopt;
            return "latest " + p->id;
          },
          true, std::chrono::milliseconds(50))) {
    return rc;
  }
  if (int rc = wait(
          "drill report complete (get_drill_report)", 30,
          [&]() -> std::optional<std::string> {
            auto r = mcp.CallTool("get_drill_report", {{"drill_id", drill_id}},
                                  std::chrono::seconds(10));
            if (!r) return std::nullopt;
            json rep = (*r).value("structuredContent", json::object());
            if (!rep.value("complete", false)) return std::nullopt;
            out->mcp_report = rep;
            return "phase " + rep.value("phase", std::string());
          },
          true, std::chrono::milliseconds(100))) {
    return rc;
  }
  w.stop->WaitFor(std::chrono::duration<double>(w.tail_seconds));
  return 0;
}

}  // namespace aha::demo
