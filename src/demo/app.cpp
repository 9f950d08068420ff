#include "demo/app.h"

#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "failover/failover_state.h"
#include "failover/outages.h"

namespace aha::demo {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kDataset = "brain/memory.lance";

Status WriteAtomic(const fs::path& path, const std::string& data) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << data;
    out.flush();
    if (!out) return Err(tmp.string() + ": write failed");
  }
  fs::rename(tmp, path, ec);
  if (ec) return Err(path.string() + ": " + ec.message());
  return Status::Ok();
}

Result<std::string> ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Err(p.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Manifest {
  uint64_t version = 0, rows = 0;
  std::vector<std::pair<std::string, uint64_t>> fragments;
};

// The newest manifest of the dataset (version 0 when there is none), or manifest `want`.
Result<Manifest> LoadManifest(const std::string& agent_dir, uint64_t want = 0) {
  Manifest m;
  const fs::path versions = fs::path(agent_dir) / kDataset / "_versions";
  std::error_code ec;
  if (want == 0 && !fs::exists(versions, ec)) return m;
  uint64_t newest = want;
  for (const auto& e : fs::directory_iterator(versions, ec)) {
    if (want != 0) break;
    const std::string n = e.path().filename().string();
    if (n.empty() || n[0] == '.' || !n.ends_with(".manifest")) continue;
    try {
      newest = std::max<uint64_t>(newest, std::stoull(n.substr(0, n.size() - 9)));
    } catch (...) {
      return Err(e.path().string() + ": not a version manifest name");
    }
  }
  if (ec) return Err(versions.string() + ": " + ec.message());
  if (newest == 0) return m;
  auto text = ReadAll(versions / (std::to_string(newest) + ".manifest"));
  if (!text) return text.error();
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("fragments") || !j["fragments"].is_array()) {
    return Err("manifest " + std::to_string(newest) + ": malformed");
  }
  m.version = newest;
  m.rows = j.value("rows", uint64_t{0});
  for (const auto& f : j["fragments"]) {
    m.fragments.emplace_back(f.value("file", ""), f.value("rows", uint64_t{0}));
  }
  return m;
}

}  // namespace

Result<BrainCount> CountBrain(const std::string& agent_dir, uint64_t version) {
  auto m = LoadManifest(agent_dir, version);
  if (!m) return m.error();
  BrainCount c;
  c.version = m->version;
  c.manifest_rows = m->rows;
  c.fragments = m->fragments.size();
  for (const auto& [file, rows] : m->fragments) {
    auto text = ReadAll(fs::path(agent_dir) / kDataset / "data" / file);
    if (!text)
      return Err("fragment " + file + " listed by manifest " + std::to_string(m->version) +
                 " is missing");
    uint64_t n = 0;
    for (char ch : *text)
      n += ch == '\n';
    c.counted_rows += n;
  }
  return c;
}

SimulatedApp::SimulatedApp(AppOptions opts, state::StateSource& state)
    : opts_(std::move(opts)), state_(state) {}

SimulatedApp::~SimulatedApp() {
  Stop();
}

bool SimulatedApp::RegionDown(const state::Snapshot& s) const {
  auto it = s.kv.find(failover::kSimulatedOutagesKey);
  if (it == s.kv.end()) return false;
  auto outages = failover::ParseOutages(it->second);
  if (!outages) return false;
  return failover::ActiveOutage(*outages, opts_.region, std::chrono::system_clock::now()) !=
         nullptr;
}

bool SimulatedApp::Serving(const state::Snapshot& s) const {
  auto it = s.kv.find(failover::kServingRegionsKey);
  if (it == s.kv.end()) return opts_.active;
  auto l = failover::ParseRegionList(it->second);
  return l ? failover::ContainsRegion(*l, opts_.region) : opts_.active;
}

Status SimulatedApp::Start() {
  std::error_code ec;
  fs::create_directories(opts_.agent_dir, ec);
  if (ec) return Err(opts_.agent_dir + ": " + ec.message());
  server_ = std::make_unique<httplib::Server>();
  auto distance = [this](const httplib::Request& req) {
    auto it = opts_.distance_ms.find(req.get_header_value("X-Client-Location"));
    return std::chrono::milliseconds(it == opts_.distance_ms.end() ? 0 : it->second);
  };
  server_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    state::Snapshot s = state_.Get();
    std::string why;
    if (RegionDown(s)) why = "region down (simulated outage)";
    res.status = why.empty() ? 200 : 503;
    res.set_content(json{{"region", opts_.region}, {"ok", why.empty()}, {"reason", why}}.dump(),
                    "application/json");
  });
  server_->Get("/ping", [distance](const httplib::Request& req, httplib::Response& res) {
    std::this_thread::sleep_for(distance(req));
    res.set_content("pong\n", "text/plain");
  });
  server_->Get("/work", [this, distance](const httplib::Request& req, httplib::Response& res) {
    if (RegionDown(state_.Get())) {
      res.status = 503;
      res.set_content("region down\n", "text/plain");
      return;
    }
    uint64_t v;
    {
      // Requests wait (bounded) until the app re-read the dataset the sidecar put in place.
      std::unique_lock l(mu_);
      if (!loaded_ &&
          !loaded_cv_.wait_for(l, std::chrono::seconds(10), [&] { return loaded_.load(); })) {
        res.status = 503;
        res.set_content("data not loaded\n", "text/plain");
        return;
      }
      v = version_;
    }
    std::this_thread::sleep_for(distance(req));
    res.set_content(json{{"region", opts_.region}, {"brainVersion", v}}.dump(), "application/json");
  });
  if (port_ > 0) {
    // A restart: the gate's appHealthUrl and the entry point name this port.
    if (!server_->bind_to_port("127.0.0.1", port_)) {
      return Err("app " + opts_.region + ": cannot bind port " + std::to_string(port_) + " again");
    }
  } else {
    port_ = server_->bind_to_any_port("127.0.0.1");
  }
  if (port_ <= 0) return Err("app " + opts_.region + ": cannot bind a loopback port");
  stop_ = std::make_unique<Stopper>();
  server_thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
  writing_ = false;
  loaded_ = false;
  writer_ = std::thread([this] { WriterLoop(); });
  watcher_ = std::thread([this] { WatchLoop(); });
  return Status::Ok();
}

void SimulatedApp::Stop() {
  if (stop_) stop_->Stop();
  if (writer_.joinable()) writer_.join();
  if (watcher_.joinable()) watcher_.join();
  if (server_thread_.joinable()) {
    server_->stop();
    server_thread_.join();
  }
}

Status SimulatedApp::WriteOnce() {
  const fs::path root = opts_.agent_dir;
  const fs::path ds = root / kDataset;
  std::lock_guard l(mu_);
  if (!writing_) return Status::Ok();  // stopped meanwhile
  ++seq_;
  const uint64_t rows = 1 + seq_ % 3;
  const std::string file = std::to_string(version_ + 1) + "-" + opts_.region + ".lance";
  std::string data;
  for (uint64_t i = 0; i < rows; ++i) {
    data += json{{"id", rows_ + i + 1},
                 {"region", opts_.region},
                 {"text", "memory " + std::to_string(rows_ + i + 1) + " of the agent"}}
                .dump() +
            "\n";
  }
  if (Status s = WriteAtomic(ds / "data" / file, data); !s) return s;
  fragments_.emplace_back(file, rows);
  json frags = json::array();
  for (const auto& [f, r] : fragments_)
    frags.push_back({{"file", f}, {"rows", r}});
  const uint64_t v = version_ + 1;
  // The manifest is written last: a reader that finds version v finds all its fragments.
  if (Status s =
          WriteAtomic(ds / "_versions" / (std::to_string(v) + ".manifest"),
                      json{{"version", v}, {"rows", rows_ + rows}, {"fragments", frags}}.dump());
      !s) {
    fragments_.pop_back();
    return s;
  }
  version_ = v;
  rows_ += rows;
  rows_at_[v] = rows_;
  commits_.push_back(Commit{v, rows, file, std::chrono::steady_clock::now()});
  // Every 10th write: a session checkpoint (the one file that is replaced rather than added; a
  // file replaced faster than a snapshot uploads keeps the sidecar from ever completing one)
  // and a new note.
  if (seq_ % 10 == 1) {
    if (Status s = WriteAtomic(
            root / "session.json",
            json{{"region", opts_.region}, {"writes", seq_}, {"brainVersion", v}}.dump(2));
        !s) {
      return s;
    }
    if (Status s = WriteAtomic(
            root / "notes" / (std::to_string(seq_ / 10 + 1) + "-" + opts_.region + ".md"),
            "# note " + std::to_string(seq_ / 10 + 1) + " from " + opts_.region + "\n");
        !s) {
      return s;
    }
  }
  return Status::Ok();
}

void SimulatedApp::WriterLoop() {
  while (!stop_->WaitFor(opts_.write_every)) {
    // The state is checked on every write as well: a demoted region stops at once, without
    // waiting for the next /ready poll.
    state::Snapshot st = state_.Get();
    if (!writing_ || RegionDown(st) || !Serving(st)) continue;
    if (Status s = WriteOnce(); !s) {
      std::lock_guard l(mu_);
      error_ = s.message();
    }
  }
}

void SimulatedApp::WatchLoop() {
  httplib::Client gate("127.0.0.1", opts_.gate_port);
  gate.set_connection_timeout(std::chrono::milliseconds(500));
  gate.set_read_timeout(std::chrono::milliseconds(1500));
  while (!stop_->WaitFor(std::chrono::milliseconds(20))) {
    state::Snapshot s = state_.Get();
    bool ready = !RegionDown(s) && Serving(s);
    if (ready) {
      auto r = gate.Get("/ready");
      ready = r && r->status == 200;
    }
    if (ready && !loaded_) {
      // (Re)starting to write: the sidecar may have changed the data under the app.
      auto m = LoadManifest(opts_.agent_dir);
      std::lock_guard l(mu_);
      if (!m) {
        error_ = "reloading the dataset: " + m.message();
        continue;
      }
      version_ = m->version;
      rows_ = m->rows;
      fragments_ = m->fragments;
      if (version_ > 0) rows_at_[version_] = rows_;
      reloads_.push_back(Reload{std::chrono::steady_clock::now(), version_, rows_});
      loaded_ = true;
      writing_ = true;
      loaded_cv_.notify_all();
    } else if (!ready && loaded_) {
      std::lock_guard l(mu_);
      writing_ = false;
      loaded_ = false;
    }
  }
}

std::vector<Commit> SimulatedApp::commits() const {
  std::lock_guard l(mu_);
  return commits_;
}

std::vector<Reload> SimulatedApp::reloads() const {
  std::lock_guard l(mu_);
  return reloads_;
}

uint64_t SimulatedApp::RowsAtVersion(uint64_t version) const {
  std::lock_guard l(mu_);
  auto it = rows_at_.find(version);
  return it == rows_at_.end() ? 0 : it->second;
}

uint64_t SimulatedApp::version() const {
  std::lock_guard l(mu_);
  return version_;
}

std::string SimulatedApp::last_error() const {
  std::lock_guard l(mu_);
  return error_;
}

}  // namespace aha::demo
