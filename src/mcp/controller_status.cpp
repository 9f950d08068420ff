#include "mcp/controller_status.h"

#include <cmath>

#include "common/json_get.h"

namespace aha::mcp {

using nlohmann::json;

namespace {

constexpr size_t kMaxString = 1024;

enum class Kind { kString, kBool, kCount, kNumber, kTime };

struct Field {
  const char* key;
  Kind kind;
};

// Copies obj[key] into *out when it has the kind (null and absent copy as null).
Status CopyField(const json& obj, const Field& f, const std::string& where, json* out) {
  const json* v = jsonget::Find(obj, f.key);
  if (!v || v->is_null()) {
    (*out)[f.key] = nullptr;
    return Status::Ok();
  }
  const std::string path = jsonget::MemberPath(where, f.key);
  switch (f.kind) {
    case Kind::kString:
    case Kind::kTime: {
      std::string s;
      if (Status st = jsonget::AsString(*v, path, &s); !st) return st;
      if (s.size() > kMaxString) return Err(path + ": longer than 1024 bytes");
      WallTime t{};
      if (f.kind == Kind::kTime && !ParseTime(s, &t)) {
        return Err(path + ": not an RFC 3339 UTC time");
      }
      (*out)[f.key] = s;
      return Status::Ok();
    }
    case Kind::kBool: {
      bool b = false;
      if (Status st = jsonget::AsBool(*v, path, &b); !st) return st;
      (*out)[f.key] = b;
      return Status::Ok();
    }
    case Kind::kCount: {
      int64_t n = 0;
      if (Status st = jsonget::AsInt64(*v, path, &n); !st) return st;
      if (n < 0) return Err(path + ": must be >= 0");
      (*out)[f.key] = n;
      return Status::Ok();
    }
    case Kind::kNumber: {
      double d = 0;
      if (Status st = jsonget::AsDouble(*v, path, &d); !st) return st;
      if (!std::isfinite(d)) return Err(path + ": not a finite number");
      (*out)[f.key] = d;
      return Status::Ok();
    }
  }
  return Status::Ok();
}

Result<json> Sanitize(const json& v, const std::string& where,
                      std::initializer_list<Field> fields) {
  if (Status st = jsonget::ExpectObject(v, where); !st) return st.error();
  json out = json::object();
  for (const Field& f : fields) {
    if (Status st = CopyField(v, f, where, &out); !st) return st.error();
  }
  return out;
}

Result<json> DataOne(const json& v, const std::string& where) {
  return Sanitize(v, where,
                  {{"role", Kind::kString},
                   {"lineage", Kind::kString},
                   {"epoch", Kind::kCount},
                   {"fenced", Kind::kBool},
                   {"caughtUp", Kind::kBool},
                   {"ready", Kind::kBool},
                   {"snapshot", Kind::kString},
                   {"headEpoch", Kind::kCount},
                   {"head", Kind::kString},
                   {"behindSeconds", Kind::kNumber},
                   {"malformed", Kind::kBool},
                   {"address", Kind::kString},
                   {"probeOk", Kind::kBool},
                   {"at", Kind::kTime}});
}

}  // namespace

Result<json> SanitizeData(const json& v, const std::string& where) {
  if (v.is_null()) return json(nullptr);
  auto one = DataOne(v, where);
  if (!one) return one.error();
  if (const json* eps = jsonget::Find(v, "endpoints"); eps && !eps->is_null()) {
    if (Status st = jsonget::ExpectArray(*eps, where + ".endpoints"); !st) return st.error();
    json all = json::array();
    for (size_t i = 0; i < eps->size() && i < 64; ++i) {
      auto e = DataOne((*eps)[i], jsonget::IndexPath(where + ".endpoints", i));
      if (!e) return e.error();
      all.push_back(*e);
    }
    (*one)["endpoints"] = all;
  }
  return *one;
}

Result<LiveStatus> ParseControllerStatus(const std::string& body) {
  auto doc = jsonget::Parse(body, "controller status");
  if (!doc) return doc.error();
  const json* regions = nullptr;
  if (Status st = jsonget::GetObject(*doc, "regions", &regions, "controller status"); !st) {
    return st.error();
  }
  LiveStatus out;
  json top = json::object();
  if (Status st = CopyField(*doc, {"lastRound", Kind::kTime}, "controller status", &top); !st) {
    out.problems = st.message();
  }
  out.last_round = top.value("lastRound", json(nullptr));
  for (const auto& [name, r] : regions->items()) {
    const std::string where = jsonget::MemberPath("controller status.regions", name);
    auto s = Sanitize(r, where,
                      {{"status", Kind::kString},
                       {"reason", Kind::kString},
                       {"statusReason", Kind::kString},
                       {"consecutiveSuccesses", Kind::kCount},
                       {"consecutiveFailures", Kind::kCount}});
    Result<json> probe = json(nullptr);
    if (s) {
      if (const json* p = jsonget::Find(r, "lastProbe"); p && !p->is_null()) {
        probe = Sanitize(*p, where + ".lastProbe",
                         {{"ok", Kind::kBool},
                          {"latencyMs", Kind::kNumber},
                          {"detail", Kind::kString},
                          {"at", Kind::kTime}});
      }
    }
    Result<json> data = json(nullptr);
    if (s && probe) {
      if (const json* d = jsonget::Find(r, "data")) data = SanitizeData(*d, where + ".data");
    }
    Status bad = !s       ? Status(s.error())
                 : !probe ? Status(probe.error())
                 : !data  ? Status(data.error())
                          : Status::Ok();
    if (!bad) {
      out.problems += (out.problems.empty() ? "" : "; ") + bad.message();
      continue;
    }
    (*s)["lastProbe"] = *probe;
    (*s)["data"] = *data;
    out.regions[name] = std::move(*s);
  }
  return out;
}

}  // namespace aha::mcp
