// Cgroup delegation: a container that mounts its cgroups writable (`--privileged`: an inner
// dockerd, containerd or systemd) gets its own cgroup directories, owned by its root, so it can
// make child cgroups, move its processes into them and set their limits — and nothing more. As the
// kernel's delegation model says (Documentation/admin-guide/cgroup-v2.rst, "Delegation"), only
// the directory and the files that move processes (v1: cgroup.procs, tasks; v2: cgroup.procs,
// cgroup.threads, cgroup.subtree_control) change owner: the container's own limits
// (memory.limit_in_bytes, memory.max, cpu.*, pids.max, devices.*) stay root's, so what the engine
// set from outside holds, and every child is bounded by them (hierarchical limits). A hierarchy's
// root is never delegated (release_agent lives there).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"
#include "eci/mountinfo.h"

namespace eci::runc {

struct DelegatedCgroup {
  std::string dir;                 // host path of the container's cgroup in one hierarchy
  std::vector<std::string> files;  // files in `dir` that change owner with it
};

// Pure: the container's cgroups from its init's /proc/<pid>/cgroup (as the host sees it) and the
// host's mount table (/proc/self/mountinfo of eci-runc): each hierarchy's line joined to the
// mount of that hierarchy. Lines whose hierarchy is not mounted on the host, or whose path is the
// hierarchy's root, are skipped. Error: a malformed line, or a path with "." / ".." components.
Result<std::vector<DelegatedCgroup>> delegationTargets(std::string_view procCgroup,
                                                       const std::vector<MountEntry>& hostMounts);

// Changes the owner of every target to (uid, gid), never following symlinks. A missing file
// (cgroup.threads before Linux 4.14) is skipped.
Status delegateCgroups(const std::vector<DelegatedCgroup>& targets, uid_t uid, gid_t gid);

}  // namespace eci::runc
