// The worker's actions (see worker_act.h).
#include "worker_act.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "worker_protocol.h"

namespace eci::seccomp::worker {

namespace {

// "thread-self/fd/<n>" relative to the host /proc (our cwd): the magic link to an fd we opened.
std::string fdPath(int fd) {
  return "thread-self/fd/" + std::to_string(fd);
}

}  // namespace

// The action itself, with the container root's credentials in the caller's mount namespace.
int act(Action action, const Decoded& d, uint64_t flags, int target, int source,
        const std::string& name, uint64_t mountId, int* outFd) {
  const std::string tpath = target >= 0 ? fdPath(target) : std::string();
  const std::string spath = source >= 0 ? fdPath(source) : std::string();
  switch (action) {
    case Action::kReplayMount: {
      const char* src = source >= 0 ? spath.c_str() : (d.source ? d.source->c_str() : nullptr);
      if (mount(src, tpath.c_str(), d.fstype ? d.fstype->c_str() : nullptr, flags,
                d.data ? d.data->c_str() : nullptr))
        return errno;
      return 0;
    }
    case Action::kCloneTree: {
      // A new proc/sysfs is a recursive clone of the container's own tree, masks included.
      UniqueFd t(static_cast<int>(
          syscall(SYS_open_tree, source, "",
                  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE)));
      if (!t) return errno;
      if (flags & MS_RDONLY) {
        mount_attr a{};
        a.attr_set = MOUNT_ATTR_RDONLY;
        if (syscall(SYS_mount_setattr, t.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)))
          return errno;
      }
      if (syscall(SYS_move_mount, t.get(), "", target, "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))
        return errno;
      return 0;
    }
    case Action::kUmount: {
      // By parent directory + name, not by an fd of the mount itself: any open reference to the
      // mount would make a plain umount EBUSY. The mount found there must still be the one we
      // decided on; the parent fd pins the directory, and no protected mount can be brought
      // under this name meanwhile (moving or overmounting one is refused, renaming a mount point
      // is EBUSY), so the remaining window cannot reach a protected mount.
      struct statx sx;
      if (name.empty()) {
        // The mount's own fd (lazy unmounts only, worker.cc): the fd pins exactly the mount
        // decided on; the magic link leads to it.
        if (!(flags & MNT_DETACH)) return EPERM;
        if (statx(target, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) != 0) return errno;
        if (sx.stx_mnt_id != mountId || !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) return EPERM;
        if (umount2(tpath.c_str(), static_cast<int>(flags & ~UMOUNT_NOFOLLOW))) return errno;
        return 0;
      }
      if (statx(target, name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) != 0) return errno;
      if (sx.stx_mnt_id != mountId || !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) return EPERM;
      // thread-self/fd/<parent> (from our cwd, the host /proc) is the pinned parent directory;
      // the walk goes on from there to `name`, not followed if it is a symlink.
      const std::string path = tpath + "/" + name;
      if (umount2(path.c_str(), static_cast<int>(flags | UMOUNT_NOFOLLOW))) return errno;
      return 0;
    }
    case Action::kMountSetattr: {
      mount_attr a = d.attr;
      if (syscall(SYS_mount_setattr, target, "", AT_EMPTY_PATH | (flags & AT_RECURSIVE), &a,
                  sizeof(a)))
        return errno;
      return 0;
    }
    case Action::kMoveMount:
      if (syscall(SYS_move_mount, source, "", target, "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH |
                      (flags & (MOVE_MOUNT_SET_GROUP | 0x200))))
        return errno;
      return 0;
    case Action::kFsopen: {
      int fd =
          static_cast<int>(syscall(SYS_fsopen, d.fstype ? d.fstype->c_str() : "", FSOPEN_CLOEXEC));
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
    case Action::kChmod:
      // thread-self/fd/<n> (from our cwd, the host /proc) is the pinned file; chmod follows the
      // magic link to it. The mode was checked against the caller's rights (chmodModeFor).
      if (chmod(tpath.c_str(), static_cast<mode_t>(flags & 07777)) != 0) return errno;
      return 0;
    default:
      return EPERM;
  }
}

std::optional<CallerCredentials> parseCallerCredentials(const std::string& status) {
  auto field = [&](const char* key) -> std::optional<std::string> {
    const std::string k = std::string("\n") + key + ":";
    const size_t at = status.find(k);
    if (at == std::string::npos) return std::nullopt;
    const size_t from = at + k.size(), end = status.find('\n', from);
    return status.substr(from, end == std::string::npos ? std::string::npos : end - from);
  };
  // Whitespace-separated numbers in `base`; nullopt on anything else.
  auto nums = [](const std::string& line, int base) -> std::optional<std::vector<uint64_t>> {
    std::vector<uint64_t> v;
    const char* p = line.c_str();
    for (;;) {
      while (*p == ' ' || *p == '\t') ++p;
      if (!*p) return v;
      char* endp = nullptr;
      errno = 0;
      const unsigned long long x = std::strtoull(p, &endp, base);
      if (endp == p || errno != 0 || (*endp && *endp != ' ' && *endp != '\t')) return std::nullopt;
      v.push_back(x);
      p = endp;
    }
  };
  const auto uid = field("Uid"), gid = field("Gid"), groups = field("Groups"),
             cap = field("CapEff"), umask = field("Umask");
  if (!uid || !gid || !groups || !cap || !umask) return std::nullopt;
  const auto uids = nums(*uid, 10), gids = nums(*gid, 10), gs = nums(*groups, 10),
             caps = nums(*cap, 16), um = nums(*umask, 8);
  // Uid/Gid: real, effective, saved, file-system.
  if (!uids || !gids || !gs || !caps || !um || uids->size() != 4 || gids->size() != 4 ||
      caps->size() != 1 || um->size() != 1 || (*uids)[3] > 0xfffffffeu ||
      (*gids)[3] > 0xfffffffeu || (*um)[0] > 0777)
    return std::nullopt;
  CallerCredentials c;
  c.fsuid = static_cast<uid_t>((*uids)[3]);
  c.fsgid = static_cast<gid_t>((*gids)[3]);
  for (uint64_t g : *gs) {
    if (g > 0xfffffffeu) return std::nullopt;
    c.groups.push_back(static_cast<gid_t>(g));
  }
  c.effectiveCaps = (*caps)[0];
  c.umask = static_cast<mode_t>((*um)[0]);
  return c;
}

std::optional<CallerCredentials> readCallerCredentials(pid_t pid) {
  UniqueFd st(openat(kProcFd, procPath(pid, "status").c_str(), O_RDONLY | O_CLOEXEC));
  if (!st) return std::nullopt;
  auto text = fs::readFd(st.get(), 64 << 10, "status");
  if (!text.ok()) return std::nullopt;
  return parseCallerCredentials(*text);
}

// Order matters. In: groups and gid while we still hold CAP_SETGID, then the fsuid (leaving uid 0
// drops the file-system capabilities from the effective set), then the caller's effective set
// (within our permitted one). Out: fsuid 0 first (raises them again), then our full set, which
// setfsgid and setgroups need. setfsuid/setfsgid report nothing, so each is read back.
ActAsCaller::ActAsCaller(const CallerCredentials& caller) {
  auto caps = sys::threadCaps();
  if (!caps.ok()) {
    err_ = EPERM;
    return;
  }
  saved_ = *caps;
  savedUmask_ = ::umask(caller.umask);
  // setgroups is refused when the container's /proc/<pid>/setgroups is "deny": then the caller
  // cannot have changed its groups either, and with none we hold no more than it does.
  (void)setgroups(caller.groups.size(), caller.groups.data());
  setfsgid(caller.fsgid);
  setfsuid(caller.fsuid);
  if (static_cast<gid_t>(setfsgid(static_cast<gid_t>(-1))) != caller.fsgid ||
      static_cast<uid_t>(setfsuid(static_cast<uid_t>(-1))) != caller.fsuid) {
    err_ = EPERM;  // an id the container's user namespace does not map
    return;
  }
  sys::CapSets mine = saved_;
  mine.effective = caller.effectiveCaps & saved_.permitted;
  if (!sys::setThreadCaps(mine).ok()) err_ = EPERM;
}

ActAsCaller::~ActAsCaller() {
  ::umask(savedUmask_);
  setfsuid(0);
  const bool capsBack = sys::setThreadCaps(saved_).ok();
  setfsgid(0);
  const bool idsBack =
      setfsuid(static_cast<uid_t>(-1)) == 0 && setfsgid(static_cast<gid_t>(-1)) == 0;
  (void)setgroups(0, nullptr);
  if (!capsBack || !idsBack) {
    LOG_ERROR("seccomp worker: cannot restore its own credentials: exiting");
    _exit(30);
  }
}

int chmodModeFor(pid_t pid, int fd, uint64_t mode, uint64_t* out) {
  const auto caller = readCallerCredentials(pid);
  if (!caller) return EPERM;
  struct statx sx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_UID | STATX_GID, &sx) != 0)
    return errno;
  const bool fowner = caller->effectiveCaps & (1ULL << CAP_FOWNER),
             fsetid = caller->effectiveCaps & (1ULL << CAP_FSETID);
  if (caller->fsuid != sx.stx_uid && !fowner) return EPERM;
  if ((mode & S_ISGID) && !fsetid && caller->fsgid != sx.stx_gid &&
      std::find(caller->groups.begin(), caller->groups.end(), sx.stx_gid) == caller->groups.end())
    mode &= ~static_cast<uint64_t>(S_ISGID);
  *out = mode;
  return 0;
}

namespace {

// The flags openat2 accepts (it refuses unknown bits, which open(2) ignores). O_LARGEFILE is
// the kernel's value: glibc defines it as 0 on 64-bit targets, where the kernel forces it.
constexpr uint64_t kKernelLargefile = 0100000;
constexpr uint64_t kOpenFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND |
                                O_NONBLOCK | O_DSYNC | O_SYNC | FASYNC | O_DIRECT | O_DIRECTORY |
                                O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH | O_TMPFILE |
                                kKernelLargefile;

// The caller's open flags, as the call would run: creat(2) is open(O_CREAT|O_WRONLY|O_TRUNC);
// a regular mknod is an exclusive create (it never opens or follows what is there).
uint64_t createFlags(const Decoded& d) {
  switch (d.call) {
    case Call::kOpen:
      return d.args[1] & kOpenFlags;
    case Call::kOpenat:
      return d.args[2] & kOpenFlags;
    case Call::kCreat:
      return O_CREAT | O_WRONLY | O_TRUNC;
    default:
      return O_CREAT | O_EXCL | O_RDONLY;  // mknod, mknodat (decide() lets only S_IFREG here)
  }
}

// What is there (O_CREAT found a file), opened as the caller asked, but only a regular file: the
// worker is not in the container's device cgroup, and a FIFO's open would block it (it serves the
// whole container). First an O_PATH open (no side effects, follows a final symlink unless
// O_NOFOLLOW), checked, then that same file reopened through its magic link: no second walk.
UniqueFd openExistingRegular(const RealEnvironment::Start& start, const std::string& path,
                             uint64_t flags) {
  UniqueFd where =
      RealEnvironment::openFrom(start, path, O_PATH | (flags & (O_NOFOLLOW | O_DIRECTORY)), 0);
  if (!where) return where;
  struct stat st {};
  if (fstat(where.get(), &st) != 0) return UniqueFd();
  if (!S_ISREG(st.st_mode)) {
    // What the kernel says for a directory and a final symlink under O_NOFOLLOW; anything else
    // (device, FIFO, socket) is refused.
    errno = S_ISDIR(st.st_mode) ? EISDIR : S_ISLNK(st.st_mode) ? ELOOP : EPERM;
    return UniqueFd();
  }
  const std::string magic = "thread-self/fd/" + std::to_string(where.get());
  return UniqueFd(
      openat(kProcFd, magic.c_str(),
             static_cast<int>(flags & ~static_cast<uint64_t>(O_CREAT | O_EXCL | O_NOFOLLOW)) |
                 O_CLOEXEC | O_NOCTTY));
}

}  // namespace

int createSetId(RealEnvironment& env, const Decoded& d, const ContainerMounts& mounts, pid_t pid,
                UniqueFd* outFd, const char** reason) {
  *reason = "the set-id file could not be made";
  const uint64_t mode = createMode(d) & 07777;
  const uint64_t flags = createFlags(d);
  const bool isOpen = d.call == Call::kOpen || d.call == Call::kOpenat || d.call == Call::kCreat;
  const auto caller = readCallerCredentials(pid);
  if (!caller) return EPERM;
  auto start = env.createdStart();
  if (!start) return errno;
  const std::string path = d.target.value_or("");
  const auto plainMode = static_cast<mode_t>(mode & ~static_cast<uint64_t>(S_ISUID | S_ISGID));

  // 1. Made as the caller, without the set-id bits: nothing the caller could not make with a
  //    plain create, which is CONTINUEd anyway, wherever a racer leads the walk.
  UniqueFd fd;
  bool created = false;
  {
    ActAsCaller as(*caller);
    if (as.error() != 0) return as.error();
    if (flags & O_PATH) {
      // O_PATH ignores O_CREAT: the kernel would open what is there, never make a file.
      fd = RealEnvironment::openFrom(*start, path, flags & ~(O_CREAT | O_EXCL), 0);
    } else if ((flags & O_TMPFILE) == O_TMPFILE || (flags & O_EXCL)) {
      fd = RealEnvironment::openFrom(*start, path, flags, plainMode);
      created = static_cast<bool>(fd);
    } else {
      // O_CREAT alone makes the file or opens the one there. Which happened must be known (only
      // a new file gets the mode), so: make it exclusively, else open what exists; a file
      // removed or made between the two tries again.
      bool dangling = false;
      for (int attempt = 0; attempt < 4; ++attempt) {
        fd = RealEnvironment::openFrom(*start, path, flags | O_EXCL, plainMode);
        if (fd) {
          created = true;
          break;
        }
        if (errno != EEXIST) break;  // ENOENT here: no such directory, as the kernel would say
        fd = openExistingRegular(*start, path, flags);
        if (fd || errno != ENOENT) break;
        dangling = true;
      }
      // There, yet not there when followed: a dangling final symlink (the kernel would make its
      // target, wherever that leads) or a racer flipping the name. Refused, as resolveCreated()
      // refuses it.
      if (!fd && dangling && errno == ENOENT) errno = EPERM;
    }
    if (!fd) return errno;
  }

  // 2. Where the new file is, from its own fd: no path, so nothing a racer can still change.
  if (created) {
    const PathInfo where = env.describe(fd.get());
    if (where.err != 0 || !where.mount) {
      *reason = "the mount of the new file is unknown";
      return EPERM;
    }
    if (mounts.isHostPath(*where.mount)) {
      // Only a racer gets here (decide() refused the path it saw). The file stays, plain: what
      // a plain create would have left.
      *reason = "a set-id file created on a host path (raced)";
      return EPERM;
    }
    // 3. The set-id bits, on that file, as the caller: the kernel drops S_ISGID when the caller
    //    is not in the file's group and lacks CAP_FSETID, as it does on a create.
    struct statx sx {};
    if (statx(fd.get(), "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MODE, &sx) != 0) return errno;
    const auto finalMode =
        static_cast<mode_t>((sx.stx_mode & 07777) | (mode & (S_ISUID | S_ISGID)));
    ActAsCaller as(*caller);
    if (as.error() != 0) return as.error();
    if (fchmod(fd.get(), finalMode) != 0) return errno;
  }
  if (isOpen) *outFd = std::move(fd);
  return 0;
}

}  // namespace eci::seccomp::worker
