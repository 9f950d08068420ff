// Throwaway PKI for tests: a CA and the certificates it issues, generated with the OpenSSL C API
// at test time (EC P-256, SHA-256) and written as PEM files into a private temporary directory
// that is removed when the TestCa is destroyed. Nothing is ever read from or written to the
// system trust store.
//
//   aha::testing::TestCa ca;                        // self-signed CA, ca.ca_file()
//   auto server = ca.IssueServer();                 // SAN localhost, 127.0.0.1, ::1
//   auto client = ca.IssueClient();                 // extendedKeyUsage clientAuth
//   httplib::SSLServer srv(server.cert_file.c_str(), server.key_file.c_str(),
//                          ca.ca_file().c_str());   // third argument: require client certs
//
// Failures (OpenSSL errors, I/O) throw std::runtime_error; GoogleTest reports them as test
// failures.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace aha::testing {

// What to put in an issued certificate.
struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries ("127.0.0.1", "::1")
  bool server_auth = true;                // extendedKeyUsage serverAuth
  bool client_auth = false;               // extendedKeyUsage clientAuth
  int valid_days = 2;                     // notBefore is one hour in the past
  bool expired = false;                   // validity window entirely in the past
};

// PEM files of an issued certificate (leaf only) and its unencrypted private key.
struct IssuedCert {
  std::string cert_file;
  std::string key_file;
};

class TestCa {
 public:
  // Creates a fresh temporary directory and a self-signed CA in it (ca.pem, ca-key.pem).
  explicit TestCa(const std::string& common_name = "agency-ha test CA");
  ~TestCa();  // deletes the directory and everything in it
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& dir() const;      // the temporary directory
  const std::string& ca_file() const;  // the CA certificate (PEM), for ca_file / client CA

  // Issues a certificate signed by this CA, written to <dir>/<name>.pem and <name>-key.pem.
  IssuedCert Issue(const std::string& name, const CertSpec& spec);
  // Server certificate for DNS:localhost, IP:127.0.0.1 and IP:::1.
  IssuedCert IssueServer(const std::string& name = "server");
  // Client certificate (clientAuth only), for mTLS.
  IssuedCert IssueClient(const std::string& name = "client");

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace aha::testing
