// A new proc or sysfs for a nested namespace (see worker_fresh.h).
#include "worker_fresh.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "eci/fs_util.h"
#include "eci/mountinfo.h"
#include "eci/paths.h"
#include "eci/seccomp/rules.h"
#include "eci/sys.h"
#include "worker_protocol.h"

namespace eci::seccomp::worker {

namespace {

// The new tree is built by a child (and, for proc, a grandchild born inside the caller's pid
// namespace). A container that stops it (SIGSTOP: the grandchild is visible in its nested pid
// namespace) gets its call refused after this long, never a worker that hangs.
constexpr int kBuildTimeoutMs = 1500;

// The errno the trapped call fails with: the failed call's own, or its kind's (error.h); EPERM
// for a failure without one.
int errOf(const Error& e) {
  return e.errnoOr(EPERM);
}

// `rel` below `root`, beneath it only: no symlink, no `..` out, no magic link. The masks'
// mount points are plain files and directories of proc and sysfs.
UniqueFd openBeneath(int root, const std::string& rel, uint64_t extra) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | extra;
  return UniqueFd(static_cast<int>(syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how)));
}

unsigned attrsOf(uint64_t msFlags) {
  unsigned a = 0;
  if (msFlags & MS_RDONLY) a |= MOUNT_ATTR_RDONLY;
  if (msFlags & MS_NOSUID) a |= MOUNT_ATTR_NOSUID;
  if (msFlags & MS_NODEV) a |= MOUNT_ATTR_NODEV;
  if (msFlags & MS_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
  if (msFlags & MS_NODIRATIME) a |= MOUNT_ATTR_NODIRATIME;
  if (msFlags & MS_NOATIME)
    a |= MOUNT_ATTR_NOATIME;
  else if (msFlags & MS_STRICTATIME)
    a |= MOUNT_ATTR_STRICTATIME;
  return a;
}

// In the (grand)child, inside the caller's namespace: the whole tree, then the attach.
int build(bool proc, int target, const std::vector<MaskClone>& masks, uint64_t msFlags,
          const std::vector<std::pair<std::string, std::string>>& options) {
  auto fs = sys::fsopen(proc ? "proc" : "sysfs", FSOPEN_CLOEXEC);
  if (!fs.ok()) return errOf(fs.error());
  for (const auto& [key, value] : options)
    if (auto st = sys::fsconfig(fs->get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0);
        !st.ok())
      return errOf(st.error());
  if (auto st = sys::fsconfig(fs->get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0); !st.ok())
    return errOf(st.error());
  // The kernel's own checks decide here, for the container's root: CAP_SYS_ADMIN over the
  // namespace's owner, and a fully visible proc/sysfs in the caller's mount namespace.
  // Read-only already here: where the container's own tree is (a read-only superblock), the
  // kernel allows no more than that.
  auto tree = sys::fsmount(fs->get(), FSMOUNT_CLOEXEC, attrsOf(msFlags));
  if (!tree.ok()) return errOf(tree.error());
  // /proc/sys/net of the new proc stays writable under the read-only /proc/sys mask: it shows
  // the reader's network namespace, and a runtime writes its containers' sysctls there
  // (dockerd: net.ipv4.ip_unprivileged_port_start) before making /proc/sys read-only itself.
  // The kernel lets the container's root write only namespaces its user namespace owns, i.e.
  // the nested ones it made: the container's own (made by the engine, owned by the host) stays
  // read-only to it, as do the net sysctls that are global.
  UniqueFd sysNet;
  if (proc) {
    auto clone = sys::openTree(tree->get(), "sys/net", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (clone.ok()) sysNet = std::move(*clone);
  }
  // Every mask goes on while the tree is detached (Linux >= 6.15 mounts on detached trees; an
  // older kernel refuses here, and so do we): nobody ever sees the tree without them.
  for (const auto& m : masks) {
    UniqueFd at = openBeneath(tree->get(), m.rel, RESOLVE_NO_XDEV);
    if (!at) return errno;
    if (auto st = sys::moveMount(m.tree.get(), "", at.get(), "",
                                 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
        !st.ok())
      return errOf(st.error());
  }
  if (sysNet) {
    UniqueFd at = openBeneath(tree->get(), "sys/net", 0);
    if (!at) return errno;
    if (auto st = sys::moveMount(sysNet.get(), "", at.get(), "",
                                 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
        !st.ok())
      return errOf(st.error());
  }
  if (msFlags & MS_RDONLY) {  // and the masks with it, as a read-only mount(2) of a tree would be
    mount_attr a{};
    a.attr_set = MOUNT_ATTR_RDONLY;
    if (auto st = sys::mountSetattr(tree->get(), "", AT_EMPTY_PATH | AT_RECURSIVE, a); !st.ok())
      return errOf(st.error());
  }
  if (auto st = sys::moveMount(tree->get(), "", target, "",
                               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
      !st.ok())
    return errOf(st.error());
  return 0;
}

// Waits for `child` at most kBuildTimeoutMs, then kills it. Its exit status is an errno.
int reap(pid_t child) {
  auto pidfd = sys::pidfdOpen(child);
  int status = 0;
  if (pidfd.ok()) {
    pollfd p{pidfd->get(), POLLIN, 0};
    int n;
    do n = poll(&p, 1, kBuildTimeoutMs);
    while (n < 0 && errno == EINTR);
    if (n == 0) kill(child, SIGKILL);  // the grandchild follows (PR_SET_PDEATHSIG)
  } else {
    kill(child, SIGKILL);
  }
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return ECHILD;
  if (!WIFEXITED(status)) return ETIMEDOUT;
  return WEXITSTATUS(status);
}

}  // namespace

int cloneTemplateMasks(int initialMntns, int templateFd, std::vector<MaskClone>* out) {
  if (initialMntns < 0 || templateFd < 0) return ENOENT;
  // The container's first mount namespace, seen from its root (setns resets ours to it); our
  // cwd goes back to the host /proc, whose thread-self shows the namespace we are in.
  if (setns(initialMntns, CLONE_NEWNS) != 0 || fchdir(kProcFd) != 0) return errno;
  auto text = fs::readFile("thread-self/mountinfo", kMaxMountInfoBytes);
  if (!text.ok()) return errOf(text.error());
  auto table = parseMountInfo(*text);
  if (!table.ok()) return E2BIG;  // beyond the bound: refuse rather than miss a mask
  struct statx sx {};
  if (statx(templateFd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) != 0) return errno;
  const MountEntry* root = nullptr;
  for (const auto& e : *table)
    if (static_cast<uint64_t>(e.id) == sx.stx_mnt_id) root = &e;
  if (!root || root->root != "/" || (root->fstype != "proc" && root->fstype != "sysfs"))
    return ENOENT;
  std::vector<std::string> rels;
  for (const auto& e : *table) {
    if (e.parent != root->id || e.id == root->id) continue;
    if (!paths::isUnder(e.mountPoint, root->mountPoint) || e.mountPoint == root->mountPoint)
      return EINVAL;
    std::string rel =
        e.mountPoint.substr(root->mountPoint == "/" ? 1 : root->mountPoint.size() + 1);
    if (std::find(rels.begin(), rels.end(), rel) == rels.end()) rels.push_back(std::move(rel));
  }
  for (const auto& rel : rels) {
    // The top mount at that path: on the templates, which cannot be covered, the mask itself.
    UniqueFd at = openBeneath(templateFd, rel, 0);
    if (!at) return errno;
    auto clone = sys::openTree(at.get(), "",
                               OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    if (!clone.ok()) return errOf(clone.error());
    out->push_back(MaskClone{rel, std::move(*clone)});
  }
  return 0;
}

int freshTree(bool proc, int nsFd, int target, const std::vector<MaskClone>& masks,
              uint64_t msFlags, const std::vector<std::pair<std::string, std::string>>& options) {
  // The worker is single-threaded (worker.cc), so its children may do anything after fork.
  const pid_t child = fork();
  if (child < 0) return errno;
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // A net namespace applies to us at once; a pid namespace only to our children.
    if (setns(nsFd, proc ? CLONE_NEWPID : CLONE_NEWNET) != 0) _exit(errno);
    if (!proc) _exit(build(false, target, masks, msFlags, options));
    const pid_t inside = fork();
    if (inside < 0) _exit(errno);
    if (inside == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      _exit(build(true, target, masks, msFlags, options));
    }
    _exit(reap(inside));
  }
  return reap(child);
}

}  // namespace eci::seccomp::worker
