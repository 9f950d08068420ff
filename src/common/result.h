// Result<T>: the return type of every fallible operation that crosses a module boundary.
//
// Why not exceptions: I/O failures (a probe that times out, a state write that hits EACCES) are
// expected events the caller must handle explicitly; a Result makes that visible in the type and
// keeps exceptions from unwinding through threads and C callbacks (libcurl, httplib).
// Why not std::expected: it is C++23; this is the minimal subset we need.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace aha {

// Code: the closed set of causes a caller may branch on. The raw value an error came from (an
// HTTP status, an errno) is mapped once, where it enters (the HTTP clients, the stores, the
// filesystem helpers), and kept beside the code as a detail for messages and outside output;
// callers compare codes, never raw numbers, so "404" from S3, ENOENT from a file store and a
// missing ConfigMap are the same kNotFound.
enum class Code : unsigned char {
  kUnknown,             // no cause a caller can act on
  kInvalid,             // bad input or usage; a 400/422; EINVAL
  kNotFound,            // 404; ENOENT: the object, key or resource does not exist
  kConflict,            // 409; EEXIST: exists already, or changed under us (retry after a re-read)
  kPreconditionFailed,  // 412: a conditional write lost (the version is not the one expected)
  kGone,                // 410: a watch's resourceVersion expired (relist)
  kPermissionDenied,    // 401/403; EACCES/EPERM: the credentials are rejected or lack a right
  kNotConfigured,       // a credential source that is simply absent (the chain tries the next)
  kUnavailable,         // transport error, timeout, 429 or 5xx: the other side may answer later
  kBadResponse,         // the other side answered, but not in a form we accept
  kNoSpace,             // ENOSPC/EDQUOT; 507: the disk (or quota) is full
  kUnsupported,         // 501; ENOTSUP: the remote lacks a feature (e.g. conditional writes)
  kTooLarge,            // 413; EFBIG: over a size limit
  kCancelled,           // stopped on request
};

inline const char* CodeName(Code c) {
  switch (c) {
    case Code::kUnknown:
      return "unknown";
    case Code::kInvalid:
      return "invalid";
    case Code::kNotFound:
      return "not-found";
    case Code::kConflict:
      return "conflict";
    case Code::kPreconditionFailed:
      return "precondition-failed";
    case Code::kGone:
      return "gone";
    case Code::kPermissionDenied:
      return "permission-denied";
    case Code::kNotConfigured:
      return "not-configured";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kBadResponse:
      return "bad-response";
    case Code::kNoSpace:
      return "no-space";
    case Code::kUnsupported:
      return "unsupported";
    case Code::kTooLarge:
      return "too-large";
    case Code::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

// An HTTP status as a Code. 0 (no response: a transport error) is kUnavailable; a 2xx or 3xx
// is not an error by itself and maps to kUnknown.
inline Code CodeFromHttp(int status) {
  switch (status) {
    case 0:
      return Code::kUnavailable;
    case 400:
    case 422:
      return Code::kInvalid;
    case 401:
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 408:
    case 429:
      return Code::kUnavailable;
    case 409:
      return Code::kConflict;
    case 410:
      return Code::kGone;
    case 412:
      return Code::kPreconditionFailed;
    case 413:
      return Code::kTooLarge;
    case 501:
      return Code::kUnsupported;
    case 507:
      return Code::kNoSpace;
    default:
      break;
  }
  if (status >= 500 && status < 600) return Code::kUnavailable;
  if (status >= 400 && status < 500) return Code::kInvalid;
  return Code::kUnknown;
}

// An errno value as a Code.
inline Code CodeFromErrno(int e) {
  switch (e) {
    case ENOENT:
      return Code::kNotFound;
    case EPERM:
    case EACCES:
      return Code::kPermissionDenied;
    case EEXIST:
      return Code::kConflict;
    case EINVAL:
      return Code::kInvalid;
    case EFBIG:
      return Code::kTooLarge;
    case ENOSPC:
    case EDQUOT:
      return Code::kNoSpace;
    case EOPNOTSUPP:
      return Code::kUnsupported;
    case EAGAIN:
    case ETIMEDOUT:
    case ECONNREFUSED:
      return Code::kUnavailable;
    default:
      return Code::kUnknown;
  }
}

struct Error {
  std::string message;
  Code code = Code::kUnknown;
  int http_status = 0;  // the HTTP status the error came from; 0 when none
  int sys_errno = 0;    // the errno it came from; 0 when none
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(std::move(e)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }
  const std::string& message() const { return error().message; }
  Code code() const { return error().code; }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : err_(std::move(e)) {}  // NOLINT(google-explicit-constructor)
  static Status Ok() { return {}; }

  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *err_; }
  const std::string& message() const { return err_->message; }
  Code code() const { return err_->code; }

 private:
  std::optional<Error> err_;
};

inline Error Err(std::string message, Code code = Code::kUnknown) {
  return Error{std::move(message), code, 0, 0};
}

// An error from an HTTP reply (or 0: none came): the code mapped, the status kept.
inline Error HttpErr(std::string message, int status) {
  return Error{std::move(message), CodeFromHttp(status), status, 0};
}

// An error from a failed system call: the code mapped, errno kept.
inline Error SysErr(std::string message, int sys_errno) {
  return Error{std::move(message), CodeFromErrno(sys_errno), 0, sys_errno};
}

// `e` with `prefix` put before its message; code and details kept.
inline Error Wrap(const std::string& prefix, Error e) {
  e.message = prefix + e.message;
  return e;
}

}  // namespace aha
