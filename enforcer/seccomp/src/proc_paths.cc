// The /proc paths a trapped call may name as a source (rules.h procSelfFd, procNsPath): parsed
// by their exact shape only, so a spelling the rules did not expect (leading zeros, `..`, a
// trailing slash, another file of the process) is no such path. Pure, fuzzed with decide().
#include <algorithm>
#include <cstdint>
#include <vector>

#include "eci/seccomp/rules.h"

namespace eci::seccomp {

std::optional<int> procSelfFd(std::string_view path) {
  for (std::string_view prefix :
       {std::string_view("/proc/self/fd/"), std::string_view("/proc/thread-self/fd/")}) {
    if (path.substr(0, prefix.size()) != prefix) continue;
    const std::string_view num = path.substr(prefix.size());
    if (num.empty() || num.size() > 10 || (num.size() > 1 && num.front() == '0')) return {};
    int64_t v = 0;
    for (char ch : num) {
      if (ch < '0' || ch > '9') return {};
      v = v * 10 + (ch - '0');
    }
    if (v > INT32_MAX) return {};
    return static_cast<int>(v);
  }
  return {};
}

namespace {
bool isDecimalId(std::string_view s) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s.front() == '0')) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}
}  // namespace

std::optional<ProcNsPath> procNsPath(std::string_view path) {
  constexpr std::string_view kProc = "/proc/";
  if (path.substr(0, kProc.size()) != kProc) return {};
  std::vector<std::string_view> parts;
  for (std::string_view rest = path.substr(kProc.size()); !rest.empty();) {
    const size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (slash != std::string_view::npos && rest.empty()) return {};  // trailing slash
  }
  ProcNsPath p;
  if (parts.size() == 3) {
    if (parts[1] != "ns") return {};
  } else if (parts.size() == 5) {
    if (parts[1] != "task" || !isDecimalId(parts[2]) || parts[3] != "ns" ||
        parts[0] == "thread-self")
      return {};
    p.task = parts[2];
  } else {
    return {};
  }
  if (parts[0] != "self" && parts[0] != "thread-self" && !isDecimalId(parts[0])) return {};
  static constexpr std::string_view kTypes[] = {"net",
                                                "ipc",
                                                "uts",
                                                "mnt",
                                                "pid",
                                                "user",
                                                "cgroup",
                                                "time",
                                                "pid_for_children",
                                                "time_for_children"};
  const std::string_view ns = parts.back();
  if (std::find(std::begin(kTypes), std::end(kTypes), ns) == std::end(kTypes)) return {};
  p.pid = parts[0];
  p.ns = ns;
  return p;
}

}  // namespace eci::seccomp
