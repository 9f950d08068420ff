// Structured logging: one JSON object per line on stderr.
//
// Every line has "ts" (RFC 3339 UTC), "level" and "msg"; callers add fields. Secrets (tokens,
// keys, credentials) must never be passed as fields. stdout stays free for command output.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace aha::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLevel(Level l);
bool ParseLevel(const std::string& s, Level* out);
void Write(Level l, const std::string& msg,
           const nlohmann::json& fields = nlohmann::json::object());

inline void Debug(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) {
  Write(Level::kDebug, m, f);
}
inline void Info(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) {
  Write(Level::kInfo, m, f);
}
inline void Warn(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) {
  Write(Level::kWarn, m, f);
}
inline void Error(const std::string& m, const nlohmann::json& f = nlohmann::json::object()) {
  Write(Level::kError, m, f);
}

}  // namespace aha::log
