#include "objectstore/credentials.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/fs.h"
#include "common/json_get.h"
#include "common/log.h"
#include "common/printable.h"
#include "common/url.h"
#include "net/secret.h"
#include "objectstore/aws_http.h"
#include "objectstore/s3_store.h"  // XmlElements / XmlFirst / ErrorDocumentText

namespace aha::objectstore {

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string Home(const EnvLookup& env) {
  auto h = env("HOME");
  return h ? *h : "";
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Short pause between attempts at a credentials endpoint, on the provider's clock.
void Backoff(const Clock& clock, int attempt) {
  clock.SleepFor(std::chrono::milliseconds(100) * (1 << std::min(attempt, 4)));
}

// One attempt's verdict: the result to return (credentials or a final error), or, when `done` is
// empty, the text of a retryable failure.
struct Attempt {
  std::optional<Result<ExpiringCredentials>> done;
  std::string retry;
};

// Calls `req` up to 3 times (Backoff between): transport errors and the answers `judge` calls
// retryable are tried again; after the last, the last failure is kUnavailable "... (after 3
// attempts)".
Result<ExpiringCredentials> CallWithRetries(
    const aws::HttpRequest& req, const Clock& clock,
    const std::function<Attempt(const aws::HttpResponse&)>& judge) {
  constexpr int kAttempts = 3;
  std::string last;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    if (attempt > 1) Backoff(clock, attempt - 1);
    auto r = aws::HttpCall(req);
    if (!r) {
      last = r.message();
      continue;
    }
    Attempt a = judge(*r);
    if (a.done) return std::move(*a.done);
    last = std::move(a.retry);
  }
  return Err(last + " (after " + std::to_string(kAttempts) + " attempts)", Code::kUnavailable);
}

Status ValidEndpoint(const std::string& what, const std::string& url) {
  auto u = ParseUrl(url);
  if (!u) return Err(what + " \"" + RedactUrl(url) + "\": " + u.message(), Code::kInvalid);
  if (u->scheme != "http" && u->scheme != "https") {
    return Err(what + " \"" + RedactUrl(url) + "\": want http:// or https://", Code::kInvalid);
  }
  return Status::Ok();
}

std::string JoinUrl(std::string base, const std::string& path) {
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  return base + path;
}

// RoleSessionName: [\w+=,.@-]{2,64} (STS API reference).
bool ValidSessionName(const std::string& s) {
  if (s.size() < 2 || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '+' || c == '=' || c == ',' || c == '.' ||
           c == '@' || c == '-';
  });
}

Status ValidateWebIdentity(const WebIdentitySettings& s, const std::string& arn_key,
                           const std::string& session_key) {
  if (s.role_arn.rfind("arn:", 0) != 0) {
    return Err(arn_key + " \"" + s.role_arn + "\" is not a role ARN (want arn:aws:iam::...)",
               Code::kInvalid);
  }
  if (!s.session_name.empty() && !ValidSessionName(s.session_name)) {
    return Err(session_key + " \"" + s.session_name +
                   "\" is not a valid session name (2-64 of letters, digits and +=,.@_-)",
               Code::kInvalid);
  }
  return ValidEndpoint("STS endpoint", s.sts_endpoint);
}

bool Valid(const std::optional<ExpiringCredentials>& c, WallTime now) {
  return c && (!c->expiration || now < *c->expiration);
}

// Text from a credential endpoint on its way into an error: printable and at most 256 bytes.
std::string Outside(const std::string& s) {
  return Printable(std::string_view(s).substr(0, 256));
}

// Issued credentials go into request headers (Authorization, X-Amz-Security-Token): each value
// must be one word of printable ASCII (no space, no CR/LF to smuggle a header, no byte that is not
// ASCII) of bounded size. Access key ids are 16-128 characters and secret keys 40; AWS promises no
// maximum for session tokens (about 1-2 KiB today), so theirs is generous. Values are secrets:
// errors name the field, never the value.
constexpr size_t kMaxKeyBytes = 256;
constexpr size_t kMaxTokenBytes = 16 * 1024;

Status CheckCredentialValue(const std::string& what, const std::string& field, const std::string& v,
                            size_t max, Code code) {
  if (v.size() > max) {
    return Err(what + ": " + field + " is " + std::to_string(v.size()) + " bytes, more than " +
                   std::to_string(max),
               code);
  }
  if (!std::all_of(v.begin(), v.end(), [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; })) {
    return Err(what + ": " + field +
                   " is not printable ASCII (it has a space, a control byte or a byte that is "
                   "not ASCII)",
               code);
  }
  return Status::Ok();
}

// The three fields as the source names them (e.g. "AccessKeyId" or "aws_access_key_id").
struct CredentialFields {
  const char* id;
  const char* secret;
  const char* token;
};

Status CheckCredentials(const std::string& what, const sigv4::Credentials& c,
                        CredentialFields names, Code code) {
  if (Status s = CheckCredentialValue(what, names.id, c.access_key_id, kMaxKeyBytes, code); !s) {
    return s;
  }
  if (Status s = CheckCredentialValue(what, names.secret, c.secret_access_key, kMaxKeyBytes, code);
      !s) {
    return s;
  }
  return CheckCredentialValue(what, names.token, c.session_token, kMaxTokenBytes, code);
}

// Credentials in the JSON shape that IMDS and the container endpoint return.
Result<ExpiringCredentials> ParseJsonCredentials(const std::string& what, const std::string& body,
                                                 bool expiration_required) {
  auto parsed = jsonget::Parse(body, what + ": response");
  if (!parsed || !parsed->is_object()) {
    return Err(what + ": response is not a JSON object", Code::kBadResponse);
  }
  const nlohmann::json& j = *parsed;
  // Every field is type-checked: a wrong type is an error naming it, never read as absent.
  std::map<std::string, std::string> fields;
  for (const char* k :
       {"Code", "Message", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}) {
    std::string v;
    if (Status s = jsonget::OptString(j, k, &v); !s)
      return Err(what + ": " + s.message(), Code::kBadResponse);
    fields[k] = v;
  }
  auto str = [&](const char* k) { return fields[k]; };
  const nlohmann::json* code = jsonget::Find(j, "Code");  // null reads as absent
  if (code && !code->is_null() && str("Code") != "Success") {
    return Err(what + ": Code \"" + Outside(str("Code")) + "\"" +
                   (str("Message").empty() ? "" : ": " + Outside(str("Message"))),
               Code::kBadResponse);
  }
  ExpiringCredentials c;
  c.credentials.access_key_id = str("AccessKeyId");
  c.credentials.secret_access_key = str("SecretAccessKey");
  c.credentials.session_token = str("Token");
  if (c.credentials.access_key_id.empty() || c.credentials.secret_access_key.empty()) {
    return Err(what + ": response has no AccessKeyId/SecretAccessKey", Code::kBadResponse);
  }
  if (Status s = CheckCredentials(what, c.credentials, {"AccessKeyId", "SecretAccessKey", "Token"},
                                  Code::kBadResponse);
      !s) {
    return s.error();
  }
  const std::string exp = str("Expiration");
  if (!exp.empty()) {
    WallTime t;
    if (!aws::ParseIso8601(exp, &t)) {
      return Err(what + ": Expiration \"" + Outside(exp) + "\" is not an ISO 8601 time",
                 Code::kBadResponse);
    }
    c.expiration = t;
  } else if (expiration_required) {
    return Err(what + ": response has no Expiration", Code::kBadResponse);
  }
  return c;
}

bool AllowedContainerAddress(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    const uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
    return (a >> 24) == 127 || a == 0xA9FEAA02u /*169.254.170.2*/ ||
           a == 0xA9FEAA17u /*169.254.170.23*/;
  }
  if (sa->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    in6_addr eks{};
    inet_pton(AF_INET6, "fd00:ec2::23", &eks);
    if (IN6_IS_ADDR_LOOPBACK(&a) || std::equal(a.s6_addr, a.s6_addr + 16, eks.s6_addr)) {
      return true;
    }
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

// The SDKs' rule for AWS_CONTAINER_CREDENTIALS_FULL_URI over http: every address the host
// resolves to must be loopback or one of the ECS / EKS Pod Identity agent addresses.
Status CheckContainerHost(const std::string& url) {
  auto u = ParseUrl(url);
  if (!u) {
    return Err("AWS_CONTAINER_CREDENTIALS_FULL_URI \"" + RedactUrl(url) + "\": " + u.message(),
               Code::kInvalid);
  }
  if (u->scheme == "https") return Status::Ok();
  if (u->scheme != "http") {
    return Err(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI \"" + RedactUrl(url) + "\": want http:// or https://",
        Code::kInvalid);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(u->host.c_str(), nullptr, &hints, &res); rc != 0) {
    return Err("AWS_CONTAINER_CREDENTIALS_FULL_URI \"" + url + "\": cannot resolve " + u->host +
                   ": " + gai_strerror(rc),
               Code::kInvalid);
  }
  bool ok = res != nullptr;
  for (addrinfo* p = res; p; p = p->ai_next)
    ok = ok && AllowedContainerAddress(p->ai_addr);
  freeaddrinfo(res);
  if (!ok) {
    return Err("AWS_CONTAINER_CREDENTIALS_FULL_URI \"" + url + "\": host " + u->host +
                   " is not allowed over http (want https, or loopback, 169.254.170.2, "
                   "169.254.170.23 or fd00:ec2::23)",
               Code::kInvalid);
  }
  return Status::Ok();
}

Result<int> PositiveIntEnv(const EnvLookup& env, const std::string& name, int def) {
  auto v = env(name);
  if (!v) return def;
  char* end = nullptr;
  const long n = std::strtol(v->c_str(), &end, 10);
  if (end == v->c_str() || *end != '\0' || n < 1 || n > 3600) {
    return Err(name + " \"" + *v + "\": want a whole number from 1 to 3600", Code::kInvalid);
  }
  return static_cast<int>(n);
}

// Validates `s`, then fetches through the provider in `slot` (guarded by `mu`), made anew only when
// the settings changed so its cached credentials survive across fetches.
Result<sigv4::Credentials> FetchWebIdentity(std::mutex& mu,
                                            std::shared_ptr<WebIdentityCredentialsProvider>& slot,
                                            const WebIdentitySettings& s,
                                            const std::string& arn_key,
                                            const std::string& session_key, const Clock& clock) {
  if (auto st = ValidateWebIdentity(s, arn_key, session_key); !st) return st.error();
  std::shared_ptr<WebIdentityCredentialsProvider> p;
  {
    std::lock_guard l(mu);
    if (!slot || !(slot->settings() == s)) {
      slot = std::make_shared<WebIdentityCredentialsProvider>(s, clock);
    }
    p = slot;
  }
  return p->Get();
}

}  // namespace

EnvLookup SystemEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

Result<sigv4::Credentials> EnvCredentialsProvider::Get() {
  auto id = env_("AWS_ACCESS_KEY_ID"), secret = env_("AWS_SECRET_ACCESS_KEY");
  if (!id && !secret) return Err("AWS_ACCESS_KEY_ID is not set", Code::kNotConfigured);
  if (!id || !secret) {
    return Err("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set", Code::kInvalid);
  }
  sigv4::Credentials c{*id, *secret, env_("AWS_SESSION_TOKEN").value_or("")};
  if (Status s = CheckCredentials(
          "environment", c, {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"},
          Code::kInvalid);
      !s) {
    return s.error();
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Caching and refresh

Result<sigv4::Credentials> RefreshingCredentialsProvider::Get() {
  std::unique_lock fetch(fetch_mu_, std::defer_lock);
  {
    std::lock_guard l(mu_);
    const WallTime now = clock_.wall();
    if (cached_ && now < fresh_until_) return cached_->credentials;
    // In the refresh window (or after a failed refresh): one thread fetches, the others keep
    // using the still-valid credentials.
    if (Valid(cached_, now) && (now < next_attempt_ || !fetch.try_lock())) {
      return cached_->credentials;
    }
  }
  if (!fetch.owns_lock()) {
    fetch.lock();  // nothing valid to hand out: wait for the fetch in progress, if any
    std::lock_guard l(mu_);
    const WallTime now = clock_.wall();
    if (cached_ && now < fresh_until_) return cached_->credentials;
  }
  Result<ExpiringCredentials> r = Fetch();
  std::lock_guard l(mu_);
  const WallTime now = clock_.wall();
  if (r.ok() && r->expiration && *r->expiration <= now) {
    r = Err("the source returned credentials that expired at " + FormatTime(*r->expiration),
            Code::kBadResponse);
  }
  if (r.ok()) {
    cached_ = std::move(*r);
    next_attempt_ = {};
    if (!cached_->expiration) {
      fresh_until_ = WallTime::max();
    } else {
      // Refresh kRefreshWindow before expiry; credentials that live shorter than that are used
      // for half their remaining life before the next fetch.
      const auto left = *cached_->expiration - now;
      fresh_until_ = std::max(*cached_->expiration - kRefreshWindow, now + left / 2);
    }
    return cached_->credentials;
  }
  if (Valid(cached_, now)) {
    next_attempt_ = now + kRetryAfterFailure;
    log::Warn("AWS credentials refresh failed; using the current ones until they expire",
              {{"source", Name()},
               {"error", r.message()},
               {"expires", FormatTime(*cached_->expiration)}});
    return cached_->credentials;
  }
  std::string msg = r.message();
  if (cached_ && cached_->expiration) {
    msg += " (the previous credentials expired at " + FormatTime(*cached_->expiration) + ")";
  }
  cached_.reset();
  Error e = r.error();
  e.message = msg;
  return e;
}

std::optional<WallTime> RefreshingCredentialsProvider::CachedExpiration() const {
  std::lock_guard l(mu_);
  return cached_ ? cached_->expiration : std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Web identity (STS AssumeRoleWithWebIdentity)

std::string StsEndpoint(const EnvLookup& env, const std::string& region) {
  if (auto e = env("AWS_ENDPOINT_URL_STS")) return *e;
  if (auto e = env("AWS_ENDPOINT_URL")) return *e;
  std::string r =
      !region.empty() ? region : env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or(""));
  if (r.empty()) return "https://sts.amazonaws.com";
  return "https://sts." + r + ".amazonaws.com" + (r.rfind("cn-", 0) == 0 ? ".cn" : "");
}

WebIdentityCredentialsProvider::WebIdentityCredentialsProvider(WebIdentitySettings s,
                                                               const Clock& clock)
    : RefreshingCredentialsProvider(clock), s_(std::move(s)) {}

std::string WebIdentityCredentialsProvider::Name() const {
  return "web identity (role " + s_.role_arn + ", token file " + s_.token_file + ", STS " +
         s_.sts_endpoint + ", from " + s_.source + ")";
}

// The <Credentials> of an AssumeRoleWithWebIdentity answer.
Result<ExpiringCredentials> ParseStsCredentials(const std::string& what, const std::string& body) {
  auto sections = XmlElements(body, "Credentials");
  if (sections.empty()) return Err(what + ": response has no <Credentials>", Code::kBadResponse);
  ExpiringCredentials c;
  c.credentials.access_key_id = XmlFirst(sections[0], "AccessKeyId");
  c.credentials.secret_access_key = XmlFirst(sections[0], "SecretAccessKey");
  c.credentials.session_token = XmlFirst(sections[0], "SessionToken");
  const std::string exp = XmlFirst(sections[0], "Expiration");
  for (const auto& [field, value] : {std::pair{"AccessKeyId", &c.credentials.access_key_id},
                                     std::pair{"SecretAccessKey", &c.credentials.secret_access_key},
                                     std::pair{"SessionToken", &c.credentials.session_token}}) {
    if (value->empty()) return Err(what + ": response lacks " + field, Code::kBadResponse);
  }
  if (Status s =
          CheckCredentials(what, c.credentials, {"AccessKeyId", "SecretAccessKey", "SessionToken"},
                           Code::kBadResponse);
      !s) {
    return s.error();
  }
  WallTime t;
  if (!aws::ParseIso8601(exp, &t)) {
    return Err(what + ": Expiration \"" + Outside(exp) + "\" is not an ISO 8601 time",
               Code::kBadResponse);
  }
  c.expiration = t;
  return c;
}

Result<ExpiringCredentials> WebIdentityCredentialsProvider::Fetch() {
  // Re-read on every assume: the kubelet rotates the projected token.
  auto file = net::ReadTokenFile(s_.token_file);
  if (!file) return Err("web identity token file: " + file.message(), Code::kInvalid);
  const std::string& token = *file;
  const std::string session = !s_.session_name.empty()
                                  ? s_.session_name
                                  : "agency-ha-" + std::to_string(EpochMillis(clock().wall()));
  aws::HttpRequest req;
  req.method = "POST";
  req.url = JoinUrl(s_.sts_endpoint, "/");
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                 {"Accept", "text/xml"}};
  req.body = aws::FormEncode({{"Action", "AssumeRoleWithWebIdentity"},
                              {"Version", "2011-06-15"},
                              {"RoleArn", s_.role_arn},
                              {"RoleSessionName", session},
                              {"WebIdentityToken", token}});
  req.connect_timeout = std::chrono::seconds(5);
  req.timeout = std::chrono::seconds(30);
  const std::string what = "STS AssumeRoleWithWebIdentity at " + s_.sts_endpoint;
  return CallWithRetries(req, clock(), [&](const aws::HttpResponse& r) {
    if (r.status == 200) return Attempt{ParseStsCredentials(what, r.body), ""};
    std::string code;
    const std::string doc = ErrorDocumentText(r.body, &code);
    std::string text = what + " for " + s_.role_arn + ": HTTP " + std::to_string(r.status);
    if (!doc.empty()) text += " " + doc;
    const bool retryable = r.status >= 500 || r.status == 429 || code == "IDPCommunicationError" ||
                           code == "Throttling";
    if (!retryable) return Attempt{HttpErr(text, static_cast<int>(r.status)), ""};
    return Attempt{std::nullopt, text};
  });
}

Result<sigv4::Credentials> EnvWebIdentityCredentialsProvider::Get() {
  auto arn = env_("AWS_ROLE_ARN"), file = env_("AWS_WEB_IDENTITY_TOKEN_FILE");
  if (!arn && !file)
    return Err("AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are not set", Code::kNotConfigured);
  if (!arn)
    return Err("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not", Code::kInvalid);
  if (!file)
    return Err("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not", Code::kInvalid);
  WebIdentitySettings s{*arn, *file, env_("AWS_ROLE_SESSION_NAME").value_or(""), StsEndpoint(env_),
                        "AWS_ROLE_ARN/AWS_WEB_IDENTITY_TOKEN_FILE"};
  return FetchWebIdentity(mu_, inner_, s, "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", clock_);
}

std::string EnvWebIdentityCredentialsProvider::Name() const {
  std::lock_guard l(mu_);
  return inner_ ? inner_->Name() : "web identity (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)";
}

// ---------------------------------------------------------------------------------------------
// Shared files and profiles

std::vector<std::pair<std::string, std::string>> ParseIniSection(const std::string& text,
                                                                 const std::string& section) {
  std::vector<std::pair<std::string, std::string>> out;
  bool in = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = Trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      size_t close = line.find(']');
      in = close != std::string::npos && Trim(line.substr(1, close - 1)) == section;
      continue;
    }
    if (!in) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    out.emplace_back(Trim(line.substr(0, eq)), Trim(line.substr(eq + 1)));
  }
  return out;
}

ProfileCredentialsProvider::ProfileCredentialsProvider(std::string credentials_file,
                                                       std::string config_file, std::string profile,
                                                       EnvLookup env, const Clock& clock)
    : credentials_file_(std::move(credentials_file)),
      config_file_(std::move(config_file)),
      profile_(std::move(profile)),
      env_(std::move(env)),
      clock_(clock) {}

std::unique_ptr<ProfileCredentialsProvider> ProfileCredentialsProvider::FromEnv(
    const EnvLookup& env, const Clock& clock) {
  const std::string home = Home(env);
  return std::make_unique<ProfileCredentialsProvider>(
      env("AWS_SHARED_CREDENTIALS_FILE").value_or(home + "/.aws/credentials"),
      env("AWS_CONFIG_FILE").value_or(home + "/.aws/config"),
      env("AWS_PROFILE").value_or("default"), env, clock);
}

std::string ProfileCredentialsProvider::Name() const {
  std::lock_guard l(mu_);
  if (web_identity_) return web_identity_->Name();
  return "profile \"" + profile_ + "\" (" + credentials_file_ + ", " + config_file_ + ")";
}

Result<sigv4::Credentials> ProfileCredentialsProvider::Get() {
  // Files are re-read on every call. The credentials file wins over the config file, as in the
  // SDKs; a role in the profile wins over static keys (botocore's order).
  struct Source {
    const std::string* file;
    std::string section;
  };
  const Source sources[] = {
      {&credentials_file_, profile_},
      {&config_file_, profile_ == "default" ? "default" : "profile " + profile_}};
  std::map<std::string, std::pair<std::string, const std::string*>> keys;  // key -> value, file
  std::vector<std::pair<sigv4::Credentials, const std::string*>> statics;
  for (const auto& src : sources) {
    auto text = ReadFile(*src.file);
    if (!text) continue;
    sigv4::Credentials c;
    for (const auto& [k, v] : ParseIniSection(*text, src.section)) {
      keys.emplace(k, std::make_pair(v, src.file));  // first (credentials file) wins
      if (k == "aws_access_key_id") c.access_key_id = v;
      if (k == "aws_secret_access_key") c.secret_access_key = v;
      if (k == "aws_session_token") c.session_token = v;
    }
    statics.emplace_back(c, src.file);
  }
  const std::string name = "profile \"" + profile_ + "\"";
  auto key = [&](const std::string& k) { return keys.count(k) ? keys[k].first : std::string(); };
  if (keys.count("role_arn")) {
    const std::string& file = *keys["role_arn"].second;
    if (!keys.count("web_identity_token_file")) {
      return Err(name + " in " + file +
                     " assumes a role with source_profile/credential_source, which agency-ha "
                     "does not support (use web_identity_token_file, static keys, or another "
                     "source of the chain)",
                 Code::kInvalid);
    }
    const std::string region =
        env_("AWS_REGION").value_or(env_("AWS_DEFAULT_REGION").value_or(key("region")));
    WebIdentitySettings s{key("role_arn"), key("web_identity_token_file"), key("role_session_name"),
                          StsEndpoint(env_, region), name + " in " + file};
    return FetchWebIdentity(mu_, web_identity_, s, name + " role_arn", name + " role_session_name",
                            clock_);
  }
  {
    std::lock_guard l(mu_);
    web_identity_.reset();
  }
  for (const auto& [c, file] : statics) {
    if (c.access_key_id.empty() && c.secret_access_key.empty()) continue;
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return Err(
          name + " in " + *file + " has only one of aws_access_key_id and aws_secret_access_key",
          Code::kInvalid);
    }
    if (Status s = CheckCredentials(
            name + " in " + *file, c,
            {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"}, Code::kInvalid);
        !s) {
      return s.error();
    }
    return c;
  }
  for (const char* unsupported : {"credential_process", "sso_session", "sso_start_url"}) {
    if (keys.count(unsupported)) {
      return Err(name + " in " + *keys[unsupported].second + " uses " + unsupported +
                     ", which agency-ha does not support (export static or web identity "
                     "credentials instead)",
                 Code::kInvalid);
    }
  }
  return Err("no keys for " + name + " in " + credentials_file_ + " or " + config_file_,
             Code::kNotConfigured);
}

// ---------------------------------------------------------------------------------------------
// Container credentials (EKS Pod Identity, ECS)

std::string ContainerCredentialsProvider::Name() const {
  if (auto rel = env_("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    return "container credentials (http://169.254.170.2" + *rel + ")";
  }
  if (auto full = env_("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    return "container credentials (" + *full + ")";
  }
  return "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)";
}

Result<ExpiringCredentials> ContainerCredentialsProvider::Fetch() {
  auto rel = env_("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  auto full = env_("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (!rel && !full) {
    return Err(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set",
        Code::kNotConfigured);
  }
  std::string url;
  if (rel) {
    url = "http://169.254.170.2" + (rel->front() == '/' ? *rel : "/" + *rel);
  } else {
    url = *full;
    if (auto st = CheckContainerHost(url); !st) return st.error();
  }
  std::string auth;
  if (auto file = env_("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    auto t = net::ReadTokenFile(*file);  // re-read each time: the agent's token is rotated
    if (!t) return Err("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: " + t.message(), Code::kInvalid);
    auth = *t;
  } else if (auto tok = env_("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    auth = Trim(*tok);
  }
  if (auth.find_first_of("\r\n") != std::string::npos) {
    return Err("the container authorization token contains a line break", Code::kInvalid);
  }
  aws::HttpRequest req;
  req.url = url;
  req.no_proxy = true;
  req.headers = {{"Accept", "application/json"}};
  if (!auth.empty()) req.headers.emplace_back("Authorization", auth);
  req.connect_timeout = std::chrono::seconds(2);
  req.timeout = std::chrono::seconds(5);
  const std::string what = "container credentials endpoint " + url;
  return CallWithRetries(req, clock(), [&](const aws::HttpResponse& r) {
    if (r.status == 200) return Attempt{ParseJsonCredentials(what, r.body, false), ""};
    std::string text = what + ": HTTP " + std::to_string(r.status);
    if (auto j = jsonget::Parse(r.body, what); j && j->is_object()) {
      // Display only: a field of another type is left out.
      std::string v;
      for (const char* k : {"code", "Code"})
        if (jsonget::GetString(*j, k, &v)) text += " " + Outside(v);
      for (const char* k : {"message", "Message"})
        if (jsonget::GetString(*j, k, &v)) text += ": " + Outside(v);
    }
    if (r.status < 500 && r.status != 429) {
      return Attempt{HttpErr(text, static_cast<int>(r.status)), ""};
    }
    return Attempt{std::nullopt, text};
  });
}

// ---------------------------------------------------------------------------------------------
// IMDSv2

std::string ImdsCredentialsProvider::Name() const {
  std::lock_guard l(mu_);
  std::string n = "IMDSv2 (" + (token_endpoint_.empty() ? "instance metadata" : token_endpoint_);
  if (!role_.empty()) n += ", role " + role_;
  return n + ")";
}

namespace {

// Where IMDS listens: AWS_EC2_METADATA_SERVICE_ENDPOINT, else the link-local address of
// AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE (IPv4 by default); without trailing slashes.
Result<std::string> ImdsEndpoint(const EnvLookup& env) {
  std::string endpoint;
  if (auto e = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
    endpoint = *e;
    if (auto st = ValidEndpoint("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint); !st) {
      return st.error();
    }
  } else {
    const std::string mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").value_or("IPv4");
    if (Lower(mode) == "ipv4") {
      endpoint = "http://169.254.169.254";
    } else if (Lower(mode) == "ipv6") {
      endpoint = "http://[fd00:ec2::254]";
    } else {
      return Err("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE \"" + mode + "\": want IPv4 or IPv6",
                 Code::kInvalid);
    }
  }
  while (!endpoint.empty() && endpoint.back() == '/')
    endpoint.pop_back();
  return endpoint;
}

// The session token goes into a request header: printable ASCII only (no CR/LF smuggling),
// bounded.
bool ValidImdsToken(const std::string& tok) {
  return tok.size() <= 4096 && std::all_of(tok.begin(), tok.end(),
                                           [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; });
}

// IAM role names: 1..64 of [A-Za-z0-9+=,.@_-]; the name goes into the next URL.
bool ValidIamRoleName(const std::string& role) {
  return !role.empty() && role.size() <= 64 && std::all_of(role.begin(), role.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) ||
           (ch != '\0' && std::strchr("+=,.@_-", ch) != nullptr);
  });
}

// The provider's state an IMDS conversation reads and updates, guarded by `mu`: the session
// token (kept across fetches) and the role last read (for Name()).
struct ImdsCache {
  std::mutex& mu;
  std::string& token;
  MonoTime& token_expires;
  std::string& role;
};

// One Fetch's conversation with IMDSv2 at `endpoint`.
class ImdsSession {
 public:
  ImdsSession(const std::string& endpoint, std::chrono::milliseconds timeout, int attempts,
              const Clock& clock, ImdsCache cache)
      : endpoint_(endpoint),
        what_("IMDS at " + endpoint),
        timeout_(timeout),
        attempts_(attempts),
        clock_(clock),
        cache_(cache) {}

  // Lists the instance's IAM role, then reads that role's credentials.
  Result<ExpiringCredentials> RoleCredentials();

 private:
  Result<aws::HttpResponse> Call(aws::HttpRequest req);
  Status FetchToken();
  Result<aws::HttpResponse> Get(const std::string& path);

  const std::string endpoint_, what_;
  const std::chrono::milliseconds timeout_;
  const int attempts_;
  const Clock& clock_;
  ImdsCache cache_;
};

// One request with the configured attempts; transport failures and 5xx are retried.
Result<aws::HttpResponse> ImdsSession::Call(aws::HttpRequest req) {
  req.no_proxy = true;
  req.connect_timeout = timeout_;
  req.timeout = timeout_;
  Result<aws::HttpResponse> r = Err("no attempt");
  for (int a = 1; a <= attempts_; ++a) {
    if (a > 1) Backoff(clock_, a - 1);
    r = aws::HttpCall(req);
    if (r.ok() && r->status < 500) return r;
  }
  return r;
}

Status ImdsSession::FetchToken() {
  constexpr int kTtl = ImdsCredentialsProvider::kTokenTtlSeconds;
  aws::HttpRequest req;
  req.method = "PUT";
  req.url = endpoint_ + "/latest/api/token";
  req.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", std::to_string(kTtl)}};
  const MonoTime asked = clock_.mono();
  auto r = Call(req);
  if (!r) return Err(what_ + ": " + r.message() + " (not on EC2?)", Code::kNotConfigured);
  if (r->status == 403 || r->status == 404 || r->status == 405) {
    return Err(what_ + ": HTTP " + std::to_string(r->status) +
                   " for the session token (IMDSv2 unavailable; IMDSv1 is not used)",
               Code::kNotConfigured);
  }
  const std::string tok = Trim(r->body);
  if (r->status != 200 || tok.empty()) {
    return Err(what_ + ": HTTP " + std::to_string(r->status) + " for the session token",
               Code::kBadResponse);
  }
  if (!ValidImdsToken(tok)) {
    return Err(what_ + ": the session token is not a printable ASCII word of at most 4096 bytes",
               Code::kBadResponse);
  }
  std::lock_guard l(cache_.mu);
  cache_.token = tok;
  // Renew a minute early so a token never expires between our check and IMDS's.
  cache_.token_expires = asked + std::chrono::seconds(kTtl - 60);
  return Status::Ok();
}

// GET with the session token; a 401 (token expired or revoked) gets a new token once.
Result<aws::HttpResponse> ImdsSession::Get(const std::string& path) {
  for (int round = 0; round < 2; ++round) {
    std::string tok;
    {
      std::lock_guard l(cache_.mu);
      if (!cache_.token.empty() && clock_.mono() < cache_.token_expires) tok = cache_.token;
    }
    if (tok.empty()) {
      if (auto st = FetchToken(); !st) return st.error();
      std::lock_guard l(cache_.mu);
      tok = cache_.token;
    }
    aws::HttpRequest req;
    req.url = endpoint_ + path;
    req.headers = {{"X-aws-ec2-metadata-token", tok}};
    auto r = Call(req);
    if (!r) return Err(what_ + ": " + r.message(), Code::kUnavailable);
    if (r->status != 401) return r;
    std::lock_guard l(cache_.mu);
    cache_.token.clear();
  }
  return Err(what_ + ": HTTP 401 for " + path + " with a fresh session token", Code::kBadResponse);
}

Result<ExpiringCredentials> ImdsSession::RoleCredentials() {
  const std::string base = "/latest/meta-data/iam/security-credentials/";
  for (int round = 0; round < 2; ++round) {
    auto list = Get(base);
    if (!list) return list.error();
    if (list->status == 404) {
      return Err(what_ + ": the instance has no IAM role (instance profile)", Code::kNotConfigured);
    }
    if (list->status != 200) {
      return Err(what_ + ": HTTP " + std::to_string(list->status) + " listing the IAM role",
                 Code::kBadResponse);
    }
    const std::string role = Trim(list->body.substr(0, list->body.find('\n')));
    if (!ValidIamRoleName(role)) {
      return Err(what_ + ": no valid IAM role name in " + base + " (got \"" + Outside(role) + "\")",
                 Code::kBadResponse);
    }
    {
      std::lock_guard l(cache_.mu);
      cache_.role = role;
    }
    auto creds = Get(base + role);
    if (!creds) return creds.error();
    if (creds->status == 404) continue;  // the role changed between the two calls
    if (creds->status != 200) {
      return Err(what_ + ": HTTP " + std::to_string(creds->status) + " for role " + role,
                 Code::kBadResponse);
    }
    return ParseJsonCredentials(what_ + " role " + role, creds->body, true);
  }
  return Err(what_ + ": the IAM role disappeared while reading it", Code::kBadResponse);
}

}  // namespace

Result<ExpiringCredentials> ImdsCredentialsProvider::Fetch() {
  if (auto d = env_("AWS_EC2_METADATA_DISABLED"); d && Lower(*d) == "true") {
    return Err("disabled by AWS_EC2_METADATA_DISABLED=true", Code::kNotConfigured);
  }
  auto endpoint = ImdsEndpoint(env_);
  if (!endpoint) return endpoint.error();
  auto timeout_s = PositiveIntEnv(env_, "AWS_METADATA_SERVICE_TIMEOUT", 1);
  if (!timeout_s) return timeout_s.error();
  auto attempts = PositiveIntEnv(env_, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", 1);
  if (!attempts) return attempts.error();
  {
    std::lock_guard l(mu_);
    if (token_endpoint_ != *endpoint) {
      token_.clear();
      role_.clear();
      token_endpoint_ = *endpoint;
    }
  }
  ImdsSession session(*endpoint, std::chrono::seconds(*timeout_s), *attempts, clock(),
                      {mu_, token_, token_expires_, role_});
  return session.RoleCredentials();
}

// ---------------------------------------------------------------------------------------------
// Chain

Result<sigv4::Credentials> ChainCredentialsProvider::Get() {
  int chosen;
  {
    std::lock_guard l(mu_);
    chosen = chosen_;
  }
  if (chosen >= 0) {
    auto& p = chain_[static_cast<size_t>(chosen)];
    auto c = p->Get();
    if (c.ok()) return c;
    if (c.code() != Code::kNotConfigured) return Wrap(p->Name() + ": ", c.error());
    std::lock_guard l(mu_);
    if (chosen_ == chosen) chosen_ = -1;  // the source went away: search again
  }
  std::lock_guard search(search_mu_);
  {
    std::lock_guard l(mu_);
    chosen = chosen_;
  }
  if (chosen >= 0) {  // another thread found one meanwhile
    auto& p = chain_[static_cast<size_t>(chosen)];
    auto c = p->Get();
    if (c.ok() || c.code() != Code::kNotConfigured) {
      return c.ok() ? c : Result<sigv4::Credentials>(Wrap(p->Name() + ": ", c.error()));
    }
  }
  std::string tried;
  for (size_t i = 0; i < chain_.size(); ++i) {
    auto c = chain_[i]->Get();
    if (c.ok()) {
      std::lock_guard l(mu_);
      chosen_ = static_cast<int>(i);
      return c;
    }
    if (c.code() != Code::kNotConfigured) return Wrap(chain_[i]->Name() + ": ", c.error());
    tried += "; " + chain_[i]->Name() + ": " + c.message();
  }
  return Err("no AWS credentials found" + tried, Code::kNotConfigured);
}

std::string ChainCredentialsProvider::Name() const {
  std::lock_guard l(mu_);
  return chosen_ >= 0 ? chain_[static_cast<size_t>(chosen_)]->Name() : "default chain";
}

std::shared_ptr<CredentialsProvider> DefaultCredentialsChain(const EnvLookup& env,
                                                             const Clock& clock) {
  std::vector<std::unique_ptr<CredentialsProvider>> chain;
  chain.push_back(std::make_unique<EnvCredentialsProvider>(env));
  chain.push_back(ProfileCredentialsProvider::FromEnv(env, clock));
  chain.push_back(std::make_unique<EnvWebIdentityCredentialsProvider>(env, clock));
  chain.push_back(std::make_unique<ContainerCredentialsProvider>(env, clock));
  chain.push_back(std::make_unique<ImdsCredentialsProvider>(env, clock));
  return std::make_shared<ChainCredentialsProvider>(std::move(chain));
}

}  // namespace aha::objectstore
