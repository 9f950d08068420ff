// AWS credentials providers for the S3 store, in the AWS SDK's default-chain order.
//
// Implemented: environment variables (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN) and the shared credentials/config files with a profile
// (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, AWS_PROFILE; defaults ~/.aws/credentials,
// ~/.aws/config, "default"). NOT yet implemented: web identity (IRSA), container credentials
// (EKS Pod Identity), IMDSv2 — the chain says so in its "no credentials" error.
// Providers re-read their source on every Get(), so a rotated file or env is picked up; the
// chain remembers which provider answered. Secrets never appear in errors or Name().
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "objectstore/sigv4.h"

namespace aha::objectstore {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup SystemEnv();  // ::getenv; unset and empty both mean "not set"

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Error code 401 when this source has no credentials (the chain then tries the next).
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

class ProfileCredentialsProvider : public CredentialsProvider {
 public:
  ProfileCredentialsProvider(std::string credentials_file, std::string config_file,
                             std::string profile);
  static std::unique_ptr<ProfileCredentialsProvider> FromEnv(const EnvLookup& env);
  Result<sigv4::Credentials> Get() override;
  std::string Name() const override;

 private:
  std::string credentials_file_, config_file_, profile_;
};

class ChainCredentialsProvider : public CredentialsProvider {
 public:
  explicit ChainCredentialsProvider(std::vector<std::unique_ptr<CredentialsProvider>> chain)
      : chain_(std::move(chain)) {}
  Result<sigv4::Credentials> Get() override;
  std::string Name() const override;

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> chain_;
  mutable std::mutex mu_;
  int chosen_ = -1;
};

// env vars, then the shared files/profile.
std::shared_ptr<CredentialsProvider> DefaultCredentialsChain(const EnvLookup& env = SystemEnv());

// Parses an AWS INI file (credentials or config) and returns the keys of `section`.
// Exposed for tests.
std::vector<std::pair<std::string, std::string>> ParseIniSection(const std::string& text,
                                                                 const std::string& section);

}  // namespace aha::objectstore
