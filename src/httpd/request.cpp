#include "httpd/request.h"

#include <algorithm>
#include <cctype>

namespace aha::httpd {

namespace {

char Lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

// RFC 7230 tchar.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Whether the comma-separated list `value` contains `token` (case-insensitive).
bool ListHas(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (IEquals(Trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

constexpr size_t kMaxChunkLine = 1024;  // chunk size plus extensions

}  // namespace

const std::string& Request::Header(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : headers)
    if (IEquals(k, name)) return v;
  return kEmpty;
}

bool Request::HasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& kv) { return IEquals(kv.first, name); });
}

bool Request::KeepAlive() const {
  const std::string& c = Header("connection");
  if (ListHas(c, "close")) return false;
  return minor_version >= 1 || ListHas(c, "keep-alive");
}

RequestParser::RequestParser(size_t max_head_bytes, size_t max_headers)
    : max_head_bytes_(max_head_bytes), max_headers_(max_headers) {}

void RequestParser::Reset() {
  state_ = State::kHead;
  started_ = false;
  framing_ = BodyFraming::kNone;
  content_length_ = 0;
  max_body_ = 0;
  head_.clear();
  chunk_ = Chunk::kSize;
  line_.clear();
  trailer_bytes_ = 0;
  chunk_left_ = 0;
  error_status_ = 0;
  error_.clear();
  req_ = Request{};
}

void RequestParser::Fail(int status, std::string why) {
  state_ = State::kError;
  error_status_ = status;
  error_ = std::move(why);
}

size_t RequestParser::Feed(std::string_view in) {
  size_t used = 0;
  if (state_ == State::kHead) {
    used = FeedHead(in);
  } else if (state_ == State::kBody) {
    used = FeedBody(in);
  }
  return used;
}

size_t RequestParser::FeedHead(std::string_view in) {
  size_t used = 0;
  // RFC 7230 section 3.5: ignore empty lines before the request line (a client's stray CRLF
  // after a previous body).
  while (head_.empty() && used < in.size() && (in[used] == '\r' || in[used] == '\n')) {
    if (in[used] == '\n' && used > 0 && in[used - 1] != '\r') {
      Fail(400, "bare LF");
      return used;
    }
    ++used;
  }
  if (used > 0) started_ = true;
  while (used < in.size()) {
    // Copy up to the end of the head or the size limit, whichever comes first.
    const size_t scan_from = head_.size() >= 3 ? head_.size() - 3 : 0;
    const size_t room = max_head_bytes_ - head_.size();
    const size_t take = std::min(room + 1, in.size() - used);  // +1: detect overflow
    head_.append(in.substr(used, take));
    started_ = true;
    const size_t end = head_.find("\r\n\r\n", scan_from);
    if (end != std::string::npos) {
      const size_t keep = end + 4;
      used += take - (head_.size() - keep);
      head_.resize(keep);
      if (!ParseHead()) return used;
      state_ = State::kHeadDone;
      return used;
    }
    used += take;
    if (head_.size() > max_head_bytes_) {
      if (head_.find("\r\n") == std::string::npos) {
        Fail(414, "request line longer than " + std::to_string(max_head_bytes_) + " bytes");
      } else {
        Fail(431, "request head longer than " + std::to_string(max_head_bytes_) + " bytes");
      }
      return used;
    }
  }
  return used;
}

namespace {

// The head's lines without their CRLF; the empty line that ends the head is not one of them.
std::vector<std::string_view> HeadLines(std::string_view h) {
  h.remove_suffix(2);  // the empty line; every remaining line ends in CRLF
  std::vector<std::string_view> lines;
  while (!h.empty()) {
    const size_t eol = h.find("\r\n");
    lines.push_back(h.substr(0, eol));
    h.remove_prefix(eol + 2);
  }
  return lines;
}

bool HasBareCrLfOrNul(const std::vector<std::string_view>& lines) {
  for (std::string_view l : lines) {
    if (l.find('\r') != std::string_view::npos || l.find('\n') != std::string_view::npos ||
        l.find('\0') != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

ParseFailure ParseRequestLine(std::string_view rl, Request* req) {
  // method SP request-target SP HTTP-version.
  const size_t sp1 = rl.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos) {
    return {400, "malformed request line"};
  }
  const std::string_view method = rl.substr(0, sp1);
  const std::string_view target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = rl.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), IsTokenChar)) {
    return {400, "malformed method"};
  }
  if (target.empty() || (target.front() != '/' && target != "*") ||
      std::any_of(target.begin(), target.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return {400, "request target must be an absolute path"};
  }
  if (version == "HTTP/1.1") {
    req->minor_version = 1;
  } else if (version == "HTTP/1.0") {
    req->minor_version = 0;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/") {
    return {505, "only HTTP/1.0 and HTTP/1.1 are supported"};
  } else {
    return {400, "malformed HTTP version"};
  }
  req->method = std::string(method);
  req->target = std::string(target);
  const size_t q = target.find('?');
  req->path = std::string(target.substr(0, q));
  req->query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  return {};
}

ParseFailure ParseHeaderField(std::string_view l, std::string* name, std::string_view* value) {
  if (l.front() == ' ' || l.front() == '\t') return {400, "obsolete line folding"};
  const size_t colon = l.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      !std::all_of(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(colon), IsTokenChar)) {
    return {400, "malformed header field"};
  }
  *name = std::string(l.substr(0, colon));
  std::transform(name->begin(), name->end(), name->begin(), Lower);
  *value = Trim(l.substr(colon + 1));
  return {};
}

ParseFailure ParseChunkSize(std::string_view line, uint64_t* size) {
  size_t digits = 0;
  uint64_t n = 0;
  while (digits < line.size() && std::isxdigit(static_cast<unsigned char>(line[digits]))) {
    if (digits == 15) return {413, "chunk size too large"};
    const char d = Lower(line[digits]);
    n = n * 16 + static_cast<uint64_t>(d <= '9' ? d - '0' : d - 'a' + 10);
    ++digits;
  }
  const std::string_view rest = Trim(line.substr(digits));
  if (digits == 0 || (!rest.empty() && rest.front() != ';')) {
    return {400, "malformed chunk size"};
  }
  *size = n;
  return {};
}

bool RequestParser::Check(ParseFailure f) {
  if (f.status == 0) return true;
  Fail(f.status, std::move(f.why));
  return false;
}

bool RequestParser::ParseHead() {
  const std::vector<std::string_view> lines = HeadLines(head_);
  if (HasBareCrLfOrNul(lines)) {
    Fail(400, "bare CR, LF or NUL in the request head");
    return false;
  }
  if (!Check(ParseRequestLine(lines.front(), &req_))) return false;
  if (lines.size() - 1 > max_headers_) {
    Fail(431, "more than " + std::to_string(max_headers_) + " header fields");
    return false;
  }
  if (!ParseFields(lines)) return false;
  head_.clear();
  head_.shrink_to_fit();
  return true;
}

bool RequestParser::TakeContentLength(std::string_view value, bool* have_length) {
  if (value.empty() || value.size() > 18 ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    Fail(400, "malformed Content-Length");
    return false;
  }
  const uint64_t n = std::stoull(std::string(value));
  if (*have_length && n != content_length_) {
    Fail(400, "conflicting Content-Length fields");
    return false;
  }
  *have_length = true;
  content_length_ = n;
  return true;
}

bool RequestParser::ParseFields(const std::vector<std::string_view>& lines) {
  int hosts = 0;
  bool have_length = false;
  bool have_te = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string name;
    std::string_view value;
    if (!Check(ParseHeaderField(lines[i], &name, &value))) return false;
    if (name == "host") ++hosts;
    if (name == "content-length" && !TakeContentLength(value, &have_length)) return false;
    if (name == "transfer-encoding") {
      if (have_te || !IEquals(value, "chunked")) {
        Fail(501, "only Transfer-Encoding: chunked is supported");
        return false;
      }
      have_te = true;
    }
    req_.headers.emplace_back(std::move(name), std::string(value));
  }
  if (have_te && have_length) {
    Fail(400, "both Transfer-Encoding and Content-Length");
    return false;
  }
  if (have_te && req_.minor_version == 0) {
    Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    return false;
  }
  if (hosts > 1 || (hosts == 0 && req_.minor_version == 1)) {
    Fail(400, "an HTTP/1.1 request needs exactly one Host field");
    return false;
  }
  framing_ =
      have_te ? BodyFraming::kChunked : (have_length ? BodyFraming::kLength : BodyFraming::kNone);
  return true;
}

void RequestParser::BeginBody(size_t max_body) {
  if (state_ != State::kHeadDone) return;
  max_body_ = max_body;
  if (framing_ == BodyFraming::kNone ||
      (framing_ == BodyFraming::kLength && content_length_ == 0)) {
    state_ = State::kDone;
    return;
  }
  if (framing_ == BodyFraming::kLength) {
    if (content_length_ > max_body) {
      Fail(413, "body of " + std::to_string(content_length_) + " bytes exceeds the limit of " +
                    std::to_string(max_body));
      return;
    }
    req_.body.reserve(static_cast<size_t>(content_length_));
  }
  state_ = State::kBody;
}

size_t RequestParser::FeedBody(std::string_view in) {
  if (framing_ == BodyFraming::kLength) return FeedLengthBody(in);
  size_t used = 0;
  while (used < in.size() && state_ == State::kBody) {
    bool ok = true;
    switch (chunk_) {
      case Chunk::kSize:
        ok = FeedChunkSize(in[used++]);
        break;
      case Chunk::kData:
        used += FeedChunkData(in.substr(used));
        break;
      case Chunk::kDataEnd:
        ok = FeedChunkDataEnd(in[used++]);
        break;
      case Chunk::kTrailer:
        ok = FeedTrailer(in[used++]);
        break;
    }
    if (!ok) return used;
  }
  return used;
}

size_t RequestParser::FeedLengthBody(std::string_view in) {
  const size_t take =
      static_cast<size_t>(std::min<uint64_t>(content_length_ - req_.body.size(), in.size()));
  req_.body.append(in.substr(0, take));
  if (req_.body.size() == content_length_) state_ = State::kDone;
  return take;
}

bool RequestParser::FeedChunkSize(char c) {
  if (c != '\n') {
    line_ += c;
    if (line_.size() > kMaxChunkLine) {
      Fail(400, "chunk-size line too long");
      return false;
    }
    return true;
  }
  if (line_.empty() || line_.back() != '\r') {
    Fail(400, "bare LF in chunked framing");
    return false;
  }
  line_.pop_back();
  uint64_t size = 0;
  if (!Check(ParseChunkSize(line_, &size))) return false;
  line_.clear();
  if (size == 0) {
    chunk_ = Chunk::kTrailer;
  } else if (size > max_body_ - req_.body.size()) {
    Fail(413, "chunked body exceeds the limit of " + std::to_string(max_body_) + " bytes");
    return false;
  } else {
    chunk_left_ = size;
    chunk_ = Chunk::kData;
  }
  return true;
}

size_t RequestParser::FeedChunkData(std::string_view in) {
  const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left_, in.size()));
  req_.body.append(in.substr(0, take));
  chunk_left_ -= take;
  if (chunk_left_ == 0) chunk_ = Chunk::kDataEnd;
  return take;
}

bool RequestParser::FeedChunkDataEnd(char c) {
  line_ += c;
  if (line_.size() == 2) {
    if (line_ != "\r\n") {
      Fail(400, "chunk data not followed by CRLF");
      return false;
    }
    line_.clear();
    chunk_ = Chunk::kSize;
  }
  return true;
}

bool RequestParser::FeedTrailer(char c) {
  if (++trailer_bytes_ > max_head_bytes_) {
    Fail(431, "chunked trailer longer than " + std::to_string(max_head_bytes_) + " bytes");
    return false;
  }
  if (c != '\n') {
    line_ += c;
    return true;
  }
  if (line_.empty() || line_.back() != '\r') {
    Fail(400, "bare LF in chunked trailer");
    return false;
  }
  const bool last = line_.size() == 1;
  line_.clear();  // trailer fields are read and dropped
  if (last) state_ = State::kDone;
  return true;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace aha::httpd
