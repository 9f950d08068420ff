#include "objectstore/s3_store.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>

#include "common/base64.h"
#include "common/fs.h"
#include "common/printable.h"
#include "common/url.h"
#include "net/backoff.h"
#include "net/curl.h"
#include "objectstore/sigv4.h"

namespace aha::objectstore {

using sigv4::KeyValues;

// ---------------------------------------------------------------------------------------------
// Config

namespace {

bool ValidBucket(const std::string& b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-')) {
      return false;
    }
  }
  return std::isalnum(static_cast<unsigned char>(b.front())) &&
         std::isalnum(static_cast<unsigned char>(b.back()));
}

// The Content-Type an object is uploaded with (see store.h).
std::string ContentTypeFor(const std::string& key) {
  const size_t slash = key.rfind('/');
  const std::string last = slash == std::string::npos ? key : key.substr(slash + 1);
  if (last == "latest" || (last.size() > 5 && last.ends_with(".json"))) return "application/json";
  return "application/octet-stream";
}

bool IsIpHost(const Url& u) {
  if (u.ipv6_literal) return true;
  return !u.host.empty() && std::all_of(u.host.begin(), u.host.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
}

}  // namespace

Result<S3Config> S3ConfigFromUrlAndEnv(const std::string& url, const S3Overrides& o,
                                       const EnvLookup& env) {
  const std::string scheme = "s3://";
  if (url.compare(0, scheme.size(), scheme) != 0) {
    return Err("replica URL \"" + url + "\": want s3://bucket[/prefix]");
  }
  std::string rest = url.substr(scheme.size());
  S3Config c;
  const size_t slash = rest.find('/');
  c.bucket = rest.substr(0, slash);
  if (slash != std::string::npos) c.prefix = rest.substr(slash + 1);
  while (!c.prefix.empty() && c.prefix.back() == '/')
    c.prefix.pop_back();
  if (!ValidBucket(c.bucket)) {
    return Err("replica URL \"" + url + "\": invalid bucket name \"" + c.bucket +
               "\" (3-63 of a-z 0-9 . -)");
  }
  if (!c.prefix.empty() && !ValidateKey(c.prefix).empty()) {
    return Err("replica URL \"" + url + "\": invalid prefix: " + ValidateKey(c.prefix));
  }
  c.region = !o.region.empty()
                 ? o.region
                 : env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or("us-east-1"));
  c.endpoint = !o.endpoint.empty()
                   ? o.endpoint
                   : env("AWS_ENDPOINT_URL_S3").value_or(env("AWS_ENDPOINT_URL").value_or(""));
  bool auto_path_style = !c.endpoint.empty() || c.bucket.find('.') != std::string::npos;
  if (!c.endpoint.empty()) {
    auto u = ParseUrl(c.endpoint);
    if (!u) return Err("S3 endpoint \"" + RedactUrl(c.endpoint) + "\": " + u.message());
    if (u->scheme != "http" && u->scheme != "https") {
      return Err("S3 endpoint \"" + RedactUrl(c.endpoint) + "\": want http:// or https://");
    }
  }
  c.path_style = o.path_style.value_or(auto_path_style);
  if (o.part_size) c.part_size = o.part_size;
  if (o.parallelism) c.parallelism = o.parallelism;
  c.credentials = o.credentials ? o.credentials : DefaultCredentialsChain(env);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Requests

namespace {

// Streaming hashes (SHA-256 and MD5) over a body.
class Hasher {
 public:
  explicit Hasher(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, md, nullptr);
  }
  ~Hasher() { EVP_MD_CTX_free(ctx_); }
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void Update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string Final() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    return std::string(reinterpret_cast<char*>(md), len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string Md5Raw(const char* p, size_t n) {
  Hasher h(EVP_md5());
  h.Update(p, n);
  return h.Final();
}

struct Body {
  const char* mem = nullptr;  // in-memory body, or
  int fd = -1;                // a file region
  uint64_t offset = 0, length = 0;
};

constexpr size_t kMaxErrorBody = 64u << 10;     // non-2xx bodies: S3 error documents are small
constexpr size_t kMaxHeaderBytes = 256u << 10;  // all response headers together

struct Transfer {
  CURL* curl = nullptr;
  const Body* body = nullptr;
  uint64_t sent = 0;
  // Response
  std::string* sink_mem = nullptr;  // 2xx body here, or
  int sink_fd = -1;                 // into this file
  uint64_t mem_limit = UINT64_MAX;  // cap on sink_mem
  uint64_t expected = UINT64_MAX;   // exact size wanted in sink_fd (kAnySize: any)
  bool sink_error = false;
  int sink_errno = 0;      // errno of the failed write
  std::string refused;     // why the body was refused (too big, size mismatch): not retried
  bool error_cut = false;  // a non-2xx body was cut at kMaxErrorBody (the response still counts)
  bool headers_cut = false;
  size_t header_bytes = 0;
  std::unique_ptr<Hasher> sha;  // over the 2xx body
  uint64_t received = 0;
  std::string error_body;
  std::map<std::string, std::string> headers;
  // Deadline (progress callback): start + base + allowance bytes at `rate`, capped by `hard`.
  const Clock* clock = nullptr;
  MonoTime start, hard;
  std::chrono::milliseconds base{0};
  uint64_t rate = 1;
  bool deadline_hit = false;
  std::chrono::milliseconds allowed{0};  // the deadline that was hit, from `start`

  // Declared Content-Length of the final response, or UINT64_MAX.
  uint64_t Declared() const {
    auto it = headers.find("content-length");
    if (it == headers.end() || it->second.empty() || it->second.size() > 19) return UINT64_MAX;
    for (unsigned char ch : it->second)
      if (ch < '0' || ch > '9') return UINT64_MAX;
    return std::strtoull(it->second.c_str(), nullptr, 10);
  }
};

std::string Mib(uint64_t n) {
  if (n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes";
}

size_t ReadBody(char* buf, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const uint64_t left = t->body->length - t->sent;
  size_t want = static_cast<size_t>(std::min<uint64_t>(left, size * n));
  if (want == 0) return 0;
  if (t->body->mem) {
    std::memcpy(buf, t->body->mem + t->body->offset + t->sent, want);
  } else {
    ssize_t r;
    do {
      r = ::pread(t->body->fd, buf, want, static_cast<off_t>(t->body->offset + t->sent));
    } while (r < 0 && errno == EINTR);
    if (r <= 0) return CURL_READFUNC_ABORT;  // file shrank or I/O error
    want = static_cast<size_t>(r);
  }
  t->sent += want;
  return want;
}

size_t WriteBody(char* p, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300 || (!t->sink_mem && t->sink_fd < 0)) {
    const size_t room = kMaxErrorBody - std::min(kMaxErrorBody, t->error_body.size());
    t->error_body.append(p, std::min(len, room));
    if (len > room) {
      t->error_cut = true;  // enough to read an error document: stop an endless body here
      return 0;
    }
    return len;
  }
  if (t->received == 0) {  // the first bytes: check what the server declares
    const uint64_t declared = t->Declared();
    if (t->sink_mem && declared != UINT64_MAX && declared > t->mem_limit) {
      t->refused = "the response declares " + std::to_string(declared) +
                   " bytes, more than the in-memory limit of " + Mib(t->mem_limit) +
                   " (S3Config::max_response_bytes)";
      return 0;
    }
    if (t->sink_fd >= 0 && t->expected != kAnySize && declared != UINT64_MAX &&
        declared != t->expected) {
      t->refused = "size mismatch: the server declares " + std::to_string(declared) +
                   " bytes (Content-Length), want " + std::to_string(t->expected);
      return 0;
    }
  }
  if (t->sink_mem && t->received + len > t->mem_limit) {
    t->refused = "the response is larger than the in-memory limit of " + Mib(t->mem_limit) +
                 " (S3Config::max_response_bytes)";
    return 0;
  }
  if (t->sink_fd >= 0 && t->expected != kAnySize && t->received + len > t->expected) {
    t->refused = "size mismatch: the body is longer than the expected " +
                 std::to_string(t->expected) + " bytes (download stopped there)";
    return 0;
  }
  if (t->sha) t->sha->Update(p, len);
  t->received += len;
  if (t->sink_mem) {
    t->sink_mem->append(p, len);
    return len;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = ::write(t->sink_fd, p + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      t->sink_error = true;
      t->sink_errno = errno;
      return 0;  // aborts the transfer
    }
    off += static_cast<size_t>(w);
  }
  return len;
}

size_t CollectHeader(char* p, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  t->header_bytes += size * n;
  if (t->header_bytes > kMaxHeaderBytes) {
    t->headers_cut = true;
    return 0;  // aborts: no S3 response has this much header
  }
  const std::string_view line(p, size * n);
  if (net::IsStatusLine(line)) t->headers.clear();  // a new response (after 100 Continue)
  std::string name, value;
  if (net::ParseHeaderLine(line, &name, &value)) t->headers[name] = std::move(value);
  return size * n;
}

// The deadline of one request: curl calls this at least once a second, also while nothing
// arrives. The allowance grows with the bytes to move (upload, declared or expected download).
int Progress(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(ud);
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  // What the body may still need: the declared length, no more than what will be accepted
  // (error bodies are cut, in-memory ones capped, files stop at their expected size); without
  // a declared length, what came so far (a body keeping above `rate` keeps its time).
  uint64_t cap = kMaxErrorBody;
  if (status >= 200 && status < 300 && t->sink_mem) cap = t->mem_limit;
  if (status >= 200 && status < 300 && t->sink_fd >= 0) cap = t->expected;
  const uint64_t declared = t->Declared();
  const uint64_t down = std::min(declared != UINT64_MAX ? declared : t->received, cap);
  const uint64_t bytes = std::max<uint64_t>(t->body ? t->body->length : 0, down);
  const auto allowance = std::chrono::milliseconds(
      static_cast<long long>(std::min<uint64_t>(bytes / t->rate, 1ull << 40) * 1000));
  const auto deadline = std::min(t->start + t->base + allowance, t->hard);
  const auto now = t->clock->mono();
  if (now < deadline) return 0;
  t->deadline_hit = true;
  t->allowed = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - t->start);
  return 1;  // aborts with CURLE_ABORTED_BY_CALLBACK
}

}  // namespace

struct Response {
  long status = 0;
  std::string body;  // error body (non-2xx) or in-memory 2xx body
  std::map<std::string, std::string> headers;
  std::string sha256;     // raw SHA-256 of a streamed 2xx body
  uint64_t received = 0;  // 2xx body bytes
};

struct S3ObjectStore::Impl {
  struct Call {
    std::string op;   // "put", "get", ...
    std::string key;  // for errors
    std::string method;
    std::string object;  // object name in the bucket ("" for the bucket itself)
    KeyValues query;
    KeyValues headers;  // signed
    Body body;
    std::string payload_hash;  // hex or UNSIGNED-PAYLOAD
    std::string* sink_mem = nullptr;
    int sink_fd = -1;
    bool hash_response = false;
    uint64_t expected_size = kAnySize;  // sink_fd: the exact size wanted
  };

  static std::string What(const S3ObjectStore& s, const Call& c) {
    std::string w = s.Describe() + ": " + c.op;
    if (!c.key.empty()) w += " \"" + c.key + "\"";
    return w;
  }

  // S3's error body -> "Code: Message" (printable, bounded), with a hint for the common ones.
  static Error S3Error(const S3ObjectStore& s, const Call& c, const Response& r) {
    std::string code;
    const std::string doc = ErrorDocumentText(r.body, &code);
    std::string text = What(s, c) + ": HTTP " + std::to_string(r.status);
    if (!doc.empty()) text += " " + doc;
    if (code == "NoSuchBucket" || (code.empty() && r.status == 404 && c.object.empty())) {
      text += " (bucket \"" + s.cfg_.bucket + "\" does not exist at " + s.scheme_ + "://" +
              s.host_header_ + ")";
    } else if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch") {
      text += " (check the credentials from " + s.cfg_.credentials->Name() + ")";
    } else if (code.empty() && r.status == 403) {
      text += " (access denied; check the credentials from " + s.cfg_.credentials->Name() + ")";
    }
    // kNotFound means "no such object" (store.h); a missing bucket is a configuration error.
    const bool no_bucket =
        code == "NoSuchBucket" || (code.empty() && r.status == 404 && c.object.empty());
    Error e = HttpErr(text, static_cast<int>(r.status));
    if (no_bucket) e.code = Code::kUnknown;
    return e;
  }

  // GET of a whole object into `*data`, its SHA-256 checked when S3 sends a full-object checksum;
  // the reply, for its headers. A missing object is kNotFound; a missing bucket is not.
  static Result<Response> GetWhole(S3ObjectStore& s, const std::string& key, std::string* data) {
    if (auto why = ValidateKey(key); !why.empty()) {
      return Err(s.Describe() + ": get \"" + key + "\": " + why, Code::kInvalid);
    }
    Call c{"get", key,
           "GET", s.ObjectName(key),
           {},    {{"x-amz-checksum-mode", "ENABLED"}},
           {},    sigv4::kEmptySha256};
    c.sink_mem = data;
    auto r = Do(s, c);
    if (!r) return r.error();
    if (r->status == 404 && XmlFirst(r->body, "Code") != "NoSuchBucket") {
      return Err(What(s, c) + ": no such object", Code::kNotFound);
    }
    if (r->status / 100 != 2) return S3Error(s, c, *r);
    if (auto it = r->headers.find("x-amz-checksum-sha256");
        it != r->headers.end() && it->second.find('-') == std::string::npos &&
        it->second != Base64Encode(sigv4::Sha256Raw(*data))) {
      return Err(What(s, c) + ": SHA-256 mismatch: the download is corrupt");
    }
    return r;
  }

  static Result<Response> Do(S3ObjectStore& s, const Call& c) {
    std::string raw_path = s.base_path_;
    if (s.cfg_.path_style) raw_path += "/" + s.cfg_.bucket;
    raw_path += "/" + c.object;
    if (!s.cfg_.path_style && c.object.empty()) raw_path = s.base_path_ + "/";
    const std::string canonical_uri = sigv4::EncodePath(raw_path);
    std::string url = s.scheme_ + "://" + s.host_header_ + canonical_uri;
    if (!c.query.empty()) url += "?" + sigv4::CanonicalQuery(c.query);
    std::string last_error;
    int last_status = 0;  // 0: a transport error or timeout
    // The operation's deadline: operation_timeout plus the size allowance of its known bytes
    // (upload, expected download or the in-memory cap); each attempt gets at most what is left.
    const Clock& clock = *s.cfg_.clock;
    const auto op_start = clock.mono();
    const uint64_t rate = std::max<uint64_t>(1, s.cfg_.min_transfer_rate);
    uint64_t known = c.body.length;
    if (c.sink_fd >= 0 && c.expected_size != kAnySize) known = std::max(known, c.expected_size);
    if (c.sink_mem) known = std::max(known, s.cfg_.max_response_bytes);
    const auto size_allowance = std::chrono::milliseconds(
        static_cast<long long>(std::min<uint64_t>(known / rate, 1ull << 40) * 1000));
    const auto op_deadline = op_start + s.cfg_.operation_timeout + size_allowance;
    auto secs = [](std::chrono::milliseconds ms) {
      char b[32];
      std::snprintf(b, sizeof b, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
      return std::string(b);
    };
    for (int attempt = 1; attempt <= s.cfg_.max_attempts; ++attempt) {
      auto creds = s.cfg_.credentials->Get();
      if (!creds) {
        return Err(What(s, c) + ": credentials: " + creds.message(), Code::kPermissionDenied);
      }
      KeyValues headers = {{"host", s.host_header_}};
      headers.insert(headers.end(), c.headers.begin(), c.headers.end());
      sigv4::Request req{c.method, canonical_uri, c.query, headers, c.payload_hash};
      auto sig = sigv4::Sign(req, *creds, s.cfg_.region, "s3", clock);

      // One handle per thread, reset for each request: its connection cache keeps connections
      // (and TLS sessions) open across requests instead of a new handshake for every object.
      thread_local net::EasyHandle curl;
      if (!curl) curl = net::NewEasy();
      if (!curl) return Err(What(s, c) + ": curl_easy_init failed");
      CURL* h = curl.get();
      curl_easy_reset(h);
      net::HeaderList hl;
      for (const auto& [n, v] : c.headers)
        net::AppendHeader(hl, n + ": " + v);
      for (const auto& [n, v] : sig.headers)
        net::AppendHeader(hl, n + ": " + v);
      net::AppendHeader(hl, "Authorization: " + sig.authorization);
      net::AppendHeader(hl, "Expect:");  // no 100-continue round trip
      curl_easy_setopt(h, CURLOPT_URL, url.c_str());
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl.get());
      net::EasyOptions opts;  // the whole-request bound is set below, from the deadline
      opts.connect_timeout = s.cfg_.connect_timeout;
      opts.tls.ca_file = s.cfg_.ca_file;
      net::ApplyOptions(h, opts);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                       std::max(1L, static_cast<long>(s.cfg_.low_speed_timeout.count() / 1000)));
      Transfer t;
      t.curl = h;
      t.body = &c.body;
      t.sink_mem = c.sink_mem;
      t.sink_fd = c.sink_fd;
      t.mem_limit = s.cfg_.max_response_bytes;
      t.expected = c.expected_size;
      t.clock = &clock;
      t.start = clock.mono();
      t.base = s.cfg_.request_timeout;
      t.rate = rate;
      t.hard = op_deadline;
      if (c.hash_response) t.sha = std::make_unique<Hasher>(EVP_sha256());
      if (c.sink_mem) c.sink_mem->clear();
      if (c.sink_fd >= 0) {
        if (::ftruncate(c.sink_fd, 0) != 0 || ::lseek(c.sink_fd, 0, SEEK_SET) != 0) {
          const int e = errno;
          return SysErr(What(s, c) + ": cannot truncate the download file: " + ErrnoText(e), e);
        }
      }
      if (c.method == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
      } else if (c.method == "PUT" || c.method == "POST") {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadBody);
        curl_easy_setopt(h, CURLOPT_READDATA, &t);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(c.body.length));
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c.method.c_str());
      } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c.method.c_str());
      }
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
      curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, CollectHeader);
      curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, Progress);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      // A hard bound besides the callback: never past the operation's deadline.
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(op_deadline - clock.mono());
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, std::max<long>(1, static_cast<long>(left.count())));
      ++s.requests_;
      CURLcode rc = curl_easy_perform(h);
      s.bytes_up_ += t.sent;
      s.bytes_down_ += t.received;
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      std::chrono::milliseconds retry_after{0};
      if (t.sink_error) {
        return SysErr(What(s, c) + ": writing the download failed: " + ErrnoText(t.sink_errno),
                      t.sink_errno);
      }
      if (!t.refused.empty()) return Err(What(s, c) + ": " + t.refused);  // not retried
      if (t.headers_cut) {
        return Err(What(s, c) + ": response headers larger than " +
                   std::to_string(kMaxHeaderBytes) + " bytes (" + s.scheme_ + "://" +
                   s.host_header_ + ")");
      }
      if (rc == CURLE_WRITE_ERROR && t.error_cut) rc = CURLE_OK;  // the error document is enough
      if (t.deadline_hit || rc == CURLE_OPERATION_TIMEDOUT) {
        const auto took =
            std::chrono::duration_cast<std::chrono::milliseconds>(clock.mono() - t.start);
        last_error = What(s, c) + ": no complete response within " +
                     secs(t.deadline_hit ? t.allowed : took) +
                     " (deadline: " + secs(s.cfg_.request_timeout) + " + size at " +
                     std::to_string(rate >> 10) + " KiB/s; " + std::to_string(t.received) +
                     " bytes received) (" + s.scheme_ + "://" + s.host_header_ + ")";
        last_status = 0;
      } else if (rc != CURLE_OK) {
        last_error = What(s, c) + ": " + curl_easy_strerror(rc) + " (" + s.scheme_ + "://" +
                     s.host_header_ + ")";
        last_status = 0;
        if (!net::RetryableTransport(rc)) return Err(last_error);
      } else {
        Response r;
        r.status = status;
        r.headers = std::move(t.headers);
        r.body = std::move(t.error_body);
        if (t.sha) r.sha256 = t.sha->Final();
        r.received = t.received;
        if (!net::RetryableStatus(status)) return r;
        last_error = S3Error(s, c, r).message;
        last_status = static_cast<int>(status);
        if (auto it = r.headers.find("retry-after"); it != r.headers.end()) {
          retry_after =
              net::ParseRetryAfter(it->second, clock.wall()).value_or(std::chrono::milliseconds(0));
        }
      }
      if (attempt == s.cfg_.max_attempts) break;
      const auto wait =
          net::BackoffDelay({s.cfg_.backoff_base, s.cfg_.backoff_max}, attempt, retry_after);
      if (clock.mono() + wait >= op_deadline) {
        return HttpErr(last_error + " (gave up after " + std::to_string(attempt) +
                           " attempt(s): the operation's deadline of " +
                           secs(std::chrono::duration_cast<std::chrono::milliseconds>(op_deadline -
                                                                                      op_start)) +
                           " passed)",
                       last_status);
      }
      clock.SleepFor(wait);
    }
    return HttpErr(
        last_error + " (gave up after " + std::to_string(s.cfg_.max_attempts) + " attempts)",
        last_status);
  }

  static Status PutBody(S3ObjectStore& s, const std::string& key, const Body& body,
                        const std::string& sha_raw, const std::string& md5_raw) {
    Call c{"put",
           key,
           "PUT",
           s.ObjectName(key),
           {},
           {{"content-type", ContentTypeFor(key)},
            {"content-md5", Base64Encode(md5_raw)},
            {"x-amz-checksum-sha256", Base64Encode(sha_raw)}},
           body,
           sigv4::Hex(sha_raw)};
    auto r = Do(s, c);
    if (!r) return r.error();
    if (r->status / 100 != 2) return S3Error(s, c, *r);
    return Status::Ok();
  }

  static Status Multipart(S3ObjectStore& s, const std::string& key, int fd, uint64_t size);

  // One multipart upload in flight: what Multipart's steps share.
  struct MultipartUpload {
    S3ObjectStore& s;
    const std::string& key;
    const std::string object;
    const int fd;
    const uint64_t size, nparts;
    std::string id;  // the UploadId, once created
  };
  static Status CreateMultipart(MultipartUpload& u);
  static Status UploadParts(const MultipartUpload& u, std::vector<UploadedPart>* parts);
  static Status UploadPart(const MultipartUpload& u, uint64_t i, std::string& buf,
                           UploadedPart* part);
  static void AbortMultipart(const MultipartUpload& u);
  static Status CompleteMultipart(const MultipartUpload& u, const std::vector<UploadedPart>& parts);
};

S3ObjectStore::S3ObjectStore(S3Config config) : cfg_(std::move(config)) {}

Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::Create(S3Config c) {
  if (!ValidBucket(c.bucket)) return Err("S3: invalid bucket name \"" + c.bucket + "\"");
  if (!c.prefix.empty() && !ValidateKey(c.prefix).empty()) {
    return Err("S3: invalid prefix \"" + c.prefix + "\": " + ValidateKey(c.prefix));
  }
  if (!c.credentials) return Err("S3: no credentials provider");
  if (c.part_size < 1024 || c.parallelism < 1 || c.parallelism > 64 || c.max_attempts < 1) {
    return Err("S3: part_size must be >= 1 KiB, parallelism 1..64, max_attempts >= 1");
  }
  if (c.region.empty()) return Err("S3: empty region");
  const std::string endpoint =
      c.endpoint.empty() ? "https://s3." + c.region + ".amazonaws.com" : c.endpoint;
  auto u = ParseUrl(endpoint);
  if (!u) return Err("S3 endpoint \"" + RedactUrl(endpoint) + "\": " + u.message());
  if (u->scheme != "http" && u->scheme != "https") {
    return Err("S3 endpoint \"" + RedactUrl(endpoint) + "\": want http:// or https://");
  }
  if (IsIpHost(*u) && !c.path_style) c.path_style = true;  // no virtual hosts on an IP
  std::unique_ptr<S3ObjectStore> s(new S3ObjectStore(std::move(c)));
  s->scheme_ = u->scheme;
  s->host_ = u->host_for_url();
  s->host_header_ = (s->cfg_.path_style ? "" : s->cfg_.bucket + ".") + s->host_;
  if (u->explicit_port) s->host_header_ += ":" + std::to_string(u->port);
  s->base_path_ = u->path;
  while (!s->base_path_.empty() && s->base_path_.back() == '/')
    s->base_path_.pop_back();
  if (s->base_path_.find('?') != std::string::npos) {
    return Err("S3 endpoint \"" + endpoint + "\": no query string allowed");
  }
  return s;
}

std::string S3ObjectStore::ObjectName(const std::string& key) const {
  return cfg_.prefix.empty() ? key : cfg_.prefix + "/" + key;
}

std::string S3ObjectStore::Describe() const {
  return "s3://" + cfg_.bucket + (cfg_.prefix.empty() ? "" : "/" + cfg_.prefix) + " (" + scheme_ +
         "://" + host_header_ + ", region " + cfg_.region + ")";
}

Stats S3ObjectStore::stats() const {
  return Stats{requests_.load(), bytes_up_.load(), bytes_down_.load()};
}

Status S3ObjectStore::Put(const std::string& key, const std::string& data) {
  if (auto why = ValidateKey(key); !why.empty()) {
    return Err(Describe() + ": put \"" + key + "\": " + why, Code::kInvalid);
  }
  Body b{data.data(), -1, 0, data.size()};
  return Impl::PutBody(*this, key, b, sigv4::Sha256Raw(data), Md5Raw(data.data(), data.size()));
}

Status S3ObjectStore::PutFile(const std::string& key, const std::string& path) {
  const std::string what = Describe() + ": put \"" + key + "\"";
  if (auto why = ValidateKey(key); !why.empty()) return Err(what + ": " + why, Code::kInvalid);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err(what + ": cannot open " + path + ": " + ErrnoText(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Err(what + ": " + path + " is not a regular file");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  Status result;
  if (size > cfg_.part_size) {
    result = Impl::Multipart(*this, key, fd, size);
  } else {
    // First pass: hashes, streaming; second pass: the upload.
    Hasher sha(EVP_sha256()), md5(EVP_md5());
    std::string buf(1 << 20, '\0');
    uint64_t off = 0;
    while (off < size) {
      ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return Err(what + ": reading " + path + " failed");
      }
      sha.Update(buf.data(), static_cast<size_t>(n));
      md5.Update(buf.data(), static_cast<size_t>(n));
      off += static_cast<uint64_t>(n);
    }
    Body b{nullptr, fd, 0, size};
    result = Impl::PutBody(*this, key, b, sha.Final(), md5.Final());
  }
  ::close(fd);
  return result;
}

Status S3ObjectStore::Impl::Multipart(S3ObjectStore& s, const std::string& key, int fd,
                                      uint64_t size) {
  const std::string object = s.ObjectName(key);
  const uint64_t nparts = (size + s.cfg_.part_size - 1) / s.cfg_.part_size;
  if (nparts > 10000) {
    return Err(s.Describe() + ": put \"" + key + "\": " + std::to_string(nparts) +
               " parts exceed S3's 10000; raise the part size");
  }
  MultipartUpload u{s, key, object, fd, size, nparts, ""};
  if (Status st = CreateMultipart(u); !st) return st;
  std::vector<UploadedPart> parts(nparts);
  if (Status st = UploadParts(u, &parts); !st) {
    AbortMultipart(u);
    return st;
  }
  return CompleteMultipart(u, parts);
}

// CreateMultipartUpload; sets u.id.
Status S3ObjectStore::Impl::CreateMultipart(MultipartUpload& u) {
  Call create{"create multipart upload",
              u.key,
              "POST",
              u.object,
              {{"uploads", ""}},
              {{"content-type", ContentTypeFor(u.key)}, {"x-amz-checksum-algorithm", "SHA256"}},
              {},
              sigv4::kEmptySha256};
  std::string create_body;
  create.sink_mem = &create_body;
  auto cr = Do(u.s, create);
  if (!cr) return cr.error();
  if (cr->status / 100 != 2) return S3Error(u.s, create, *cr);
  auto parsed_id = ParseUploadId(create_body);
  if (!parsed_id) {
    return Err(u.s.Describe() + ": create multipart upload \"" + u.key +
               "\": " + parsed_id.message());
  }
  u.id = *parsed_id;
  return Status::Ok();
}

// Uploads every part on up to cfg_.parallelism threads; the first error stops them all.
Status S3ObjectStore::Impl::UploadParts(const MultipartUpload& u,
                                        std::vector<UploadedPart>* parts) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex err_mu;
  std::optional<Error> first_error;
  auto worker = [&] {
    // Memory = parallelism x 1 MiB, whatever the part size (UploadPart).
    std::string buf(std::min<uint64_t>(1 << 20, u.s.cfg_.part_size), '\0');
    for (;;) {
      if (failed.load()) return;
      const uint64_t i = next++;
      if (i >= u.nparts) return;
      if (Status st = UploadPart(u, i, buf, &(*parts)[i]); !st) {
        std::lock_guard l(err_mu);
        if (!first_error) first_error = st.error();
        failed = true;
        return;
      }
    }
  };
  const int nworkers = static_cast<int>(std::min<uint64_t>(u.s.cfg_.parallelism, u.nparts));
  std::vector<std::thread> threads;
  for (int w = 0; w < nworkers; ++w)
    threads.emplace_back(worker);
  for (auto& t : threads)
    t.join();
  if (first_error) return *first_error;
  return Status::Ok();
}

// Part i (0-based) in two passes, as PutFile does for one PUT: hashes over `buf`, then the part
// streamed from the file. Sets *part only when S3 accepted it.
Status S3ObjectStore::Impl::UploadPart(const MultipartUpload& u, uint64_t i, std::string& buf,
                                       UploadedPart* part) {
  const uint64_t off = i * u.s.cfg_.part_size;
  const uint64_t len = std::min<uint64_t>(u.s.cfg_.part_size, u.size - off);
  Hasher sha_h(EVP_sha256()), md5_h(EVP_md5());
  uint64_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(u.fd, buf.data(), std::min<uint64_t>(buf.size(), len - got),
                        static_cast<off_t>(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sha_h.Update(buf.data(), static_cast<size_t>(n));
    md5_h.Update(buf.data(), static_cast<size_t>(n));
    got += static_cast<uint64_t>(n);
  }
  if (got != len)
    return Err(u.s.Describe() + ": put \"" + u.key + "\": reading part " + std::to_string(i + 1) +
               " failed (file changed?)");
  const std::string sha = sha_h.Final();
  Call c{
      "upload part " + std::to_string(i + 1),
      u.key,
      "PUT",
      u.object,
      {{"partNumber", std::to_string(i + 1)}, {"uploadId", u.id}},
      {{"content-md5", Base64Encode(md5_h.Final())}, {"x-amz-checksum-sha256", Base64Encode(sha)}},
      Body{nullptr, u.fd, off, len},
      sigv4::Hex(sha)};
  auto r = Do(u.s, c);
  if (!r) return r.error();
  if (r->status / 100 != 2) return S3Error(u.s, c, *r);
  auto it = r->headers.find("etag");
  if (it == r->headers.end()) return Err(What(u.s, c) + ": no ETag in reply");
  *part = UploadedPart{it->second, Base64Encode(sha)};
  return Status::Ok();
}

void S3ObjectStore::Impl::AbortMultipart(const MultipartUpload& u) {
  Call a{"abort multipart upload", u.key, "DELETE", u.object,
         {{"uploadId", u.id}},     {},    {},       sigv4::kEmptySha256};
  (void)Do(u.s, a);  // best effort; a lifecycle rule cleans up what this misses
}

// CompleteMultipartUpload; aborts the upload when it fails.
Status S3ObjectStore::Impl::CompleteMultipart(const MultipartUpload& u,
                                              const std::vector<UploadedPart>& parts) {
  const std::string xml = CompleteMultipartXml(parts);
  Call done{"complete multipart upload",
            u.key,
            "POST",
            u.object,
            {{"uploadId", u.id}},
            {{"content-type", "application/xml"}},
            Body{xml.data(), -1, 0, xml.size()},
            sigv4::Sha256Hex(xml)};
  std::string done_body;
  done.sink_mem = &done_body;
  auto dr = Do(u.s, done);
  if (!dr) {
    AbortMultipart(u);
    return dr.error();
  }
  // S3 can answer 200 and still fail: the error is then in the body.
  if (dr->status / 100 != 2 || CompleteFailed(done_body)) {
    Response r = *dr;
    if (r.status / 100 == 2) r.body = done_body;
    AbortMultipart(u);
    return S3Error(u.s, done, r);
  }
  return Status::Ok();
}

Result<std::string> S3ObjectStore::Get(const std::string& key) {
  std::string data;
  if (auto r = Impl::GetWhole(*this, key, &data); !r) return r.error();
  return data;
}

Status S3ObjectStore::GetToFile(const std::string& key, const std::string& path, bool durable,
                                uint64_t expected_size) {
  if (auto why = ValidateKey(key); !why.empty()) {
    return Err(Describe() + ": get \"" + key + "\": " + why, Code::kInvalid);
  }
  namespace fs = std::filesystem;
  const fs::path target = fs::absolute(path);
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      (target.parent_path() / (".aha~" + target.filename().string() + "." +
                               std::to_string(::getpid()) + "." + std::to_string(counter++)))
          .string();
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  Impl::Call c{"get", key,
               "GET", ObjectName(key),
               {},    {{"x-amz-checksum-mode", "ENABLED"}},
               {},    sigv4::kEmptySha256};
  if (fd < 0) {
    const int e = errno;
    return SysErr(Impl::What(*this, c) + ": cannot create " + tmp + ": " + ErrnoText(e), e);
  }
  c.sink_fd = fd;
  c.hash_response = true;
  c.expected_size = expected_size;
  auto r = Impl::Do(*this, c);
  auto fail = [&](Error e) -> Status {
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  if (!r) return fail(r.error());
  if (r->status == 404 && XmlFirst(r->body, "Code") != "NoSuchBucket") {
    return fail(Err(Impl::What(*this, c) + ": no such object", Code::kNotFound));
  }
  if (r->status / 100 != 2) return fail(Impl::S3Error(*this, c, *r));
  if (expected_size != kAnySize && r->received != expected_size) {
    return fail(Err(Impl::What(*this, c) + ": size mismatch: the object has " +
                    std::to_string(r->received) + " bytes, want " + std::to_string(expected_size)));
  }
  if (auto it = r->headers.find("x-amz-checksum-sha256");
      it != r->headers.end() && it->second.find('-') == std::string::npos &&
      it->second != Base64Encode(r->sha256)) {
    return fail(Err(Impl::What(*this, c) + ": SHA-256 mismatch: the download is corrupt"));
  }
  if (durable && ::fsync(fd) != 0) {
    const int e = errno;
    return fail(SysErr(Impl::What(*this, c) + ": fsync: " + ErrnoText(e), e));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return SysErr(Impl::What(*this, c) + ": rename to " + path + ": " + ErrnoText(e), e);
  }
  return Status::Ok();
}

Result<bool> S3ObjectStore::Exists(const std::string& key) {
  if (auto why = ValidateKey(key); !why.empty()) {
    return Err(Describe() + ": exists \"" + key + "\": " + why, Code::kInvalid);
  }
  Impl::Call c{"exists", key, "HEAD", ObjectName(key), {}, {}, {}, sigv4::kEmptySha256};
  auto r = Impl::Do(*this, c);
  if (!r) return r.error();
  if (r->status / 100 == 2) return true;
  if (r->status == 404) {
    // HEAD has no error body: tell a missing bucket from a missing key with a bucket request.
    Impl::Call b{"exists", key, "HEAD", "", {}, {}, {}, sigv4::kEmptySha256};
    auto br = Impl::Do(*this, b);
    if (br.ok() && br->status == 404) return Impl::S3Error(*this, b, *br);
    return false;
  }
  return Impl::S3Error(*this, c, *r);
}

Result<std::vector<ObjectInfo>> S3ObjectStore::List(const std::string& prefix) {
  if (auto why = ValidatePrefix(prefix); !why.empty()) {
    return Err(Describe() + ": list \"" + prefix + "\": " + why, Code::kInvalid);
  }
  const std::string strip = cfg_.prefix.empty() ? "" : cfg_.prefix + "/";
  const std::string full = strip + prefix;
  std::vector<ObjectInfo> out;
  std::set<std::string> tokens;  // every continuation token used: one seen again is a loop
  std::string token, highest;
  uint64_t total = 0;
  int stalled = 0;  // consecutive truncated pages with no key above every earlier one
  constexpr int kMaxStalledPages = 100;
  for (;;) {
    Impl::Call c{"list",
                 prefix,
                 "GET",
                 "",
                 {{"list-type", "2"}, {"prefix", full}},
                 {},
                 {},
                 sigv4::kEmptySha256};
    if (!token.empty()) c.query.emplace_back("continuation-token", token);
    std::string body;
    c.sink_mem = &body;
    auto r = Impl::Do(*this, c);
    if (!r) return r.error();
    if (r->status / 100 != 2) return Impl::S3Error(*this, c, *r);
    auto page = ParseListPage(body, cfg_.max_list_page_keys);
    if (!page) return Err(Impl::What(*this, c) + ": " + page.message());
    body.clear();
    body.shrink_to_fit();
    total += page->key_count;
    if (total > cfg_.max_list_keys) {
      return Err(Impl::What(*this, c) + ": more than " + std::to_string(cfg_.max_list_keys) +
                 " keys (S3Config::max_list_keys); refusing to hold the listing in memory");
    }
    bool progress = false;
    for (auto& o : page->contents) {
      if (o.key > highest) {
        highest = o.key;
        progress = true;
      }
      if (o.key.compare(0, strip.size(), strip) != 0) continue;
      std::string k = o.key.substr(strip.size());
      if (!ValidateKey(k).empty()) continue;  // not written by us
      out.push_back(ObjectInfo{std::move(k), o.size});
    }
    if (!page->truncated) break;
    if (page->next_token.empty()) {
      return Err(Impl::What(*this, c) + ": truncated listing without NextContinuationToken");
    }
    if (!tokens.insert(page->next_token).second) {
      return Err(Impl::What(*this, c) + ": the server repeated continuation token \"" +
                 Printable(page->next_token.substr(0, 64)) + "\" after " +
                 std::to_string(tokens.size()) + " page(s); refusing to loop");
    }
    stalled = progress ? 0 : stalled + 1;
    if (stalled > kMaxStalledPages) {
      return Err(Impl::What(*this, c) + ": " + std::to_string(stalled) +
                 " pages in a row brought no new key; refusing to page on");
    }
    token = page->next_token;
  }
  // Sorted and unique: a server that repeats keys must not make callers fetch them twice.
  std::stable_sort(out.begin(), out.end(),
                   [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const ObjectInfo& a, const ObjectInfo& b) { return a.key == b.key; }),
            out.end());
  return out;
}

Status S3ObjectStore::Delete(const std::string& key) {
  if (auto why = ValidateKey(key); !why.empty()) {
    return Err(Describe() + ": delete \"" + key + "\": " + why, Code::kInvalid);
  }
  Impl::Call c{"delete", key, "DELETE", ObjectName(key), {}, {}, {}, sigv4::kEmptySha256};
  auto r = Impl::Do(*this, c);
  if (!r) return r.error();
  if (r->status / 100 == 2) return Status::Ok();
  if (r->status == 404 && XmlFirst(r->body, "Code") == "NoSuchKey") return Status::Ok();
  return Impl::S3Error(*this, c, *r);
}

Result<Versioned> S3ObjectStore::GetVersioned(const std::string& key) {
  Versioned v;
  auto r = Impl::GetWhole(*this, key, &v.data);
  if (!r) return r.error();
  auto it = r->headers.find("etag");
  if (it == r->headers.end() || it->second.empty()) {
    return Err(Describe() + ": get \"" + key + "\": no ETag in the reply: cannot read a version",
               Code::kUnsupported);
  }
  v.version = it->second;
  return v;
}

Result<std::string> S3ObjectStore::PutIf(const std::string& key, const std::string& data,
                                         const std::string& if_match) {
  if (auto why = ValidateKey(key); !why.empty()) {
    return Err(Describe() + ": put-if \"" + key + "\": " + why, Code::kInvalid);
  }
  const std::string sha = sigv4::Sha256Raw(data);
  Impl::Call c{"put-if",
               key,
               "PUT",
               ObjectName(key),
               {},
               {{"content-type", ContentTypeFor(key)},
                {"content-md5", Base64Encode(Md5Raw(data.data(), data.size()))},
                {"x-amz-checksum-sha256", Base64Encode(sha)}},
               Body{data.data(), -1, 0, data.size()},
               sigv4::Hex(sha)};
  if (if_match.empty()) {
    c.headers.emplace_back("if-none-match", "*");
  } else {
    c.headers.emplace_back("if-match", if_match);
  }
  auto r = Impl::Do(*this, c);
  if (!r) return r.error();
  const std::string code = XmlFirst(r->body, "Code");
  if (r->status == 412 || (r->status == 409 && code == "ConditionalRequestConflict") ||
      (r->status == 404 && !if_match.empty() && code != "NoSuchBucket")) {
    Error e = Impl::S3Error(*this, c, *r);
    e.message += " (precondition failed: " +
                 (if_match.empty() ? std::string("If-None-Match: *") : "If-Match: " + if_match) +
                 ")";
    e.code = Code::kPreconditionFailed;
    return e;
  }
  if (r->status / 100 != 2) return Impl::S3Error(*this, c, *r);
  auto it = r->headers.find("etag");
  if (it == r->headers.end() || it->second.empty()) {
    return Err(Impl::What(*this, c) + ": no ETag in the reply", Code::kUnsupported);
  }
  return it->second;
}

}  // namespace aha::objectstore
