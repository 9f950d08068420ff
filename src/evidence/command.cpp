#include "evidence/command.h"

#include <cstdio>

#include "common/fs.h"
#include "common/json_get.h"
#include "common/printable.h"
#include "evidence/seal.h"
#include "net/secret.h"

namespace aha::evidence {

namespace {

int Fail(int rc, const std::string& msg) {
  std::fprintf(stderr, "agency-ha evidence verify: %s\n", Printable(msg, true).c_str());
  return rc;
}

}  // namespace

int VerifyCommand(const std::string& path, const std::string& hmac_key_file) {
  std::optional<std::string> key;
  if (!hmac_key_file.empty()) {
    auto k = net::ReadTokenFile(hmac_key_file);
    if (!k) return Fail(2, "--hmac-key-file: " + k.message());
    key = std::move(*k);
  }
  auto text = ReadFile(path);
  if (!text) return Fail(2, text.message());
  if (text->size() > kMaxRecordBytes) {
    return Fail(2, path + ": " + std::to_string(text->size()) + " bytes, over the " +
                       std::to_string(kMaxRecordBytes) + "-byte limit of a record");
  }
  auto doc = jsonget::Parse(*text, path);
  if (!doc) return Fail(2, doc.message());
  auto v = Verify(*doc, key);
  if (!v) return Fail(2, path + ": " + v.message());
  if (!v->intact) return Fail(1, path + ": NOT INTACT: " + v->problem);
  std::printf("intact: sha256 %s%s\n", v->sha256.c_str(),
              v->hmac_checked   ? "; HMAC-SHA256 verified with the given key"
              : v->hmac_present ? "; HMAC present, not checked (no --hmac-key-file)"
                                : "; no HMAC");
  return 0;
}

}  // namespace aha::evidence
