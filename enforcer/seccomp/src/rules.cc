#include "eci/seccomp/rules.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "eci/paths.h"
#include "eci/procfs/spec.h"

namespace eci::seccomp {

namespace {

// Linux UAPI values not in Debian 12's glibc headers.
constexpr uint64_t kOpenTreeClone = 1;     // OPEN_TREE_CLONE
constexpr uint64_t kAtRecursive = 0x8000;  // AT_RECURSIVE
constexpr uint64_t kMsMgcMask = 0xffff0000;
constexpr uint64_t kMsMgcVal = 0xC0ED0000;
constexpr uint64_t kMoveMountBeneath = 0x00000200;
constexpr uint64_t kMoveMountSetGroup = 0x00000100;
constexpr uint64_t kMountAttrRdonly = 0x00000001;
constexpr uint64_t kMountAttrIdmap = 0x00100000;
// O_CREAT and __O_TMPFILE (the bit O_TMPFILE adds to O_DIRECTORY): an open that may create.
constexpr uint64_t kCreatingOpenFlags = O_CREAT | 020000000;

bool underProcOrSys(std::string_view mp) {
  return paths::isUnder(mp, "/proc") || paths::isUnder(mp, "/sys");
}

const MountEntry* findById(const std::vector<MountEntry>& t, int id) {
  for (const auto& e : t)
    if (e.id == id) return &e;
  return nullptr;
}

Decision cont(std::string why) {
  return {Action::kContinue, 0, std::move(why)};
}
Decision refuse(int err, std::string why) {
  return {Action::kError, err, std::move(why)};
}
// What the kernel would answer anyway (Decision::audited).
Decision kernelAnswer(int err, std::string why) {
  return {Action::kError, err, std::move(why), false};
}
Decision act(Action a, std::string why) {
  return {a, 0, std::move(why)};
}

}  // namespace

const MountEntry* ContainerMounts::initialMatch(const MountEntry& m) const {
  for (const auto& i : initial_)
    if (i.major == m.major && i.minor == m.minor && i.root == m.root && i.fstype == m.fstype)
      return &i;
  return nullptr;
}

bool ContainerMounts::isReadOnlyLocked(const MountEntry& m) const {
  // The closest initial mount of the same filesystem whose root contains m's root decides: a rw
  // `-v /home/u:/u` next to a ro `-v /home:/h:ro` stays writable, a bind of /h/u does not.
  const MountEntry* best = nullptr;
  for (const auto& i : initial_) {
    if (i.major != m.major || i.minor != m.minor || !paths::isUnder(m.root, i.root)) continue;
    if (!best || i.root.size() > best->root.size() ||
        (i.root.size() == best->root.size() && i.readOnly()))
      best = &i;
  }
  return best && best->readOnly();
}

bool ContainerMounts::isReadOnlyLockedDevice(unsigned major, unsigned minor) const {
  for (const auto& i : initial_)
    if (i.major == major && i.minor == minor && i.readOnly()) return true;
  return false;
}

bool ContainerMounts::isProcOrSysTree(const MountEntry& m) const {
  return m.fstype == "proc" || m.fstype == "sysfs";
}

bool ContainerMounts::isFreshTree(const MountEntry& m) const {
  return isProcOrSysTree(m) && !initialMatch(m);
}

bool ContainerMounts::isProtected(const MountEntry& m, const TableFn& table) const {
  // eci's /proc and /sys emulation counts as initial wherever it is: eci-runc binds the /proc/sys
  // knobs once runc has created the container, which may be after the snapshot of its mounts was
  // taken. The type cannot be forged: a container can mount no FUSE (procfs/spec.h).
  const bool emulation = m.fstype == procfs::kFuseType;
  const MountEntry* i = emulation ? &m : initialMatch(m);
  if (!i) return false;  // the container's own mount
  if (m.mountPoint == "/" || underProcOrSys(m.mountPoint)) return true;
  // A mask, read-only path or emulation mount inside a clone of /proc or /sys (a new proc mount
  // served by kCloneTree, or a bind of /proc elsewhere): removing it would unmask the clone.
  const std::vector<MountEntry>* t = table();
  if (!t) return true;  // cannot tell: protected (fail closed)
  const MountEntry* parent = findById(*t, m.parent);
  return parent && parent != &m && isProcOrSysTree(*parent);
}

bool ContainerMounts::isHostPath(const MountEntry& m) const {
  // The engine's data root comes from its /etc/hosts bind (<root>/containers/<id>/hosts): a named
  // volume is <root>/volumes/<name>/_data on the same file system.
  const MountEntry* hosts = nullptr;
  bool initialDevice = false;
  for (const auto& i : initial_) {
    if (i.mountPoint == "/etc/hosts") hosts = &i;
    if (i.major != m.major || i.minor != m.minor) continue;
    if (i.mountPoint == "/") return false;  // the rootfs superblock
    initialDevice = true;
  }
  if (m.fstype == "overlay") return true;  // the container's own overlay: upper dir unknown
  if (!initialDevice) return false;        // a file system the container made (tmpfs, ...)
  if (hosts && hosts->major == m.major && hosts->minor == m.minor) {
    const size_t at = hosts->root.rfind("/containers/");
    if (at != std::string::npos && at > 0 &&
        paths::isUnder(m.root, hosts->root.substr(0, at) + "/volumes") &&
        m.root.size() > at + std::string_view("/volumes/").size())
      return false;
  }
  return true;
}

bool ContainerMounts::mustStayPrivate(const MountEntry& m, const TableFn& table) const {
  return isProcOrSysTree(m) || isProtected(m, table);
}

// ---- deciding ----------------------------------------------------------------------------------

const char* actionName(Action a) {
  switch (a) {
    case Action::kContinue:
      return "continue";
    case Action::kError:
      return "error";
    case Action::kReplayMount:
      return "replay-mount";
    case Action::kCloneTree:
      return "clone-tree";
    case Action::kFreshTree:
      return "fresh-tree";
    case Action::kUmount:
      return "umount";
    case Action::kMountSetattr:
      return "mount-setattr";
    case Action::kMoveMount:
      return "move-mount";
    case Action::kFsopen:
      return "fsopen";
    case Action::kFspick:
      return "fspick";
    case Action::kChmod:
      return "chmod";
    case Action::kCreateSetId:
      return "create-setid";
  }
  return "?";
}

bool isAllowedNewFsType(std::string_view t) {
  // cgroup2, made from the caller's cgroup namespace (worker.cc): its own cgroup. Not cgroup v1:
  // a container sits at the ROOT of every v1 hierarchy its engine did not put it in (a v2 engine
  // on a hybrid kernel: all of them), so a v1 mount from its cgroup namespace shows the host's
  // whole hierarchy, every host pid in cgroup.procs (e2e_cgroup2). Nothing is lost: the worker
  // made v1 mounts from the host's cgroup namespace, where the kernel refused them (EPERM) anyway;
  // runc mounts a container's own cgroups before the filter is on, and an inner runc binds them
  // while its containers share the cgroup namespace (Docker's v1 default).
  static constexpr std::string_view kAllowed[] = {"tmpfs",   "ramfs",   "devpts", "mqueue",
                                                  "cgroup2", "overlay", "proc",   "sysfs"};
  return std::find(std::begin(kAllowed), std::end(kAllowed), t) != std::end(kAllowed);
}

namespace {

// The caller's mount table, read only if a rule gets that far (rendering mountinfo is the
// costliest step of a decision).
ContainerMounts::TableFn tableOf(Environment& env) {
  return [&env]() -> const std::vector<MountEntry>* { return env.mountTable(); };
}

// `root` and every mount below it in `table` (by parent id), root first. The children are
// indexed in one pass: a table may hold kMaxMountEntries mounts, and a scan of it per mount of
// the subtree would be quadratic.
std::vector<const MountEntry*> subtree(const std::vector<MountEntry>& table, int rootId) {
  std::vector<const MountEntry*> out;
  const MountEntry* root = findById(table, rootId);
  if (!root) return out;
  std::unordered_map<int, std::vector<const MountEntry*>> children;
  for (const auto& m : table)
    if (m.parent != m.id) children[m.parent].push_back(&m);
  out.push_back(root);
  for (size_t i = 0; i < out.size(); ++i)
    if (auto it = children.find(out[i]->id); it != children.end())
      out.insert(out.end(), it->second.begin(), it->second.end());
  return out;
}

// Propagation. An unmount (also a lazy one of a whole copied tree) reaches a mount only through
// propagation: the kernel repeats it in the peers and slaves of the unmounted mount's parent.
// So masks, the emulation, /proc/sys and the rootfs cannot be taken away by unmounting copies as
// long as no mustStayPrivate() mount ever joins a peer group. A mount joins one in three ways,
// each refused here for those mounts: it is made shared (mount MS_SHARED, mount_setattr's
// propagation, move_mount MOVE_MOUNT_SET_GROUP), or it is attached (bind, move, new proc/sysfs
// clone, move_mount) below a shared mount, which makes the attached tree shared with copies in
// the parent's peers. Copies of a private mount are private, and copies of a slave are slaves of
// the same (host) master, never peers of the original. MS_PRIVATE, MS_SLAVE and MS_UNBINDABLE
// only cut propagation.

// The mounts a propagation change or an attach acts on: the mount itself, or its whole subtree.
std::optional<Decision> checkStaysPrivate(const MountEntry& m, bool recursive,
                                          const ContainerMounts& c, Environment& env,
                                          const char* what) {
  const std::vector<MountEntry>* table = env.mountTable();
  if (!table) return refuse(EPERM, "the caller's mount table could not be read");
  std::vector<const MountEntry*> set;
  if (recursive) {
    set = subtree(*table, m.id);
    if (set.empty())
      return refuse(EPERM, "mount " + m.mountPoint + " is not in the caller's table");
  } else {
    set.push_back(&m);
  }
  for (const MountEntry* x : set)
    if (c.mustStayPrivate(*x, tableOf(env)))
      return refuse(EPERM, std::string(what) + " would put " + x->mountPoint +
                               " (protected or a proc/sysfs tree) in a peer group");
  return std::nullopt;
}

// The mount a resolved path is on, or null.
const MountEntry* mountOfPath(const PathInfo& p) {
  return p.mount ? &*p.mount : nullptr;
}

// Attaching the tree at `src` (recursive: with its submounts) below the mount `parent`. Below a
// shared mount the kernel makes every attached mount shared (with copies in the parent's peers).
// Those are copies (bind, rbind) or the container's own mounts (move): a copy of a mask or of
// the rootfs is not protected where it lands, but a copy of a proc/sysfs tree is (its children
// are masks of the copy), so none may be in the attached tree. A detached tree (open_tree clone,
// fsmount) cannot be looked into: refused below a shared mount.
std::optional<Decision> checkAttach(const MountEntry* parent, const PathInfo& src, bool recursive,
                                    const ContainerMounts& c, Environment& env) {
  if (!parent || parent->sharedGroup == 0) return std::nullopt;  // parent not shared
  if (src.nsFile) return std::nullopt;  // a namespace file: no tree, nothing to propagate
  if (!src.attached || !src.mount)
    return refuse(EPERM, "attaching a detached tree below shared mount " + parent->mountPoint);
  std::vector<const MountEntry*> set{&*src.mount};
  if (recursive) {
    const std::vector<MountEntry>* table = env.mountTable();
    if (!table) return refuse(EPERM, "the caller's mount table could not be read");
    set = subtree(*table, src.mount->id);
    if (set.empty()) return refuse(EPERM, "source not in the caller's mount table");
  }
  for (const MountEntry* x : set)
    if (c.isProcOrSysTree(*x))
      return refuse(EPERM, "a copy of proc/sysfs tree " + x->mountPoint +
                               " would be shared below " + parent->mountPoint);
  return std::nullopt;
}

// A path the call needs: resolved, attached, and an error to return if not.
std::optional<Decision> needPath(const PathInfo& p, const char* what) {
  // ENOENT and ENOTDIR are the caller's own answer: the walk happens in its root, from its cwd
  // or dirfd. EXDEV (a walk leaving the root) and ELOOP (a magic link) are ours to refuse.
  if (p.err == ENOENT || p.err == ENOTDIR)
    return kernelAnswer(p.err, std::string(what) + " does not exist in the caller's root");
  if (p.err != 0)
    return refuse(p.err == EXDEV ? EPERM : p.err,
                  std::string(what) + " could not be resolved in the caller's root");
  return std::nullopt;
}

std::optional<Decision> checkOvermount(const PathInfo& t, const ContainerMounts& c,
                                       Environment& env) {
  // Mounting on `/`, `/proc`, `/sys` or one of the runtime's submounts there would hide or replace
  // what the runtime put there. Stacking on any other directory (also inside /proc) is allowed.
  if (!(t.attached && t.mountRoot && t.mount && c.isProtected(*t.mount, tableOf(env))))
    return std::nullopt;
  // Exceptions: covering is allowed outside the container's first mount namespace, and there
  // on a mask, read-only path or emulation mount that eci attached to a fresh proc/sysfs
  // (kFreshTree). A runtime inside the container does exactly that for every container it
  // starts (runc's maskedPaths bind /dev/null or a read-only tmpfs over them, its readonlyPaths
  // bind a path onto itself, its cgroup tmpfs covers /sys/fs/cgroup; Docker-in-Docker).
  // Covering reveals nothing: what is covered stays under the cover and cannot be unmounted or
  // moved, so removing the cover brings it back. Fresh trees take their masks from the
  // container's own /proc and /sys in its first mount namespace (the worker's templates), never
  // from a tree that may carry covers, and those stay uncovered.
  if (!env.callerInContainerMntNs()) return std::nullopt;
  const std::vector<MountEntry>* table = tableOf(env)();
  const MountEntry* parent = table ? findById(*table, t.mount->parent) : nullptr;
  if (parent && parent->id != t.mount->id && c.isFreshTree(*parent)) return std::nullopt;
  return refuse(EPERM, "target " + t.mount->mountPoint + " is a protected mount");
}

bool roLocked(const PathInfo& p, const ContainerMounts& c) {
  if (p.attached && p.mount) return c.isReadOnlyLocked(*p.mount);
  return c.isReadOnlyLockedDevice(p.major, p.minor);
}

Decision decideMount(const Decoded& d, const ContainerMounts& c, Environment& env) {
  uint64_t flags = d.args[3];
  if ((flags & kMsMgcMask) == kMsMgcVal) flags &= ~kMsMgcMask;

  if (flags & MS_REMOUNT) {
    if (flags & MS_RDONLY) {
      // CONTINUE is race-free: the flags are a register the kernel reads from the same seccomp_data
      // we saw, and they ask for read-only. Whatever target or data another thread swaps in, the
      // result is a mount (or superblock) that becomes read-only, which no rule forbids and
      // which reveals nothing.
      return cont("remount read-only");
    }
    if (!d.target) return refuse(EFAULT, "remount without a target");
    if (!env.callerHasSysAdmin()) return refuse(EPERM, "caller lacks CAP_SYS_ADMIN");
    PathInfo t = env.resolve(Environment::Which::kTarget);
    if (auto e = needPath(t, "target")) return *e;
    if (!t.mount) return refuse(EPERM, "remount target not in the caller's mount table");
    if (roLocked(t, c))
      return refuse(EPERM, "remount read-write of initially read-only " + t.mount->mountPoint);
    // Replayed, not CONTINUEd: the target string is racy memory, and a swapped target could name
    // a locked read-only mount.
    return act(Action::kReplayMount, "remount of the container's own mount");
  }

  if (flags & MS_BIND) {
    if (!d.source || !d.target) return refuse(EFAULT, "bind without source or target");
    if (!env.callerHasSysAdmin()) return refuse(EPERM, "caller lacks CAP_SYS_ADMIN");
    PathInfo s = env.resolve(Environment::Which::kSource);
    if (auto e = needPath(s, "source")) return *e;
    PathInfo t = env.resolve(Environment::Which::kTarget);
    if (auto e = needPath(t, "target")) return *e;
    if (auto e = checkOvermount(t, c, env)) return *e;
    // A non-recursive bind of /proc or /sys copies the filesystem without its masks.
    if (s.mount && c.isProcOrSysTree(*s.mount) && !(flags & MS_REC))
      return refuse(EPERM, "non-recursive bind of a masked proc/sysfs tree");
    if (auto e = checkAttach(mountOfPath(t), s, flags & MS_REC, c, env)) return *e;
    // The bind copy keeps the source's read-only flag (the kernel copies mount flags), and a
    // later remount is checked against the source's initial mount.
    return act(Action::kReplayMount, "bind mount");
  }

  if (flags & MS_MOVE) {
    if (!d.source || !d.target) return refuse(EFAULT, "move without source or target");
    if (!env.callerHasSysAdmin()) return refuse(EPERM, "caller lacks CAP_SYS_ADMIN");
    PathInfo s = env.resolve(Environment::Which::kSource);
    if (auto e = needPath(s, "source")) return *e;
    if (s.mount && s.mountRoot && c.isProtected(*s.mount, tableOf(env)))
      return refuse(EPERM, "moving protected mount " + s.mount->mountPoint);
    PathInfo t = env.resolve(Environment::Which::kTarget);
    if (auto e = needPath(t, "target")) return *e;
    if (auto e = checkOvermount(t, c, env)) return *e;
    if (auto e = checkAttach(mountOfPath(t), s, true, c, env)) return *e;
    return act(Action::kMoveMount, "move of the container's own mount");
  }

  if (flags & MS_SHARED) {
    // Making a mount shared is what lets a later umount of a copy propagate into it (see
    // "Propagation" above). Replayed on the pinned target, not CONTINUEd: the target string is
    // racy memory and a swapped one could name /proc.
    if (!env.callerHasSysAdmin()) return refuse(EPERM, "caller lacks CAP_SYS_ADMIN");
    if (!d.target) return refuse(EFAULT, "propagation change without a target");
    PathInfo t = env.resolve(Environment::Which::kTarget);
    if (auto e = needPath(t, "target")) return *e;
    if (!t.mountRoot) return kernelAnswer(EINVAL, "not a mount point: " + *d.target);
    if (!t.mount || !t.attached) return refuse(EPERM, "target not in the caller's mount table");
    if (auto e = checkStaysPrivate(*t.mount, flags & MS_REC, c, env, "make-shared")) return *e;
    return act(Action::kReplayMount, "make-shared of the container's own mounts");
  }
  if (flags & (MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)) {
    // CONTINUE is race-free: the flags are a register and ask for private, slave or unbindable
    // (the kernel refuses a mix of propagation types). Each only cuts propagation: a private or
    // unbindable mount receives none; a slave receives from its former peers only, and no mount
    // that must stay private is ever in a peer group (MS_SHARED above, checkAttach), so whatever
    // target a racer names, no unmount can newly reach a protected mount, and none is removed,
    // covered or made writable.
    return cont("propagation change that only cuts propagation");
  }

  // A new filesystem.
  if (!d.target) return refuse(EFAULT, "mount without a target");
  if (!d.fstype) return refuse(EINVAL, "new mount without a file system type");
  if (!env.callerHasSysAdmin()) return refuse(EPERM, "caller lacks CAP_SYS_ADMIN");
  if (d.source && !d.source->empty() && d.source->front() == '/') {
    PathInfo s = env.resolve(Environment::Which::kSource);
    if (s.err == 0 && s.blockDevice) return refuse(EPERM, "mounting a block device");
  }
  if (!isAllowedNewFsType(*d.fstype))
    return refuse(EPERM, "file system type '" + *d.fstype + "' is not mountable in a container");
  PathInfo t = env.resolve(Environment::Which::kTarget);
  if (auto e = needPath(t, "target")) return *e;
  if (*d.fstype == "proc" || *d.fstype == "sysfs") {
    const bool proc = *d.fstype == "proc";
    // The clone would become shared with copies in the target's peers (checkAttach).
    if (!t.mount) return refuse(EPERM, "the mount below a new proc/sysfs is unknown");
    if (t.mount->sharedGroup != 0)
      return refuse(EPERM, "a masked proc/sysfs clone below shared mount " + t.mount->mountPoint);
    if (proc ? env.callerInContainerPidNs() : env.callerInContainerNetNs()) {
      if (auto e = checkOvermount(t, c, env)) return *e;
      PathInfo src = env.resolveInRoot(proc ? "/proc" : "/sys");
      if (src.err != 0 || !src.mount || !src.mountRoot || !c.isProcOrSysTree(*src.mount))
        return refuse(EPERM, "the container's own masked tree to clone is gone");
      return act(Action::kCloneTree, std::string("new ") + *d.fstype + " as a masked clone");
    }
    // A nested pid (net) namespace: a clone of the container's tree would show it the whole
    // container's processes (network devices), so it gets a new superblock of its own namespace,
    // made by the worker as the container's root (the kernel then checks that the namespace is
    // the container's or below it), with the container's masks attached before it is attached
    // itself: it is never visible unmasked. In a mount namespace of its own it may cover the
    // container's /proc (/sys): `unshare --pid --fork --mount --mount-proc` does, and a masked
    // tree on a masked tree reveals nothing. Not in the container's first one: there /proc and
    // /sys are the templates of these masks (worker_fresh.h) and stay what the runtime made.
    const bool coversTreeRoot =
        t.mountRoot && t.mount && t.mount->fstype == *d.fstype && t.mount->root == "/";
    if (!coversTreeRoot || env.callerInContainerMntNs())
      if (auto e = checkOvermount(t, c, env)) return *e;
    if (!freshTreeOptions(proc, d.data ? *d.data : std::string()))
      return refuse(EINVAL, "an option eci does not pass on to a new " + *d.fstype);
    return act(Action::kFreshTree, std::string("new ") + *d.fstype +
                                       " of a nested namespace, the container's masks on it");
  }
  if (auto e = checkOvermount(t, c, env)) return *e;
  return act(Action::kReplayMount, "new " + *d.fstype + " mount");
}

}  // namespace

std::optional<std::vector<std::pair<std::string, std::string>>> freshTreeOptions(
    bool proc, std::string_view data) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t at = 0;
  while (at < data.size()) {
    size_t end = data.find(',', at);
    if (end == std::string_view::npos) end = data.size();
    const std::string_view opt = data.substr(at, end - at);
    at = end + 1;
    if (opt.empty()) continue;
    const size_t eq = opt.find('=');
    if (!proc || eq == std::string_view::npos || eq + 1 == opt.size()) return std::nullopt;
    const std::string_view key = opt.substr(0, eq), value = opt.substr(eq + 1);
    if (key != "hidepid" && key != "subset" && key != "gid") return std::nullopt;
    out.emplace_back(key, value);
  }
  return out;
}

Decision decide(const Decoded& d, const ContainerMounts& c, Environment& env) {
  if (d.badPointer) return refuse(EFAULT, "unreadable argument");
  switch (d.call) {
    case Call::kMount:
      return decideMount(d, c, env);

    case Call::kUmount2: {
      if (!d.target) return refuse(EFAULT, "umount without a target");
      if (d.args[1] & ~static_cast<uint64_t>(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW))
        return refuse(EINVAL, "unknown umount flags");
      if (!env.callerHasSysAdmin()) return refuse(EPERM, "caller lacks CAP_SYS_ADMIN");
      PathInfo t = env.resolve(Environment::Which::kTarget);
      if (auto e = needPath(t, "target")) return *e;
      // Two refusals told apart in the audit record: the path is not the root of a mount, or it
      // is but that mount is not in the caller's table as we read it. The path names which call.
      if (!t.mountRoot) return kernelAnswer(EINVAL, "not a mount point: " + *d.target);
      if (!t.mount) return refuse(EINVAL, "mount not in the caller's table: " + *d.target);
      if (c.isProtected(*t.mount, tableOf(env))) {
        // Outside the container's first mount namespace a whole tree may go: the rootfs (what
        // runc does after pivot_root in every container an inner runtime starts), /proc or
        // /sys, each lazily with everything mounted on it, masks together with what they mask.
        // A single mask, read-only path or emulation mount on a proc/sysfs tree may never go:
        // that would uncover what it hides. No unmount propagates from here: protected mounts
        // are never in a peer group (checkStaysPrivate).
        const std::vector<MountEntry>* table = tableOf(env)();
        const MountEntry* parent = table ? findById(*table, t.mount->parent) : nullptr;
        const bool onTree =
            !table || (parent && parent->id != t.mount->id && c.isProcOrSysTree(*parent));
        if (env.callerInContainerMntNs() || onTree || !(d.args[1] & MNT_DETACH))
          return refuse(EPERM, "unmounting protected mount " + t.mount->mountPoint);
        return act(Action::kUmount, "lazy unmount of a whole tree outside the first namespace");
      }
      return act(Action::kUmount, "unmount of the container's own mount");
    }

    case Call::kMountSetattr: {
      if (!env.callerHasSysAdmin()) return refuse(EPERM, "caller lacks CAP_SYS_ADMIN");
      // ID-mapping takes a user namespace fd of the caller's; eci does not pass it on.
      if (d.attr.attr_set & kMountAttrIdmap)
        return refuse(EPERM, "idmapped mounts are not allowed");
      PathInfo t = env.resolve(Environment::Which::kTarget);
      if (auto e = needPath(t, "target")) return *e;
      const bool recursive = d.args[2] & kAtRecursive;
      const bool clearsRo =
          (d.attr.attr_clr & kMountAttrRdonly) && !(d.attr.attr_set & kMountAttrRdonly);
      if (clearsRo) {
        if (roLocked(t, c))
          return refuse(EPERM, "clearing read-only of an initially read-only mount");
        if (recursive) {
          // Every mount below the target must be free too. The submounts of a detached tree
          // (an open_tree clone) are in no table the worker can read: a clone that holds a bind
          // of a read-only volume would become writable, so a recursive rw of a detached tree is
          // refused whatever it holds (fail closed; a non-recursive one is checked by device).
          if (!t.attached || !t.mount)
            return refuse(EPERM, "recursive rw of a detached tree (its submounts are unknown)");
          const std::vector<MountEntry>* table = env.mountTable();
          if (!table) return refuse(EPERM, "the caller's mount table could not be read");
          auto tree = subtree(*table, t.mount->id);
          if (tree.empty()) return refuse(EPERM, "target not in the caller's mount table");
          for (const MountEntry* m : tree)
            if (c.isReadOnlyLocked(*m))
              return refuse(EPERM, "recursive rw would unlock " + m->mountPoint);
        }
      }
      if (d.attr.propagation & MS_SHARED) {
        if (!t.attached || !t.mount) return refuse(EPERM, "make-shared of a detached tree");
        if (auto e = checkStaysPrivate(*t.mount, recursive, c, env, "make-shared")) return *e;
      }
      // Acted on the private copy of the attr: the struct is racy memory.
      return act(Action::kMountSetattr, "mount_setattr on a free mount");
    }

    case Call::kOpenTree: {
      if (!(d.args[2] & kOpenTreeClone)) {
        // CONTINUE is race-free: without OPEN_TREE_CLONE (a register), open_tree only returns an
        // O_PATH reference to an existing mount, as open(O_PATH) would; no mount is created or
        // changed whatever path a racer substitutes.
        return cont("open_tree without clone");
      }
      if (d.args[2] & kAtRecursive) {
        // CONTINUE is race-free: a recursive clone (both flags are registers) copies every submount
        // with its flags, so whatever tree a racer names, the copy keeps its masks and read-only
        // mounts; unlocking or attaching the copy later goes through mount_setattr/move_mount,
        // which are vetted (a detached copy is locked by device, see roLocked).
        return cont("recursive clone keeps masks and ro flags");
      }
      // A non-recursive clone of /proc or /sys would be the filesystem without its masks, and the
      // path is racy memory. Emulating it is impossible: the clone is an O_PATH file, which
      // SECCOMP_IOCTL_NOTIF_ADDFD cannot install (fget refuses FMODE_PATH). So refuse it;
      // `mount --bind` via mount(2) (busybox, util-linux 2.38, runc) is unaffected.
      return refuse(EPERM, "non-recursive open_tree clone");
    }

    case Call::kMoveMount: {
      if (!env.callerHasSysAdmin()) return refuse(EPERM, "caller lacks CAP_SYS_ADMIN");
      PathInfo s = env.resolve(Environment::Which::kSource);
      if (auto e = needPath(s, "source")) return *e;
      if (s.attached && s.mount && s.mountRoot && c.isProtected(*s.mount, tableOf(env)))
        return refuse(EPERM, "moving protected mount " + s.mount->mountPoint);
      PathInfo t = env.resolve(Environment::Which::kTarget);
      if (auto e = needPath(t, "target")) return *e;
      if (d.args[4] & kMoveMountSetGroup) {
        // The target joins the source's peer group: both become shared.
        if (!s.attached || !s.mount || !t.attached || !t.mount)
          return refuse(EPERM, "MOVE_MOUNT_SET_GROUP on a mount outside the caller's table");
        if (auto e = checkStaysPrivate(*s.mount, false, c, env, "MOVE_MOUNT_SET_GROUP")) return *e;
        if (auto e = checkStaysPrivate(*t.mount, false, c, env, "MOVE_MOUNT_SET_GROUP")) return *e;
        return act(Action::kMoveMount, "peer group of the container's own mounts");
      }
      if (auto e = checkOvermount(t, c, env)) return *e;
      const MountEntry* parent = mountOfPath(t);
      if (d.args[4] & kMoveMountBeneath) {
        if (t.mount && c.isProtected(*t.mount, tableOf(env)))
          return refuse(EPERM, "mounting beneath a protected mount");
        // Beneath: the new mount's parent is the target's parent.
        const std::vector<MountEntry>* table = env.mountTable();
        if (!table || !t.mount) return refuse(EPERM, "the caller's mount table could not be read");
        parent = findById(*table, t.mount->parent);
      }
      if (auto e = checkAttach(parent, s, true, c, env)) return *e;
      return act(Action::kMoveMount, "move_mount of the container's own mount");
    }

    case Call::kFsopen: {
      if (!d.fstype) return refuse(EFAULT, "fsopen without a name");
      if (!env.callerHasSysAdmin()) return refuse(EPERM, "caller lacks CAP_SYS_ADMIN");
      // proc and sysfs contexts take the pid/net namespace of the task calling fsopen, and would
      // come without the masks: the new API gets them through mount(2) only.
      if (!isAllowedNewFsType(*d.fstype) || *d.fstype == "proc" || *d.fstype == "sysfs")
        return refuse(EPERM, "fsopen of '" + *d.fstype + "' is not allowed");
      return act(Action::kFsopen, "fsopen " + *d.fstype);
    }

    case Call::kFspick: {
      if (!env.callerHasSysAdmin()) return refuse(EPERM, "caller lacks CAP_SYS_ADMIN");
      PathInfo t = env.resolve(Environment::Which::kTarget);
      if (auto e = needPath(t, "target")) return *e;
      // A reconfigure context for a protected or read-only-locked superblock could flip it rw.
      if (roLocked(t, c) || (t.mount && c.isProtected(*t.mount, tableOf(env))) ||
          (t.mount && c.isProcOrSysTree(*t.mount)))
        return refuse(EPERM, "fspick of a protected superblock");
      return act(Action::kFspick, "fspick of the container's own superblock");
    }

    case Call::kChmod:
    case Call::kFchmod:
    case Call::kFchmodat: {
      const uint64_t mode = chmodMode(d);
      if (!(mode & (S_ISUID | S_ISGID))) {
        // CONTINUE is race-free: the mode is a register the kernel reads from the same
        // seccomp_data, and it sets no set-id bit, whatever file a racer swaps in.
        return cont("chmod without set-id bits");
      }
      if (d.call != Call::kFchmod && !d.target) return refuse(EFAULT, "chmod without a path");
      PathInfo t = env.resolve(Environment::Which::kTarget);
      if (auto e = needPath(t, "target")) return *e;
      if (!t.mount) return refuse(EPERM, "the mount of the file is unknown");
      if (c.isHostPath(*t.mount))
        return refuse(EPERM, "set-id bits on a host path (" + t.mount->mountPoint + ")");
      // Acted on the pinned file, not CONTINUEd: the path (racy memory) or the caller's fd table
      // (another thread can dup2 over the fd) could lead the kernel to a host file after this
      // check.
      return act(Action::kChmod, "set-id bits in the container's own files");
    }

    case Call::kOpen:
    case Call::kOpenat:
    case Call::kCreat:
    case Call::kMknod:
    case Call::kMknodat: {
      if ((d.call == Call::kOpen || d.call == Call::kOpenat) &&
          !(d.args[d.call == Call::kOpen ? 1 : 2] & kCreatingOpenFlags)) {
        // CONTINUE is race-free: the flags are a register the kernel reads from the same
        // seccomp_data, and without O_CREAT or O_TMPFILE it ignores the mode and creates nothing.
        return cont("open that creates nothing");
      }
      if (!(createMode(d) & (S_ISUID | S_ISGID))) {
        // CONTINUE is race-free: the mode is a register the kernel reads from the same
        // seccomp_data, and it holds no set-id bit, whatever path a racer swaps in.
        return cont("create without set-id bits");
      }
      if (!d.target) return refuse(EFAULT, "create without a path");
      // A set-id fifo, socket or device is no program anyone runs; only regular files are made.
      if ((d.call == Call::kMknod || d.call == Call::kMknodat) && (createMode(d) & S_IFMT) != 0 &&
          (createMode(d) & S_IFMT) != S_IFREG)
        return refuse(EPERM, "set-id bits on a special file");
      PathInfo t = env.resolveCreated();
      if (t.err != 0) return refuse(EPERM, "where the set-id file would be made is unknown");
      if (!t.mount) return refuse(EPERM, "the mount of the new file is unknown");
      if (c.isHostPath(*t.mount))
        return refuse(EPERM, "a set-id file created on a host path (" + t.mount->mountPoint + ")");
      // Emulated, not CONTINUEd: the kernel would walk the path again, and another thread can
      // rewrite it (or a rename can move a directory) after this check. The worker makes the
      // file as the caller without the set-id bits, then adds them on the new file's own fd
      // only if that file is in the container's own files (worker_act.h createSetId). This
      // check stays: it refuses the plain case before anything is made.
      return act(Action::kCreateSetId, "set-id file in the container's own files");
    }

    case Call::kFsconfig:
      // CONTINUE is race-free: fsconfig only acts on an fs context fd, and every fs context in the
      // container came from the supervisor (fsopen of an allowed type, fspick of a free
      // superblock), so whatever key/value a racer swaps in configures a filesystem the caller
      // owns, with the kernel checking its own userns capabilities.
      return cont("fsconfig on a vetted context");
    case Call::kFsmount:
      // CONTINUE is race-free: all arguments are registers, and the context fd is vetted (above);
      // the result is a detached mount of the container's own new filesystem.
      return cont("fsmount of a vetted context");
    case Call::kUnknown:
      break;
  }
  return refuse(EPERM, "not a vetted call");
}

}  // namespace eci::seccomp
