// The XML side of S3: small parsers for the replies S3ObjectStore and the STS client read
// (ListObjectsV2 results, <Error> documents, multipart replies) and the escaping for the one
// document they send. Pure functions over untrusted bytes: linear in the input, bounded output,
// never throw; fuzzed by fuzz/s3xml_fuzz.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "objectstore/store.h"

namespace aha::objectstore {

// Minimal XML helpers for S3 responses (exposed for tests and fuzz/s3xml_fuzz.cpp): inner text
// of every <tag> element (attributes allowed, no nesting of the same tag), and entity decoding.
// Linear in the input; never throw.
std::vector<std::string> XmlElements(const std::string& xml, const std::string& tag);
std::string XmlFirst(const std::string& xml, const std::string& tag);  // decoded, "" if none
std::string XmlDecode(const std::string& s);
std::string XmlEscape(const std::string& s);

// The parsed pieces of S3 XML replies (pure functions, exposed for tests and the fuzzer).
struct ListPage {
  std::vector<ObjectInfo> contents;  // raw keys as sent (not yet stripped or validated)
  bool truncated = false;
  std::string next_token;
  size_t key_count = 0;  // <Contents> elements seen (all of them, even past max_keys)
};
// A ListObjectsV2 result. Fails on a page with more than `max_keys` <Contents>, a size that is
// not a decimal number, or a continuation token longer than 4096 bytes.
Result<ListPage> ParseListPage(const std::string& xml, uint64_t max_keys);
// An S3 <Error> document as "Code: Message" text, both decoded and made printable (invalid UTF-8
// and control bytes escaped) and each cut to 256 bytes; "" when there is neither.
std::string ErrorDocumentText(const std::string& xml, std::string* code = nullptr);
// <UploadId> of a CreateMultipartUpload reply; fails when missing or not printable ASCII.
Result<std::string> ParseUploadId(const std::string& xml);
// Whether a CompleteMultipartUpload 200 reply is in fact an <Error>.
bool CompleteFailed(const std::string& xml);

// One uploaded part of a multipart upload: the ETag S3 returned and its base64 SHA-256.
struct UploadedPart {
  std::string etag, checksum;
};
// The CompleteMultipartUpload document for `parts`, numbered 1..N in order (ETags escaped).
std::string CompleteMultipartXml(const std::vector<UploadedPart>& parts);

}  // namespace aha::objectstore
