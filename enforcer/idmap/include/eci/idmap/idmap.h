// ID-mapped container filesystems: the user namespace a container runs in, its rootfs as an
// overlay over ID-mapped layers, and ID-mapped bind mounts for volumes and host directories.
//
// What it gives (ECI's "ID-mapped filesystem"): inside the container the image's files keep their
// owners (root-owned files show as uid 0), root can write its rootfs, and everything the container
// writes lands on disk as 0-65535 whatever host range the container got, so volumes can be shared
// by containers with different ranges. No image file is ever chowned.
//
// How eci-runc uses it on `create` (all as host root, single-threaded):
//
//   ECI_ASSIGN_OR_RETURN(layout, idmap::Layout::make("/run/eci/idmap", containerId));
//   ECI_ASSIGN_OR_RETURN(fs, idmap::ContainerFs::begin(layout, {start, 65536}, {start, 65536}));
//   ECI_ASSIGN_OR_RETURN(opts, idmap::overlayOptionsAt(engineRootfs));   // the engine's overlay
//   ECI_ASSIGN_OR_RETURN(rootfs, fs.mountRootfs(opts));   // -> spec root.path
//   ECI_ASSIGN_OR_RETURN(vol, fs.addBind(volumeSource));  // -> that mount's source; check
//                                                         //    vol.resolvedSource against policy
//   spec linux.namespaces += {type: user, path: fs.userns().path()}; uid/gidMappings as given
//   fs.commit();            // only after runc create succeeded; until then any return rolls back
//   ... and on `delete`:    idmap::cleanup(layout)
//
// Decisions (each proven on this machine, kernel 6.18, Debian runc 1.1.5; see tests):
// - runc 1.1.5 accepts `linux.namespaces[{type:user, path:P}]` together with uid/gidMappings
//   (the mappings are required: without them it refuses "User namespaces enabled, but no uid
//   mappings found") and runs the container in the namespace at P; it does not re-write the maps.
// - The namespace outlives its creator: the nsfs file is bind-mounted at Layout::usernsPath().
// - The overlay is NOT mounted over the engine's rootfs but at Layout::rootfsPath(), and root.path
//   must point there. Two reasons: (1) runc's init resolves root.path (and bind sources) as root
//   *of the user namespace*, which is "other" for host-root-owned directories, so every directory
//   on the way needs o+x; Docker's data-root is 0710 and fails with EACCES. (2) The engine keeps
//   its own overlay at its own path, so it unmounts what it mounted (Docker unmounts `merged` once,
//   containerd unmounts `<bundle>/rootfs` until EINVAL) and `docker cp` keeps writing through the
//   engine's overlay into the same upper dir (a host-root write through our ID-mapped view would
//   fail with EOVERFLOW). Both overlays share the upper dir, as sysbox does; the kernel only warns.
// - The overlay is mounted by host root, not from inside the user namespace: the new mount API is
//   used with fsuid/fsgid set to the range's root and the fs capabilities re-raised for the
//   FSCONFIG_CMD_CREATE, so overlayfs records a mounter that maps through the ID-mapped upper dir
//   (otherwise creating work/work fails with EOVERFLOW and the overlay goes read-only) while
//   keeping CAP_SYS_ADMIN in the initial namespace, which overlayfs needs to read and write the
//   trusted.overlay.* xattrs the engine put in the layers (opaque dirs, redirects). An overlay
//   mounted from inside the user namespace would silently ignore them (deleted directories of
//   lower layers reappear), and it could not see layers under a 0710 data-root either.
// - Each layer is cloned with open_tree(OPEN_TREE_CLONE) without AT_RECURSIVE: Docker's layer
//   directory also holds the `merged` overlay mount, and overlayfs refuses MOUNT_ATTR_IDMAP
//   (EINVAL), which a recursive ID-map would reach. The upper and work dirs must be on one mount
//   for overlayfs, so their nearest common directory is cloned once.
//
// Cleanup: every object here undoes what it made when it is destroyed, unless committed; a
// failure at any step of `create` therefore leaves no mount, file or directory behind.
// cleanup(layout) tears down a committed container from the layout alone (idempotent).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"
#include "eci/unique_fd.h"

namespace eci::idmap {

// Container ids [0, size) map to host ids [hostStart, hostStart + size).
struct IdRange {
  uint32_t hostStart = 0;
  uint32_t size = 0;
};

// Where one container's state lives; cleanup() needs nothing else.
//   <runDir>/                    0711 (search, no listing)
//   <runDir>/<id>/               0710 root:<gid range start>: only this container's root passes
//   <runDir>/<id>/userns         bind mount of the user namespace's nsfs file
//   <runDir>/<id>/rootfs         0711, mount point of the ID-mapped overlay (root.path)
//   <runDir>/<id>/binds/<n>      mount points of ID-mapped binds (directory or file)
//   <runDir>/<id>/bundle/        the private OCI bundle runc gets (config.json, rewritten), so
//                                the engine's bundle is never changed (eci-runc)
//   <runDir>/<id>/fifos/<n>      FIFOs eci-runc made for the spec's `p` devices
// Every ancestor of runDir must be searchable by others (o+x): runc's init walks these paths as
// root of the container's user namespace. mountRootfs/addBind check this and say which directory
// is in the way. <id>/ is closed to everyone else: through it the container's rootfs would be
// readable, which Docker's 0710 data-root otherwise prevents for host users.
class Layout {
 public:
  // `id`: 1-128 characters of [A-Za-z0-9_.-], not "." or ".." (container ids are hex; anything
  // that could climb out of runDir is refused). `runDir` must be absolute.
  static Result<Layout> make(std::string runDir, std::string id);

  const std::string& runDir() const { return runDir_; }
  const std::string& id() const { return id_; }
  std::string containerDir() const { return runDir_ + "/" + id_; }
  std::string usernsPath() const { return containerDir() + "/userns"; }
  std::string rootfsPath() const { return containerDir() + "/rootfs"; }
  std::string bindsDir() const { return containerDir() + "/binds"; }
  std::string bundleDir() const { return containerDir() + "/bundle"; }
  std::string fifosDir() const { return containerDir() + "/fifos"; }

 private:
  Layout(std::string runDir, std::string id) : runDir_(std::move(runDir)), id_(std::move(id)) {}
  std::string runDir_;
  std::string id_;
};

// A user namespace pinned by a bind mount of its nsfs file, so it lives without any process.
class UserNamespace {
 public:
  // Makes a namespace with "0 <uids.hostStart> <uids.size>" (and gids), pinned at `pinPath`
  // (a new file; its directory must exist). Uses a short-lived child that unshares and waits.
  static Result<UserNamespace> create(const std::string& pinPath, IdRange uids, IdRange gids);
  // Pins the user namespace at `existing` (another container's pin) at `pinPath` too, so each
  // container holds its own reference; the ranges are read from the namespace itself (it must map
  // one contiguous range starting at container id 0).
  static Result<UserNamespace> pinExisting(const std::string& pinPath, const std::string& existing);

  UserNamespace(UserNamespace&&) noexcept;
  UserNamespace& operator=(UserNamespace&&) noexcept;
  ~UserNamespace();  // un-pins unless committed

  // The namespace file, for runc's `linux.namespaces[{type:"user", path}]`.
  const std::string& path() const { return path_; }
  // An O_RDONLY fd of the namespace (MOUNT_ATTR_IDMAP's userns_fd, setns).
  int fd() const { return fd_.get(); }
  IdRange uids() const { return uids_; }
  IdRange gids() const { return gids_; }

  void commit() { committed_ = true; }

 private:
  UserNamespace() = default;
  void unpin();
  std::string path_;
  UniqueFd fd_;
  IdRange uids_, gids_;
  bool committed_ = false;
};

// A mount this library attached and the mount point it created for it. Destruction detaches the
// mount (MNT_DETACH) and removes the mount point unless committed.
class MountGuard {
 public:
  MountGuard() = default;
  MountGuard(std::string target, bool createdTarget)
      : target_(std::move(target)), createdTarget_(createdTarget), armed_(true) {}
  MountGuard(MountGuard&& o) noexcept;
  MountGuard& operator=(MountGuard&& o) noexcept;
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  ~MountGuard();

  const std::string& path() const { return target_; }
  void commit() { armed_ = false; }
  // Detaches and removes now, reporting what failed.
  Status release();

 private:
  std::string target_;
  bool createdTarget_ = false;
  bool armed_ = false;
};

// An overlay's layers as the engine mounted it.
struct OverlayOptions {
  std::vector<std::string> lowerDirs;  // top-most first, as in lowerdir=
  std::string upperDir;                // empty with workDir: a read-only overlay
  std::string workDir;
  // Options passed through unchanged (e.g. "index=off", "xino=off", "volatile"). Options naming
  // paths or needing a different mounter (metacopy, redirect_dir=on, userxattr, datadir+) are
  // refused by parse: they would change how the engine's layers are read.
  std::vector<std::string> extra;
};

// Parses overlay mount data ("lowerdir=A:B,upperdir=U,workdir=W,index=off"), as given to mount(2)
// or as shown in /proc/self/mountinfo's super options (octal escapes like \040 are decoded).
// Relative paths (Docker's "l/ABC" short links when the option string is long) are resolved
// against `relativeTo`; without it they are an error.
Result<OverlayOptions> parseOverlayOptions(std::string_view data,
                                           const std::string& relativeTo = {});

// Reads the options of the overlay mounted at `mountPoint` (the top-most mount there) from
// /proc/self/mountinfo. Relative layer paths are resolved against the mount point's grandparent
// (Docker: <data-root>/overlay2/<id>/merged with links relative to <data-root>/overlay2).
Result<OverlayOptions> overlayOptionsAt(const std::string& mountPoint);

// Clones `path` (one mount, not its submounts) as a detached mount ID-mapped through `usernsFd`.
// EINVAL from the kernel becomes an Error whose hint names the filesystem type (overlayfs, and
// tmpfs before Linux 6.3, cannot be ID-mapped) so the caller can decide what to do.
Result<UniqueFd> idmappedClone(const std::string& path, int usernsFd);
// Same for an fd opened with O_PATH (AT_EMPTY_PATH), `what` names it in errors.
Result<UniqueFd> idmappedCloneFd(int fd, const std::string& what, int usernsFd);

// Mounts an overlay of `opts`'s layers, each ID-mapped through `userns`, at `target` (an existing
// empty directory, or created 0711 when missing). The overlay's mounter is the range's root.
// The upper dir is shared with the engine's overlay, the work dir is not: overlayfs empties its
// work dir at mount, which would break the engine's live overlay (copy-ups fail with ENOENT), so
// ours is `<workDir>.eci`, created 0700 next to the engine's (it goes when the engine removes the
// layer directory).
Result<MountGuard> mountIdmappedOverlay(const OverlayOptions& opts, const UserNamespace& userns,
                                        const std::string& target);

struct BindResult {
  MountGuard mount;            // the ID-mapped mount; mount.path() is the bind source for runc
  std::string resolvedSource;  // the host path actually opened (symlinks resolved at open time);
                               // check it against the restricted paths, not the input
  bool idmapped = true;        // false only with allowPlain on a filesystem that can't be mapped
};

struct BindOptions {
  // On a filesystem that cannot be ID-mapped, attach a plain bind instead of failing (files then
  // show as nobody inside and writes are refused unless the host owner is in the range).
  bool allowPlain = false;
  // ID-map through this user namespace instead of the container's (callerMapping()), or -1.
  int usernsFd = -1;
  // `rbind`: the source's submounts too (what runc's rbind shows), each cloned on its own and
  // ID-mapped (or plain, under allowPlain) at the same place below the target, parents first.
  // Per mount and not one AT_RECURSIVE clone + mount_setattr: that is all-or-nothing (one
  // submount that can't be ID-mapped, e.g. an overlay, fails the whole bind) and could not leave
  // out `excludeUnder`. A submount is opened by its path and refused if the path opened is not
  // that mount point (a directory swapped for a symlink meanwhile).
  bool recursive = false;
  // Submounts at or below these paths are left out (eci's own per-container state: another
  // container's ID-mapped rootfs, binds and /proc emulation must never show through a bind).
  std::vector<std::string> excludeUnder = {};
};

// A user namespace (fd) for a host bind that acts with a caller's rights (contract 4): container
// root (host id container.hostStart) <-> on-disk uid/gid `uid`/`gid`; every other on-disk id
// outside the container's range maps to the same host id, which no container process holds. Files
// the caller owns show as root's inside and what container root creates is the caller's; files of
// anyone else are "other" to the container (their mode bits decide, no capability over them), and
// no container user can create a file owned by host root or a third user (userns.cc
// callerMapText says why each holds).
Result<UniqueFd> callerMapping(IdRange container, uint32_t uid, uint32_t gid);

// Attaches an ID-mapped clone of `source` (a directory, or a file/socket/device node mounted on a
// file; submounts only with options.recursive) at
// `target` (created: a directory 0711 or an empty file 0600, whichever `source` is).
Result<BindResult> idmappedBind(const std::string& source, const UserNamespace& userns,
                                const std::string& target, BindOptions options = {});

// Every directory from "/" down to `path` can be searched by a process with host uid/gid
// `uid`/`gid` and no capabilities over them (mode bits only), which is what runc's init, root of
// the user namespace, needs. The error names the first one in the way.
Status checkSearchableBy(const std::string& path, uid_t uid, gid_t gid);

// All of one container's ID-mapped filesystem. begin() creates the container dir and the user
// namespace; each step adds to it; destruction undoes everything unless commit() was called.
class ContainerFs {
 public:
  static Result<ContainerFs> begin(const Layout& layout, IdRange uids, IdRange gids);
  // For a container that joins namespaces of another (--pid/--ipc/--network container:X): those
  // are owned by X's user namespace, so runc can only join them from inside it (otherwise runc
  // fails with "can't get final child's PID from pipe: EOF"). Uses the user namespace pinned at
  // `ownerUsernsPath` (X's Layout::usernsPath()) and its ranges, pinned again for this container.
  static Result<ContainerFs> beginShared(const Layout& layout, const std::string& ownerUsernsPath);

  ContainerFs(ContainerFs&&) noexcept;
  ContainerFs& operator=(ContainerFs&&) = delete;
  ~ContainerFs();

  const Layout& layout() const { return layout_; }
  const UserNamespace& userns() const { return userns_; }

  // Mounts the ID-mapped overlay at layout().rootfsPath() and returns that path (root.path).
  Result<std::string> mountRootfs(const OverlayOptions& opts);
  // ID-mapped bind of `source` at layout().bindsDir()/<n> (n counts from 0).
  Result<BindResult> addBind(const std::string& source, BindOptions options = {});

  // Keeps everything; cleanup(layout()) tears it down later.
  void commit();

 private:
  ContainerFs(Layout layout, UserNamespace userns)
      : layout_(std::move(layout)), userns_(std::move(userns)) {}
  Layout layout_;
  UserNamespace userns_;
  std::vector<MountGuard> mounts_;  // torn down in reverse order
  int nextBind_ = 0;
  bool committed_ = false;
  bool active_ = true;  // false once moved from
};

// Tears down everything under layout.containerDir(): detaches every mount below it (deepest
// first, including the namespace pin), removes mount points and the directory. Missing parts are
// fine (idempotent); the first error is returned after trying everything else.
Status cleanup(const Layout& layout);

// Ids that have state under `runDir` (a directory per container), for reconciling after a crash:
// an id runc no longer knows is passed to cleanup(). A missing runDir is an empty list.
Result<std::vector<std::string>> listContainerIds(const std::string& runDir);

// Mount points at or below `dir` in /proc/self/mountinfo, deepest first (exposed for tests).
Result<std::vector<std::string>> mountsUnder(const std::string& dir);

}  // namespace eci::idmap
