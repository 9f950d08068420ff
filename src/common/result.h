// Result<T>: the return type of every fallible operation that crosses a module boundary.
//
// Why not exceptions: I/O failures (a probe that times out, a state write that hits EACCES) are
// expected events the caller must handle explicitly; a Result makes that visible in the type and
// keeps exceptions from unwinding through threads and C callbacks (libcurl, httplib).
// Why not std::expected: it is C++23; this is the minimal subset we need.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace aha {

struct Error {
  std::string message;
  int code = 0;  // optional machine-readable cause, e.g. the HTTP status of an API error
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
  int code() const { return error().code; }

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
  int code() const { return err_->code; }

 private:
  std::optional<Error> err_;
};

inline Error Err(std::string message, int code = 0) {
  return Error{std::move(message), code};
}

}  // namespace aha
