// The worker's view of a caller: its memory and where its paths lead (see worker_env.h).
#include "worker_env.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "worker_protocol.h"

namespace eci::seccomp::worker {

using sys::NsId;

std::string procPath(pid_t pid, const char* rest) {
  return std::to_string(pid) + "/" + rest;
}

std::optional<NsId> nsOf(pid_t pid, const char* kind) {
  return sys::nsIdAt(kProcFd, procPath(pid, ("ns/" + std::string(kind)).c_str()));
}

// Reads the caller's memory with process_vm_readv, page by page, so a string ending right before
// an unmapped page is still read.
std::optional<std::string> ProcessMemory::readBytes(uint64_t addr, size_t len) {
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
std::optional<std::string> ProcessMemory::readString(uint64_t addr, size_t max) {
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

// The first page-bounded piece of every string in one process_vm_readv. The kernel copies the
// remote pieces in order and stops at the first that faults, returning what it copied: a piece
// copied whole that holds a NUL is the whole string; anything else (longer than its first
// piece, at or after a fault, or the call failing) goes through readString, so every result
// is exactly readString's and a bad pointer is still a bad pointer.
void ProcessMemory::readStrings(const std::vector<StringRead>& reads) {
  constexpr size_t kBatch = 4;
  if (reads.empty() || reads.size() > kBatch) return MemoryReader::readStrings(reads);
  char bufs[kBatch][4096];
  iovec local[kBatch], remote[kBatch];
  for (size_t i = 0; i < reads.size(); ++i) {
    const uint64_t a = reads[i].addr;
    const size_t chunk = std::min(reads[i].max, static_cast<size_t>(4096 - (a & 4095)));
    local[i] = {bufs[i], chunk};
    // An address in the caller's memory, not ours: it is only ever handed to the kernel.
    remote[i] = {reinterpret_cast<void*>(a), chunk};  // NOLINT(performance-no-int-to-ptr)
  }
  const auto cnt = static_cast<unsigned long>(reads.size());
  const ssize_t n = process_vm_readv(pid_, local, cnt, remote, cnt, 0);
  size_t left = n > 0 ? static_cast<size_t>(n) : 0;
  for (size_t i = 0; i < reads.size(); ++i) {
    const size_t chunk = local[i].iov_len;
    const size_t got = std::min(left, chunk);
    left -= got;
    const char* nul = got == chunk ? static_cast<const char*>(memchr(bufs[i], 0, chunk)) : nullptr;
    if (nul)
      *reads[i].out = std::string(bufs[i], static_cast<size_t>(nul - bufs[i]));
    else
      *reads[i].out = readString(reads[i].addr, reads[i].max);
  }
}

namespace {

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

}  // namespace

using sys::kStatxMntIdUnique;

// Feature probe: statmount must exist here and describe our own root mount exactly as the
// container's initial mountinfo does (same id, device, root, type); otherwise the worker keeps
// to mountinfo. A wrong reading would feed the rules wrong mounts, so it is checked, not assumed.
bool probeStatmount(const std::vector<MountEntry>& initial) {
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto id = root ? sys::uniqueMountId(root.get()) : Result<uint64_t>(Error::fromErrno("open('/')"));
  if (!id.ok()) return false;
  auto m = statmountEntry(*id);
  if (!m) return false;
  for (const auto& i : initial)
    if (i.id == m->id)
      return i.parent == m->parent && i.major == m->major && i.minor == m->minor &&
             i.root == m->root && i.fstype == m->fstype && i.readOnly() == m->readOnly();
  return false;
}

// ---- RealEnvironment ----

PathInfo RealEnvironment::resolve(Which which) {
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

PathInfo RealEnvironment::resolveCreated() {
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

PathInfo RealEnvironment::resolveInRoot(const std::string& absPath) {
  if (!inRoot_.done) {
    inRoot_.done = true;
    inRoot_.info = resolvePath(AT_FDCWD, absPath, false, true, inRoot_.fd);
  }
  return inRoot_.info;
}

// nullptr (and every rule that needs the table refuses) when mountinfo cannot be opened, read
// in full within kMaxMountInfoBytes, or parsed, or holds more than kMaxMountEntries mounts:
// never an empty table, which would read as "no protected mount here".
const std::vector<MountEntry>* RealEnvironment::mountTable() {
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

bool RealEnvironment::callerHasSysAdmin() {
  // capget() reads any thread's sets without a permission check, and without the ~8 KiB
  // /proc/<pid>/status render. The caller is blocked in the trapped call, so its own sets
  // cannot change meanwhile (only a task can change its own capabilities).
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, pid_};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[0].effective & (1U << 21);  // CAP_SYS_ADMIN
}
bool RealEnvironment::callerInContainerPidNs() {
  return c_.pidns && nsOf(pid_, "pid") == c_.pidns;
}
bool RealEnvironment::callerInContainerMntNs() {
  // Unknown counts as the first namespace: the stricter answer.
  const auto& mine = callerMntns();
  return !mine || !c_.firstMntns || mine == c_.firstMntns;
}
bool RealEnvironment::callerInContainerNetNs() {
  return c_.netns && nsOf(pid_, "net") == c_.netns;
}

// The caller's mount namespace, looked up once per notification.
const std::optional<NsId>& RealEnvironment::callerMntns() {
  if (!mntnsLooked_) {
    mntnsLooked_ = true;
    mntns_ = nsOf(pid_, "mnt");
  }
  return mntns_;
}

bool RealEnvironment::callerInContainerUserns() {
  if (!inContainerUserns_) inContainerUserns_ = nsOf(pid_, "user") == c_.userns;
  return *inContainerUserns_;
}

UniqueFd openNsOf(pid_t pid, const char* kind) {
  const std::string rest = std::string("ns/") + kind;
  return UniqueFd(openat(kProcFd, procPath(pid, rest.c_str()).c_str(), O_RDONLY | O_CLOEXEC));
}

int enterMntnsOf(pid_t pid, const std::optional<NsId>& ns, ContainerView& c) {
  if (!ns) return ESRCH;
  if (c.currentMntns == ns) return 0;
  UniqueFd fd = openNsOf(pid, "mnt");
  if (!fd) return errno;
  // setns resets our root and cwd to the namespace's root; cwd goes back to the host /proc so
  // the thread-self/fd magic links keep resolving. What is recorded is the namespace the fd
  // names, not `ns`: were the pid recycled meanwhile, the two differ and callers that compare
  // them (describeFd) do not trust the one entered.
  if (setns(fd.get(), CLONE_NEWNS) != 0 || fchdir(kProcFd) != 0) {
    const int e = errno;
    c.currentMntns.reset();
    return e;
  }
  c.currentMntns = sys::nsIdOfFd(fd.get());
  return 0;
}

UniqueFd RealEnvironment::openBase(int fdNum) {
  const std::string p = fdNum == AT_FDCWD ? procPath(pid_, "cwd")
                                          : procPath(pid_, ("fd/" + std::to_string(fdNum)).c_str());
  return UniqueFd(openat(kProcFd, p.c_str(), O_PATH | O_CLOEXEC));
}

// A namespace file as the caller names it. self and thread-self are the caller itself (host
// /proc/<tid>, opened from our host /proc); any other pid is looked up in the caller's own /proc
// (resolved in its root, no magic links, and it must be a procfs), so it can only reach processes
// the caller sees. Only the last component, the namespace link itself, is followed; the kernel
// then checks that we (the container's root) may inspect that process.
UniqueFd RealEnvironment::openNsFile(const ProcNsPath& p) {
  UniqueFd dir;
  std::string rest = "ns/" + p.ns;
  if (p.pid == "thread-self" || (p.pid == "self" && p.task.empty())) {
    std::string who = std::to_string(pid_);
    if (p.pid == "self") {  // the thread group, not the calling thread
      auto status = fs::readFd(
          UniqueFd(openat(kProcFd, procPath(pid_, "status").c_str(), O_RDONLY | O_CLOEXEC)).get(),
          16384, "status");
      const size_t at = status.ok() ? status->find("\nTgid:\t") : std::string::npos;
      if (at == std::string::npos) {
        errno = ESRCH;
        return UniqueFd();
      }
      who = std::to_string(std::strtol(status->c_str() + at + 7, nullptr, 10));
    }
    dir = UniqueFd(openat(kProcFd, who.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  } else {
    // "self/task/<tid>" and "<pid>[/task/<tid>]" go by the caller's own /proc.
    std::string where = "/proc/" + p.pid;
    if (!p.task.empty()) where += "/task/" + p.task;
    const Start start = startOf(AT_FDCWD, where);
    if (start.base) dir = openFrom(start, where, O_PATH | O_DIRECTORY, 0);
    struct statfs sf {};
    if (dir && (fstatfs(dir.get(), &sf) != 0 || sf.f_type != PROC_SUPER_MAGIC)) {
      errno = EPERM;
      return UniqueFd();
    }
  }
  if (!dir) return UniqueFd();
  UniqueFd f(openat(dir.get(), rest.c_str(), O_RDONLY | O_CLOEXEC));
  struct statfs sf {};
  if (f && (fstatfs(f.get(), &sf) != 0 || sf.f_type != NSFS_MAGIC)) {
    errno = EPERM;
    return UniqueFd();
  }
  return f;
}

// Absolute paths stay inside the caller's root (RESOLVE_IN_ROOT); relative ones may not climb
// above their starting directory (RESOLVE_BENEATH: `..` or an absolute symlink there gives EXDEV,
// refused) - the worker never follows a path out of the container. Magic links are refused: in
// the worker, /proc/self would be the worker.
RealEnvironment::Start RealEnvironment::startOf(int dfd, const std::string& path) {
  Start s;
  if (!path.empty() && path.front() == '/') {
    s.base =
        UniqueFd(openat(kProcFd, procPath(pid_, "root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    s.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  } else {
    s.base = openBase(dfd);
    s.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  }
  if (!s.base && errno == ENOENT) errno = EBADF;  // the caller's dirfd is not open
  return s;
}

UniqueFd RealEnvironment::openFrom(const Start& start, const std::string& path, uint64_t flags,
                                   mode_t mode) {
  open_how how{};
  // O_NOCTTY: a terminal opened here must never become the worker's controlling terminal
  // (openat2 refuses it next to O_PATH, which opens nothing).
  how.flags = flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY);
  how.mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode : 0;
  how.resolve = start.resolve;
  return UniqueFd(
      static_cast<int>(syscall(SYS_openat2, start.base.get(), path.c_str(), &how, sizeof(how))));
}

// Resolves `path` as the caller would (its root, cwd or dirfd), into an O_PATH fd the worker
// owns (startOf, openFrom), and says which mount it is on.
PathInfo RealEnvironment::resolvePath(int dfd, const std::string& path, bool emptyOk, bool follow,
                                      UniqueFd& out) {
  PathInfo info;
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
  } else if (const auto ns = procNsPath(path); ns && &out == &source_.fd) {
    // A namespace to pin (rules.h procNsPath): the bind source only.
    out = openNsFile(*ns);
    if (!out) {
      info.err = errno;
      return info;
    }
    info.mountRoot = true;
    info.nsFile = true;
    return info;
  } else {
    const Start start = startOf(dfd, path);
    if (start.base) out = openFrom(start, path, O_PATH | (follow ? 0 : O_NOFOLLOW), 0);
  }
  if (!out) {
    info.err = errno;
    return info;
  }
  // The target of a new mount that is not a mount root cannot cover a protected mount, and
  // that is all the rules ask of it: skip rendering the mount table on that hot path. Not for
  // a new proc/sysfs (a masked clone), whose parent mount must not be shared.
  const uint64_t f = d_.args[3];
  const bool procOrSys = d_.fstype && (*d_.fstype == "proc" || *d_.fstype == "sysfs");
  const bool newMountTarget = d_.call == Call::kMount &&
                              !(f & (MS_REMOUNT | MS_BIND | MS_MOVE | MS_SHARED)) && !procOrSys &&
                              &out == &target_.fd;
  return describeFd(out.get(), newMountTarget);
}

PathInfo RealEnvironment::describe(int fd) {
  return describeFd(fd, false);
}

PathInfo RealEnvironment::describeFd(int fd, bool isNewMountTarget) {
  PathInfo info;
  struct statx sx {};
  const unsigned idMask = c_.statmountWorks ? kStatxMntIdUnique : STATX_MNT_ID;
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | idMask, &sx) != 0) {
    info.err = errno;
    return info;
  }
  info.major = sx.stx_dev_major;
  info.minor = sx.stx_dev_minor;
  info.blockDevice = S_ISBLK(sx.stx_mode);
  info.mountRoot = sx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
  if (isNewMountTarget && !info.mountRoot) return info;
  // statmount sees mounts of the worker's current mount namespace only, so the worker enters
  // the caller's first (as it does before any action). Left where the previous caller had it,
  // the answer depended on which process the worker served last: in another namespace statmount
  // finds nothing and the table below is read, which missed pivot_root's old root in a nested
  // engine's runc now and then (its `umount2(".", MNT_DETACH)` refused, e2e_dind). Not for a
  // caller in a nested user namespace: its calls are refused before any action (worker.cc), and
  // the worker does not go where it never acts. If the namespace is not entered, the table below
  // answers.
  if (sx.stx_mask & kStatxMntIdUnique) {
    const auto& ns = callerMntns();
    if (ns && ns != c_.currentMntns && c_.userns && callerInContainerUserns())
      (void)enterMntnsOf(pid_, ns, c_);
    if (auto m = ns && ns == c_.currentMntns ? statmountEntry(sx.stx_mnt_id) : std::nullopt) {
      info.mount = std::move(m);
      return info;
    }
    // The unique id means nothing to mountinfo: take the old one.
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &sx) != 0) {
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

std::optional<RealEnvironment::Start> RealEnvironment::createdStart() {
  const bool at = d_.call == Call::kOpenat || d_.call == Call::kMknodat;
  const std::string& path = d_.target.value_or("");
  if (path.empty()) {
    errno = ENOENT;
    return std::nullopt;
  }
  Start s = startOf(at ? static_cast<int>(d_.args[0]) : AT_FDCWD, path);
  if (!s.base) return std::nullopt;
  return s;
}

}  // namespace eci::seccomp::worker
