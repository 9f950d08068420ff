// libFuzzer target for the S3 XML reply parsers (src/objectstore/s3_xml.h): arbitrary bytes as a
// ListObjectsV2 result, an <Error> document (S3's and STS's), a CreateMultipartUpload and a
// CompleteMultipartUpload reply. No I/O.
// Invariants checked: nothing throws or crashes; a parsed listing page holds at most the
// allowed keys and a bounded token; error text has no control byte, is valid UTF-8 (a strict
// JSON dump accepts it) and is bounded; an accepted UploadId is printable ASCII; decoding never
// grows the text and XmlDecode(XmlEscape(s)) == s. Build and run: scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "objectstore/s3_xml.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

constexpr uint64_t kMaxKeys = 50;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aha::objectstore;
  const std::string in(reinterpret_cast<const char*>(data), size);

  auto page = ParseListPage(in, kMaxKeys);
  if (page) {
    Check(page->key_count <= kMaxKeys);
    Check(page->contents.size() == page->key_count);
    Check(page->next_token.size() <= 4096);
  } else {
    Check(!page.message().empty());
    (void)nlohmann::json(page.message()).dump();  // throws (and aborts) on invalid UTF-8
  }

  std::string code;
  const std::string text = ErrorDocumentText(in, &code);
  for (unsigned char c : text)
    Check(c >= 0x20 && c != 0x7f);
  Check(text.size() <= 2 * 4 * 256 + 2);  // two fields of 256 bytes, each byte at most \xNN
  Check(text.find(code) == 0 || code.empty());
  (void)nlohmann::json(text).dump();

  auto id = ParseUploadId(in);
  if (id) {
    Check(!id->empty() && id->size() <= 1024);
    for (unsigned char c : *id)
      Check(c > 0x20 && c < 0x7f);
  } else {
    (void)nlohmann::json(id.message()).dump();
  }
  (void)CompleteFailed(in);

  const std::string decoded = XmlDecode(in);
  Check(decoded.size() <= in.size());
  Check(XmlDecode(XmlEscape(in)) == in);
  for (const auto& e : XmlElements(in, "Key"))
    Check(e.size() < in.size());
  return 0;
}
