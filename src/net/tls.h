// TLS material of one HTTP client, kept free of libcurl so that configs can hold it
// (config::TlsConfig is this type) without pulling libcurl into every file that reads a config.
#pragma once

#include <string>

namespace aha::net {

// TLS material of one client: files (config paths) or PEM held in memory (kubeconfig data), or
// neither (the system store). Empty fields are not set.
struct Tls {
  std::string ca_file;    // PEM bundle that verifies the server
  std::string cert_file;  // client certificate (mTLS)
  std::string key_file;
  std::string ca_pem;  // the same, in memory (copied into the handle)
  std::string cert_pem;
  std::string key_pem;
  bool insecure_skip_verify = false;  // neither the peer's chain nor its name is checked
};

}  // namespace aha::net
