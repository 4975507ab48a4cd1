// RealHostFs (real_host_fs.h).
#include "eci/apiproxy/real_host_fs.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>

#include "eci/apiproxy/request.h"
#include "eci/fs_util.h"

namespace eci::apiproxy {

Result<std::string> RealHostFs::resolve(const std::string& absPath) const {
  if (absPath.empty() || absPath.front() != '/') {
    return Error(EINVAL, "resolve('" + absPath + "')", "not an absolute path");
  }
  // Clean first: with no "." or ".." left, a missing tail can be appended lexically (a path
  // that does not exist has no symlinks to follow; dockerd creates it as directories).
  std::string prefix = goPathClean(absPath);
  std::string tail;
  for (int depth = 0; depth < 4096; ++depth) {
    std::unique_ptr<char, decltype(&free)> r(realpath(prefix.c_str(), nullptr), &free);
    if (r) {
      std::string out = r.get();
      if (!tail.empty()) out = out == "/" ? tail : out + tail;
      return out;
    }
    if (errno != ENOENT) return Error::fromErrno("realpath('" + prefix + "')");
    const auto slash = prefix.rfind('/');
    if (slash == std::string::npos || prefix == "/") {
      return Error(ENOENT, "realpath('" + absPath + "')");
    }
    tail = prefix.substr(slash) + tail;
    prefix = slash == 0 ? "/" : prefix.substr(0, slash);
  }
  return Error(ELOOP, "resolve('" + absPath + "')");
}

std::optional<HostFs::FileId> RealHostFs::stat(const std::string& absPath) const {
  struct stat st {};
  if (::stat(absPath.c_str(), &st) != 0) return std::nullopt;
  return FileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                S_ISDIR(st.st_mode), S_ISSOCK(st.st_mode)};
}

std::vector<std::string> mountPointsOf(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    // id parent major:minor root mount-point ...
    size_t field = 0, start = 0;
    for (size_t i = 0; i <= line.size() && field < 5; ++i) {
      if (i == line.size() || line[i] == ' ') {
        if (++field == 5) {
          std::string_view mp = line.substr(start, i - start);
          std::string dec;
          for (size_t k = 0; k < mp.size(); ++k) {
            auto oct = [&](size_t at) { return mp[at] >= '0' && mp[at] <= '7'; };
            if (mp[k] == '\\' && k + 3 < mp.size() && mp[k + 1] >= '0' && mp[k + 1] <= '3' &&
                oct(k + 2) && oct(k + 3)) {
              dec.push_back(static_cast<char>((mp[k + 1] - '0') * 64 + (mp[k + 2] - '0') * 8 +
                                              (mp[k + 3] - '0')));
              k += 3;
            } else {
              dec.push_back(mp[k]);
            }
          }
          if (!dec.empty() && dec.front() == '/') out.push_back(std::move(dec));
        }
        start = i + 1;
      }
    }
  }
  return out;
}

std::vector<std::string> RealHostFs::mountsUnder(const std::string& dir) const {
  std::vector<std::string> out;
  auto text = fs::readFile(mountinfo_, 16u << 20);
  if (!text.ok()) return out;
  for (auto& mp : mountPointsOf(*text)) {
    const bool below = dir == "/" ? mp != "/"
                                  : (mp.size() > dir.size() &&
                                     mp.compare(0, dir.size(), dir) == 0 && mp[dir.size()] == '/');
    if (below) out.push_back(std::move(mp));
  }
  return out;
}

}  // namespace eci::apiproxy
