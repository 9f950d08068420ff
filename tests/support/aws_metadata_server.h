// AwsMetadataServer: a loopback test peer for the AWS credential endpoints that have no real
// counterpart on a test machine. One cpp-httplib server implements, per the AWS documentation:
//
// - STS AssumeRoleWithWebIdentity (POST /, form-encoded Action/Version/RoleArn/RoleSessionName/
//   WebIdentityToken, unsigned): the documented AssumeRoleWithWebIdentityResponse XML, or the
//   ErrorResponse XML (HTTP 400 InvalidIdentityToken for a token it does not accept,
//   ValidationError / MissingParameter / InvalidAction for bad parameters);
// - IMDSv2: PUT /latest/api/token requires X-aws-ec2-metadata-token-ttl-seconds (1-21600, else
//   400) and refuses X-Forwarded-For (403); every GET under /latest/ needs a valid, unexpired
//   X-aws-ec2-metadata-token (else 401); /latest/meta-data/iam/security-credentials/ lists the
//   role (404 without one) and /<role> returns the credentials JSON (Code "Success", ...);
// - the container credentials endpoint (EKS Pod Identity agent: GET /v1/credentials) checks the
//   Authorization header (401 with a JSON error when it is wrong) and returns AccessKeyId,
//   SecretAccessKey, Token, AccountId, Expiration.
//
// Tests choose the credentials handed out, inject faults and read request counters.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace aha::testing {

class AwsMetadataServer {
 public:
  enum Service { kSts = 0, kImds = 1, kContainer = 2 };
  struct Issued {
    std::string access_key_id = "ASIATESTKEY1";
    std::string secret_access_key = "TestSecretKey1";
    std::string session_token = "TestSessionToken1";
    std::string expiration = "2100-01-01T00:00:00Z";  // as sent; may be malformed on purpose
  };
  struct Fault {
    int status = 500;
    std::string body;
    std::string content_type = "text/plain";
  };

  AwsMetadataServer();  // listens on 127.0.0.1:<free port>; throws when it cannot
  ~AwsMetadataServer();
  AwsMetadataServer(const AwsMetadataServer&) = delete;
  AwsMetadataServer& operator=(const AwsMetadataServer&) = delete;

  std::string url() const;  // http://127.0.0.1:PORT
  std::string container_url() const { return url() + "/v1/credentials"; }

  void SetIssued(Issued i);
  void SetStsAcceptedToken(const std::string& token);       // default "valid-web-identity-token"
  void SetContainerAuthorization(const std::string& auth);  // default "pod-identity-token"
  void SetImdsRole(const std::string& role);                // "" = instance without a role
  void InvalidateImdsTokens();                              // as if they had expired
  // The next `count` credential responses of `service` (STS POST, IMDS /<role> GET, container
  // GET) are replaced by `fault`.
  void FailNext(Service service, int count, Fault fault);
  void ClearFaults();
  // The next credential response of `service` waits until Release() (to observe callers while a
  // fetch is in flight). Held() is the number of responses waiting now.
  void HoldNext(Service service);
  void Release();
  int Held() const;

  int CredentialRequests(Service service) const;  // STS POSTs, IMDS /<role> GETs, container GETs
  int ImdsTokenRequests() const;                  // successful token PUTs
  int ImdsRejected() const;                       // GETs refused with 401
  std::map<std::string, std::string> LastStsParams() const;
  bool StsSawAuthorizationHeader() const;

 private:
  bool TakeFault(Service s, httplib::Response& res);
  void MaybeHold(Service s, std::unique_lock<std::mutex>& l);
  std::string StsError(int status, const std::string& code, const std::string& message,
                       httplib::Response& res);

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  Issued issued_;
  std::string sts_token_ = "valid-web-identity-token";
  std::string container_auth_ = "pod-identity-token";
  std::string imds_role_ = "agency-ha-node";
  std::map<std::string, std::chrono::steady_clock::time_point> imds_tokens_;
  int token_counter_ = 0;
  int requests_[3] = {0, 0, 0};
  int imds_token_requests_ = 0, imds_rejected_ = 0;
  std::map<std::string, std::string> last_sts_;
  bool sts_saw_auth_ = false;
  int fault_count_[3] = {0, 0, 0};
  bool hold_[3] = {false, false, false};
  bool released_ = false;
  int held_ = 0;
  std::condition_variable cv_;
  Fault fault_[3];
};

}  // namespace aha::testing
