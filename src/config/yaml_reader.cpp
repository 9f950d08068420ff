#include "config/yaml_reader.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace aha::config {

Result<YAML::Node> LoadYamlString(const std::string& text, const std::string& source) {
  try {
    YAML::Node n = YAML::Load(text);
    if (n.IsNull()) return YAML::Node(YAML::NodeType::Map);
    return n;
  } catch (const YAML::Exception& e) {
    std::ostringstream os;
    os << source << ": invalid YAML at line " << (e.mark.line + 1) << ", column "
       << (e.mark.column + 1) << ": " << e.msg;
    return Err(os.str());
  }
}

Result<YAML::Node> LoadYamlFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err(path + ": cannot read config file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Err(path + ": cannot read config file");
  return LoadYamlString(ss.str(), path);
}

std::string JoinPath(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}

std::string IndexPath(const std::string& base, size_t index) {
  return base + "[" + std::to_string(index) + "]";
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

MapReader::MapReader(const YAML::Node& node, std::string path, std::string* error)
    : node_(node), path_(std::move(path)), error_(error) {
  if (!node_.IsDefined() || node_.IsNull()) {
    node_ = YAML::Node(YAML::NodeType::Map);
  } else if (!node_.IsMap() && error_->empty()) {
    *error_ = (path_.empty() ? std::string("config") : path_) + ": expected a mapping";
    node_ = YAML::Node(YAML::NodeType::Map);
  }
}

std::string MapReader::child_path(const std::string& key) const {
  return JoinPath(path_, key);
}

void MapReader::fail(const std::string& key, const std::string& msg) {
  if (error_->empty()) *error_ = (key.empty() ? path_ : child_path(key)) + ": " + msg;
}

bool MapReader::has(const std::string& key) const {
  YAML::Node v = node_[key];
  return v.IsDefined() && !v.IsNull();
}

YAML::Node MapReader::node(const std::string& key) {
  known_.insert(key);
  return node_[key];
}

std::string MapReader::str(const std::string& key, const std::string& def) {
  known_.insert(key);
  YAML::Node v = node_[key];
  if (!v.IsDefined() || v.IsNull()) return def;
  if (!v.IsScalar()) {
    fail(key, "expected a string");
    return def;
  }
  return v.Scalar();
}

bool MapReader::boolean(const std::string& key, bool def) {
  known_.insert(key);
  YAML::Node v = node_[key];
  if (!v.IsDefined() || v.IsNull()) return def;
  if (v.IsScalar()) {
    const std::string& s = v.Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  fail(key, "expected true or false");
  return def;
}

double MapReader::number(const std::string& key, double def) {
  known_.insert(key);
  YAML::Node v = node_[key];
  if (!v.IsDefined() || v.IsNull()) return def;
  if (v.IsScalar() && v.Tag() != "!") {  // "!" marks a quoted scalar
    try {
      size_t pos = 0;
      double d = std::stod(v.Scalar(), &pos);
      if (pos == v.Scalar().size() && std::isfinite(d)) return d;
    } catch (...) {
    }
  }
  fail(key, "expected a number, got " + Quote(v.IsScalar() ? v.Scalar() : "<non-scalar>"));
  return def;
}

long long MapReader::integer(const std::string& key, long long def) {
  known_.insert(key);
  YAML::Node v = node_[key];
  if (!v.IsDefined() || v.IsNull()) return def;
  if (v.IsScalar() && v.Tag() != "!") {
    try {
      size_t pos = 0;
      long long n = std::stoll(v.Scalar(), &pos, 10);
      if (pos == v.Scalar().size()) return n;
    } catch (...) {
    }
  }
  fail(key, "expected an integer, got " + Quote(v.IsScalar() ? v.Scalar() : "<non-scalar>"));
  return def;
}

void MapReader::finish() {
  if (!error_->empty()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : "<non-scalar key>";
    if (!known_.count(key)) {
      fail(key, "unknown key");
      return;
    }
  }
}

}  // namespace aha::config
