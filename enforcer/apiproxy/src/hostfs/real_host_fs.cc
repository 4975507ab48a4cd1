// RealHostFs (real_host_fs.h).
#include "eci/apiproxy/real_host_fs.h"

#include <sys/stat.h>

#include <cerrno>

#include "eci/apiproxy/request.h"
#include "eci/fs_util.h"
#include "eci/mountinfo.h"
#include "eci/paths.h"

namespace eci::apiproxy {

Result<std::string> RealHostFs::resolve(const std::string& absPath) const {
  if (absPath.empty() || absPath.front() != '/') {
    return Error(EINVAL, "resolve('" + absPath + "')", "not an absolute path");
  }
  // Clean first: with no "." or ".." left, a missing tail can be appended lexically (a path
  // that does not exist has no symlinks to follow; dockerd creates it as directories). Any
  // realpath failure but ENOENT is an error: the guard refuses what it cannot resolve.
  return fs::realpathWithMissingTail(goPathClean(absPath));
}

std::optional<HostFs::FileId> RealHostFs::stat(const std::string& absPath) const {
  struct stat st {};
  if (::stat(absPath.c_str(), &st) != 0) return std::nullopt;
  return FileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                S_ISDIR(st.st_mode), S_ISSOCK(st.st_mode)};
}

std::vector<std::string> RealHostFs::mountsUnder(const std::string& dir) const {
  std::vector<std::string> out;
  auto text = fs::readFile(mountinfo_, 16u << 20);
  if (!text.ok()) return out;
  auto table = parseMountInfo(*text);  // core's parser: the one every eci check uses
  if (!table.ok()) return out;
  for (auto& m : table.value()) {
    if (m.mountPoint.empty() || m.mountPoint.front() != '/' || m.mountPoint == dir) continue;
    if (paths::isUnder(m.mountPoint, dir)) out.push_back(std::move(m.mountPoint));
  }
  return out;
}

}  // namespace eci::apiproxy
