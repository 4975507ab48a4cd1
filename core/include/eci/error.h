// The one error type of eci, and Result<T> which carries either a value or an Error.
//
// An Error holds an errno (0 when the failure is not a system error), a message that names the
// operation and its arguments, and the context added by each caller on the way up. It renders as
// "outermost context: ... : innermost message: strerror (hint)". No exceptions cross module
// boundaries: functions that can fail return Result<T> / Status and are [[nodiscard]].
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace eci {

class Error {
 public:
  Error() = default;
  // A failure that is not a system error.
  explicit Error(std::string message) : message_(std::move(message)) {}
  // A system error: `message` names the call and its arguments, e.g. "mount_setattr('/x', IDMAP)".
  Error(int err, std::string message, std::string hint = {})
      : errno_(err), message_(std::move(message)), hint_(std::move(hint)) {}

  // Captures the current errno; use right after a failed call.
  static Error fromErrno(std::string message, std::string hint = {}) {
    return Error(errno, std::move(message), std::move(hint));
  }

  int code() const { return errno_; }
  const std::string& message() const { return message_; }
  const std::string& hint() const { return hint_; }
  const std::vector<std::string>& context() const { return context_; }

  // Adds what the caller was doing; rendered before the inner message.
  Error& wrap(std::string what) & {
    context_.push_back(std::move(what));
    return *this;
  }
  Error&& wrap(std::string what) && {
    context_.push_back(std::move(what));
    return std::move(*this);
  }

  // "creating container abc: mount_setattr('/x', IDMAP): Invalid argument (overlayfs cannot be
  // ID-mapped)". The innermost message comes last.
  std::string str() const;

 private:
  int errno_ = 0;
  std::string message_;
  std::string hint_;
  std::vector<std::string> context_;  // innermost first
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

inline Status okStatus() {
  return {};
}

}  // namespace eci

// Propagates a failed Result/Status to the caller, optionally adding context.
#define ECI_TRY(expr)                                                     \
  do {                                                                    \
    auto&& eci_try_result_ = (expr);                                      \
    if (!eci_try_result_.ok()) return std::move(eci_try_result_).error(); \
  } while (0)

#define ECI_TRY_CTX(expr, ctx)                                                      \
  do {                                                                              \
    auto&& eci_try_result_ = (expr);                                                \
    if (!eci_try_result_.ok()) return std::move(eci_try_result_).error().wrap(ctx); \
  } while (0)

// Declares `var` from a Result<T>, or returns its error.
#define ECI_ASSIGN_OR_RETURN(var, expr)                             \
  auto var##_result_ = (expr);                                      \
  if (!var##_result_.ok()) return std::move(var##_result_).error(); \
  /* `var` is a declarator, which cannot be parenthesised. */       \
  auto var = std::move(var##_result_).value()  // NOLINT(bugprone-macro-parentheses)
