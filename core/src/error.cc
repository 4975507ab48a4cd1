#include "eci/error.h"

#include <cstring>

namespace eci {

ErrorKind kindOfErrno(int err) {
  switch (err) {
    case ENOENT:
    case ESRCH:
      return ErrorKind::kNotFound;
    case EACCES:
    case EPERM:
      return ErrorKind::kDenied;
    case EINVAL:
      return ErrorKind::kInvalidInput;
    case EFBIG:
    case E2BIG:
    case EMSGSIZE:
    case ENAMETOOLONG:
      return ErrorKind::kTooLarge;
    case EPROTO:
    case EBADMSG:
    case ECONNRESET:
    case EPIPE:
      return ErrorKind::kProtocol;
    case ETIMEDOUT:
      return ErrorKind::kTimeout;
    case EEXIST:
    case EBUSY:
    case EADDRINUSE:
    case ENOTEMPTY:
      return ErrorKind::kConflict;
    case EAGAIN:
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EHOSTUNREACH:
      return ErrorKind::kUnavailable;
    case ENOTSUP:  // == EOPNOTSUPP on Linux
    case ENOSYS:
      return ErrorKind::kUnsupported;
    case ECANCELED:
      return ErrorKind::kCancelled;
    default:
      return ErrorKind::kSystem;
  }
}

const char* kindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kSystem:
      return "system error";
    case ErrorKind::kInvalidInput:
      return "invalid input";
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kDenied:
      return "denied";
    case ErrorKind::kTooLarge:
      return "too large";
    case ErrorKind::kProtocol:
      return "protocol error";
    case ErrorKind::kTimeout:
      return "timed out";
    case ErrorKind::kConflict:
      return "conflict";
    case ErrorKind::kUnavailable:
      return "unavailable";
    case ErrorKind::kUnsupported:
      return "unsupported";
    case ErrorKind::kInternal:
      return "internal error";
    case ErrorKind::kCancelled:
      return "cancelled";
    case ErrorKind::kOther:
      return "other";
  }
  return "other";
}

int Error::errnoOr(int fallback) const {
  if (errno_ != 0) return errno_;
  switch (kind_) {
    case ErrorKind::kInvalidInput:
      return EINVAL;
    case ErrorKind::kNotFound:
      return ENOENT;
    case ErrorKind::kDenied:
      return EPERM;
    case ErrorKind::kTooLarge:
      return EFBIG;
    case ErrorKind::kProtocol:
      return EPROTO;
    case ErrorKind::kTimeout:
      return ETIMEDOUT;
    case ErrorKind::kConflict:
      return EEXIST;
    case ErrorKind::kUnavailable:
      return EAGAIN;
    case ErrorKind::kUnsupported:
      return ENOTSUP;
    case ErrorKind::kInternal:
      return EIO;
    case ErrorKind::kCancelled:
      return ECANCELED;
    case ErrorKind::kSystem:  // only with an errno; a default-constructed Error has none
    case ErrorKind::kOther:
      return fallback;
  }
  return fallback;
}

std::string Error::str() const {
  std::string out;
  for (auto it = context_.rbegin(); it != context_.rend(); ++it) {
    out += *it;
    out += ": ";
  }
  out += message_;
  if (errno_ != 0) {
    out += ": ";
    out += std::strerror(errno_);
  }
  if (!hint_.empty()) {
    out += " (";
    out += hint_;
    out += ")";
  }
  return out;
}

}  // namespace eci
