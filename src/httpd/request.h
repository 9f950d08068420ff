// HTTP/1.1 requests and the bounded, incremental request parser behind httpd::Server.
//
// The parser is fed whatever bytes arrived and never holds more than its limits allow:
//   - the request line plus header fields (and, separately, chunked trailers) are at most
//     `max_head_bytes` (431 beyond; 414 when the request line alone does not fit) and at most
//     `max_headers` fields (431);
//   - a body is only read once the caller has seen the head and called BeginBody(max_body):
//     a Content-Length above max_body is refused (413) before any body byte is read, and a
//     chunked body is refused (413) as soon as a chunk-size line would take it past max_body,
//     before that chunk's data is read. The parser never buffers more than max_body body bytes.
// It is deliberately strict (this is an origin server for probes, scrapers and API clients, not a
// proxy): CRLF line endings only, no obs-fold, no whitespace before a field's colon, HTTP/1.0 or
// HTTP/1.1 only, Host required in HTTP/1.1, Transfer-Encoding only "chunked" (501 otherwise) and
// never together with Content-Length (400: the classic request-smuggling ambiguity).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aha::httpd {

struct Request {
  std::string method;  // as sent (methods are case-sensitive)
  std::string target;  // request-target as sent
  std::string path;    // target up to '?'
  std::string query;   // after '?', without it
  int minor_version = 1;
  // Field names lower-cased, values without surrounding whitespace, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // decoded (chunked framing removed)

  // Case-insensitive lookup of the first field named `name`; "" when absent.
  const std::string& Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
  // Whether the client allows the connection to be reused after this request.
  bool KeepAlive() const;
};

// A request refused by a step of the parser: the status to answer and why (status 0: none).
struct ParseFailure {
  int status = 0;
  std::string why;
};

// The parser's pure steps, exposed for tests.
// The request line ("GET /p?q HTTP/1.1", no CRLF) into `req`'s method, target, path, query and
// minor_version (minor_version is set once the version is known good).
ParseFailure ParseRequestLine(std::string_view line, Request* req);
// A header field line (no CRLF): the name lower-cased, the value without surrounding whitespace.
ParseFailure ParseHeaderField(std::string_view line, std::string* name, std::string_view* value);
// A chunk-size line without its CRLF ("1a;ext"): the size; at most 15 hex digits (413 beyond).
ParseFailure ParseChunkSize(std::string_view line, uint64_t* size);

class RequestParser {
 public:
  enum class State {
    kHead,      // reading the request line and header fields
    kHeadDone,  // head parsed; waiting for BeginBody()
    kBody,      // reading the body
    kDone,      // a complete request is in request()
    kError,     // malformed or over a limit: see error_status()
  };
  enum class BodyFraming { kNone, kLength, kChunked };

  RequestParser(size_t max_head_bytes, size_t max_headers);

  // Consumes a prefix of `in` and returns its length. Stops early at the end of the head (state
  // kHeadDone), at the end of the request (kDone) and on error (kError); bytes after a complete
  // request belong to the next one (pipelining) and are left to the caller.
  size_t Feed(std::string_view in);

  // In kHeadDone: allow up to `max_body` decoded body bytes. Moves to kBody, to kDone (no body)
  // or to kError with 413 (a Content-Length above max_body).
  void BeginBody(size_t max_body);

  State state() const { return state_; }
  // Whether any byte of the current request has been consumed (an idle keep-alive connection
  // has none).
  bool started() const { return started_; }
  BodyFraming framing() const { return framing_; }
  // Declared Content-Length (kLength only).
  uint64_t content_length() const { return content_length_; }
  // Whether the client announced a body (a non-zero Content-Length or chunked framing).
  bool HasBody() const {
    return framing_ == BodyFraming::kChunked ||
           (framing_ == BodyFraming::kLength && content_length_ > 0);
  }
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }
  Request& request() { return req_; }

  // Forget the current request (after kDone) to parse the next one.
  void Reset();

 private:
  size_t FeedHead(std::string_view in);
  bool ParseHead();
  bool ParseFields(const std::vector<std::string_view>& lines);
  bool TakeContentLength(std::string_view value, bool* have_length);
  size_t FeedBody(std::string_view in);
  size_t FeedLengthBody(std::string_view in);
  // The chunked framing, one state each; false after Fail().
  bool FeedChunkSize(char c);
  size_t FeedChunkData(std::string_view in);
  bool FeedChunkDataEnd(char c);
  bool FeedTrailer(char c);
  void Fail(int status, std::string why);
  // Fail()s with `f` unless it is no failure; returns whether it was none.
  bool Check(ParseFailure f);

  enum class Chunk { kSize, kData, kDataEnd, kTrailer };

  size_t max_head_bytes_;
  size_t max_headers_;
  State state_ = State::kHead;
  bool started_ = false;
  BodyFraming framing_ = BodyFraming::kNone;
  uint64_t content_length_ = 0;
  size_t max_body_ = 0;
  std::string head_;  // raw head bytes so far
  Chunk chunk_ = Chunk::kSize;
  std::string line_;  // current chunk-size line, CRLF after data, or trailer line
  size_t trailer_bytes_ = 0;
  uint64_t chunk_left_ = 0;
  int error_status_ = 0;
  std::string error_;
  Request req_;
};

// Standard reason phrase for `status` ("Unknown" for codes this server never sends).
const char* ReasonPhrase(int status);

}  // namespace aha::httpd
