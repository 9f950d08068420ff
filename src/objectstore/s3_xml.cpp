#include "objectstore/s3_xml.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string_view>

#include "common/printable.h"

namespace aha::objectstore {

std::string XmlDecode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string::npos || semi - i > 12) {
      out += s[i];
      continue;
    }
    const std::string ent = s.substr(i + 1, semi - i - 1);
    unsigned long cp = 0;
    bool numeric = false;
    if (ent == "lt")
      out += '<';
    else if (ent == "gt")
      out += '>';
    else if (ent == "amp")
      out += '&';
    else if (ent == "quot")
      out += '"';
    else if (ent == "apos")
      out += '\'';
    else if (ent.size() > 1 && ent[0] == '#') {
      char* end = nullptr;
      const bool hex = ent[1] == 'x' || ent[1] == 'X';
      cp = std::strtoul(ent.c_str() + (hex ? 2 : 1), &end, hex ? 16 : 10);
      // Digits only (strtoul would take blanks and a sign), a Unicode scalar value.
      const char first = ent[hex ? 2 : 1];
      numeric = end != nullptr && *end == '\0' &&
                std::isxdigit(static_cast<unsigned char>(first)) && cp > 0 && cp <= 0x10FFFF &&
                (cp < 0xD800 || cp > 0xDFFF);
      if (!numeric) {
        out += s[i];
        continue;
      }
    } else {
      out += s[i];
      continue;
    }
    if (numeric) {  // UTF-8
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    i = semi;
  }
  return out;
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

// The inner text of the first `limit` <tag> elements; *total (when given) counts them all.
std::vector<std::string> XmlElementsUpTo(const std::string& xml, const std::string& tag,
                                         size_t limit, size_t* total = nullptr) {
  std::vector<std::string> out;
  size_t count = 0;
  const std::string open = "<" + tag, close = "</" + tag + ">";
  size_t pos = 0;
  auto take = [&](std::string v) {
    if (out.size() < limit) out.push_back(std::move(v));
    ++count;
  };
  while ((pos = xml.find(open, pos)) != std::string::npos) {
    size_t after = pos + open.size();
    if (after >= xml.size()) break;
    const char c = xml[after];
    if (c != '>' && c != ' ' && c != '/' && c != '\t' && c != '\r' && c != '\n') {
      pos = after;  // a longer tag name ("<Key" vs "<KeyCount")
      continue;
    }
    size_t gt = xml.find('>', after);
    if (gt == std::string::npos) break;
    if (xml[gt - 1] == '/') {  // <Tag/>
      take("");
      pos = gt + 1;
    } else {
      size_t end = xml.find(close, gt + 1);
      if (end == std::string::npos) break;
      take(xml.substr(gt + 1, end - gt - 1));
      pos = end + close.size();
    }
    if (!total && out.size() >= limit) break;
  }
  if (total) *total = count;
  return out;
}

}  // namespace

std::vector<std::string> XmlElements(const std::string& xml, const std::string& tag) {
  return XmlElementsUpTo(xml, tag, SIZE_MAX);
}

std::string XmlFirst(const std::string& xml, const std::string& tag) {
  auto v = XmlElementsUpTo(xml, tag, 1);
  return v.empty() ? "" : XmlDecode(v[0]);
}

Result<ListPage> ParseListPage(const std::string& xml, uint64_t max_keys) {
  ListPage page;
  const size_t limit = static_cast<size_t>(std::min<uint64_t>(max_keys, SIZE_MAX - 1));
  auto items = XmlElementsUpTo(xml, "Contents", limit + 1, &page.key_count);
  if (page.key_count > max_keys) {
    return Err("listing page has " + std::to_string(page.key_count) + " keys, more than the " +
               std::to_string(max_keys) + " allowed in one page");
  }
  page.contents.reserve(items.size());
  for (const auto& item : items) {
    ObjectInfo o;
    o.key = XmlFirst(item, "Key");
    const std::string size = XmlFirst(item, "Size");
    if (size.empty() || size.size() > 19 ||
        !std::all_of(size.begin(), size.end(),
                     [](unsigned char ch) { return ch >= '0' && ch <= '9'; })) {
      return Err("listing page: <Size> \"" + Printable(size.substr(0, 32)) + "\" of key \"" +
                 Printable(o.key.substr(0, 256)) + "\" is not a byte count");
    }
    o.size = std::strtoull(size.c_str(), nullptr, 10);
    page.contents.push_back(std::move(o));
  }
  page.truncated = XmlFirst(xml, "IsTruncated") == "true";
  page.next_token = XmlFirst(xml, "NextContinuationToken");
  if (page.next_token.size() > 4096) {
    return Err("listing page: NextContinuationToken of " + std::to_string(page.next_token.size()) +
               " bytes (more than 4096)");
  }
  return page;
}

std::string ErrorDocumentText(const std::string& xml, std::string* code_out) {
  // Cut before escaping: the cut may split a UTF-8 sequence, which Printable then escapes.
  auto field = [&](const char* tag) {
    std::string v = XmlFirst(xml, tag);
    return Printable(std::string_view(v).substr(0, 256));
  };
  const std::string code = field("Code"), msg = field("Message");
  if (code_out) *code_out = code;
  if (code.empty()) return msg;
  return msg.empty() ? code : code + ": " + msg;
}

Result<std::string> ParseUploadId(const std::string& xml) {
  const std::string id = XmlFirst(xml, "UploadId");
  if (id.empty()) return Err("no UploadId in the reply");
  if (id.size() > 1024 ||
      !std::all_of(id.begin(), id.end(), [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; })) {
    return Err("UploadId \"" + Printable(id.substr(0, 64)) + "\" is not printable ASCII");
  }
  return id;
}

bool CompleteFailed(const std::string& xml) {
  return xml.find("<Error>") != std::string::npos;
}

std::string CompleteMultipartXml(const std::vector<UploadedPart>& parts) {
  std::string xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (size_t i = 0; i < parts.size(); ++i) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
           XmlEscape(parts[i].etag) + "</ETag><ChecksumSHA256>" + parts[i].checksum +
           "</ChecksumSHA256></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  return xml;
}

}  // namespace aha::objectstore
