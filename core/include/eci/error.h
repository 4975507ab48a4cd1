// The one error type of eci, and Result<T> which carries either a value or an Error.
//
// An Error holds a kind (what class of failure it is: callers branch on kind(), never on a
// message), the errno of a failed system call (code(); 0 when the failure is not a system error),
// a message that names the operation and its arguments, an optional hint, and the context added by
// each caller on the way up. It renders as "outermost context: ... : innermost message: strerror
// (hint)", the strerror only for system errors. No exceptions cross module boundaries: functions
// that can fail return Result<T> / Status and are [[nodiscard]].
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace eci {

// What class of failure an Error is. A failure that is not a failed system call gets its kind
// here instead of a borrowed errno: an errno would render a misleading strerror ("bad JSON:
// Invalid argument") and let callers mistake an input problem for an I/O one. A system error's
// kind is derived from its errno (kindOfErrno), so callers test kind() the same way for both.
enum class ErrorKind {
  // A system call failed and no kind below fits its errno; code() is the errno.
  kSystem,
  // Malformed or out-of-range input: a file, a request, an argument, a state record.
  kInvalidInput,
  // What was asked for does not exist (a file, a container, a registration).
  kNotFound,
  // Refused by a rule, a permission or an ownership check.
  kDenied,
  // Larger than a limit (a file, a frame, a name, a request body).
  kTooLarge,
  // A peer broke a protocol: an answer that is malformed, missing or cut short.
  kProtocol,
  // Did not happen within its deadline.
  kTimeout,
  // Conflicts with what exists: already there, busy, in use.
  kConflict,
  // Cannot be done now (a resource is exhausted, a service is not reachable); retrying may work.
  kUnavailable,
  // Not supported by this kernel, platform or configuration.
  kUnsupported,
  // eci broke its own invariant, or a helper process died: a bug or a crash, not the user's input.
  kInternal,
  // The user cancelled the operation.
  kCancelled,
  // Described by its message only: Error(message). Nothing branches on it; give such an error a
  // kind above as soon as a caller needs to tell it apart.
  kOther,
};

// The kind of a failed system call's errno: ENOENT/ESRCH -> kNotFound, EACCES/EPERM -> kDenied,
// EINVAL -> kInvalidInput, EFBIG/E2BIG/EMSGSIZE/ENAMETOOLONG -> kTooLarge, EPROTO/EBADMSG/
// ECONNRESET/EPIPE -> kProtocol, ETIMEDOUT -> kTimeout, EEXIST/EBUSY/EADDRINUSE/ENOTEMPTY ->
// kConflict, EAGAIN/ENOSPC/EMFILE/ENFILE/ENOMEM/EHOSTUNREACH -> kUnavailable,
// ENOTSUP/ENOSYS -> kUnsupported, ECANCELED -> kCancelled, anything else -> kSystem.
ErrorKind kindOfErrno(int err);

// "invalid input", "not found", ...: for logs and tests.
const char* kindName(ErrorKind kind);

class Error {
 public:
  Error() = default;
  // A failure described by its message only (kind kOther).
  explicit Error(std::string message) : message_(std::move(message)) {}
  // A failure that is not a system error, e.g. Error(ErrorKind::kInvalidInput, "policy /x: ...").
  Error(ErrorKind kind, std::string message, std::string hint = {})
      : kind_(kind), message_(std::move(message)), hint_(std::move(hint)) {}
  // A system error: `err` is the errno of the failed call; `message` names the call and its
  // arguments, e.g. "mount_setattr('/x', IDMAP)". Only for real errnos: a failure that merely
  // resembles one takes an ErrorKind instead.
  Error(int err, std::string message, std::string hint = {})
      : kind_(err != 0 ? kindOfErrno(err) : ErrorKind::kOther),
        errno_(err),
        message_(std::move(message)),
        hint_(std::move(hint)) {}

  // Captures the current errno; use right after a failed call.
  static Error fromErrno(std::string message, std::string hint = {}) {
    return Error(errno, std::move(message), std::move(hint));
  }

  ErrorKind kind() const { return kind_; }
  // The errno of the failed system call; 0 when this is not a system error.
  int code() const { return errno_; }
  bool isSystem() const { return errno_ != 0; }
  const std::string& message() const { return message_; }
  const std::string& hint() const { return hint_; }
  const std::vector<std::string>& context() const { return context_; }

  // The errno to hand the kernel or a caller's process for this failure (a seccomp or FUSE reply):
  // a system error's own errno; otherwise the kind's: kInvalidInput EINVAL, kNotFound ENOENT,
  // kDenied EPERM, kTooLarge EFBIG, kProtocol EPROTO, kTimeout ETIMEDOUT, kConflict EEXIST,
  // kUnavailable EAGAIN, kUnsupported ENOTSUP, kInternal EIO, kCancelled ECANCELED; `fallback`
  // for kOther.
  int errnoOr(int fallback) const;

  // The same failure under another message (context and kind kept), e.g. to add what was tried.
  Error withMessage(std::string message, std::string hint) const {
    Error e = *this;
    e.message_ = std::move(message);
    e.hint_ = std::move(hint);
    return e;
  }

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
  // ID-mapped)". The innermost message comes last; strerror only for a system error.
  std::string str() const;

 private:
  ErrorKind kind_ = ErrorKind::kOther;
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
