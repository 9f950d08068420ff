#include "mcp/controller_status.h"

#include <curl/curl.h>

#include <cmath>

#include "common/json_get.h"
#include "common/url.h"

namespace aha::mcp {

using nlohmann::json;

namespace {

constexpr size_t kMaxBody = 4 << 20;
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

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * nmemb;
  if (body->size() + n > kMaxBody) return 0;  // aborts the transfer
  body->append(data, n);
  return n;
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

ControllerClient::ControllerClient(std::string base_url, double timeout_seconds)
    : base_(std::move(base_url)), timeout_ms_(static_cast<long>(timeout_seconds * 1000)) {
  while (!base_.empty() && base_.back() == '/')
    base_.pop_back();
  if (!base_.empty()) url_ = base_ + "/v1/status";
  curl_global_init(CURL_GLOBAL_DEFAULT);  // reference counted
}

Result<LiveStatus> ControllerClient::Fetch(const Clock& clock) const {
  if (base_.empty()) return Err("no controller URL configured (mcp.controllerUrl)");
  CURL* e = curl_easy_init();
  if (!e) return Err("curl_easy_init failed");
  std::string body;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(e, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "agency-ha/" AHA_VERSION " (mcp)");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(e);
  long code = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(e);
  const std::string shown = RedactUrl(url_);
  if (rc != CURLE_OK) {
    if (rc == CURLE_WRITE_ERROR) return Err(shown + ": answer larger than 4 MiB");
    return Err(shown + ": " + RedactUrl(errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  if (code != 200) return Err(shown + ": HTTP " + std::to_string(code));
  auto st = ParseControllerStatus(body);
  if (!st) return Err(shown + ": " + st.message());
  st->url = url_;
  st->fetched_at = clock.wall();
  return st;
}

}  // namespace aha::mcp
