#include "common/json_get.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/printable.h"

namespace aha::jsonget {
namespace {

bool PlainKey(std::string_view k) {
  if (k.empty()) return false;
  for (char c : k) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Error TypeErr(const std::string& path, const char* want, const Json& v) {
  std::string got = TypeName(v);
  if (v.is_number()) got += " " + Dump(v);
  return Err((path.empty() ? std::string("value") : path) + ": expected " + want + ", got " + got);
}

Error Missing(const std::string& path) {
  return Err(path + ": missing");
}

// The member of obj, checked: obj must be an object; *found false when the member is absent.
Status Member(const Json& obj, std::string_view key, const std::string& path, const Json** out) {
  *out = nullptr;
  if (!obj.is_object()) return TypeErr(path, "object", obj);
  auto it = obj.find(key);
  if (it != obj.end()) *out = &*it;
  return Status::Ok();
}

template <class T, class F>
Status Required(const Json& obj, std::string_view key, T* out, const std::string& path, F as) {
  const Json* m = nullptr;
  if (Status s = Member(obj, key, path, &m); !s) return s;
  const std::string p = MemberPath(path, key);
  if (!m) return Missing(p);
  return as(*m, p, out);
}

template <class T, class F>
Status Optional(const Json& obj, std::string_view key, T* out, const std::string& path, F as) {
  const Json* m = nullptr;
  if (Status s = Member(obj, key, path, &m); !s) return s;
  if (!m || m->is_null()) return Status::Ok();
  T tmp{};
  if (Status s = as(*m, MemberPath(path, key), &tmp); !s) return s;
  *out = std::move(tmp);
  return Status::Ok();
}

}  // namespace

const char* TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    case Json::value_t::binary:
      return "binary";
    case Json::value_t::discarded:
      return "discarded";
  }
  return "unknown";
}

std::string MemberPath(std::string_view path, std::string_view key) {
  if (PlainKey(key)) {
    if (path.empty()) return std::string(key);
    return std::string(path) + "." + std::string(key);
  }
  return std::string(path) + "[\"" + Printable(key) + "\"]";
}

std::string IndexPath(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

size_t NestingDepth(std::string_view text, size_t limit) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > limit) return max_depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

Result<Json> Parse(std::string_view text, const std::string& what, int max_depth) {
  // nlohmann's parser is iterative, but dump(), comparison and destruction of the result recurse:
  // bound the nesting before building anything.
  const size_t limit = static_cast<size_t>(std::max(max_depth, 0));
  if (NestingDepth(text, limit) > limit) {
    return Err(what + ": nested deeper than " + std::to_string(max_depth) + " levels");
  }
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Err(what + ": not valid JSON");
  return doc;
}

std::string Dump(const Json& v, int indent) {
  return v.dump(indent, ' ', false, Json::error_handler_t::replace);
}

Status ExpectObject(const Json& v, const std::string& path) {
  if (!v.is_object()) return TypeErr(path, "object", v);
  return Status::Ok();
}

Status ExpectArray(const Json& v, const std::string& path) {
  if (!v.is_array()) return TypeErr(path, "array", v);
  return Status::Ok();
}

Status AsString(const Json& v, const std::string& path, std::string* out) {
  if (!v.is_string()) return TypeErr(path, "string", v);
  *out = v.get_ref<const std::string&>();
  return Status::Ok();
}

Status AsBool(const Json& v, const std::string& path, bool* out) {
  if (!v.is_boolean()) return TypeErr(path, "boolean", v);
  *out = v.get<bool>();
  return Status::Ok();
}

Status AsIntIn(const Json& v, const std::string& path, int64_t lo, int64_t hi, int64_t* out) {
  const std::string p = path.empty() ? std::string("value") : path;
  auto range = [&] {
    return Err(p + ": " + Dump(v) + " is out of range [" + std::to_string(lo) + ", " +
               std::to_string(hi) + "]");
  };
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        static_cast<int64_t>(u) > hi || static_cast<int64_t>(u) < lo) {
      return range();
    }
    *out = static_cast<int64_t>(u);
    return Status::Ok();
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < lo || i > hi) return range();
    *out = i;
    return Status::Ok();
  }
  return TypeErr(path, "integer", v);
}

Status AsInt64(const Json& v, const std::string& path, int64_t* out) {
  return AsIntIn(v, path, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                 out);
}

Status AsUint64(const Json& v, const std::string& path, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return Status::Ok();
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < 0) {
      return Err((path.empty() ? std::string("value") : path) +
                 ": expected a non-negative integer, got " + std::to_string(i));
    }
    *out = static_cast<uint64_t>(i);
    return Status::Ok();
  }
  return TypeErr(path, "non-negative integer", v);
}

Status AsInt(const Json& v, const std::string& path, int* out) {
  int64_t x = 0;
  if (Status s =
          AsIntIn(v, path, std::numeric_limits<int>::min(), std::numeric_limits<int>::max(), &x);
      !s) {
    return s;
  }
  *out = static_cast<int>(x);
  return Status::Ok();
}

Status AsDouble(const Json& v, const std::string& path, double* out) {
  if (!v.is_number()) return TypeErr(path, "number", v);
  const double d = v.get<double>();
  if (!std::isfinite(d)) {
    return Err((path.empty() ? std::string("value") : path) + ": number out of range");
  }
  *out = d;
  return Status::Ok();
}

Status AsStringList(const Json& v, const std::string& path, std::vector<std::string>* out) {
  if (!v.is_array()) return TypeErr(path, "array of strings", v);
  std::vector<std::string> list;
  list.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    std::string s;
    if (Status st = AsString(v[i], IndexPath(path, i), &s); !st) return st;
    list.push_back(std::move(s));
  }
  *out = std::move(list);
  return Status::Ok();
}

namespace {
Status AsObjectPtr(const Json& v, const std::string& path, const Json** out) {
  if (!v.is_object()) return TypeErr(path, "object", v);
  *out = &v;
  return Status::Ok();
}
Status AsArrayPtr(const Json& v, const std::string& path, const Json** out) {
  if (!v.is_array()) return TypeErr(path, "array", v);
  *out = &v;
  return Status::Ok();
}
}  // namespace

Status GetString(const Json& obj, std::string_view key, std::string* out, const std::string& path) {
  return Required(obj, key, out, path, AsString);
}
Status GetBool(const Json& obj, std::string_view key, bool* out, const std::string& path) {
  return Required(obj, key, out, path, AsBool);
}
Status GetInt64(const Json& obj, std::string_view key, int64_t* out, const std::string& path) {
  return Required(obj, key, out, path, AsInt64);
}
Status GetUint64(const Json& obj, std::string_view key, uint64_t* out, const std::string& path) {
  return Required(obj, key, out, path, AsUint64);
}
Status GetInt(const Json& obj, std::string_view key, int* out, const std::string& path) {
  return Required(obj, key, out, path, AsInt);
}
Status GetDouble(const Json& obj, std::string_view key, double* out, const std::string& path) {
  return Required(obj, key, out, path, AsDouble);
}
Status GetStringList(const Json& obj, std::string_view key, std::vector<std::string>* out,
                     const std::string& path) {
  return Required(obj, key, out, path, AsStringList);
}
Status GetObject(const Json& obj, std::string_view key, const Json** out, const std::string& path) {
  return Required(obj, key, out, path, AsObjectPtr);
}
Status GetArray(const Json& obj, std::string_view key, const Json** out, const std::string& path) {
  return Required(obj, key, out, path, AsArrayPtr);
}

Status OptString(const Json& obj, std::string_view key, std::string* out, const std::string& path) {
  return Optional(obj, key, out, path, AsString);
}
Status OptBool(const Json& obj, std::string_view key, bool* out, const std::string& path) {
  return Optional(obj, key, out, path, AsBool);
}
Status OptInt64(const Json& obj, std::string_view key, int64_t* out, const std::string& path) {
  return Optional(obj, key, out, path, AsInt64);
}
Status OptUint64(const Json& obj, std::string_view key, uint64_t* out, const std::string& path) {
  return Optional(obj, key, out, path, AsUint64);
}
Status OptInt(const Json& obj, std::string_view key, int* out, const std::string& path) {
  return Optional(obj, key, out, path, AsInt);
}
Status OptDouble(const Json& obj, std::string_view key, double* out, const std::string& path) {
  return Optional(obj, key, out, path, AsDouble);
}
Status OptStringList(const Json& obj, std::string_view key, std::vector<std::string>* out,
                     const std::string& path) {
  return Optional(obj, key, out, path, AsStringList);
}
Status OptObject(const Json& obj, std::string_view key, const Json** out, const std::string& path) {
  *out = nullptr;
  return Optional(obj, key, out, path, AsObjectPtr);
}
Status OptArray(const Json& obj, std::string_view key, const Json** out, const std::string& path) {
  *out = nullptr;
  return Optional(obj, key, out, path, AsArrayPtr);
}

const Json* Find(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

}  // namespace aha::jsonget
