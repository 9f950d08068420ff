// S3rverProcess: runs npm `s3rver` (a local S3 API emulator) as a child process for C++ tests.
// It listens on a free loopback port with one configured bucket and accepts the access key
// S3RVER / S3RVER (it rejects unknown access keys; it does NOT verify SigV4 signatures or
// checksums — the signer is proven against the AWS SDK in sigv4_test.cpp).
// By default it runs through tests/support/s3rver.cjs, which enforces S3 conditional writes
// (If-Match / If-None-Match: * on PutObject, 412 PreconditionFailed) as AWS does; plain s3rver
// silently ignores them (Conditional::kIgnored keeps that, to test that such a remote is refused).
#pragma once

#include <sys/types.h>

#include <string>

#include "support/temp_dir.h"

namespace aha::testing {

class S3rverProcess {
 public:
  enum class Conditional { kEnforced, kIgnored };
  // Starts s3rver and waits until it accepts connections; throws std::runtime_error otherwise.
  explicit S3rverProcess(const std::string& bucket,
                         Conditional conditional = Conditional::kEnforced);
  ~S3rverProcess() { Stop(); }
  S3rverProcess(const S3rverProcess&) = delete;
  S3rverProcess& operator=(const S3rverProcess&) = delete;

  void Stop();                                               // kills the server (idempotent)
  const std::string& endpoint() const { return endpoint_; }  // http://127.0.0.1:PORT
  const std::string& bucket() const { return bucket_; }

  // One server per test process, started on first use and stopped at exit.
  static S3rverProcess& Shared();

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::string endpoint_, bucket_;
};

}  // namespace aha::testing
