#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "common/clock.h"

namespace aha::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;
const char* Name(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}
}  // namespace

void SetLevel(Level l) {
  g_level = static_cast<int>(l);
}

bool ParseLevel(const std::string& s, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (s == Name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void Write(Level l, const std::string& msg, const nlohmann::json& fields) {
  if (static_cast<int>(l) < g_level.load()) return;
  nlohmann::json j = {
      {"ts", FormatTime(SystemClock::instance().wall())}, {"level", Name(l)}, {"msg", msg}};
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items())
      j[k] = v;
  }
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace aha::log
