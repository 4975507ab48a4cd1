// Cgroup delegation (cgroup_delegation.h).
#include "cgroup_delegation.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace eci::runc {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    out.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// Does a v1 mount's superblock options name every controller of a /proc/<pid>/cgroup line
// ("cpu,cpuacct", "name=systemd")? Options are "rw,cpu,cpuacct" or "rw,name=systemd".
bool mountHasControllers(const MountEntry& m, std::string_view controllers) {
  const auto opts = split(m.superOptions, ',');
  for (auto want : split(controllers, ',')) {
    bool found = false;
    for (auto o : opts) found = found || o == want;
    if (!found) return false;
  }
  return true;
}

bool cleanAbsolute(std::string_view p) {
  if (p.empty() || p.front() != '/') return false;
  for (auto part : split(p.substr(1), '/')) {
    if (part == "." || part == "..") return false;
  }
  return true;
}

}  // namespace

Result<std::vector<DelegatedCgroup>> delegationTargets(std::string_view procCgroup,
                                                       const std::vector<MountEntry>& hostMounts) {
  std::vector<DelegatedCgroup> out;
  size_t lineNo = 0;
  for (auto line : split(procCgroup, '\n')) {
    ++lineNo;
    if (line.empty()) continue;
    // "hierarchy-ID:controller-list:cgroup-path"; the path may itself hold ':'.
    const size_t a = line.find(':');
    const size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) {
      return Error("/proc/<pid>/cgroup line " + std::to_string(lineNo) + ": no hierarchy fields");
    }
    const std::string_view controllers = line.substr(a + 1, b - a - 1);
    const std::string_view path = line.substr(b + 1);
    if (!cleanAbsolute(path)) {
      return Error("/proc/<pid>/cgroup line " + std::to_string(lineNo) + ": path '" +
                   std::string(path) + "' is not a clean absolute path");
    }
    if (path == "/") continue;  // the hierarchy's root: never delegated
    const bool v2 = controllers.empty();
    const MountEntry* mount = nullptr;
    for (const auto& m : hostMounts) {
      // The hierarchy mounted at its root (a bind of a sub-cgroup would shift the path).
      if (m.root != "/") continue;
      if (v2 ? m.fstype == "cgroup2"
             : (m.fstype == "cgroup" && mountHasControllers(m, controllers))) {
        mount = &m;
        break;
      }
    }
    if (mount == nullptr) continue;
    DelegatedCgroup d;
    d.dir = (mount->mountPoint == "/" ? "" : mount->mountPoint) + std::string(path);
    d.files =
        v2 ? std::vector<std::string>{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}
           : std::vector<std::string>{"cgroup.procs", "tasks"};
    out.push_back(std::move(d));
  }
  return out;
}

Status delegateCgroups(const std::vector<DelegatedCgroup>& targets, uid_t uid, gid_t gid) {
  for (const auto& t : targets) {
    // cgroupfs has no symlinks, but the paths came through text: never follow one.
    if (::fchownat(AT_FDCWD, t.dir.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return Error::fromErrno("fchownat('" + t.dir + "')");
    }
    for (const auto& f : t.files) {
      const std::string p = t.dir + "/" + f;
      if (::fchownat(AT_FDCWD, p.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT) {
        return Error::fromErrno("fchownat('" + p + "')");
      }
    }
  }
  return {};
}

}  // namespace eci::runc
