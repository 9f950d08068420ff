#include "support/aws_metadata_server.h"

#include <cctype>
#include <stdexcept>

namespace aha::testing {

namespace {

constexpr const char* kStsNs = "https://sts.amazonaws.com/doc/2011-06-15/";

std::string XmlEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string JsonString(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

// STS RoleSessionName: [\w+=,.@-]{2,64}.
bool ValidSessionName(const std::string& s) {
  if (s.size() < 2 || s.size() > 64) return false;
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || c == '_' || c == '+' || c == '=' || c == ',' || c == '.' || c == '@' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

AwsMetadataServer::AwsMetadataServer() {
  // --- STS ---------------------------------------------------------------------------------
  server_.Post("/", [this](const httplib::Request& req, httplib::Response& res) {
    std::unique_lock l(mu_);
    ++requests_[kSts];
    MaybeHold(kSts, l);
    sts_saw_auth_ = sts_saw_auth_ || req.has_header("Authorization");
    // The form body, decoded as STS does (the query string would also be accepted by STS).
    httplib::Params form;
    httplib::detail::parse_query_text(req.body, form);
    last_sts_.clear();
    for (const auto& [k, v] : form)
      last_sts_[k] = v;
    if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) != 0) {
      StsError(400, "InvalidParameterValue", "Content-Type must be form-urlencoded", res);
      return;
    }
    if (TakeFault(kSts, res)) return;
    auto param = [&](const char* k) -> std::string {
      auto it = last_sts_.find(k);
      return it == last_sts_.end() ? "" : it->second;
    };
    if (param("Action") != "AssumeRoleWithWebIdentity") {
      StsError(400, "InvalidAction", "Could not find operation " + param("Action"), res);
      return;
    }
    if (param("Version") != "2011-06-15") {
      StsError(400, "InvalidParameterValue", "Unsupported Version", res);
      return;
    }
    for (const char* required : {"RoleArn", "RoleSessionName", "WebIdentityToken"}) {
      if (param(required).empty()) {
        StsError(400, "MissingParameter",
                 std::string("The request must contain the parameter ") + required, res);
        return;
      }
    }
    if (param("RoleArn").rfind("arn:", 0) != 0 || param("RoleArn").size() < 20) {
      StsError(400, "ValidationError", "1 validation error detected: Value at 'roleArn'", res);
      return;
    }
    if (!ValidSessionName(param("RoleSessionName"))) {
      StsError(400, "ValidationError",
               "1 validation error detected: Value at 'roleSessionName' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
               res);
      return;
    }
    if (param("WebIdentityToken") != sts_token_) {
      StsError(400, "InvalidIdentityToken",
               "The web identity token that was passed could not be validated by AWS. Get a new "
               "identity token from the identity provider and then retry the request.",
               res);
      return;
    }
    const std::string role = param("RoleArn"), session = param("RoleSessionName");
    const std::string role_name = role.substr(role.rfind('/') + 1);
    std::string body = std::string("<AssumeRoleWithWebIdentityResponse xmlns=\"") + kStsNs +
                       "\">\n"
                       "  <AssumeRoleWithWebIdentityResult>\n"
                       "    <SubjectFromWebIdentityToken>system:serviceaccount:agency:agency-ha"
                       "</SubjectFromWebIdentityToken>\n"
                       "    <Audience>sts.amazonaws.com</Audience>\n"
                       "    <AssumedRoleUser>\n"
                       "      <Arn>arn:aws:sts::123456789012:assumed-role/" +
                       XmlEscape(role_name) + "/" + XmlEscape(session) +
                       "</Arn>\n"
                       "      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:" +
                       XmlEscape(session) +
                       "</AssumedRoleId>\n"
                       "    </AssumedRoleUser>\n"
                       "    <Credentials>\n"
                       "      <SessionToken>" +
                       XmlEscape(issued_.session_token) +
                       "</SessionToken>\n"
                       "      <SecretAccessKey>" +
                       XmlEscape(issued_.secret_access_key) +
                       "</SecretAccessKey>\n"
                       "      <Expiration>" +
                       XmlEscape(issued_.expiration) +
                       "</Expiration>\n"
                       "      <AccessKeyId>" +
                       XmlEscape(issued_.access_key_id) +
                       "</AccessKeyId>\n"
                       "    </Credentials>\n"
                       "    <Provider>arn:aws:iam::123456789012:oidc-provider/oidc.eks.example"
                       "</Provider>\n"
                       "  </AssumeRoleWithWebIdentityResult>\n"
                       "  <ResponseMetadata>\n"
                       "    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>\n"
                       "  </ResponseMetadata>\n"
                       "</AssumeRoleWithWebIdentityResponse>\n";
    res.set_content(body, "text/xml");
  });

  // --- IMDSv2 ------------------------------------------------------------------------------
  server_.Put("/latest/api/token", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard l(mu_);
    if (req.has_header("X-Forwarded-For")) {
      res.status = 403;
      return;
    }
    const std::string ttl = req.get_header_value("X-aws-ec2-metadata-token-ttl-seconds");
    char* end = nullptr;
    const long n = ttl.empty() ? 0 : std::strtol(ttl.c_str(), &end, 10);
    if (ttl.empty() || *end != '\0' || n < 1 || n > 21600) {
      res.status = 400;
      return;
    }
    const std::string token = "imds-token-" + std::to_string(++token_counter_) + "-AQAEAExample";
    imds_tokens_[token] = std::chrono::steady_clock::now() + std::chrono::seconds(n);
    ++imds_token_requests_;
    res.set_header("X-aws-ec2-metadata-token-ttl-seconds", ttl);
    res.set_content(token, "text/plain");
  });
  server_.Get(R"(/latest/.*)", [this](const httplib::Request& req, httplib::Response& res) {
    std::unique_lock l(mu_);
    auto it = imds_tokens_.find(req.get_header_value("X-aws-ec2-metadata-token"));
    if (it == imds_tokens_.end() || std::chrono::steady_clock::now() >= it->second) {
      ++imds_rejected_;
      res.status = 401;
      return;
    }
    const std::string base = "/latest/meta-data/iam/security-credentials/";
    if (req.path == base) {
      if (imds_role_.empty()) {
        res.status = 404;
        return;
      }
      res.set_content(imds_role_, "text/plain");
      return;
    }
    if (req.path.rfind(base, 0) == 0) {
      ++requests_[kImds];
      MaybeHold(kImds, l);
      if (imds_role_.empty() || req.path.substr(base.size()) != imds_role_) {
        res.status = 404;
        return;
      }
      if (TakeFault(kImds, res)) return;
      res.set_content(
          "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-11-27T19:00:00Z\",\n"
          "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : " +
              JsonString(issued_.access_key_id) +
              ",\n  \"SecretAccessKey\" : " + JsonString(issued_.secret_access_key) +
              ",\n  \"Token\" : " + JsonString(issued_.session_token) +
              ",\n  \"Expiration\" : " + JsonString(issued_.expiration) + "\n}",
          "text/plain");
      return;
    }
    res.status = 404;
  });

  // --- Container credentials (EKS Pod Identity agent) ---------------------------------------
  server_.Get("/v1/credentials", [this](const httplib::Request& req, httplib::Response& res) {
    std::unique_lock l(mu_);
    ++requests_[kContainer];
    MaybeHold(kContainer, l);
    if (req.get_header_value("Authorization") != container_auth_) {
      res.status = 401;
      res.set_content(
          "{\"code\":\"AccessDeniedException\",\"message\":\"invalid authorization token\"}",
          "application/json");
      return;
    }
    if (TakeFault(kContainer, res)) return;
    res.set_content("{\"AccessKeyId\":" + JsonString(issued_.access_key_id) +
                        ",\"SecretAccessKey\":" + JsonString(issued_.secret_access_key) +
                        ",\"Token\":" + JsonString(issued_.session_token) +
                        ",\"AccountId\":\"123456789012\",\"Expiration\":" +
                        JsonString(issued_.expiration) + "}",
                    "application/json");
  });

  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("AwsMetadataServer: cannot bind");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  // stop() is a no-op until the accept loop runs: wait for it so the destructor cannot hang.
  for (int i = 0; !server_.is_running(); ++i) {
    if (i == 30000) throw std::runtime_error("AwsMetadataServer: the accept loop did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

AwsMetadataServer::~AwsMetadataServer() {
  Release();
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

std::string AwsMetadataServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string AwsMetadataServer::StsError(int status, const std::string& code,
                                        const std::string& message, httplib::Response& res) {
  std::string body = std::string("<ErrorResponse xmlns=\"") + kStsNs +
                     "\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>" + XmlEscape(code) +
                     "</Code>\n    <Message>" + XmlEscape(message) +
                     "</Message>\n  </Error>\n  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7"
                     "</RequestId>\n</ErrorResponse>\n";
  res.status = status;
  res.set_content(body, "text/xml");
  return body;
}

bool AwsMetadataServer::TakeFault(Service s, httplib::Response& res) {
  if (fault_count_[s] <= 0) return false;
  --fault_count_[s];
  res.status = fault_[s].status;
  res.set_content(fault_[s].body, fault_[s].content_type.c_str());
  return true;
}

void AwsMetadataServer::MaybeHold(Service s, std::unique_lock<std::mutex>& l) {
  if (!hold_[s]) return;
  hold_[s] = false;
  ++held_;
  cv_.wait(l, [&] { return released_; });
  --held_;
}

void AwsMetadataServer::HoldNext(Service service) {
  std::lock_guard l(mu_);
  hold_[service] = true;
  released_ = false;
}
void AwsMetadataServer::Release() {
  {
    std::lock_guard l(mu_);
    released_ = true;
  }
  cv_.notify_all();
}
int AwsMetadataServer::Held() const {
  std::lock_guard l(mu_);
  return held_;
}

void AwsMetadataServer::SetIssued(Issued i) {
  std::lock_guard l(mu_);
  issued_ = std::move(i);
}
void AwsMetadataServer::SetStsAcceptedToken(const std::string& token) {
  std::lock_guard l(mu_);
  sts_token_ = token;
}
void AwsMetadataServer::SetContainerAuthorization(const std::string& auth) {
  std::lock_guard l(mu_);
  container_auth_ = auth;
}
void AwsMetadataServer::SetImdsRole(const std::string& role) {
  std::lock_guard l(mu_);
  imds_role_ = role;
}
void AwsMetadataServer::InvalidateImdsTokens() {
  std::lock_guard l(mu_);
  imds_tokens_.clear();
}
void AwsMetadataServer::FailNext(Service service, int count, Fault fault) {
  std::lock_guard l(mu_);
  fault_count_[service] = count;
  fault_[service] = std::move(fault);
}
void AwsMetadataServer::ClearFaults() {
  std::lock_guard l(mu_);
  for (int& c : fault_count_)
    c = 0;
}
int AwsMetadataServer::CredentialRequests(Service service) const {
  std::lock_guard l(mu_);
  return requests_[service];
}
int AwsMetadataServer::ImdsTokenRequests() const {
  std::lock_guard l(mu_);
  return imds_token_requests_;
}
int AwsMetadataServer::ImdsRejected() const {
  std::lock_guard l(mu_);
  return imds_rejected_;
}
std::map<std::string, std::string> AwsMetadataServer::LastStsParams() const {
  std::lock_guard l(mu_);
  return last_sts_;
}
bool AwsMetadataServer::StsSawAuthorizationHeader() const {
  std::lock_guard l(mu_);
  return sts_saw_auth_;
}

}  // namespace aha::testing
