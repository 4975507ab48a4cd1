// Mount injection into another mount namespace (sys_mountns.h).
#include "eci/sys_mountns.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace eci::sys {

bool pidfdAlive(int pidfd) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0;
}

namespace {

// Which step of the child failed, reported with its errno through a pipe.
enum Step : int { kSetns = 1, kOpenRoot, kResolve, kStatx, kUnmount, kTooDeep, kNotSocket, kMove };

const char* stepName(int step) {
  switch (step) {
    case kSetns:
      return "setns(pidfd, CLONE_NEWNS)";
    case kOpenRoot:
      return "open(\"/\") in the namespace";
    case kResolve:
      return "openat2(RESOLVE_IN_ROOT) of the destination";
    case kStatx:
      return "statx(STATX_MNT_ID)";
    case kUnmount:
      return "umount2 of what is mounted at the destination";
    case kTooDeep:
      return "more than 16 mounts stacked at the destination";
    case kNotSocket:
      return "what is mounted at the destination is not a socket (left in place)";
    case kMove:
      return "move_mount onto the destination";
    default:
      return "the child";
  }
}

// The mount id of what `fd` (O_PATH) is on; 0 on failure.
uint64_t mountIdOf(int fd) {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) != 0) return 0;
  return (stx.stx_mask & STATX_MNT_ID) != 0 ? stx.stx_mnt_id : 0;
}

}  // namespace

Status replaceMountInNs(int treeFd, int pidfd, const std::string& destination) {
  // Parent directory and last component, split before fork: the child must not allocate.
  const size_t slash = destination.rfind('/');
  if (destination.empty() || destination[0] != '/' || slash == std::string::npos ||
      slash + 1 >= destination.size()) {
    return Error(ErrorKind::kInvalidInput,
                 "replaceMountInNs: not an absolute file path: " + destination);
  }
  const std::string parentPath = slash == 0 ? "/" : destination.substr(0, slash);
  const std::string base = destination.substr(slash + 1);
  if (base == "." || base == "..") {
    return Error(ErrorKind::kInvalidInput,
                 "replaceMountInNs: not an absolute file path: " + destination);
  }
  const char* parentC = parentPath.c_str();
  const char* baseC = base.c_str();
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return Error::fromErrno("pipe2() for mount injection");
  UniqueFd reportR(report[0]), reportW(report[1]);
  const pid_t pid = ::fork();
  if (pid < 0) return Error::fromErrno("fork() for mount injection");
  if (pid == 0) {
    reportR.reset();
    int failed[2] = {0, 0};
    auto fail = [&](int step) {
      failed[0] = step;
      failed[1] = errno;
      (void)!::write(reportW.get(), failed, sizeof failed);
      ::_exit(1);
    };
    // setns by pidfd (Linux 5.8): the namespace of exactly the process the caller checked.
    // It also moves this child's root and cwd to that namespace's root (the container's rootfs).
    if (::setns(pidfd, CLONE_NEWNS) != 0) fail(kSetns);
    const int root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) fail(kOpenRoot);
    // The path's components are the container's to choose (a symlink at /var/run, say).
    // RESOLVE_IN_ROOT keeps every `..` and absolute symlink inside the container's root, no /proc
    // magic link hops to another namespace's tree, and the last component is never followed
    // (it is taken relative to the resolved parent, O_NOFOLLOW / UMOUNT_NOFOLLOW). Whatever it
    // resolves to, everything below happens in the container's own mount namespace only, and
    // what ends up mounted is the guard's socket, which the container had there already.
    open_how how{};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long parent;
    do parent = ::syscall(SYS_openat2, root, parentC, &how, sizeof how);
    while (parent < 0 && errno == EINTR);
    if (parent < 0) fail(kResolve);
    const int dir = static_cast<int>(parent);
    if (::fchdir(dir) != 0) fail(kResolve);
    const uint64_t dirMount = mountIdOf(dir);
    if (dirMount == 0) fail(kStatx);
    // The old bind's root is the dead socket, unlinked when the guard listened again: nothing can
    // be mounted on an unlinked dentry (ENOENT), so what is mounted there (the old bind, and any
    // earlier injections stacked on it) comes off first, down to the rootfs's own mount point.
    for (int depth = 0;; ++depth) {
      const int at = ::openat(dir, baseC, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (at < 0) fail(kResolve);
      const uint64_t atMount = mountIdOf(at);
      struct stat st {};
      const bool isSocket = ::fstat(at, &st) == 0 && S_ISSOCK(st.st_mode);
      ::close(at);
      if (atMount == 0) fail(kStatx);
      if (atMount == dirMount) break;  // no longer a mount point
      // Only sockets come off: the old bind of the guard's socket and earlier injections. The
      // container may have renamed the destination's parent and put a symlink in its place (to
      // /proc, say): then eci's emulation of /proc/uptime, or a mask, is what sits there, and
      // it stays.
      if (!isSocket) fail(kNotSocket);
      if (depth >= 16) fail(kTooDeep);
      if (::umount2(baseC, MNT_DETACH | UMOUNT_NOFOLLOW) != 0) fail(kUnmount);
    }
    const int target = ::openat(dir, baseC, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (target < 0) fail(kResolve);
    if (::syscall(SYS_move_mount, treeFd, "", target, "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
      fail(kMove);
    }
    ::_exit(0);
  }
  reportW.reset();
  int failed[2] = {0, 0};
  ssize_t got;
  do got = ::read(reportR.get(), failed, sizeof failed);
  while (got < 0 && errno == EINTR);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Error::fromErrno("waitpid() for mount injection");
  }
  if (got == static_cast<ssize_t>(sizeof failed) && failed[0] != 0) {
    return Error(failed[1],
                 std::string("mount injection at ") + destination + ": " + stepName(failed[0]));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error(ErrorKind::kInternal, "mount injection at " + destination + ": the child died");
  }
  return okStatus();
}

}  // namespace eci::sys
