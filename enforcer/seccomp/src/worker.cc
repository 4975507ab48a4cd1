// The per-container seccomp worker (see include/eci/seccomp/worker.h and worker_protocol.h).
//
// Why a process of its own, joined to the container's namespaces, and not a thread of the
// supervisor: the actions must be checked by the kernel against the container root's
// credentials (a thread cannot join a user namespace: setns(CLONE_NEWUSER) needs a
// single-threaded caller), and a hop from the supervisor to a helper process costs a second
// wake-up per trapped call. The worker is exec'ed, not just forked, so it runs the full decision
// code in a clean single-threaded address space that holds nothing of the daemon's.
#include "eci/seccomp/worker.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "eci/seccomp/rules.h"
#include "eci/sys.h"
#include "eci/unique_fd.h"
#include "worker_protocol.h"

namespace eci::seccomp {

namespace {

using worker::kProcFd;

using sys::NsId;

// /proc paths go through the host /proc opened before setns: after joining the container's mount
// namespace an absolute "/proc/..." would be the container's procfs (its pid namespace, its
// mounts), which the container controls.
std::string procPath(pid_t pid, const char* rest) {
  return std::to_string(pid) + "/" + rest;
}

std::optional<NsId> nsOf(pid_t pid, const char* kind) {
  return sys::nsIdAt(kProcFd, procPath(pid, ("ns/" + std::string(kind)).c_str()));
}

// Reads the caller's memory with process_vm_readv, page by page, so a string ending right before
// an unmapped page is still read.
class ProcessMemory : public MemoryReader {
 public:
  explicit ProcessMemory(pid_t pid) : pid_(pid) {}
  std::optional<std::string> readBytes(uint64_t addr, size_t len) override {
    std::string out(len, '\0');
    size_t done = 0;
    while (done < len) {
      const uint64_t a = addr + done;
      const size_t chunk = std::min(len - done, static_cast<size_t>(4096 - (a & 4095)));
      iovec local{out.data() + done, chunk};
      // An address in the caller's memory, not ours: it is only ever handed to the kernel.
      iovec remote{reinterpret_cast<void*>(a), chunk};  // NOLINT(performance-no-int-to-ptr)
      ssize_t n = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
      if (n <= 0) return std::nullopt;
      done += static_cast<size_t>(n);
    }
    return out;
  }
  std::optional<std::string> readString(uint64_t addr, size_t max) override {
    std::string out;
    while (out.size() < max) {
      const uint64_t a = addr + out.size();
      const size_t chunk = std::min(max - out.size(), static_cast<size_t>(4096 - (a & 4095)));
      char buf[4096];
      iovec local{buf, chunk};
      // An address in the caller's memory, not ours: it is only ever handed to the kernel.
      iovec remote{reinterpret_cast<void*>(a), chunk};  // NOLINT(performance-no-int-to-ptr)
      ssize_t n = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
      if (n <= 0) return std::nullopt;
      const char* nul = static_cast<const char*>(memchr(buf, 0, static_cast<size_t>(n)));
      if (nul) {
        out.append(buf, static_cast<size_t>(nul - buf));
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return std::nullopt;  // no NUL within PATH_MAX: the kernel would say ENAMETOOLONG
  }

 private:
  pid_t pid_;
};

// One mount's record from statmount(2) (see sys::statMount), as the rules' MountEntry.
std::optional<MountEntry> statmountEntry(uint64_t uniqueId) {
  auto r = sys::statMount(uniqueId);
  if (!r.ok()) return std::nullopt;
  MountEntry m;
  m.id = static_cast<int>(r->id);
  m.parent = static_cast<int>(r->parentId);
  m.major = r->major;
  m.minor = r->minor;
  m.root = std::move(r->root);
  m.mountPoint = std::move(r->mountPoint);
  m.fstype = std::move(r->fstype);
  m.options = (r->attr & MOUNT_ATTR_RDONLY) ? "ro" : "rw";
  m.sharedGroup = r->peerGroup;
  m.masterGroup = r->master;
  return m;
}

using sys::kStatxMntIdUnique;

// Feature probe: statmount must exist here and describe our own root mount exactly as the
// container's initial mountinfo does (same id, device, root, type); otherwise the worker keeps
// to mountinfo. A wrong reading would feed the rules wrong mounts, so it is checked, not assumed.
bool probeStatmount(const std::vector<MountEntry>& initial) {
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto id = root ? sys::uniqueMountId(root.get()) : Result<uint64_t>(Error(EBADF, "open('/')"));
  if (!id.ok()) return false;
  auto m = statmountEntry(*id);
  if (!m) return false;
  for (const auto& i : initial)
    if (i.id == m->id)
      return i.parent == m->parent && i.major == m->major && i.minor == m->minor &&
             i.root == m->root && i.fstype == m->fstype && i.readOnly() == m->readOnly();
  return false;
}

// What the worker knows about its container.
struct ContainerView {
  std::string id;
  std::unique_ptr<ContainerMounts> mounts;
  std::optional<NsId> pidns, netns, userns;
  std::optional<NsId> currentMntns;  // the mount namespace the worker is in now
  bool statmountWorks = false;       // probeStatmount() passed
};

// The system side of rules.h's Environment for one notification.
class RealEnvironment : public Environment {
 public:
  RealEnvironment(pid_t pid, const Decoded& d, const ContainerView& c) : pid_(pid), d_(d), c_(c) {}

  PathInfo resolve(Which which) override {
    auto& slot = which == Which::kSource ? source_ : target_;
    if (slot.done) return slot.info;
    slot.done = true;
    int dfd = AT_FDCWD;
    bool emptyOk = false, follow = true;
    const std::optional<std::string>* path = which == Which::kSource ? &d_.source : &d_.target;
    switch (d_.call) {
      case Call::kUmount2:
        follow = !(d_.args[1] & UMOUNT_NOFOLLOW);
        break;
      case Call::kOpenTree:
      case Call::kMountSetattr:
        dfd = static_cast<int>(d_.args[0]);
        emptyOk = d_.args[2] & AT_EMPTY_PATH;
        follow = !(d_.args[2] & AT_SYMLINK_NOFOLLOW);
        break;
      case Call::kFchmod:
        dfd = static_cast<int>(d_.args[0]);
        emptyOk = true;  // the fd itself
        break;
      case Call::kFchmodat:
        dfd = static_cast<int>(d_.args[0]);
        break;
      case Call::kFspick:
        dfd = static_cast<int>(d_.args[0]);
        emptyOk = d_.args[2] & FSPICK_EMPTY_PATH;
        follow = !(d_.args[2] & FSPICK_SYMLINK_NOFOLLOW);
        break;
      case Call::kMoveMount:
        if (which == Which::kSource) {
          dfd = static_cast<int>(d_.args[0]);
          emptyOk = d_.args[4] & MOVE_MOUNT_F_EMPTY_PATH;
          follow = d_.args[4] & MOVE_MOUNT_F_SYMLINKS;
        } else {
          dfd = static_cast<int>(d_.args[2]);
          emptyOk = d_.args[4] & MOVE_MOUNT_T_EMPTY_PATH;
          follow = d_.args[4] & MOVE_MOUNT_T_SYMLINKS;
        }
        break;
      default:
        break;
    }
    slot.info = resolvePath(dfd, path->value_or(""), emptyOk, follow, slot.fd);
    return slot.info;
  }

  PathInfo resolveCreated() override {
    if (created_.done) return created_.info;
    created_.done = true;
    const bool at = d_.call == Call::kOpenat || d_.call == Call::kMknodat;
    const int dfd = at ? static_cast<int>(d_.args[0]) : AT_FDCWD;
    const bool isOpen = d_.call == Call::kOpen || d_.call == Call::kOpenat;
    // Only open/openat have flags (mknodat's third argument is its mode).
    const uint64_t flags = d_.call == Call::kOpen ? d_.args[1] : isOpen ? d_.args[2] : 0;
    const std::string path = d_.target.value_or("");
    // O_TMPFILE names the directory the file is made in.
    if (isOpen && (flags & O_TMPFILE) == O_TMPFILE) {
      created_.info = resolvePath(dfd, path, false, true, created_.fd);
      return created_.info;
    }
    // An existing file: O_CREAT without O_EXCL opens it, following a final symlink unless
    // O_NOFOLLOW (mknod never follows one; it fails with EEXIST).
    const bool follow = isOpen && !(flags & (O_NOFOLLOW | O_EXCL));
    created_.info = resolvePath(dfd, path, false, follow, created_.fd);
    if (created_.info.err != ENOENT) return created_.info;
    // Nothing there under the followed name: a dangling final symlink would make the kernel
    // create its target, wherever that is (refused as unknown); else the parent directory.
    UniqueFd link;
    if (follow && resolvePath(dfd, path, false, false, link).err == 0) {
      created_.info = PathInfo{};
      created_.info.err = ELOOP;
      return created_.info;
    }
    std::string parent = path;
    while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
    const size_t slash = parent.rfind('/');
    parent = slash == std::string::npos ? "." : slash == 0 ? "/" : parent.substr(0, slash);
    created_.info = resolvePath(dfd, parent, false, true, created_.fd);
    return created_.info;
  }

  PathInfo resolveInRoot(const std::string& absPath) override {
    if (!inRoot_.done) {
      inRoot_.done = true;
      inRoot_.info = resolvePath(AT_FDCWD, absPath, false, true, inRoot_.fd);
    }
    return inRoot_.info;
  }

  // nullptr (and every rule that needs the table refuses) when mountinfo cannot be opened, read
  // in full within kMaxMountInfoBytes, or parsed, or holds more than kMaxMountEntries mounts:
  // never an empty table, which would read as "no protected mount here".
  const std::vector<MountEntry>* mountTable() override {
    if (!tableLoaded_) {
      tableLoaded_ = true;
      UniqueFd fd(openat(kProcFd, procPath(pid_, "mountinfo").c_str(), O_RDONLY | O_CLOEXEC));
      if (fd) {
        auto text = fs::readFd(fd.get(), kMaxMountInfoBytes, "mountinfo");
        if (text.ok()) {
          auto parsed = parseMountInfo(*text);
          if (parsed.ok()) table_ = std::move(*parsed);
        }
      }
      if (!table_)
        LOG_DEBUG("seccomp %s pid %d: mount table unreadable or over %zu mounts: refusing",
                  c_.id.c_str(), pid_, kMaxMountEntries);
    }
    return table_ ? &*table_ : nullptr;
  }

  bool callerHasSysAdmin() override {
    // capget() reads any thread's sets without a permission check, and without the ~8 KiB
    // /proc/<pid>/status render. The caller is blocked in the trapped call, so its own sets
    // cannot change meanwhile (only a task can change its own capabilities).
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, pid_};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &hdr, data) != 0) return false;
    return data[0].effective & (1U << 21);  // CAP_SYS_ADMIN
  }
  bool callerInContainerPidNs() override { return c_.pidns && nsOf(pid_, "pid") == c_.pidns; }
  bool callerInContainerNetNs() override { return c_.netns && nsOf(pid_, "net") == c_.netns; }

  // The caller's mount namespace, looked up once per notification.
  const std::optional<NsId>& callerMntns() {
    if (!mntnsLooked_) {
      mntnsLooked_ = true;
      mntns_ = nsOf(pid_, "mnt");
    }
    return mntns_;
  }

  int targetFd() const { return target_.fd.get(); }
  void closeTarget() { target_.fd.reset(); }
  int sourceFd() const { return source_.fd.get(); }
  int inRootFd() const { return inRoot_.fd.get(); }

 private:
  struct Slot {
    bool done = false;
    PathInfo info;
    UniqueFd fd;
  };

  // Resolves `path` as the caller would (its root, cwd or dirfd), into an O_PATH fd the worker
  // owns. Absolute paths stay inside the caller's root (RESOLVE_IN_ROOT); relative ones may not
  // climb above their starting directory (RESOLVE_BENEATH: `..` or an absolute symlink there
  // gives EXDEV, refused) - the worker never follows a path out of the container.
  PathInfo resolvePath(int dfd, const std::string& path, bool emptyOk, bool follow, UniqueFd& out) {
    PathInfo info;
    auto openBase = [&](int fdNum) {
      std::string p = fdNum == AT_FDCWD ? procPath(pid_, "cwd")
                                        : procPath(pid_, ("fd/" + std::to_string(fdNum)).c_str());
      return UniqueFd(openat(kProcFd, p.c_str(), O_PATH | O_CLOEXEC));
    };
    if (path.empty()) {
      if (!emptyOk) {
        info.err = ENOENT;
        return info;
      }
      out = openBase(dfd);
    } else if (const auto fdNum = procSelfFd(path)) {
      // The caller's own fd (rules.h procSelfFd): what its /proc/self/fd/<n> reaches. The rules
      // then judge that file like any other target; the caller could name it by fd anyway.
      out = openBase(*fdNum);
    } else {
      open_how how{};
      how.flags = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
      UniqueFd base;
      if (path.front() == '/') {
        base = UniqueFd(
            openat(kProcFd, procPath(pid_, "root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
      } else {
        base = openBase(dfd);
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
      }
      if (!base) {
        info.err = errno == ENOENT ? EBADF : errno;
        return info;
      }
      out = UniqueFd(
          static_cast<int>(syscall(SYS_openat2, base.get(), path.c_str(), &how, sizeof(how))));
    }
    if (!out) {
      info.err = errno;
      return info;
    }
    struct statx sx {};
    const unsigned idMask = c_.statmountWorks ? kStatxMntIdUnique : STATX_MNT_ID;
    if (statx(out.get(), "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | idMask, &sx) != 0) {
      info.err = errno;
      return info;
    }
    info.major = sx.stx_dev_major;
    info.minor = sx.stx_dev_minor;
    info.blockDevice = S_ISBLK(sx.stx_mode);
    info.mountRoot = sx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
    // The target of a new mount that is not a mount root cannot cover a protected mount, and
    // that is all the rules ask of it: skip rendering the mount table on that hot path. Not for
    // a new proc/sysfs (a masked clone), whose parent mount must not be shared.
    const uint64_t f = d_.args[3];
    const bool procOrSys = d_.fstype && (*d_.fstype == "proc" || *d_.fstype == "sysfs");
    if (d_.call == Call::kMount && !(f & (MS_REMOUNT | MS_BIND | MS_MOVE | MS_SHARED)) &&
        !procOrSys && !info.mountRoot && &out == &target_.fd)
      return info;
    // statmount sees mounts of the worker's current mount namespace: the caller's, unless it
    // made its own (then ENOENT, and the table below is read).
    if (sx.stx_mask & kStatxMntIdUnique) {
      if (auto m = statmountEntry(sx.stx_mnt_id); m && callerMntns() == c_.currentMntns) {
        info.mount = std::move(m);
        return info;
      }
      // The unique id means nothing to mountinfo: take the old one.
      if (statx(out.get(), "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &sx) != 0) {
        info.err = errno;
        return info;
      }
    }
    const std::vector<MountEntry>* table = mountTable();
    if (!table) {
      info.err = EPERM;  // cannot tell which mount this is: refused (fail closed)
      return info;
    }
    for (const auto& m : *table)
      if (static_cast<uint64_t>(m.id) == sx.stx_mnt_id) info.mount = m;
    info.attached = info.mount.has_value();
    return info;
  }

  pid_t pid_;
  const Decoded& d_;
  const ContainerView& c_;
  Slot source_, target_, inRoot_, created_;
  bool tableLoaded_ = false;
  std::optional<std::vector<MountEntry>> table_;
  bool mntnsLooked_ = false;
  std::optional<NsId> mntns_;
};

// "thread-self/fd/<n>" relative to the host /proc (our cwd): the magic link to an fd we opened.
std::string fdPath(int fd) {
  return "thread-self/fd/" + std::to_string(fd);
}

// The action itself, with the container root's credentials in the caller's mount namespace.
// Returns errno (0 ok); a resulting fd (fsopen, fspick) goes to *outFd.
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

// The mode chmod(2) would set for the caller, or an errno: the caller must own the file or hold
// CAP_FOWNER, and S_ISGID is dropped when it is not in the file's group and lacks CAP_FSETID
// (what the kernel does; we act with the container root's rights, so we apply the caller's).
// Ids and capabilities are read as the container's user namespace sees them (ours).
int chmodModeFor(pid_t pid, int fd, uint64_t mode, uint64_t* out) {
  UniqueFd st(openat(kProcFd, procPath(pid, "status").c_str(), O_RDONLY | O_CLOEXEC));
  if (!st) return EPERM;
  auto text = fs::readFd(st.get(), 64 << 10, "status");
  if (!text.ok()) return EPERM;
  auto field = [&](const char* key) -> std::string {
    const size_t at = text->find(std::string("\n") + key + ":");
    if (at == std::string::npos) return {};
    const size_t from = at + std::strlen(key) + 2, end = text->find('\n', from);
    return text->substr(from, end == std::string::npos ? std::string::npos : end - from);
  };
  auto nums = [](const std::string& line) {
    std::vector<unsigned long long> v;
    const char* p = line.c_str();
    char* endp = nullptr;
    for (;;) {
      const unsigned long long x = std::strtoull(p, &endp, 10);
      if (endp == p) break;
      v.push_back(x);
      p = endp;
    }
    return v;
  };
  const auto uids = nums(field("Uid")), gids = nums(field("Gid")), groups = nums(field("Groups"));
  const std::string capHex = field("CapEff");
  if (uids.size() != 4 || gids.size() != 4 || capHex.empty()) return EPERM;
  const unsigned long long cap = std::strtoull(capHex.c_str(), nullptr, 16);
  struct statx sx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_UID | STATX_GID, &sx) != 0)
    return errno;
  const bool fowner = cap & (1ULL << CAP_FOWNER), fsetid = cap & (1ULL << CAP_FSETID);
  if (uids[3] != sx.stx_uid && !fowner) return EPERM;
  if ((mode & S_ISGID) && !fsetid && gids[3] != sx.stx_gid &&
      std::find(groups.begin(), groups.end(), sx.stx_gid) == groups.end())
    mode &= ~static_cast<uint64_t>(S_ISGID);
  *out = mode;
  return 0;
}

class Worker {
 public:
  Worker(ContainerView view, worker::Shared* shared) : c_(std::move(view)), shared_(shared) {}
  [[noreturn]] void run();

 private:
  void handle(int notifyFd);
  // Brings the worker into the caller's mount namespace (actions such as umount or move_mount
  // only work on mounts of the caller's own namespace). errno or 0.
  int enterMntnsOf(pid_t pid, const std::optional<NsId>& ns);
  void respond(int fd, uint64_t id, int err, bool cont);

  ContainerView c_;
  worker::Shared* shared_;

  // After the caller has its answer: the denial into the audit ring, or only counted when the
  // supervisor has not drained it yet (never waits).
  void recordDenial(Call call, int err, const char* why) {
    const uint64_t head = shared_->denialHead.load(std::memory_order_relaxed);
    const uint64_t tail = shared_->denialTail.load(std::memory_order_acquire);
    if (head - tail >= worker::kDenialSlots) {
      shared_->denialsDropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    worker::Denial& d = shared_->denials[head % worker::kDenialSlots];
    std::snprintf(d.call, sizeof d.call, "%s", callName(call));
    std::snprintf(d.reason, sizeof d.reason, "%s", why);
    d.err = err;
    shared_->denialHead.store(head + 1, std::memory_order_release);
  }
  std::vector<UniqueFd> notifyFds_;
  std::map<std::pair<uint32_t, int>, Call> callCache_;
  size_t notifSize_ = sizeof(seccomp_notif);
  std::vector<char> notifBuf_;

  Call callOf(uint32_t arch, int nr) {
    auto key = std::make_pair(arch, nr);
    auto it = callCache_.find(key);
    if (it != callCache_.end()) return it->second;
    Call c = Call::kUnknown;
    char* name = seccomp_syscall_resolve_num_arch(arch, nr);
    if (name) {
      c = callFromName(name);
      free(name);
    }
    callCache_.emplace(key, c);
    return c;
  }
};

void Worker::respond(int fd, uint64_t id, int err, bool cont) {
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.error = err ? -err : 0;
  resp.flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
  // ENOENT: the caller died or was interrupted meanwhile; nothing to answer.
  (void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

int Worker::enterMntnsOf(pid_t pid, const std::optional<NsId>& ns) {
  if (!ns) return ESRCH;
  if (c_.currentMntns == ns) return 0;
  UniqueFd fd(openat(kProcFd, procPath(pid, "ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno;
  // setns resets our root and cwd to the namespace's root; cwd goes back to the host /proc so
  // the thread-self/fd magic links keep resolving.
  if (setns(fd.get(), CLONE_NEWNS) != 0 || fchdir(kProcFd) != 0) {
    c_.currentMntns.reset();
    return errno;
  }
  c_.currentMntns = sys::nsIdOfFd(fd.get());
  return 0;
}

void Worker::handle(int notifyFd) {
  std::fill(notifBuf_.begin(), notifBuf_.end(), 0);  // RECV requires a zeroed buffer
  auto* req = reinterpret_cast<seccomp_notif*>(notifBuf_.data());
  if (ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) return;  // ENOENT: caller gone
  shared_->notifications.fetch_add(1, std::memory_order_relaxed);
  const pid_t pid = static_cast<pid_t>(req->pid);
  const Call call = callOf(req->data.arch, req->data.nr);
  uint64_t args[6];
  for (int i = 0; i < 6; ++i) args[i] = req->data.args[i];
  ProcessMemory mem(pid);
  Decoded d = decode(call, args, mem);
  // The memory we read (and the paths we resolve) belonged to the caller only if it is still
  // blocked in this very call; if it died, its pid may name another process by now. That is
  // checked once, with SECCOMP_IOCTL_NOTIF_ID_VALID right before any action below: a decision
  // made from a stranger's memory is then never acted on, and answering a notification that is
  // no longer pending is a no-op (ENOENT), so an earlier check here would only cost a syscall.
  RealEnvironment env(pid, d, c_);
  Decision dec = decide(d, *c_.mounts, env);
  LOG_DEBUG("seccomp %s pid %d %s: %s (%s)", c_.id.c_str(), pid, callName(call),
            actionName(dec.action), dec.reason.c_str());
  if (dec.action == Action::kContinue) {
    shared_->continued.fetch_add(1, std::memory_order_relaxed);
    return respond(notifyFd, req->id, 0, true);
  }
  if (dec.action == Action::kError) {
    shared_->refused.fetch_add(1, std::memory_order_relaxed);
    respond(notifyFd, req->id, dec.err, false);
    return recordDenial(call, dec.err, dec.reason.c_str());
  }
  auto refuse = [&](int err, const char* why) {
    LOG_DEBUG("seccomp %s pid %d %s: refused: %s", c_.id.c_str(), pid, callName(call), why);
    shared_->refused.fetch_add(1, std::memory_order_relaxed);
    respond(notifyFd, req->id, err, false);
    recordDenial(call, err, why);
  };
  // We act with the container root's credentials. A caller in a nested user namespace may hold
  // CAP_SYS_ADMIN there without holding it over the container's mounts; doing its call as the
  // container's root would grant more than the kernel would, so it is refused instead.
  if (nsOf(pid, "user") != c_.userns) return refuse(EPERM, "caller is in a nested user namespace");

  const uint64_t flags = d.call == Call::kMount       ? d.args[3]
                         : d.call == Call::kUmount2   ? d.args[1]
                         : d.call == Call::kMoveMount ? d.args[4]
                                                      : d.args[2];
  int target = -1, source = -1;
  UniqueFd parentFd;
  std::string name;
  uint64_t mountId = 0;
  switch (dec.action) {
    case Action::kReplayMount:
      target = env.targetFd();
      if (flags & (MS_BIND | MS_MOVE)) source = env.sourceFd();
      break;
    case Action::kCloneTree:
      target = env.targetFd();
      source = env.inRootFd();
      break;
    case Action::kMoveMount:
      target = env.targetFd();
      source = env.sourceFd();
      break;
    case Action::kUmount: {
      // The umount goes by parent directory + name: an fd on the mount itself would pin it
      // (EBUSY), so ours is closed before acting.
      PathInfo t = env.resolve(Environment::Which::kTarget);
      if (t.mount && t.mount->mountPoint != "/") {
        const auto& mp = t.mount->mountPoint;
        name = mp.substr(mp.rfind('/') + 1);
        if (!name.empty() && name.size() < 256 && name != "." && name != "..") {
          parentFd = UniqueFd(openat(env.targetFd(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
          mountId = static_cast<uint64_t>(t.mount->id);
        }
      }
      env.closeTarget();
      target = parentFd.get();
      break;
    }
    case Action::kMountSetattr:
    case Action::kFspick:
    case Action::kChmod:
      target = env.targetFd();
      break;
    default:
      break;
  }
  const bool needTarget = dec.action != Action::kFsopen;
  if ((needTarget && target < 0) ||
      ((dec.action == Action::kMoveMount || dec.action == Action::kCloneTree) && source < 0))
    return refuse(EPERM, "a path of the call could not be pinned");
  if (int e = enterMntnsOf(pid, env.callerMntns()); e != 0)
    return refuse(EPERM, "cannot enter the caller's mounts");
  // A mount(MS_MOVE) decided as kMoveMount moves source onto target with the new API.
  uint64_t actFlags = (dec.action == Action::kMoveMount && d.call == Call::kMount) ? 0 : flags;
  if (dec.action == Action::kChmod) {
    if (int e = chmodModeFor(pid, target, chmodMode(d), &actFlags); e != 0)
      return refuse(e, "the caller may not change this file's mode");
  }

  // Published before acting: if we die or hang here the supervisor answers this id for us.
  shared_->inFlightId.store(req->id, std::memory_order_relaxed);
  shared_->busySinceNs.store(sys::clockNs(CLOCK_MONOTONIC), std::memory_order_release);
  // Last check before acting: a caller killed meanwhile must not get a mount made on its behalf.
  if (ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0) {
    shared_->busySinceNs.store(0, std::memory_order_relaxed);
    shared_->inFlightId.store(0, std::memory_order_release);
    return;
  }
  int outFd = -1;
  const int err = act(dec.action, d, actFlags, target, source, name, mountId, &outFd);
  UniqueFd result(outFd);
  if (err != 0) {
    shared_->emulationFailed.fetch_add(1, std::memory_order_relaxed);
    respond(notifyFd, req->id, err, false);
  } else if (result) {
    seccomp_notif_addfd add{};
    add.id = req->id;
    add.flags = SECCOMP_ADDFD_FLAG_SEND;  // installs the fd and answers with its number, atomically
    add.srcfd = static_cast<uint32_t>(result.get());
    const bool cloexec = (d.call == Call::kFsopen && (d.args[1] & FSOPEN_CLOEXEC)) ||
                         (d.call == Call::kFspick && (d.args[2] & FSPICK_CLOEXEC));
    add.newfd_flags = cloexec ? O_CLOEXEC : 0;
    shared_->emulated.fetch_add(1, std::memory_order_relaxed);
    if (ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0 && errno != ENOENT) {
      const int e = errno;
      LOG_WARN("seccomp %s: SECCOMP_IOCTL_NOTIF_ADDFD(%s): %s", c_.id.c_str(), callName(call),
               strerror(e));
      respond(notifyFd, req->id, e == EMFILE ? EMFILE : EPERM, false);
    }
  } else {
    shared_->emulated.fetch_add(1, std::memory_order_relaxed);
    respond(notifyFd, req->id, 0, false);
  }
  shared_->busySinceNs.store(0, std::memory_order_relaxed);
  shared_->inFlightId.store(0, std::memory_order_release);
}

void Worker::run() {
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0)
    notifSize_ = std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif));
  notifBuf_.assign(notifSize_, 0);
  std::vector<pollfd> pfds;
  for (;;) {
    pfds.clear();
    pfds.push_back({worker::kControlFd, POLLIN, 0});
    for (auto& fd : notifyFds_) pfds.push_back({fd.get(), POLLIN, 0});
    int n = poll(pfds.data(), pfds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(20);
    }
    if (pfds[0].revents) {
      worker::Msg msg;
      int fd = -1;
      size_t got = 0;
      bool truncated = false;
      ssize_t r = sys::recvWithFds(worker::kControlFd, &msg, sizeof(msg), &fd, 1, &got, &truncated);
      if (r == 0) _exit(0);  // the supervisor closed us: the container is gone
      if (r < 0 && errno != EINTR && errno != EAGAIN) _exit(21);
      if (got == 1) {
        UniqueFd nfd(fd);
        if (r == static_cast<ssize_t>(sizeof(msg)) && msg.type == worker::MsgType::kAddNotifyFd &&
            fcntl(nfd.get(), F_SETFL, O_NONBLOCK) == 0)
          notifyFds_.push_back(std::move(nfd));
      }
    }
    // Backwards, so erasing keeps the remaining indices valid.
    for (size_t i = pfds.size(); i-- > 1;) {
      if (pfds[i].revents & POLLIN) handle(pfds[i].fd);
      if (pfds[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
        // Every task using this filter is gone (Linux >= 5.8 signals it with a hang-up).
        notifyFds_.erase(notifyFds_.begin() + static_cast<long>(i - 1));
      }
    }
  }
}

// Joins the container and runs; exit codes >= 10 name the step that failed (for the
// supervisor's log).
int workerMain(int argc, char** argv) {
  // Dies with the supervisor: a worker must never outlive the fds' owner.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 9;  // the supervisor died before we set the death signal
  log::setProgramName("eci-seccomp-worker");
  if (argc < 3) return 10;
  for (int i = 3; i < argc; ++i)
    if (std::string_view(argv[i]) == "--debug") log::setLevel(log::Level::kDebug);
  ContainerView view;
  view.id = argv[2];
  void* page = mmap(nullptr, sizeof(worker::Shared), PROT_READ | PROT_WRITE, MAP_SHARED,
                    worker::kSharedFd, 0);
  if (page == MAP_FAILED) return 11;
  auto* shared = static_cast<worker::Shared*>(page);
  close(worker::kSharedFd);
  auto text = fs::readFd(worker::kMountsFd, 4 << 20, "the initial mountinfo");
  if (!text.ok()) return 12;
  auto table = parseMountInfo(*text);
  if (!table.ok()) return 13;
  close(worker::kMountsFd);
  view.mounts = std::make_unique<ContainerMounts>(std::move(*table));
  view.pidns = sys::nsIdOfFd(worker::kPidnsFd);
  view.netns = sys::nsIdOfFd(worker::kNetnsFd);
  view.userns = sys::nsIdOfFd(worker::kUsernsFd);
  close(worker::kPidnsFd);
  close(worker::kNetnsFd);
  if (!view.userns) return 14;
  // Not dumpable, before joining: once we are the container root's uid in its user namespace,
  // ptrace_may_access() would let the container (same uid, CAP_SYS_PTRACE in that namespace
  // under --privileged) ptrace us, read /proc/<pid>/mem, environ or fd/, process_vm_readv us or
  // pidfd_getfd our fds (the notify fds, the host /proc). A non-dumpable task needs
  // CAP_SYS_PTRACE in its mm's user namespace - the host's, where we were exec'ed - which no
  // container holds. (We are not even visible to it: we never join its pid namespace.) Our own
  // /proc/thread-self/fd links stay usable: procfs lets a task into its own fd table whatever
  // its dumpable state. setresuid below would clear the flag anyway; it is never set again.
  if (prctl(PR_SET_DUMPABLE, 0) != 0) return 19;
  // Join the container's user namespace as its root: the kernel then checks every action
  // against the container's capabilities, and new superblocks belong to the container.
  if (setns(worker::kUsernsFd, CLONE_NEWUSER) != 0) return 15;
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) return 16;
  setgroups(0, nullptr);  // refused when the container's setgroups is "deny"; harmless then
  if (prctl(PR_GET_DUMPABLE) != 0) return 19;
  close(worker::kUsernsFd);
  if (setns(worker::kMntnsFd, CLONE_NEWNS) != 0) return 17;
  view.currentMntns = sys::nsIdOfFd(worker::kMntnsFd);
  close(worker::kMntnsFd);
  view.statmountWorks = probeStatmount(view.mounts->initial());
  LOG_DEBUG("seccomp %s: worker ready (statmount %s)", view.id.c_str(),
            view.statmountWorks ? "in use" : "unavailable: reading mountinfo");
  if (fchdir(kProcFd) != 0) return 18;
  Worker w(std::move(view), shared);
  w.run();
}

}  // namespace

std::optional<int> runWorkerIfRequested(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != kWorkerFlag) return std::nullopt;
  return workerMain(argc, argv);
}

}  // namespace eci::seccomp
