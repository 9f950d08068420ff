#include "kube/client.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <string_view>
#include <thread>

#include "common/json_get.h"
#include "common/printable.h"
#include "net/backoff.h"
#include "net/curl.h"
#include "net/encode.h"
#include "net/secret.h"

namespace aha::kube {

using nlohmann::json;

namespace {

size_t CollectBody(char* ptr, size_t size, size_t n, void* userdata) {
  static_cast<std::string*>(userdata)->append(ptr, size * n);
  return size * n;
}

struct Headers {
  std::string retry_after;
};

size_t CollectHeader(char* ptr, size_t size, size_t n, void* userdata) {
  std::string name, value;
  if (net::ParseHeaderLine(std::string_view(ptr, size * n), &name, &value) &&
      name == "retry-after") {
    static_cast<Headers*>(userdata)->retry_after = value;
  }
  return size * n;
}

// Transport failures worth another attempt. Over HTTP/2 (negotiated by ALPN with a real API
// server) a reset stream (RST_STREAM) or a broken session is CURLE_HTTP2_STREAM / CURLE_HTTP2.
bool RetryableCurl(CURLcode c) {
  return net::RetryableTransport(c) || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
}

std::string StatusMessage(const std::string& body) {
  // The API server's Status message, else the body's start; printable and bounded either way.
  auto j = jsonget::Parse(body, "status");
  std::string message;
  if (j && jsonget::GetString(*j, "message", &message)) return Printable(message.substr(0, 1024));
  std::string b = body.substr(0, 200);
  for (auto& c : b) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return Printable(b);
}

}  // namespace

std::string Resource::Path(const std::string& ns, const std::string& name) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (!ns.empty()) p += "/namespaces/" + net::PercentEncode(ns);
  p += "/" + plural;
  if (!name.empty()) p += "/" + net::PercentEncode(name);
  return p;
}

std::string Describe(const std::string& verb, const Resource& r, const std::string& ns,
                     const std::string& name) {
  std::string s = verb + " " + r.plural;
  if (!r.group.empty()) s += "." + r.group;
  if (!name.empty()) s += " \"" + name + "\"";
  if (!ns.empty()) s += " in namespace \"" + ns + "\"";
  return s;
}

std::string RbacRule(const std::string& verb, const Resource& r, const std::string& name) {
  std::string rule = "{apiGroups: [\"" + r.group + "\"], resources: [\"" + r.plural +
                     "\"], verbs: [\"" + verb + "\"]";
  if (!name.empty() && verb != "create" && verb != "list") {
    rule += ", resourceNames: [\"" + name + "\"]";
  }
  return rule + "}";
}

Client::Client(Connection conn, RetryPolicy retry, const Clock& clock)
    : conn_(std::move(conn)), retry_(retry), clock_(clock) {
  net::CurlGlobalInit();
}

Client::~Client() = default;

std::string Client::Token() {
  if (conn_.token_file.empty()) return conn_.token;
  struct stat st {};
  if (::stat(conn_.token_file.c_str(), &st) != 0) return conn_.token;
  const long long mtime =
      static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  std::lock_guard l(token_mu_);
  if (mtime != token_mtime_ns_) {
    // Unreadable or empty (a rotation in progress): the last token read, until the next change.
    if (auto t = net::ReadTokenFile(conn_.token_file); t) {
      cached_token_ = *t;
      token_mtime_ns_ = mtime;
    }
  }
  return cached_token_;
}

curl_slist* Client::RequestHeaders(const std::string& content_type) {
  curl_slist* h = curl_slist_append(nullptr, "Accept: application/json");
  if (!content_type.empty()) h = curl_slist_append(h, ("Content-Type: " + content_type).c_str());
  if (std::string tok = Token(); !tok.empty()) {
    h = curl_slist_append(h, ("Authorization: Bearer " + tok).c_str());
  }
  return h;
}

void* Client::NewHandle(const std::string& url) {
  net::EasyHandle c = net::NewEasy();
  if (!c) return nullptr;
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_TCP_KEEPALIVE, 1L);
  net::EasyOptions opts;  // the request timeout is the caller's (watches have none)
  opts.connect_timeout = std::chrono::milliseconds(5000);
  opts.tls.ca_pem = conn_.ca_pem;
  if (!conn_.client_cert_pem.empty()) {
    opts.tls.cert_pem = conn_.client_cert_pem;
    opts.tls.key_pem = conn_.client_key_pem;
  }
  opts.tls.insecure_skip_verify = conn_.insecure_skip_verify;
  net::ApplyOptions(c.get(), opts);
  return c.release();
}

Result<json> Client::Do(const std::string& verb, const Resource& r, const std::string& ns,
                        const std::string& name, const std::string& method, const std::string& path,
                        const std::string& content_type, const std::string& body) {
  const std::string what = Describe(verb, r, ns, name);
  std::string last_error;
  int last_code = 0;
  for (int attempt = 1; attempt <= retry_.max_attempts; ++attempt) {
    net::EasyHandle c(static_cast<CURL*>(NewHandle(conn_.server + path)));
    if (!c) return Err(what + ": curl_easy_init failed");
    net::HeaderList hdrs(RequestHeaders(content_type));
    curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, hdrs.get());
    curl_easy_setopt(c.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method != "GET" && method != "DELETE") {
      curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS,
                     static_cast<long>(retry_.request_timeout.count()));
    std::string resp;
    Headers h;
    curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, CollectBody);
    curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c.get(), CURLOPT_HEADERFUNCTION, CollectHeader);
    curl_easy_setopt(c.get(), CURLOPT_HEADERDATA, &h);
    ++requests_;
    CURLcode rc = curl_easy_perform(c.get());
    long status = 0;
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
    std::chrono::milliseconds wait{0};
    if (rc != CURLE_OK) {
      last_error = what + ": " + curl_easy_strerror(rc) + " (" + conn_.server + ")";
      last_code = 0;
      if (!RetryableCurl(rc)) return HttpErr(last_error, 0);
    } else if (status >= 200 && status < 300) {
      if (resp.empty()) return json::object();
      auto j = jsonget::Parse(resp, what + ": response");
      if (!j) return Error{j.message(), Code::kBadResponse, static_cast<int>(status), 0};
      if (!j->is_object()) {
        return Error{what + ": response is not a JSON object", Code::kBadResponse,
                     static_cast<int>(status), 0};
      }
      return std::move(*j);
    } else {
      const std::string msg = StatusMessage(resp);
      last_code = static_cast<int>(status);
      if (status == 401) {
        return HttpErr(what +
                           ": unauthorized (401): the API server rejected the credentials from " +
                           conn_.source + ": " + msg,
                       401);
      }
      if (status == 403) {
        return HttpErr(what + ": forbidden (403): " + msg +
                           ". Grant the service account this RBAC rule in its Role: " +
                           RbacRule(verb, r, name),
                       403);
      }
      if (!net::RetryableStatus(status)) {
        return HttpErr(what + ": " + std::to_string(status) + ": " + msg, static_cast<int>(status));
      }
      last_error = what + ": " + std::to_string(status) + ": " + msg;
      if (!h.retry_after.empty()) {
        wait = net::ParseRetryAfter(h.retry_after, clock_.wall())
                   .value_or(std::chrono::milliseconds(0));
      }
    }
    if (attempt == retry_.max_attempts) break;
    const auto backoff = net::BackoffDelay({retry_.base, retry_.max}, attempt, wait);
    clock_.SleepFor(backoff);
  }
  return HttpErr(
      last_error + " (gave up after " + std::to_string(retry_.max_attempts) + " attempts)",
      last_code);
}

Result<json> Client::Get(const Resource& r, const std::string& ns, const std::string& name) {
  return Do("get", r, ns, name, "GET", r.Path(ns, name), "", "");
}

Result<json> Client::List(const Resource& r, const std::string& ns,
                          const std::string& field_selector, const std::string& label_selector) {
  std::string path = r.Path(ns);
  char sep = '?';
  if (!field_selector.empty()) {
    path += "?fieldSelector=" + net::PercentEncode(field_selector);
    sep = '&';
  }
  if (!label_selector.empty())
    path += sep + ("labelSelector=" + net::PercentEncode(label_selector));
  return Do("list", r, ns, "", "GET", path, "", "");
}

Result<std::string> ResourceVersionOf(const json& obj) {
  const json* meta = nullptr;
  std::string rv;
  if (Status s = jsonget::OptObject(obj, "metadata", &meta); !s) return s.error();
  if (meta) {
    if (Status s = jsonget::OptString(*meta, "resourceVersion", &rv, "metadata"); !s) {
      return s.error();
    }
  }
  return rv;
}

Result<json> Client::Create(const Resource& r, const std::string& ns, const json& obj) {
  std::string name = obj.contains("metadata") ? obj["metadata"].value("name", "") : "";
  return Do("create", r, ns, name, "POST", r.Path(ns), "application/json", jsonget::Dump(obj));
}

Result<json> Client::Update(const Resource& r, const std::string& ns, const std::string& name,
                            const json& obj) {
  return Do("update", r, ns, name, "PUT", r.Path(ns, name), "application/json", jsonget::Dump(obj));
}

Result<json> Client::Patch(const Resource& r, const std::string& ns, const std::string& name,
                           PatchType type, const json& patch) {
  const char* ct = type == PatchType::kMerge            ? "application/merge-patch+json"
                   : type == PatchType::kStrategicMerge ? "application/strategic-merge-patch+json"
                                                        : "application/json-patch+json";
  return Do("patch", r, ns, name, "PATCH", r.Path(ns, name), ct, jsonget::Dump(patch));
}

Status Client::Delete(const Resource& r, const std::string& ns, const std::string& name) {
  auto res = Do("delete", r, ns, name, "DELETE", r.Path(ns, name), "", "");
  if (!res) return res.error();
  return Status::Ok();
}

namespace {
struct WatchState {
  std::string buf;
  const WatchCallback* cb;
  const Stopper* stop;
  bool callback_stopped = false;
  Error error;  // set for an ERROR event
  bool failed = false;
  long status = 0;
  std::string error_body;
};

size_t WatchWrite(char* ptr, size_t size, size_t n, void* userdata) {
  auto* st = static_cast<WatchState*>(userdata);
  const size_t len = size * n;
  st->buf.append(ptr, len);
  if (st->status != 0 && st->status != 200) {
    st->error_body = st->buf;
    return len;
  }
  size_t pos;
  while ((pos = st->buf.find('\n')) != std::string::npos) {
    std::string line = st->buf.substr(0, pos);
    st->buf.erase(0, pos + 1);
    if (line.empty() || line == "\r") continue;
    auto parsed = jsonget::Parse(line, "watch event");
    WatchEvent ev;
    const json* object = nullptr;
    Status valid = parsed ? jsonget::ExpectObject(*parsed, "watch event")
                          : Status(Err("watch: malformed event line (" + parsed.message() + ")",
                                       Code::kBadResponse));
    if (valid) valid = jsonget::GetString(*parsed, "type", &ev.type, "watch event");
    if (valid) valid = jsonget::OptObject(*parsed, "object", &object, "watch event");
    if (!valid) {
      st->failed = true;
      st->error = Err("watch: " + valid.message(), Code::kBadResponse);
      return 0;
    }
    ev.object = object ? *object : json::object();
    if (ev.type == "ERROR") {
      int code = 0;
      std::string message = "error event";
      Status s = jsonget::OptInt(ev.object, "code", &code, "watch event.object");
      if (s) s = jsonget::OptString(ev.object, "message", &message, "watch event.object");
      st->failed = true;
      // The status the API server put in the event (0 when it gave none: no API answer).
      st->error = s ? HttpErr("watch: " + Printable(message), code)
                    : Err("watch: " + s.message(), Code::kBadResponse);
      return 0;
    }
    if (!(*st->cb)(ev)) {
      st->callback_stopped = true;
      return 0;
    }
  }
  return len;
}

int WatchProgress(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* st = static_cast<WatchState*>(userdata);
  return st->stop && st->stop->stopped() ? 1 : 0;
}

size_t WatchHeader(char* ptr, size_t size, size_t n, void* userdata) {
  auto* st = static_cast<WatchState*>(userdata);
  std::string line(ptr, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    auto sp = line.find(' ');
    if (sp != std::string::npos) st->status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
  }
  return size * n;
}
}  // namespace

Status Client::Watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
                     const WatchCallback& on_event, const Stopper* stop) {
  std::string path = r.Path(ns) + "?watch=true";
  if (!opts.field_selector.empty())
    path += "&fieldSelector=" + net::PercentEncode(opts.field_selector);
  if (!opts.resource_version.empty())
    path += "&resourceVersion=" + net::PercentEncode(opts.resource_version);
  if (opts.bookmarks) path += "&allowWatchBookmarks=true";
  if (opts.timeout_seconds > 0) path += "&timeoutSeconds=" + std::to_string(opts.timeout_seconds);
  const std::string what = Describe("watch", r, ns, "");
  net::EasyHandle c(static_cast<CURL*>(NewHandle(conn_.server + path)));
  if (!c) return Err(what + ": curl_easy_init failed");
  net::HeaderList hdrs(RequestHeaders(""));
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, hdrs.get());
  WatchState st{"", &on_event, stop};
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, WatchWrite);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(c.get(), CURLOPT_HEADERFUNCTION, WatchHeader);
  curl_easy_setopt(c.get(), CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(c.get(), CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c.get(), CURLOPT_XFERINFOFUNCTION, WatchProgress);
  curl_easy_setopt(c.get(), CURLOPT_XFERINFODATA, &st);
  // A silent stream is a dead stream: the server sends bookmarks or ends it within timeout.
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(std::max(opts.timeout_seconds, 30) + 30));
  ++requests_;
  CURLcode rc = curl_easy_perform(c.get());
  if (st.failed) return st.error;
  if (st.callback_stopped) return Status::Ok();
  if (rc == CURLE_ABORTED_BY_CALLBACK && stop && stop->stopped()) return Status::Ok();
  if (st.status != 0 && st.status != 200) {
    std::string body = st.error_body.empty() ? st.buf : st.error_body;
    const std::string msg = StatusMessage(body);
    if (st.status == 403) {
      return HttpErr(
          what + ": forbidden (403): " + msg +
              ". Grant the service account this RBAC rule in its Role: " + RbacRule("watch", r, ""),
          403);
    }
    return HttpErr(what + ": " + std::to_string(st.status) + ": " + msg,
                   static_cast<int>(st.status));
  }
  if (rc != CURLE_OK) return HttpErr(what + ": stream ended: " + curl_easy_strerror(rc), 0);
  return Status::Ok();
}

}  // namespace aha::kube
