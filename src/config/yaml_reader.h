// Strict YAML field reader shared by every config loader.
//
// Contract: every error names the offending key by its full path (`regions[1].name: ...`), and
// unknown keys are errors (a typo such as `failureTreshold` must not silently fall back to a
// default). Readers collect the first error and stop; callers check `error()` once at the end.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace aha::config {

// Loads a YAML document from a file; errors name the file and the parser's line/column.
Result<YAML::Node> LoadYamlFile(const std::string& path);
Result<YAML::Node> LoadYamlString(const std::string& text, const std::string& source);

class MapReader {
 public:
  // `path` is the prefix used in messages ("" for the document root, "probe", "regions[0]").
  MapReader(const YAML::Node& node, std::string path, std::string* error);

  // Each getter returns the default when the key is absent (or null) and records an error when
  // the value has the wrong type. Keys read here count as known.
  std::string str(const std::string& key, const std::string& def = "");
  bool boolean(const std::string& key, bool def);
  double number(const std::string& key, double def);
  long long integer(const std::string& key, long long def);
  bool has(const std::string& key) const;
  YAML::Node node(const std::string& key);  // marks key known; returns null node if absent
  std::string child_path(const std::string& key) const;

  // Records an error for a key ("<path>.<key>: <msg>") if none is recorded yet.
  void fail(const std::string& key, const std::string& msg);
  // Call last: records an error for the first key that no getter asked for.
  void finish();
  bool failed() const { return !error_->empty(); }

 private:
  YAML::Node node_;
  std::string path_;
  std::string* error_;
  std::set<std::string> known_;
};

std::string JoinPath(const std::string& base, const std::string& key);
std::string IndexPath(const std::string& base, size_t index);

// Quote a user-supplied value for an error message so that control characters and
// metacharacters are visible and can never be mistaken for message structure.
std::string Quote(const std::string& s);

}  // namespace aha::config
