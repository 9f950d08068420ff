#include "objectstore/sigv4.h"

#include <algorithm>
#include <cctype>

#include "net/encode.h"

namespace aha::objectstore::sigv4 {

namespace {

std::string Lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Trim, and collapse inner runs of spaces to one (SigV4 canonical header values).
std::string CanonicalValue(const std::string& v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string Hex(std::string_view bytes) {
  return net::HexEncode(bytes);
}

std::string UriEncode(std::string_view s, bool encode_slash) {
  return net::PercentEncode(s, encode_slash ? "" : "/");
}

std::string CanonicalQuery(const KeyValues& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query)
    enc.emplace_back(UriEncode(k, true), UriEncode(v, true));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

std::string AmzDate(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Signed Sign(const Request& req, const Credentials& creds, const std::string& region,
            const std::string& service, const Clock& clock) {
  return Sign(req, creds, region, service, std::chrono::system_clock::to_time_t(clock.wall()));
}

Signed Sign(const Request& req, const Credentials& creds, const std::string& region,
            const std::string& service, std::time_t now) {
  Signed out;
  const std::string amz_date = AmzDate(now);
  const std::string date = amz_date.substr(0, 8);
  out.headers.emplace_back("x-amz-date", amz_date);
  out.headers.emplace_back("x-amz-content-sha256", req.payload_hash);
  if (!creds.session_token.empty()) {
    out.headers.emplace_back("x-amz-security-token", creds.session_token);
  }

  // Lowercase names; a name given twice signs as "v1,v2" (in the given order).
  std::vector<std::pair<std::string, std::string>> hs;
  auto add = [&](const std::string& name, const std::string& value) {
    const std::string n = Lower(name);
    for (auto& h : hs) {
      if (h.first == n) {
        h.second += "," + CanonicalValue(value);
        return;
      }
    }
    hs.emplace_back(n, CanonicalValue(value));
  };
  for (const auto& [n, v] : req.headers) {
    const std::string ln = Lower(n);
    if (ln == "x-amz-date" || ln == "x-amz-content-sha256" || ln == "x-amz-security-token") {
      continue;  // the signer owns these
    }
    add(n, v);
  }
  for (const auto& [n, v] : out.headers)
    add(n, v);
  std::stable_sort(hs.begin(), hs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers, signed_headers;
  for (const auto& [n, v] : hs) {
    canonical_headers += n + ":" + v + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += n;
  }

  out.canonical_request = req.method + "\n" +
                          (req.canonical_uri.empty() ? "/" : req.canonical_uri) + "\n" +
                          CanonicalQuery(req.query) + "\n" + canonical_headers + "\n" +
                          signed_headers + "\n" + req.payload_hash;
  const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  out.string_to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + Sha256Hex(out.canonical_request);
  std::string k = HmacSha256("AWS4" + creds.secret_access_key, date);
  k = HmacSha256(k, region);
  k = HmacSha256(k, service);
  k = HmacSha256(k, "aws4_request");
  const std::string signature = Hex(HmacSha256(k, out.string_to_sign));
  out.authorization = "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + scope +
                      ",SignedHeaders=" + signed_headers + ",Signature=" + signature;
  return out;
}

}  // namespace aha::objectstore::sigv4
