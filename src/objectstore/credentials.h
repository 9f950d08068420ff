// AWS credentials providers for the S3 store, in the AWS SDKs' default-chain order:
//
//  1. environment variables: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN;
//  2. the shared credentials/config files and a profile (AWS_SHARED_CREDENTIALS_FILE,
//     AWS_CONFIG_FILE, AWS_PROFILE; defaults ~/.aws/credentials, ~/.aws/config, "default"):
//     static keys, or `role_arn` + `web_identity_token_file` (+ `role_session_name`), which
//     assumes the role with web identity as below. Other profile kinds (source_profile,
//     credential_process, SSO) are reported as unsupported rather than skipped silently;
//  3. web identity (EKS IRSA): AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (+
//     AWS_ROLE_SESSION_NAME) -> an unsigned STS AssumeRoleWithWebIdentity POST to
//     AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else https://sts.<AWS_REGION>.amazonaws.com
//     (https://sts.amazonaws.com without a region). The token file is re-read on every call
//     (the kubelet rotates it);
//  4. container credentials (EKS Pod Identity, ECS): AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
//     (on http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI, which must be https or
//     resolve only to loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23; the
//     Authorization header comes from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read each
//     call) or AWS_CONTAINER_AUTHORIZATION_TOKEN;
//  5. IMDSv2 (EC2): PUT /latest/api/token, then GET /latest/meta-data/iam/security-credentials/
//     and /<role> with the token. AWS_EC2_METADATA_DISABLED=true turns it off;
//     AWS_EC2_METADATA_SERVICE_ENDPOINT / _ENDPOINT_MODE (IPv4|IPv6) choose the endpoint;
//     AWS_METADATA_SERVICE_TIMEOUT (s, default 1) and AWS_METADATA_SERVICE_NUM_ATTEMPTS
//     (default 1) keep a non-EC2 machine failing fast. IMDSv1 is not used.
//
// Temporary credentials (3-5, and profile web identity) are cached and refreshed when they are
// within 5 minutes of their Expiration; only one thread refreshes while the others keep using
// the still-valid credentials. When a refresh fails before expiry the old credentials stay in
// use (a warning is logged, at most one attempt per 10 s); after expiry the error is returned.
// Time comes from an injected Clock. Static sources (1, 2) re-read their source on every
// Get(), so a rotated file or env is picked up; the chain remembers which provider answered.
// Code::kNotConfigured means "this source is not configured" (the chain tries the next); any
// other error stops the chain (a 401 from STS is kPermissionDenied, http_status 401): a configured
// source that fails is reported, not skipped. Secrets (keys, session tokens, web identity and
// authorization tokens) never appear in errors, logs or Name(). Every source's answer is checked
// before use (they end up in request headers): JSON fields of the wrong type, missing keys, values
// that are not one word of printable ASCII (control bytes, CR/LF, bytes that are not ASCII) and
// oversized values (keys > 256 bytes, session tokens > 16 KiB) are errors naming the field, never a
// throw.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "objectstore/sigv4.h"

namespace aha::objectstore {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup SystemEnv();  // ::getenv; unset and empty both mean "not set"

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Code::kNotConfigured when this source has no credentials (the chain then tries the next).
  virtual Result<sigv4::Credentials> Get() = 0;
  virtual std::string Name() const = 0;
};

class StaticCredentialsProvider : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(sigv4::Credentials c) : c_(std::move(c)) {}
  Result<sigv4::Credentials> Get() override { return c_; }
  std::string Name() const override { return "static"; }

 private:
  sigv4::Credentials c_;
};

class EnvCredentialsProvider : public CredentialsProvider {
 public:
  explicit EnvCredentialsProvider(EnvLookup env) : env_(std::move(env)) {}
  Result<sigv4::Credentials> Get() override;
  std::string Name() const override { return "environment (AWS_ACCESS_KEY_ID)"; }

 private:
  EnvLookup env_;
};

// Credentials with an optional expiry (none: long-term keys).
struct ExpiringCredentials {
  sigv4::Credentials credentials;
  std::optional<WallTime> expiration;
};

// Base of the providers that fetch temporary credentials: caching and refresh (see the file
// comment). Subclasses implement Fetch(); Get() is thread-safe.
class RefreshingCredentialsProvider : public CredentialsProvider {
 public:
  static constexpr std::chrono::minutes kRefreshWindow{5};
  static constexpr std::chrono::seconds kRetryAfterFailure{10};

  explicit RefreshingCredentialsProvider(const Clock& clock) : clock_(clock) {}
  Result<sigv4::Credentials> Get() final;
  // Expiration of the cached credentials (for tests and diagnostics).
  std::optional<WallTime> CachedExpiration() const;

 protected:
  // One fetch from the source; called with no lock held, never concurrently with itself.
  virtual Result<ExpiringCredentials> Fetch() = 0;
  const Clock& clock() const { return clock_; }

 private:
  const Clock& clock_;
  mutable std::mutex mu_;  // guards the fields below
  std::mutex fetch_mu_;    // held by the one thread that fetches
  std::optional<ExpiringCredentials> cached_;
  WallTime fresh_until_{};
  WallTime next_attempt_{};
};

// STS AssumeRoleWithWebIdentity with a projected service-account token.
struct WebIdentitySettings {
  std::string role_arn;
  std::string token_file;
  std::string session_name;  // empty: agency-ha-<epoch ms>
  std::string sts_endpoint;  // e.g. https://sts.eu-west-1.amazonaws.com
  std::string source;        // where the settings came from, for Name(): "AWS_ROLE_ARN", ...
  bool operator==(const WebIdentitySettings&) const = default;
};

class WebIdentityCredentialsProvider : public RefreshingCredentialsProvider {
 public:
  explicit WebIdentityCredentialsProvider(WebIdentitySettings s,
                                          const Clock& clock = SystemClock::instance());
  std::string Name() const override;
  const WebIdentitySettings& settings() const { return s_; }

 protected:
  Result<ExpiringCredentials> Fetch() override;

 private:
  WebIdentitySettings s_;
};

// STS endpoint as the SDKs choose it: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else the regional
// endpoint of `region` (or of AWS_REGION / AWS_DEFAULT_REGION when `region` is empty), else the
// global https://sts.amazonaws.com.
std::string StsEndpoint(const EnvLookup& env, const std::string& region = "");

// Web identity from AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_SESSION_NAME (read on
// every Get(); the STS provider behind it is kept while the settings stay the same).
class EnvWebIdentityCredentialsProvider : public CredentialsProvider {
 public:
  EnvWebIdentityCredentialsProvider(EnvLookup env, const Clock& clock = SystemClock::instance())
      : env_(std::move(env)), clock_(clock) {}
  Result<sigv4::Credentials> Get() override;
  std::string Name() const override;

 private:
  EnvLookup env_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::shared_ptr<WebIdentityCredentialsProvider> inner_;
};

class ProfileCredentialsProvider : public CredentialsProvider {
 public:
  // `env` supplies the STS endpoint settings for web identity profiles.
  ProfileCredentialsProvider(std::string credentials_file, std::string config_file,
                             std::string profile, EnvLookup env = SystemEnv(),
                             const Clock& clock = SystemClock::instance());
  static std::unique_ptr<ProfileCredentialsProvider> FromEnv(
      const EnvLookup& env, const Clock& clock = SystemClock::instance());
  Result<sigv4::Credentials> Get() override;
  std::string Name() const override;

 private:
  std::string credentials_file_, config_file_, profile_;
  EnvLookup env_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::shared_ptr<WebIdentityCredentialsProvider> web_identity_;  // when the profile has one
};

// EKS Pod Identity / ECS container credentials endpoint (settings read on every fetch).
class ContainerCredentialsProvider : public RefreshingCredentialsProvider {
 public:
  explicit ContainerCredentialsProvider(EnvLookup env, const Clock& clock = SystemClock::instance())
      : RefreshingCredentialsProvider(clock), env_(std::move(env)) {}
  std::string Name() const override;

 protected:
  Result<ExpiringCredentials> Fetch() override;

 private:
  EnvLookup env_;
};

// EC2 instance metadata, IMDSv2 only (settings read on every fetch; the session token is kept
// for its TTL and fetched again when the service answers 401).
class ImdsCredentialsProvider : public RefreshingCredentialsProvider {
 public:
  static constexpr int kTokenTtlSeconds = 21600;

  explicit ImdsCredentialsProvider(EnvLookup env, const Clock& clock = SystemClock::instance())
      : RefreshingCredentialsProvider(clock), env_(std::move(env)) {}
  std::string Name() const override;

 protected:
  Result<ExpiringCredentials> Fetch() override;

 private:
  EnvLookup env_;
  mutable std::mutex mu_;
  std::string token_, token_endpoint_, role_;
  MonoTime token_expires_{};
};

class ChainCredentialsProvider : public CredentialsProvider {
 public:
  explicit ChainCredentialsProvider(std::vector<std::unique_ptr<CredentialsProvider>> chain)
      : chain_(std::move(chain)) {}
  Result<sigv4::Credentials> Get() override;
  std::string Name() const override;

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> chain_;
  mutable std::mutex mu_;  // guards chosen_
  std::mutex search_mu_;   // one search at a time
  int chosen_ = -1;
};

// env vars, profile (incl. web identity), web identity env, container, IMDSv2.
std::shared_ptr<CredentialsProvider> DefaultCredentialsChain(
    const EnvLookup& env = SystemEnv(), const Clock& clock = SystemClock::instance());

// Parses an AWS INI file (credentials or config) and returns the keys of `section`.
// Exposed for tests.
std::vector<std::pair<std::string, std::string>> ParseIniSection(const std::string& text,
                                                                 const std::string& section);

}  // namespace aha::objectstore
