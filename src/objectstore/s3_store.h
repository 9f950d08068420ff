// S3ObjectStore: the ObjectStore for s3://bucket/prefix replicas, over libcurl, signed with
// SigV4 (objectstore/sigv4.h). Works with AWS S3 and S3-compatible stores (custom endpoint,
// path-style addressing).
//
// - Put: one PUT with Content-MD5 and x-amz-checksum-sha256 (the server verifies both).
// - PutFile: files up to part_size go as one PUT (hashes computed in a first streaming pass);
//   larger files use multipart upload, `parallelism` parts in flight, each part hashed in a first
//   pass and then streamed from disk: memory is bounded by parallelism x 1 MiB. Each part carries
//   Content-MD5 and x-amz-checksum-sha256. On failure the upload is aborted (no orphaned parts).
// - Get/GetToFile stream the body (GetToFile into a temp file renamed into place) and verify
//   x-amz-checksum-sha256 when the server returns a full-object checksum.
// - GetVersioned returns the ETag as the version; PutIf is one PUT with If-None-Match: * (create)
//   or If-Match: <etag> (replace). 412 PreconditionFailed, 404 NoSuchKey (If-Match on a missing
//   object) and 409 ConditionalRequestConflict (a concurrent write to the key) all come back as
//   code 412: the caller re-reads and decides again. The remote must enforce them (AWS S3 since
//   2024-08/11, MinIO, R2); ProbeConditionalWrites tells one that does not.
// - Transient failures (5xx, 429, connection errors, timeouts) are retried with full-jitter
//   exponential backoff; errors carry the S3 error Code and Message. Credentials come from
//   `credentials` per request (so rotation is picked up) and never appear in errors or logs.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "objectstore/credentials.h"
#include "objectstore/store.h"

namespace aha::objectstore {

struct S3Config {
  std::string bucket;
  std::string prefix;  // without leading/trailing '/'; keys are stored as prefix/key
  std::string region = "us-east-1";
  std::string endpoint;  // empty: https://s3.<region>.amazonaws.com
  bool path_style = false;
  uint64_t part_size = 16ull << 20;  // also the multipart threshold; >= 5 MiB for AWS
  int parallelism = 4;
  std::shared_ptr<CredentialsProvider> credentials;  // required
  int max_attempts = 5;
  std::chrono::milliseconds backoff_base{200}, backoff_max{10000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds low_speed_timeout{30000};  // abort when < 1 B/s for this long
  std::string ca_file;                                 // optional extra CA bundle
};

struct S3Overrides {
  std::string region, endpoint;
  std::optional<bool> path_style;
  uint64_t part_size = 0;
  int parallelism = 0;
  std::shared_ptr<CredentialsProvider> credentials;  // default: DefaultCredentialsChain(env)
};

// Builds a config from "s3://bucket[/prefix]" and the AWS standard environment: region from
// overrides, else AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1; endpoint from overrides,
// else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS's. Path-style is automatic for custom
// endpoints, IP-literal hosts and bucket names with dots (TLS wildcard certificates cannot cover
// them) unless overridden.
Result<S3Config> S3ConfigFromUrlAndEnv(const std::string& url, const S3Overrides& overrides,
                                       const EnvLookup& env = SystemEnv());

class S3ObjectStore : public ObjectStore {
 public:
  // Fails on an invalid bucket name, endpoint or sizes.
  static Result<std::unique_ptr<S3ObjectStore>> Create(S3Config config);

  Status Put(const std::string& key, const std::string& data) override;
  Status PutFile(const std::string& key, const std::string& path) override;
  Result<std::string> Get(const std::string& key) override;
  Status GetToFile(const std::string& key, const std::string& path, bool durable = true,
                   uint64_t expected_size = kAnySize) override;
  Result<bool> Exists(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override;
  Status Delete(const std::string& key) override;
  Result<Versioned> GetVersioned(const std::string& key) override;
  Result<std::string> PutIf(const std::string& key, const std::string& data,
                            const std::string& if_match) override;
  std::string Describe() const override;
  Stats stats() const override;

  struct Impl;  // request machinery (s3_store.cpp)

 private:
  explicit S3ObjectStore(S3Config config);
  std::string ObjectName(const std::string& key) const;  // prefix/key
  S3Config cfg_;
  std::string scheme_, host_, host_header_, base_path_;
  std::atomic<uint64_t> requests_{0}, bytes_up_{0}, bytes_down_{0};
  friend struct Impl;
};

// Minimal XML helpers for S3 responses (exposed for tests): inner text of every <tag> element
// (attributes allowed, no nesting of the same tag), and entity decoding.
std::vector<std::string> XmlElements(const std::string& xml, const std::string& tag);
std::string XmlFirst(const std::string& xml, const std::string& tag);  // decoded, "" if none
std::string XmlDecode(const std::string& s);
std::string XmlEscape(const std::string& s);

}  // namespace aha::objectstore
