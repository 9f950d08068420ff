#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "common/clock.h"
#include "common/printable.h"

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

namespace {

// Strings from outside (record paths, server messages, state values) reach the log through
// fields: escape their control bytes (JSON would escape C0 but not DEL or C1, which terminals
// showing the log interpret) and invalid UTF-8, with the one escape of common/printable.h.
nlohmann::json Escaped(const nlohmann::json& v, int depth = 0) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return IsPrintable(s) ? v : nlohmann::json(Printable(s));
  }
  if (depth > 16 || !v.is_structured()) return v;
  nlohmann::json out = v.is_array() ? nlohmann::json::array() : nlohmann::json::object();
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (v.is_array()) {
      out.push_back(Escaped(*it, depth + 1));
    } else {
      out[Printable(it.key())] = Escaped(*it, depth + 1);
    }
  }
  return out;
}

}  // namespace

void Write(Level l, const std::string& msg, const nlohmann::json& fields) {
  if (static_cast<int>(l) < g_level.load()) return;
  nlohmann::json j = {{"ts", FormatTime(SystemClock::instance().wall())},
                      {"level", Name(l)},
                      {"msg", Printable(msg)}};
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items())
      j[Printable(k)] = Escaped(v);
  }
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace aha::log
