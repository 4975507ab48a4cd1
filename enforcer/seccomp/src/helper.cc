#include "helper.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "eci/sys.h"

namespace eci::seccomp::helper {

namespace {

constexpr int kSockFd = 3, kProcFd = 4, kUsernsFd = 5;

// "thread-self/fd/<n>" relative to the host /proc (our cwd): the magic link to an fd the
// supervisor opened. Written without snprintf (forked from a threaded process).
void fdPath(char* buf, int fd) {
  static const char kPrefix[] = "thread-self/fd/";
  memcpy(buf, kPrefix, sizeof(kPrefix) - 1);
  char digits[16];
  int n = 0;
  unsigned v = static_cast<unsigned>(fd);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && n < 15);
  char* p = buf + sizeof(kPrefix) - 1;
  while (n) *p++ = digits[--n];
  *p = 0;
}

int act(const Request& r, int target, int source, int* outFd) {
  char tpath[48], spath[48];
  if (target >= 0) fdPath(tpath, target);
  if (source >= 0) fdPath(spath, source);
  switch (static_cast<Action>(r.action)) {
    case Action::kReplayMount: {
      const char* src = source >= 0 ? spath : (r.hasSource ? r.source : nullptr);
      if (mount(src, tpath, r.hasFstype ? r.fstype : nullptr, r.flags,
                r.hasData ? r.data : nullptr))
        return errno;
      return 0;
    }
    case Action::kCloneTree: {
      int t = static_cast<int>(
          syscall(SYS_open_tree, source, "",
                  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE));
      if (t < 0) return errno;
      int err = 0;
      if (r.flags & MS_RDONLY) {
        mount_attr a{};
        a.attr_set = MOUNT_ATTR_RDONLY;
        if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)))
          err = errno;
      }
      if (!err && syscall(SYS_move_mount, t, "", target, "",
                          MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))
        err = errno;
      close(t);
      return err;
    }
    case Action::kUmount: {
      // By parent directory + name, not by an fd of the mount itself: any open reference to the
      // mount would make a plain umount EBUSY. The mount found there must still be the one the
      // supervisor decided on; the parent fd pins the directory, and no protected mount can be
      // brought under this name meanwhile (moving or overmounting one is refused, renaming a
      // mount point is EBUSY), so the remaining window cannot reach a protected mount.
      struct statx sx;
      if (statx(target, r.name, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) != 0) return errno;
      if (sx.stx_mnt_id != r.mountId || !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) return EPERM;
      int err = 0;
      if (fchdir(target) != 0) return errno;
      if (umount2(r.name, static_cast<int>(r.flags | UMOUNT_NOFOLLOW))) err = errno;
      if (fchdir(kProcFd) != 0 && !err) err = errno;
      return err;
    }
    case Action::kMountSetattr: {
      mount_attr a = r.attr;
      if (syscall(SYS_mount_setattr, target, "", AT_EMPTY_PATH | (r.flags & AT_RECURSIVE), &a,
                  sizeof(a)))
        return errno;
      return 0;
    }
    case Action::kMoveMount:
      if (syscall(SYS_move_mount, source, "", target, "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH |
                      (r.flags & (MOVE_MOUNT_SET_GROUP | 0x200))))
        return errno;
      return 0;
    case Action::kFsopen: {
      int fd = static_cast<int>(syscall(SYS_fsopen, r.fstype, FSOPEN_CLOEXEC));
      if (fd < 0) return errno;
      *outFd = fd;
      return 0;
    }
    case Action::kFspick: {
      int fd =
          static_cast<int>(syscall(SYS_fspick, target, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC));
      if (fd < 0) return errno;
      *outFd = fd;
      return 0;
    }
    default:
      return EPERM;
  }
}

[[noreturn]] void helperMain() {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Join the container's user namespace as its root: the kernel then checks every action against
  // the container's capabilities, and new superblocks belong to the container.
  if (setns(kUsernsFd, CLONE_NEWUSER) != 0) _exit(10);
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) _exit(11);
  setgroups(0, nullptr);  // refused when the container's setgroups is "deny"; harmless then
  // Changing uid cleared "dumpable", which would make our own /proc/thread-self/fd unreadable.
  prctl(PR_SET_DUMPABLE, 1);
  close(kUsernsFd);
  static Request req;  // static: 8 KiB, never on a signal stack
  for (;;) {
    int fds[3] = {-1, -1, -1};
    size_t received = 0;
    bool truncated = false;
    ssize_t n = sys::recvWithFds(kSockFd, &req, sizeof(req), fds, 3, &received, &truncated);
    if (n == 0) _exit(0);
    if (n < 0) _exit(12);
    const int nfds = static_cast<int>(received);
    Reply rep{};
    int outFd = -1;
    if (static_cast<size_t>(n) != sizeof(req) || nfds < 1 ||
        nfds != 1 + static_cast<int>(req.hasTargetFd) + static_cast<int>(req.hasSourceFd)) {
      rep.err = EPROTO;
    } else if (setns(fds[0], CLONE_NEWNS) != 0) {
      rep.err = errno;
    } else if (fchdir(kProcFd) != 0) {  // setns reset our cwd to the namespace's root
      rep.err = errno;
    } else {
      req.source[kMaxPath] = req.fstype[kMaxFsName] = req.data[kMaxData] = 0;
      int target = req.hasTargetFd ? fds[1] : -1;
      int source = req.hasSourceFd ? fds[1 + req.hasTargetFd] : -1;
      rep.err = act(req, target, source, &outFd);
    }
    for (int fd : fds)
      if (fd >= 0) close(fd);
    rep.hasFd = outFd >= 0;
    (void)sys::sendWithFds(kSockFd, &rep, sizeof(rep), &outFd, outFd >= 0 ? 1 : 0);
    if (outFd >= 0) close(outFd);
  }
}

}  // namespace

Result<Handle> spawn(int usernsFd) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Error::fromErrno("socketpair(AF_UNIX, SOCK_SEQPACKET)");
  int procFd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (procFd < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return Error(e, "open('/proc', O_PATH)");
  }
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    close(procFd);
    return Error(e, "fork() for the mount helper");
  }
  if (pid == 0) {
    // Move our three fds to 3,4,5 (via high numbers, so no dup2 clobbers another) and close
    // everything else: the helper must not keep other containers' notify fds alive.
    int a = fcntl(sv[1], F_DUPFD, 1000), b = fcntl(procFd, F_DUPFD, 1000),
        c = fcntl(usernsFd, F_DUPFD, 1000);
    if (a < 0 || b < 0 || c < 0 || dup2(a, kSockFd) < 0 || dup2(b, kProcFd) < 0 ||
        dup2(c, kUsernsFd) < 0)
      _exit(13);
    syscall(SYS_close_range, kUsernsFd + 1, ~0U, 0);
    helperMain();
  }
  close(sv[1]);
  close(procFd);
  return Handle{pid, sv[0]};
}

}  // namespace eci::seccomp::helper
