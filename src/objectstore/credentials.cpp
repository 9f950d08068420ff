#include "objectstore/credentials.h"

#include <cstdlib>

#include "common/fs.h"

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
  if (!id && !secret) return Err("AWS_ACCESS_KEY_ID is not set", 401);
  if (!id || !secret) {
    return Err("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set", 400);
  }
  return sigv4::Credentials{*id, *secret, env_("AWS_SESSION_TOKEN").value_or("")};
}

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
                                                       std::string config_file, std::string profile)
    : credentials_file_(std::move(credentials_file)),
      config_file_(std::move(config_file)),
      profile_(std::move(profile)) {}

std::unique_ptr<ProfileCredentialsProvider> ProfileCredentialsProvider::FromEnv(
    const EnvLookup& env) {
  const std::string home = Home(env);
  return std::make_unique<ProfileCredentialsProvider>(
      env("AWS_SHARED_CREDENTIALS_FILE").value_or(home + "/.aws/credentials"),
      env("AWS_CONFIG_FILE").value_or(home + "/.aws/config"),
      env("AWS_PROFILE").value_or("default"));
}

std::string ProfileCredentialsProvider::Name() const {
  return "profile \"" + profile_ + "\" (" + credentials_file_ + ", " + config_file_ + ")";
}

Result<sigv4::Credentials> ProfileCredentialsProvider::Get() {
  // The credentials file wins over the config file, as in the SDKs.
  struct Source {
    const std::string* file;
    std::string section;
  };
  const Source sources[] = {
      {&credentials_file_, profile_},
      {&config_file_, profile_ == "default" ? "default" : "profile " + profile_}};
  for (const auto& src : sources) {
    auto text = ReadFile(*src.file);
    if (!text) continue;
    sigv4::Credentials c;
    for (const auto& [k, v] : ParseIniSection(*text, src.section)) {
      if (k == "aws_access_key_id") c.access_key_id = v;
      if (k == "aws_secret_access_key") c.secret_access_key = v;
      if (k == "aws_session_token") c.session_token = v;
    }
    if (c.access_key_id.empty() && c.secret_access_key.empty()) continue;
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return Err("profile \"" + profile_ + "\" in " + *src.file +
                     " has only one of aws_access_key_id and aws_secret_access_key",
                 400);
    }
    return c;
  }
  return Err(
      "no keys for profile \"" + profile_ + "\" in " + credentials_file_ + " or " + config_file_,
      401);
}

Result<sigv4::Credentials> ChainCredentialsProvider::Get() {
  std::lock_guard l(mu_);
  if (chosen_ >= 0) {
    auto c = chain_[static_cast<size_t>(chosen_)]->Get();
    if (c.ok() || c.code() != 401) return c;
    chosen_ = -1;  // the source went away: search again
  }
  std::string tried;
  for (size_t i = 0; i < chain_.size(); ++i) {
    auto c = chain_[i]->Get();
    if (c.ok()) {
      chosen_ = static_cast<int>(i);
      return c;
    }
    if (c.code() != 401) return Err(chain_[i]->Name() + ": " + c.message(), c.code());
    tried += "; " + chain_[i]->Name() + ": " + c.message();
  }
  return Err("no AWS credentials found" + tried +
                 " (web identity, container credentials and IMDS are not supported yet)",
             401);
}

std::string ChainCredentialsProvider::Name() const {
  std::lock_guard l(mu_);
  return chosen_ >= 0 ? chain_[static_cast<size_t>(chosen_)]->Name() : "default chain";
}

std::shared_ptr<CredentialsProvider> DefaultCredentialsChain(const EnvLookup& env) {
  std::vector<std::unique_ptr<CredentialsProvider>> chain;
  chain.push_back(std::make_unique<EnvCredentialsProvider>(env));
  chain.push_back(ProfileCredentialsProvider::FromEnv(env));
  return std::make_shared<ChainCredentialsProvider>(std::move(chain));
}

}  // namespace aha::objectstore
