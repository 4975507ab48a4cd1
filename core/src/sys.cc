#include "eci/sys.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <utility>

#include "eci/sys_process.h"

namespace eci::sys {
namespace {

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

// "'/x'" for a path, "fd 5" for AT_EMPTY_PATH on an fd, "fd 5 + 'rel'" for a relative path.
std::string where(int dirfd, const std::string& path) {
  if (path.empty()) return "fd " + std::to_string(dirfd);
  if (path[0] == '/' || dirfd == AT_FDCWD) return quote(path);
  return "fd " + std::to_string(dirfd) + " + " + quote(path);
}

// Renders a flag word as "A|B|0x40" so messages name what was asked for.
std::string flagNames(unsigned flags,
                      std::initializer_list<std::pair<unsigned, const char*>> known) {
  std::string out;
  for (const auto& [bit, name] : known) {
    if (bit != 0 && (flags & bit) == bit) {
      if (!out.empty()) out += "|";
      out += name;
      flags &= ~bit;
    }
  }
  if (flags != 0) {
    char buf[16];
    (void)snprintf(buf, sizeof buf, "0x%x", flags);
    if (!out.empty()) out += "|";
    out += buf;
  }
  return out.empty() ? "0" : out;
}

std::string openTreeFlags(unsigned f) {
  return flagNames(f & ~unsigned{OPEN_TREE_CLOEXEC}, {{OPEN_TREE_CLONE, "OPEN_TREE_CLONE"},
                                                      {AT_RECURSIVE, "AT_RECURSIVE"},
                                                      {AT_EMPTY_PATH, "AT_EMPTY_PATH"},
                                                      {AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"},
                                                      {AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"}});
}

std::string mountAttrNames(uint64_t a) {
  return flagNames(static_cast<unsigned>(a), {{MOUNT_ATTR_RDONLY, "MOUNT_ATTR_RDONLY"},
                                              {MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID"},
                                              {MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV"},
                                              {MOUNT_ATTR_NOEXEC, "MOUNT_ATTR_NOEXEC"},
                                              {MOUNT_ATTR_NOATIME, "MOUNT_ATTR_NOATIME"},
                                              {MOUNT_ATTR_STRICTATIME, "MOUNT_ATTR_STRICTATIME"},
                                              {MOUNT_ATTR_NODIRATIME, "MOUNT_ATTR_NODIRATIME"},
                                              {MOUNT_ATTR_IDMAP, "MOUNT_ATTR_IDMAP"},
                                              {MOUNT_ATTR_NOSYMFOLLOW, "MOUNT_ATTR_NOSYMFOLLOW"}});
}

const char* fsconfigCmdName(unsigned cmd) {
  switch (cmd) {
    case FSCONFIG_SET_FLAG:
      return "FSCONFIG_SET_FLAG";
    case FSCONFIG_SET_STRING:
      return "FSCONFIG_SET_STRING";
    case FSCONFIG_SET_BINARY:
      return "FSCONFIG_SET_BINARY";
    case FSCONFIG_SET_PATH:
      return "FSCONFIG_SET_PATH";
    case FSCONFIG_SET_PATH_EMPTY:
      return "FSCONFIG_SET_PATH_EMPTY";
    case FSCONFIG_SET_FD:
      return "FSCONFIG_SET_FD";
    case FSCONFIG_CMD_CREATE:
      return "FSCONFIG_CMD_CREATE";
    case FSCONFIG_CMD_RECONFIGURE:
      return "FSCONFIG_CMD_RECONFIGURE";
    default:
      return "FSCONFIG_?";
  }
}

// Only for calls that have no side effect before they can fail with EINTR (opens, lookups).
template <typename F>
long retryEintr(F f) {
  long rc;
  do {
    rc = f();
  } while (rc < 0 && errno == EINTR);
  return rc;
}

}  // namespace

Result<UniqueFd> open(const std::string& path, int flags, mode_t mode) {
  const long fd = retryEintr([&] { return ::open(path.c_str(), flags | O_CLOEXEC, mode); });
  if (fd < 0) return Error::fromErrno("open(" + quote(path) + ")");
  return UniqueFd(static_cast<int>(fd));
}

Status writeMessage(int fd, const void* buf, size_t len, const std::string& what) {
  const long n = retryEintr([&] { return ::write(fd, buf, len); });
  if (n < 0) return Error::fromErrno("write(fd " + std::to_string(fd) + ", " + what + ")");
  if (static_cast<size_t>(n) != len)
    return Error(ErrorKind::kInternal,
                 "write(fd " + std::to_string(fd) + ", " + what + "): short write");
  return {};
}

Result<UniqueFd> openAt(int dirfd, const std::string& path, int flags, mode_t mode) {
  const long fd =
      retryEintr([&] { return ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode); });
  if (fd < 0) return Error::fromErrno("openat(" + where(dirfd, path) + ")");
  return UniqueFd(static_cast<int>(fd));
}

Result<UniqueFd> openTree(int dirfd, const std::string& path, unsigned flags) {
  const long fd = retryEintr(
      [&] { return ::syscall(SYS_open_tree, dirfd, path.c_str(), flags | OPEN_TREE_CLOEXEC); });
  if (fd < 0) {
    return Error::fromErrno("open_tree(" + where(dirfd, path) + ", " + openTreeFlags(flags) + ")");
  }
  return UniqueFd(static_cast<int>(fd));
}

Status mountSetattr(int dirfd, const std::string& path, unsigned flags, const mount_attr& attr) {
  // Not retried on EINTR: the kernel restarts it itself when that is safe (-ERESTARTSYS), and a
  // recursive change may have been partly applied before a signal.
  mount_attr copy = attr;
  if (::syscall(SYS_mount_setattr, dirfd, path.c_str(), flags, &copy, sizeof copy) != 0) {
    std::string what;
    if (attr.attr_set != 0) what += mountAttrNames(attr.attr_set);
    if (attr.attr_clr != 0) {
      if (!what.empty()) what += ", ";
      what += "clear " + mountAttrNames(attr.attr_clr);
    }
    if (what.empty()) what = "0";
    std::string hint;
    if ((attr.attr_set & MOUNT_ATTR_IDMAP) != 0 && errno == EINVAL) {
      hint =
          "the filesystem may not support ID-mapped mounts, or the mount is already ID-mapped "
          "or attached";
    }
    return Error::fromErrno("mount_setattr(" + where(dirfd, path) + ", " + what + ")", hint);
  }
  return {};
}

Result<UniqueFd> fsopen(const std::string& fsname, unsigned flags) {
  const long fd =
      retryEintr([&] { return ::syscall(SYS_fsopen, fsname.c_str(), flags | FSOPEN_CLOEXEC); });
  if (fd < 0) return Error::fromErrno("fsopen(" + quote(fsname) + ")");
  return UniqueFd(static_cast<int>(fd));
}

Status fsconfig(int fsfd, unsigned cmd, const char* key, const void* value, int aux) {
  if (::syscall(SYS_fsconfig, fsfd, cmd, key, value, aux) != 0) {
    std::string msg = "fsconfig(fd " + std::to_string(fsfd) + ", " + fsconfigCmdName(cmd);
    if (key != nullptr) msg += ", " + quote(key);
    if (value != nullptr && (cmd == FSCONFIG_SET_STRING || cmd == FSCONFIG_SET_PATH)) {
      msg += ", " + quote(static_cast<const char*>(value));
    }
    msg += ")";
    return Error::fromErrno(msg);
  }
  return {};
}

Result<UniqueFd> fsmount(int fsfd, unsigned flags, unsigned attrFlags) {
  const long fd = ::syscall(SYS_fsmount, fsfd, flags | FSMOUNT_CLOEXEC, attrFlags);
  if (fd < 0) {
    return Error::fromErrno("fsmount(fd " + std::to_string(fsfd) + ", " +
                            mountAttrNames(attrFlags) + ")");
  }
  return UniqueFd(static_cast<int>(fd));
}

Status moveMount(int fromDirfd, const std::string& fromPath, int toDirfd, const std::string& toPath,
                 unsigned flags) {
  if (::syscall(SYS_move_mount, fromDirfd, fromPath.c_str(), toDirfd, toPath.c_str(), flags) != 0) {
    return Error::fromErrno("move_mount(" + where(fromDirfd, fromPath) + ", " +
                            where(toDirfd, toPath) + ")");
  }
  return {};
}

Result<UniqueFd> pidfdOpen(pid_t pid, unsigned flags) {
  // pidfds are always close-on-exec.
  const long fd = retryEintr([&] { return ::syscall(SYS_pidfd_open, pid, flags); });
  if (fd < 0) return Error::fromErrno("pidfd_open(" + std::to_string(pid) + ")");
  return UniqueFd(static_cast<int>(fd));
}

namespace {

bool writeAll(const std::string& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return false;
  return ::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size());
}

Status tryIdmap(int mntFd, int usernsFd) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(usernsFd);
  return mountSetattr(mntFd, "", AT_EMPTY_PATH, attr);
}

bool probeOnce() {
  auto child = UsernsHolder::start();
  if (!child.ok()) return false;
  const std::string proc = "/proc/" + std::to_string(child->pid());
  // An idmap needs a mapping to translate through; a root range when we can, else our own uid.
  if (::geteuid() == 0) {
    if (!writeAll(proc + "/uid_map", "0 100000 65536") ||
        !writeAll(proc + "/gid_map", "0 100000 65536")) {
      return false;
    }
  } else {
    if (!writeAll(proc + "/setgroups", "deny") ||
        !writeAll(proc + "/uid_map", "0 " + std::to_string(::geteuid()) + " 1") ||
        !writeAll(proc + "/gid_map", "0 " + std::to_string(::getegid()) + " 1")) {
      return false;
    }
  }
  auto userns = open(proc + "/ns/user", O_RDONLY);
  if (!userns.ok()) return false;

  // First a detached tmpfs (no trace in any mount table); kernels before 6.3 cannot ID-map tmpfs,
  // so fall back to a clone of a directory on the disk filesystem of /var/tmp, which is where
  // container state lives on such machines.
  if (auto fs = fsopen("tmpfs", 0); fs.ok()) {
    if (fsconfig(fs->get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0).ok()) {
      if (auto mnt = fsmount(fs->get(), 0, 0); mnt.ok()) {
        if (tryIdmap(mnt->get(), userns->get()).ok()) return true;
      }
    }
  }
  char tmpl[] = "/var/tmp/eci-idmap-probe.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return false;
  bool ok = false;
  if (auto tree = openTree(AT_FDCWD, tmpl, OPEN_TREE_CLONE); tree.ok()) {
    ok = tryIdmap(tree->get(), userns->get()).ok();
  }
  ::rmdir(tmpl);
  return ok;
}

// The kernel ABI (include/uapi/linux/mount.h); glibc 2.36 declares none of it.
constexpr long kSysStatmount = 457;  // the same number on every architecture (asm-generic)
constexpr uint64_t kWant =
    0x1 /*SB_BASIC*/ | 0x2 /*MNT_BASIC*/ | 0x8 /*MNT_ROOT*/ | 0x10 /*MNT_POINT*/ | 0x20 /*FS_TYPE*/;
// Linux 6.11+. FS_TYPE alone is the superblock type ("fuse"), while mountinfo says "fuse.eci"
// (type.subtype): a caller that matches statmount records against mountinfo would take every FUSE
// mount for a different one, so the subtype is asked for, and a FUSE record without it is refused.
constexpr uint64_t kFsSubtype = 0x100;
struct MntIdReq {
  uint32_t size, spare;
  uint64_t mntId, param;
};
struct StatmountFixed {  // the leading fields of struct statmount; strings are offsets into str[]
  uint32_t size, mntOpts;
  uint64_t mask;
  uint32_t sbDevMajor, sbDevMinor;
  uint64_t sbMagic;
  uint32_t sbFlags, fsType;
  uint64_t mntId, mntParentId;
  uint32_t mntIdOld, mntParentIdOld;
  uint64_t mntAttr, mntPropagation, mntPeerGroup, mntMaster, propagateFrom;
  uint32_t mntRoot, mntPoint;
  uint64_t mntNsId;
  uint32_t fsSubtype;
};
// struct statmount is 512 bytes since 6.8 (fields added later take its spare space); str[]
// follows it. Checked against mountinfo by sys_test (StatMountMatchesMountinfo).
constexpr size_t kStrOffset = 512;
static_assert(offsetof(StatmountFixed, mntRoot) == 104 &&
                  offsetof(StatmountFixed, fsSubtype) == 120,
              "struct statmount layout (include/uapi/linux/mount.h)");
}  // namespace

Result<MountRecord> statMount(uint64_t uniqueId) {
  MntIdReq req{24 /*MNT_ID_REQ_SIZE_VER0*/, 0, uniqueId, kWant | kFsSubtype};
  // Two paths of PATH_MAX plus the type; thread_local keeps 9 KiB off small stacks.
  alignas(8) static thread_local char buf[kStrOffset + size_t{2} * 4096 + 512];
  if (syscall(kSysStatmount, &req, buf, sizeof(buf), 0) != 0)
    return Error::fromErrno("statmount(" + std::to_string(uniqueId) + ")");
  StatmountFixed h;
  std::memcpy(&h, buf, sizeof(h));
  if ((h.mask & kWant) != kWant || h.size <= kStrOffset || h.size > sizeof(buf))
    return Error(ErrorKind::kProtocol,
                 "statmount(" + std::to_string(uniqueId) + "): incomplete answer");
  const size_t len = h.size - kStrOffset;
  const char* str = buf + kStrOffset;
  auto at = [&](uint32_t off, std::string& out) {
    if (off >= len) return false;
    const void* nul = std::memchr(str + off, 0, len - off);
    if (!nul) return false;
    out.assign(str + off, static_cast<const char*>(nul));
    return true;
  };
  MountRecord m;
  if (!at(h.mntRoot, m.root) || !at(h.mntPoint, m.mountPoint) || !at(h.fsType, m.fstype))
    return Error(ErrorKind::kProtocol,
                 "statmount(" + std::to_string(uniqueId) + "): string out of bounds");
  // Only FUSE sets a subtype. Kernels since 6.11 answer when there is one; without an answer a
  // FUSE record may lack it (a kernel before 6.11), and is refused rather than misnamed.
  std::string subtype;
  if ((h.mask & kFsSubtype) && !at(h.fsSubtype, subtype))
    return Error(ErrorKind::kProtocol,
                 "statmount(" + std::to_string(uniqueId) + "): string out of bounds");
  if (!subtype.empty()) {
    m.fstype += "." + subtype;
  } else if (!(h.mask & kFsSubtype) && (m.fstype == "fuse" || m.fstype == "fuseblk")) {
    return Error(ErrorKind::kUnsupported, "statmount(" + std::to_string(uniqueId) +
                                              "): no subtype for " + m.fstype +
                                              " (kernel before 6.11)");
  }
  m.uniqueId = h.mntId;
  m.parentUniqueId = h.mntParentId;
  m.id = h.mntIdOld;
  m.parentId = h.mntParentIdOld;
  m.major = h.sbDevMajor;
  m.minor = h.sbDevMinor;
  m.attr = h.mntAttr;
  m.peerGroup = (h.mntPropagation & MS_SHARED) ? h.mntPeerGroup : 0;
  m.master = (h.mntPropagation & MS_SLAVE) ? h.mntMaster : 0;
  return m;
}

Result<uint64_t> uniqueMountId(int fd) {
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, kStatxMntIdUnique, &sx) != 0)
    return Error::fromErrno("statx(" + std::to_string(fd) + ", STATX_MNT_ID_UNIQUE)");
  if (!(sx.stx_mask & kStatxMntIdUnique))
    return Error(ErrorKind::kUnsupported, "statx(STATX_MNT_ID_UNIQUE)",
                 "this kernel has no unique mount ids (< 6.8)");
  return static_cast<uint64_t>(sx.stx_mnt_id);
}

void execSelfInChild(char* const argv[], int firstToClose) {
  syscall(SYS_close_range, static_cast<unsigned>(firstToClose), ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv("/proc/self/exe", argv);
  _exit(127);
}

Result<CapSets> threadCaps() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return Error::fromErrno("capget(0)");
  auto join = [](uint32_t lo, uint32_t hi) { return uint64_t{lo} | (uint64_t{hi} << 32); };
  CapSets s;
  s.effective = join(data[0].effective, data[1].effective);
  s.permitted = join(data[0].permitted, data[1].permitted);
  s.inheritable = join(data[0].inheritable, data[1].inheritable);
  return s;
}

Status setThreadCaps(const CapSets& caps) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  data[0].effective = static_cast<uint32_t>(caps.effective);
  data[1].effective = static_cast<uint32_t>(caps.effective >> 32);
  data[0].permitted = static_cast<uint32_t>(caps.permitted);
  data[1].permitted = static_cast<uint32_t>(caps.permitted >> 32);
  data[0].inheritable = static_cast<uint32_t>(caps.inheritable);
  data[1].inheritable = static_cast<uint32_t>(caps.inheritable >> 32);
  if (syscall(SYS_capset, &hdr, data) != 0) return Error::fromErrno("capset(0)");
  return okStatus();
}

int64_t clockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::optional<NsId> nsIdOfFd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return NsId{st.st_dev, st.st_ino};
}

std::optional<NsId> nsIdAt(int dirfd, const std::string& path) {
  struct stat st {};
  if (::fstatat(dirfd, path.c_str(), &st, 0) != 0) return std::nullopt;
  return NsId{st.st_dev, st.st_ino};
}

bool probeIdmappedMounts() {
  static std::once_flag once;
  static bool result = false;
  std::call_once(once, [] { result = probeOnce(); });
  return result;
}

ssize_t sendWithFds(int sock, const void* buf, size_t len, const int* fds, size_t nfds) {
  if (nfds > kMaxPassedFds) {
    errno = EINVAL;
    return -1;
  }
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  iovec iov{const_cast<void*>(buf), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

ssize_t recvWithFds(int sock, void* buf, size_t len, int* fds, size_t maxFds, size_t* nfds,
                    bool* truncated) {
  *nfds = 0;
  *truncated = false;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  iovec iov{buf, len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof(cbuf);
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (*nfds < maxFds) {
        fds[(*nfds)++] = fd;
      } else {
        ::close(fd);  // more than the caller takes: never leak a passed descriptor
      }
    }
  }
  *truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  return n;
}

Status mkdirAllAs(const std::string& absPath, uid_t uid, gid_t gid,
                  const std::vector<gid_t>& groups, mode_t mode) {
  if (absPath.empty() || absPath[0] != '/') {
    return Error(ErrorKind::kInvalidInput, "mkdirAllAs: not an absolute path: " + quote(absPath));
  }
  // Every prefix is built before fork(): the child of a multi-threaded process may only make
  // async-signal-safe calls (no allocation), and a raw syscall per step is all it does.
  std::vector<std::string> prefixes;
  for (size_t i = 1; i <= absPath.size(); ++i) {
    if (i == absPath.size() || absPath[i] == '/') {
      if (absPath[i - 1] != '/') prefixes.push_back(absPath.substr(0, i));
    }
  }
  std::vector<const char*> steps;
  steps.reserve(prefixes.size());
  for (const auto& p : prefixes) steps.push_back(p.c_str());
  const pid_t pid = ::fork();
  if (pid < 0) return Error::fromErrno("fork() for mkdir as uid " + std::to_string(uid));
  if (pid == 0) {
    // Groups first (needs CAP_SETGID), then gids, then uids last (it drops the capabilities).
    // Raw setgroups: glibc's wrapper would signal threads this child does not have.
    if (::syscall(SYS_setgroups, groups.size(), groups.data()) != 0) ::_exit(EPERM);
    if (::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(EPERM);
    ::umask(022);
    for (const char* step : steps) {
      if (::mkdir(step, mode) == 0) continue;
      const int err = errno;
      struct stat st {};
      // An existing directory (or a symlink to one, which the user may follow) is a step done.
      if (err == EEXIST && ::stat(step, &st) == 0 && S_ISDIR(st.st_mode)) continue;
      ::_exit(err == 0 || err > 255 ? EIO : err);
    }
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return Error::fromErrno("waitpid() for mkdir as uid " + std::to_string(uid));
  }
  if (!WIFEXITED(status)) {
    return Error(ErrorKind::kInternal,
                 "mkdir " + quote(absPath) + " as uid " + std::to_string(uid) + ": the child died");
  }
  const int err = WEXITSTATUS(status);
  if (err != 0) {
    // Error::str() adds strerror(err) for a system error.
    return Error(err, "mkdir " + quote(absPath) + " as uid " + std::to_string(uid) + ":" +
                          std::to_string(gid));
  }
  return okStatus();
}

}  // namespace eci::sys
