#include "eci/error.h"

#include <cstring>

namespace eci {

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
