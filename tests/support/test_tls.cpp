#include "support/test_tls.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace aha::testing {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::string msg = "test_tls: " + what;
  unsigned long e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    msg += ": ";
    msg += buf;
  }
  ERR_clear_error();
  throw std::runtime_error(msg);
}

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDeleter {
  void operator()(X509* c) const { X509_free(c); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CertPtr = std::unique_ptr<X509, CertDeleter>;

KeyPtr NewKey() {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  if (ctx == nullptr) Fail("EVP_PKEY_CTX_new_from_name");
  EVP_PKEY* key = nullptr;
  bool ok = EVP_PKEY_keygen_init(ctx) > 0 && EVP_PKEY_CTX_set_group_name(ctx, "P-256") > 0 &&
            EVP_PKEY_keygen(ctx, &key) > 0;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) Fail("EC key generation");
  return KeyPtr(key);
}

void AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) Fail("extension " + std::string(OBJ_nid2sn(nid)) + "=" + value);
  int rc = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (rc != 1) Fail("X509_add_ext");
}

// A certificate with a random serial, the given subject CN and validity, and `key`'s public key.
CertPtr NewCert(const std::string& cn, EVP_PKEY* key, int valid_days, bool expired) {
  CertPtr cert(X509_new());
  if (!cert) Fail("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) Fail("RAND_bytes");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    Fail("serial number");
  }
  BN_free(bn);
  long day = 24L * 3600L;
  long not_before = expired ? -(valid_days + 2) * day : -3600L;
  long not_after = expired ? -day : valid_days * day;
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after) == nullptr) {
    Fail("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1) {
    Fail("subject name");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) Fail("X509_set_pubkey");
  return cert;
}

void WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) Fail("cannot write " + path);
  bool ok = cert != nullptr
                ? PEM_write_X509(f, cert) == 1
                : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) Fail("cannot write " + path);
}

}  // namespace

struct TestCa::State {
  std::string dir;
  std::string ca_file;
  KeyPtr key;
  CertPtr cert;
};

TestCa::TestCa(const std::string& common_name) : s_(std::make_unique<State>()) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "aha-tls-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("test_tls: mkdtemp failed");
  s_->dir = buf.data();
  try {
    s_->key = NewKey();
    s_->cert = NewCert(common_name, s_->key.get(), 2, false);
    X509* c = s_->cert.get();
    if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) Fail("issuer name");
    AddExt(c, c, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExt(c, c, NID_subject_key_identifier, "hash");
    AddExt(c, c, NID_authority_key_identifier, "keyid:always");
    if (X509_sign(c, s_->key.get(), EVP_sha256()) <= 0) Fail("X509_sign (CA)");
    s_->ca_file = s_->dir + "/ca.pem";
    WritePem(s_->ca_file, c, nullptr);
    WritePem(s_->dir + "/ca-key.pem", nullptr, s_->key.get());
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(s_->dir, ec);
    throw;
  }
}

TestCa::~TestCa() {
  std::error_code ec;
  std::filesystem::remove_all(s_->dir, ec);
}

const std::string& TestCa::dir() const {
  return s_->dir;
}
const std::string& TestCa::ca_file() const {
  return s_->ca_file;
}

IssuedCert TestCa::Issue(const std::string& name, const CertSpec& spec) {
  KeyPtr key = NewKey();
  std::string cn = spec.common_name.empty() ? name : spec.common_name;
  CertPtr cert = NewCert(cn, key.get(), spec.valid_days, spec.expired);
  X509* c = cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(s_->cert.get())) != 1) Fail("issuer name");
  AddExt(c, s_->cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  AddExt(c, s_->cert.get(), NID_key_usage, "critical,digitalSignature");
  std::string eku;
  if (spec.server_auth) eku = "serverAuth";
  if (spec.client_auth) eku += eku.empty() ? "clientAuth" : ",clientAuth";
  if (!eku.empty()) AddExt(c, s_->cert.get(), NID_ext_key_usage, eku);
  std::string san;
  for (const std::string& d : spec.dns_names)
    san += (san.empty() ? "DNS:" : ",DNS:") + d;
  for (const std::string& ip : spec.ip_addresses)
    san += (san.empty() ? "IP:" : ",IP:") + ip;
  if (!san.empty()) AddExt(c, s_->cert.get(), NID_subject_alt_name, san);
  AddExt(c, s_->cert.get(), NID_subject_key_identifier, "hash");
  AddExt(c, s_->cert.get(), NID_authority_key_identifier, "keyid:always");
  if (X509_sign(c, s_->key.get(), EVP_sha256()) <= 0) Fail("X509_sign");

  IssuedCert out{s_->dir + "/" + name + ".pem", s_->dir + "/" + name + "-key.pem"};
  WritePem(out.cert_file, c, nullptr);
  WritePem(out.key_file, nullptr, key.get());
  return out;
}

IssuedCert TestCa::IssueServer(const std::string& name) {
  CertSpec spec;
  spec.common_name = "localhost";
  spec.dns_names = {"localhost"};
  spec.ip_addresses = {"127.0.0.1", "::1"};
  return Issue(name, spec);
}

IssuedCert TestCa::IssueClient(const std::string& name) {
  CertSpec spec;
  spec.common_name = name;
  spec.server_auth = false;
  spec.client_auth = true;
  return Issue(name, spec);
}

}  // namespace aha::testing
