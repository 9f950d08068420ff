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
#include "objectstore/s3_xml.h"  // the XML reply parsers
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
  // Signing time, deadlines and retry waits (tests pass a FakeClock); outlives the store.
  const Clock* clock = &SystemClock::instance();
  int max_attempts = 5;
  std::chrono::milliseconds backoff_base{200}, backoff_max{10000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds low_speed_timeout{30000};  // abort when < 1 B/s for this long
  std::string ca_file;                                 // optional extra CA bundle

  // Bounds against a hostile or broken endpoint; each error names the key and the bound.
  // - An in-memory 2xx body (Get, GetVersioned, a listing page, multipart replies) larger than
  //   max_response_bytes fails (a declared Content-Length beyond it before any byte is read).
  // - GetToFile with an expected size fails on a Content-Length that differs and stops after
  //   expected-size bytes: a longer body is never written to disk.
  // - Error bodies are read up to 64 KiB, response headers up to 256 KiB.
  // - Deadlines: one request may take request_timeout plus its size (the upload, the declared or
  //   expected download) at min_transfer_rate; all attempts of one operation together
  //   operation_timeout plus the same size allowance. A trickling body that keeps above the
  //   low-speed limit is cut at the deadline (retried while the operation's time lasts).
  // - List: a continuation token seen before is an error (no loop), a page may hold at most
  //   max_list_page_keys keys, one List at most max_list_keys in all, and the keys returned are
  //   unique (a page repeating keys does not make callers fetch them twice).
  uint64_t max_response_bytes = kMaxGetBytes;
  std::chrono::milliseconds request_timeout{60000};
  uint64_t min_transfer_rate = 64u << 10;  // bytes per second
  std::chrono::milliseconds operation_timeout{300000};
  uint64_t max_list_page_keys = 10000;  // S3 sends at most 1000
  uint64_t max_list_keys = 2000000;
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

}  // namespace aha::objectstore
