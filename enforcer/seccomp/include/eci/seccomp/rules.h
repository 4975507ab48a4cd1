// The supervisor's pure part: decoding a seccomp notification into a private copy of its
// arguments, and deciding what to do with it. No syscalls here: memory, path resolution and the
// caller's mount table come in through small interfaces, so every rule is unit tested with fakes
// and the decoder is fuzzed.
#pragma once

#include <sys/mount.h>  // glibc 2.36: struct mount_attr, new mount API (includes linux/mount.h)

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"
#include "eci/mountinfo.h"

namespace eci::seccomp {

// ---- /proc/<pid>/mountinfo -------------------------------------------------------------------

// The mount table and its parser are core's (eci/mountinfo.h), shared with every other check.
using eci::MountEntry;

// Bounds on a caller's mount table. A container can make as many mounts as the kernel lets it
// (fs.mount-max, 100000 by default); a table beyond these bounds is not read at all and every call
// that needs it is refused (fail closed), never decided as if the table were empty.
inline constexpr size_t kMaxMountEntries = 10000;
inline constexpr size_t kMaxMountInfoBytes = size_t{8} << 20;

// core's parser with the bound above: more than kMaxMountEntries lines is E2BIG.
inline Result<std::vector<MountEntry>> parseMountInfo(std::string_view text) {
  return eci::parseMountInfo(text, kMaxMountEntries);
}

// The container as registered: its mounts when runc handed over the notify fd (the "initial"
// mounts; runc has finished its own mounts by then).
class ContainerMounts {
 public:
  explicit ContainerMounts(std::vector<MountEntry> initial) : initial_(std::move(initial)) {}
  const std::vector<MountEntry>& initial() const { return initial_; }

  // A mount (in any mount namespace of the container) that shows an initial read-only mount's
  // files: same device and a root at or below that initial mount's root, where the closest such
  // initial mount is read-only. Catches bind copies, copies in `unshare -m` namespaces and
  // clones made with open_tree.
  bool isReadOnlyLocked(const MountEntry& m) const;
  // For a mount that is not in any mount table (a detached open_tree/fsmount tree): only its
  // device is known, so any initial read-only mount on that device locks it.
  bool isReadOnlyLockedDevice(unsigned major, unsigned minor) const;
  // `/`, `/proc`, `/sys`, everything the runtime mounted below them (masks, read-only paths,
  // the /proc and /sys emulation) and the same mounts inside clones of /proc or /sys: these
  // cannot be unmounted, moved or overmounted. `table` gives the caller's current mount table;
  // it is called only when `m` shows an initial mount (a mount the container made itself, the
  // hot path, never needs it). A table that could not be read (nullptr) makes the answer "yes".
  using TableFn = std::function<const std::vector<MountEntry>*()>;
  bool isProtected(const MountEntry& m, const TableFn& table) const;
  // A procfs/sysfs mount of the container: its children are masks, read-only paths and the
  // emulation. Known by type: a container gets proc and sysfs only from the runtime or from eci
  // (kCloneTree, kFreshTree), always masked; it can make none itself (fsopen and new mounts of
  // either type are served by eci or refused).
  bool isProcOrSysTree(const MountEntry& m) const;
  // A proc/sysfs mount eci made fresh for a nested namespace (kFreshTree): a proc/sysfs
  // superblock that is none of the container's initial ones.
  bool isFreshTree(const MountEntry& m) const;
  // A mount that must never be in a peer group with (or a slave of) a mount the container can
  // unmount: a protected mount, or a proc/sysfs tree (its children are the masks). Unmounts
  // propagate only through peer groups and masters, so if none of these is ever shared, no
  // `umount` of a copy can take a mask, the emulation, /proc/sys or the rootfs with it.
  bool mustStayPrivate(const MountEntry& m, const TableFn& table) const;
  // Files on `m` are on a host path the host's users can reach: an initial bind of a host
  // directory (or a copy of one), or an overlay the container made (its upper dir may be on
  // one). Not: the rootfs, a file system the container made itself (tmpfs, ...), or a named
  // volume (below the engine's volumes dir, known from the engine's /etc/hosts bind).
  bool isHostPath(const MountEntry& m) const;

 private:
  const MountEntry* initialMatch(const MountEntry& m) const;
  std::vector<MountEntry> initial_;
};

// ---- decoding ----------------------------------------------------------------------------------

enum class Call {
  kMount,
  kUmount2,  // also i386 umount (flags 0)
  kFsopen,
  kFsconfig,
  kFsmount,
  kMoveMount,
  kOpenTree,
  kMountSetattr,
  kFspick,
  // Trapped only with S_ISUID or S_ISGID in the mode (argument filter in the spec): setting them
  // on a host path would plant a set-id executable for the host's users.
  kChmod,
  kFchmod,
  kFchmodat,
  // Trapped only when they create a file (O_CREAT / O_TMPFILE; mknod always) with S_ISUID or
  // S_ISGID in the mode: the same plant in one call (cp -p, tar -xp, apk), no chmod needed.
  kOpen,
  kOpenat,
  kCreat,
  kMknod,
  kMknodat,
  kUnknown,
};
const char* callName(Call c);
// Maps a syscall name (libseccomp's, per architecture) to a Call.
Call callFromName(std::string_view name);

// Reads the caller's memory. Both return nullopt when the memory cannot be read (bad pointer,
// process gone); readString also when no NUL is found within `max` bytes.
class MemoryReader {
 public:
  // One string of a batch: read from `addr`, at most `max` bytes, into `*out` (as readString).
  struct StringRead {
    uint64_t addr;
    size_t max;
    std::optional<std::string>* out;
  };
  virtual ~MemoryReader() = default;
  virtual std::optional<std::string> readString(uint64_t addr, size_t max) = 0;
  virtual std::optional<std::string> readBytes(uint64_t addr, size_t len) = 0;
  // Several strings of one call (mount's source, target, type, data). Each result is exactly
  // what readString gives; a reader may fetch them together (one syscall instead of four).
  virtual void readStrings(const std::vector<StringRead>& reads) {
    for (const auto& r : reads) *r.out = readString(r.addr, r.max);
  }
};

inline constexpr size_t kMaxPath = 4096;  // PATH_MAX
inline constexpr size_t kMaxData = 4096;  // mount(2) copies at most one page of data
inline constexpr size_t kMaxFsName = 256;

// The private copy the supervisor decides and acts on. Register arguments are copied as they
// are; pointer arguments are copied once, bounded, and never re-read.
struct Decoded {
  Call call = Call::kUnknown;
  uint64_t args[6] = {};
  // mount: source, target, fstype, data; umount2: target; fsopen: fstype (fs name);
  // open_tree/fspick/mount_setattr: target (the path); move_mount: source (from), target (to).
  std::optional<std::string> source, target, fstype, data;
  bool badPointer = false;  // a non-NULL pointer argument could not be read
  mount_attr attr{};        // mount_setattr
};

// Decodes; never fails (what cannot be read is marked, and decide() refuses it).
Decoded decode(Call call, const uint64_t args[6], MemoryReader& mem);

// The mode argument of chmod, fchmod or fchmodat (the one spec.cc's setIdCalls() filters on).
inline uint64_t chmodMode(const Decoded& d) {
  return d.call == Call::kFchmodat ? d.args[2] : d.args[1];
}
// The mode argument of a creating call (open, openat, creat, mknod, mknodat), as setIdCalls().
inline uint64_t createMode(const Decoded& d) {
  switch (d.call) {
    case Call::kOpen:
      return d.args[2];
    case Call::kOpenat:
      return d.args[3];
    case Call::kMknodat:
      return d.args[2];
    default:
      return d.args[1];  // creat, mknod
  }
}

// ---- deciding ----------------------------------------------------------------------------------

// Where a path argument led, resolved by the supervisor in the caller's root, cwd and mount
// namespace (or a reason it could not be resolved).
struct PathInfo {
  int err = 0;             // errno of the resolution (ENOENT, EXDEV for `..` escapes)
  bool attached = true;    // false: a detached tree (open_tree/fsmount fd)
  bool mountRoot = false;  // the path is the root of its mount
  bool blockDevice = false;
  unsigned major = 0, minor = 0;    // st_dev of the mount's filesystem
  std::optional<MountEntry> mount;  // the mount the path is on (attached only)
  bool nsFile = false;              // a namespace file (procNsPath): carries no mount tree
};

// What the decision needs from the running system.
class Environment {
 public:
  virtual ~Environment() = default;
  enum class Which { kSource, kTarget };
  virtual PathInfo resolve(Which which) = 0;
  // The caller's mount table (its mount namespace, seen from its root); nullptr if it could not
  // be read or exceeds kMaxMountEntries / kMaxMountInfoBytes (the rules then refuse).
  virtual const std::vector<MountEntry>* mountTable() = 0;
  virtual bool callerHasSysAdmin() = 0;
  // The caller's pid / net namespace is the container's (needed to clone its /proc, /sys).
  virtual bool callerInContainerPidNs() = 0;
  virtual bool callerInContainerNetNs() = 0;
  // The caller is in the container's first mount namespace (where the worker's templates of
  // fresh proc/sysfs masks live, worker_fresh.h).
  virtual bool callerInContainerMntNs() = 0;
  virtual PathInfo resolveInRoot(const std::string& absPath) = 0;  // e.g. "/proc"
  // Where a creating call's target lands: the existing file (symlinks followed as the call would),
  // else the directory the new file would be made in (O_TMPFILE: the path itself). err set when
  // neither resolves, or the last component is a dangling symlink (the kernel would create its
  // target, wherever that is).
  virtual PathInfo resolveCreated() = 0;
};

// The privileged actions eci can take, a closed set. Each one runs in the per-container
// worker (joined to the container's user namespace, with its root's credentials, entered into
// the caller's mount namespace), so the kernel repeats every permission check it would have made
// for the caller, on the supervisor's private copy of the arguments and on targets opened by the
// supervisor (fds, never re-resolved paths).
enum class Action {
  kContinue,      // let the kernel run the call as made; allowed only where racing memory
                  // cannot change the outcome (see the comment at each use in rules.cc)
  kError,         // fail with `err`
  kReplayMount,   // mount(2) with our copy: source (fd or string), target fd, fstype, flags, data
  kCloneTree,     // new proc/sysfs: recursive clone of the caller's /proc or /sys onto target
  kFreshTree,     // new proc/sysfs for a nested pid/net namespace: a new superblock of the
                  // caller's namespace with the container's masks attached before it is
                  // (worker_act.cc freshTree)
  kUmount,        // umount2(target fd, flags)
  kMountSetattr,  // mount_setattr(target fd, flags, our copy of the attr)
  kMoveMount,     // move_mount(source fd, target fd)
  kFsopen,        // fsopen(our copy of the name, flags) -> fd injected
  kFspick,        // fspick(target fd, flags) -> fd injected
  kChmod,         // chmod(target fd, mode) with the caller's ownership and CAP_FSETID rules
  kCreateSetId,   // the create done as the caller without the set-id bits; the bits added on
                  // the new file's fd once it shows the file is in the container's own files
};
const char* actionName(Action a);

struct Decision {
  Action action = Action::kError;
  int err = EPERM;
  std::string reason;  // for the debug log, the audit record and the tests
  // A refusal the kernel would have given the caller itself, with the same errno (a path that
  // does not exist, an unmount of what is no mount point): answered and counted, but no audit
  // record. Inner engines make hundreds of such calls while cleaning up; recorded, they would
  // bury the policy's own refusals an admin reads the log for.
  bool audited = true;
};

Decision decide(const Decoded& d, const ContainerMounts& container, Environment& env);

// The options a new proc/sysfs for a nested namespace may carry (mount(2)'s data: "k=v,k2=v2"),
// as fsconfig key/value pairs: for proc only hidepid=, subset= and gid= (each only narrows what
// the mount shows), for sysfs none. nullopt: an option eci does not pass on (EINVAL).
std::optional<std::vector<std::pair<std::string, std::string>>> freshTreeOptions(
    bool proc, std::string_view data);

// A path that names one of the caller's own fds through procfs: "/proc/self/fd/<n>" or
// "/proc/thread-self/fd/<n>" (runc, and anything built on filepath-securejoin, mounts onto a target
// it has pinned this way). The worker is not in the caller's pid namespace, so "self" there would
// name nobody; it takes the caller's fd <n> instead, which is the file the kernel would reach.
// Strict: decimal, no leading zero, no trailing component. std::nullopt: any other path.
std::optional<int> procSelfFd(std::string_view path);

// A namespace file named through procfs, the bind source that pins a namespace (libnetwork, CNI
// and `ip netns add` bind /proc/self/ns/net or /proc/<pid>/task/<tid>/ns/net onto a file):
// "/proc/{self|thread-self|<pid>}[/task/<tid>]/ns/<type>". Magic links, which the worker
// otherwise never follows for a caller; it opens these through the caller's own pid namespace
// view (worker_env.cc). Strict: decimal ids without leading zero, known namespace types only.
struct ProcNsPath {
  std::string pid;   // "self", "thread-self" or decimal (in the caller's pid namespace)
  std::string task;  // decimal, or empty
  std::string ns;    // "net", "ipc", "uts", "mnt", "pid", "user", "cgroup", "time", ...
};
std::optional<ProcNsPath> procNsPath(std::string_view path);

// File system types a container may create itself (all FS_USERNS_MOUNT); none takes a block
// device. proc and sysfs are served as clones of the container's own (masked) trees. cgroup2
// yes, cgroup v1 no (rules.cc says why).
bool isAllowedNewFsType(std::string_view fstype);

}  // namespace eci::seccomp
