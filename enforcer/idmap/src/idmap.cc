#include "eci/idmap/idmap.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <utility>

#include "eci/fs_util.h"
#include "eci/mountinfo.h"
#include "eci/paths.h"
#include "eci/sys.h"
#include "internal.h"

namespace eci::idmap {
namespace detail {

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

// Lexical normalisation (callers refuse ".." before): core's, the one every check uses.
std::string normalize(const std::string& p) {
  return paths::normalize(p);
}

bool hasDotDot(const std::string& p) {
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (p.compare(i, j - i, "..") == 0 && j - i == 2) return true;
    i = j + 1;
  }
  return false;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (true) {
    size_t j = s.find(sep, i);
    if (j == std::string_view::npos) {
      out.push_back(s.substr(i));
      return out;
    }
    out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
}

std::string fsTypeName(int fd) {
  struct statfs st {};
  if (::fstatfs(fd, &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case OVERLAYFS_SUPER_MAGIC:
      return "overlay";
    case TMPFS_MAGIC:
      return "tmpfs";
    case EXT4_SUPER_MAGIC:
      return "ext4";
    case XFS_SUPER_MAGIC:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    case NFS_SUPER_MAGIC:
      return "nfs";
    case PROC_SUPER_MAGIC:
      return "proc";
    case SYSFS_MAGIC:
      return "sysfs";
    case 0x65735546:
      return "fuse";
    default: {
      char buf[32];
      snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(st.f_type));
      return buf;
    }
  }
}

Result<std::string> fdPath(int fd) {
  char buf[4096];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0) return Error::fromErrno("readlink(" + quote(link) + ")");
  return std::string(buf, static_cast<size_t>(n));
}

Result<uint64_t> mountIdOf(int dirfd, const std::string& path) {
  struct statx stx {};
  const int flags = path.empty() ? AT_EMPTY_PATH : 0;
  if (::statx(dirfd, path.c_str(), flags, STATX_MNT_ID, &stx) != 0) {
    return Error::fromErrno("statx(" +
                            (path.empty() ? "fd " + std::to_string(dirfd) : quote(path)) +
                            ", STATX_MNT_ID)");
  }
  return static_cast<uint64_t>(stx.stx_mnt_id);
}

// The fs context's log ("e overlayfs: ..."): the kernel's own reason for a failed create.
std::string drainFsLog(int fsfd) {
  std::string out;
  char buf[512];
  for (int k = 0; k < 16; ++k) {
    const ssize_t n = ::read(fsfd, buf, sizeof buf - 1);
    if (n <= 0) break;
    if (!out.empty()) out += "; ";
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool writeAllFd(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

Status writeProcFile(const std::string& path, const std::string& data) {
  ECI_ASSIGN_OR_RETURN(fd, sys::open(path, O_WRONLY));
  if (!writeAllFd(fd.get(), data)) {
    return Error::fromErrno("write(" + quote(path) + ", " + quote(data) + ")");
  }
  return okStatus();
}

Status checkRange(const char* what, IdRange r) {
  if (r.size == 0) return Error(std::string(what) + " range is empty");
  if (static_cast<uint64_t>(r.hostStart) + r.size > 0xffffffffull) {
    return Error(std::string(what) + " range " + std::to_string(r.hostStart) + "+" +
                 std::to_string(r.size) + " does not fit in 32 bits");
  }
  return okStatus();
}

// Creates an empty mount point of the right kind; false in `created` if it was already there.
Status makeMountPoint(const std::string& target, bool directory, bool& created) {
  created = false;
  if (directory) {
    if (::mkdir(target.c_str(), 0711) == 0) {
      created = true;
    } else if (errno != EEXIST) {
      return Error::fromErrno("mkdir(" + quote(target) + ", 0711)");
    }
    struct stat st {};
    if (::lstat(target.c_str(), &st) != 0) return Error::fromErrno("lstat(" + quote(target) + ")");
    if (!S_ISDIR(st.st_mode))
      return Error(ErrorKind::kInvalidInput, "mount point " + quote(target));
    return okStatus();
  }
  const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Error::fromErrno("open(" + quote(target) + ", O_CREAT|O_EXCL, 0600)");
  ::close(fd);
  created = true;
  return okStatus();
}

void removeMountPoint(const std::string& target) {
  if (::rmdir(target.c_str()) != 0 && errno == ENOTDIR) ::unlink(target.c_str());
}

}  // namespace detail

using namespace detail;  // NOLINT(google-build-using-namespace): this library's own helpers

// ---------------------------------------------------------------------------------------------
// Layout

Result<Layout> Layout::make(std::string runDir, std::string id) {
  if (runDir.empty() || runDir[0] != '/' || hasDotDot(runDir)) {
    return Error("run directory " + quote(runDir) + " must be an absolute path without '..'");
  }
  if (id.empty() || id.size() > 128 || id == "." || id == "..") {
    return Error("container id " + quote(id) + " is not usable as a directory name");
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return Error("container id " + quote(id) + " has a character outside [A-Za-z0-9_.-]");
  }
  return Layout(normalize(runDir), std::move(id));
}

// ---------------------------------------------------------------------------------------------
// MountGuard

MountGuard::MountGuard(MountGuard&& o) noexcept
    : target_(std::exchange(o.target_, {})),
      createdTarget_(o.createdTarget_),
      armed_(std::exchange(o.armed_, false)) {}

MountGuard& MountGuard::operator=(MountGuard&& o) noexcept {
  if (this != &o) {
    (void)release();
    target_ = std::exchange(o.target_, {});
    createdTarget_ = o.createdTarget_;
    armed_ = std::exchange(o.armed_, false);
  }
  return *this;
}

MountGuard::~MountGuard() {
  (void)release();
}

Status MountGuard::release() {
  if (!armed_) return okStatus();
  armed_ = false;
  Status first;
  if (::umount2(target_.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    first = Error::fromErrno("umount2(" + quote(target_) + ", MNT_DETACH)");
  }
  if (createdTarget_) {
    if (::rmdir(target_.c_str()) != 0) {
      if (errno == ENOTDIR) {
        if (::unlink(target_.c_str()) != 0 && errno != ENOENT && first.ok()) {
          first = Error::fromErrno("unlink(" + quote(target_) + ")");
        }
      } else if (errno != ENOENT && first.ok()) {
        first = Error::fromErrno("rmdir(" + quote(target_) + ")");
      }
    }
  }
  return first;
}

// ---------------------------------------------------------------------------------------------
// ID-mapped clones

Result<UniqueFd> idmappedCloneFd(int fd, const std::string& what, int usernsFd) {
  auto tree = sys::openTree(fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH);
  if (!tree.ok()) return std::move(tree).error().wrap("cloning " + quote(what));
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(usernsFd);
  auto st = sys::mountSetattr(tree->get(), "", AT_EMPTY_PATH, attr);
  if (!st.ok()) {
    const int err = st.error().code();
    std::string hint = st.error().hint();
    if (err == EINVAL) {
      hint =
          "the " + fsTypeName(fd) + " filesystem of " + quote(what) +
          " does not support ID-mapped mounts (overlayfs never does; tmpfs only since Linux 6.3)";
    }
    return Error(err, "mount_setattr(" + quote(what) + ", MOUNT_ATTR_IDMAP)", hint);
  }
  return std::move(tree).value();
}

Result<UniqueFd> idmappedClone(const std::string& path, int usernsFd) {
  ECI_ASSIGN_OR_RETURN(fd, sys::open(path, O_PATH));
  return idmappedCloneFd(fd.get(), path, usernsFd);
}

Status checkSearchableBy(const std::string& path, uid_t uid, gid_t gid) {
  if (path.empty() || path[0] != '/') return Error("path " + quote(path) + " is not absolute");
  const std::string p = normalize(path);
  std::string cur = "/";
  size_t i = 0;
  while (true) {
    struct stat st {};
    if (::stat(cur.c_str(), &st) != 0) return Error::fromErrno("stat(" + quote(cur) + ")");
    // Plain mode bits: the namespace's capabilities do not apply to host-owned inodes (their
    // owner is not mapped in the namespace).
    const mode_t m = st.st_mode;
    const bool ok = !S_ISDIR(m) || (st.st_uid == uid   ? (m & S_IXUSR) != 0
                                    : st.st_gid == gid ? (m & S_IXGRP) != 0
                                                       : (m & S_IXOTH) != 0);
    if (!ok) {
      char mode[8];
      snprintf(mode, sizeof mode, "%04o", m & 07777);
      return Error(ErrorKind::kDenied,
                   "directory " + quote(cur) + " (mode " + mode + ", " + std::to_string(st.st_uid) +
                       ":" + std::to_string(st.st_gid) + ") is not searchable by " +
                       std::to_string(uid) + ":" + std::to_string(gid),
                   "runc's init resolves the rootfs and bind sources as root of the container's "
                   "user namespace, which is 'other' for host-owned directories: chmod o+x it");
    }
    if (i >= p.size() || cur == p) break;
    size_t j = p.find('/', i + 1);
    if (j == std::string::npos) j = p.size();
    cur = p.substr(0, j);
    i = j;
  }
  return okStatus();
}

// ---------------------------------------------------------------------------------------------
// Binds

namespace {

// ID-mapped (through options.usernsFd if set, else the container's namespace; or, under
// allowPlain on EINVAL, plain) clone of one mount opened as `fd`.
Result<UniqueFd> cloneForBind(int fd, const std::string& what, const UserNamespace& userns,
                              const BindOptions& options, bool* idmapped) {
  auto m = idmappedCloneFd(fd, what, options.usernsFd >= 0 ? options.usernsFd : userns.fd());
  if (m.ok()) return m;
  if (options.allowPlain && m.error().code() == EINVAL) {
    *idmapped = false;
    return sys::openTree(fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH);
  }
  return std::move(m).error();
}

// BindOptions::recursive: every mount strictly below `resolved`, attached at the same place below
// `target` (which already holds the clone of `resolved` itself).
Status attachSubmounts(const std::string& resolved, const std::string& target,
                       const UserNamespace& userns, const BindOptions& options) {
  ECI_ASSIGN_OR_RETURN(entries, readMountInfo());
  std::vector<std::string> subs;
  for (const auto& e : entries) {
    const std::string& mp = e.mountPoint;
    if (mp == resolved || !paths::isUnder(mp, resolved)) continue;
    if (std::any_of(
            options.excludeUnder.begin(), options.excludeUnder.end(),
            [&](const std::string& x) { return !x.empty() && paths::isUnder(mp, normalize(x)); }))
      continue;
    // Stacked mounts on one point: the path opens the top-most, cloned once.
    if (std::find(subs.begin(), subs.end(), mp) == subs.end()) subs.push_back(mp);
  }
  std::stable_sort(subs.begin(), subs.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') < std::count(b.begin(), b.end(), '/');
  });
  for (const std::string& sub : subs) {
    const std::string rel = resolved == "/" ? sub : sub.substr(resolved.size());
    ECI_ASSIGN_OR_RETURN(fd, sys::open(sub, O_PATH));
    ECI_ASSIGN_OR_RETURN(real, fdPath(fd.get()));
    if (real != sub) {
      return Error(ErrorKind::kConflict, "submount " + quote(sub) +
                                             " of the bind source opened as " + quote(real) +
                                             " (moved or replaced meanwhile)");
    }
    bool idmapped = true;
    // Submounts of a caller-mapped bind get the caller's mapping too (contract 4).
    auto clone = cloneForBind(fd.get(), sub, userns, options, &idmapped);
    if (!clone.ok()) return std::move(clone).error().wrap("submount " + quote(sub));
    ECI_TRY_CTX(sys::moveMount(clone->get(), "", AT_FDCWD, target + rel, MOVE_MOUNT_F_EMPTY_PATH),
                "attaching submount " + quote(sub));
  }
  return {};
}

}  // namespace

Result<BindResult> idmappedBind(const std::string& source, const UserNamespace& userns,
                                const std::string& target, BindOptions options) {
  // Opened once; everything after works on this fd, so a path swapped after the open changes
  // nothing, and resolvedSource says what was really opened.
  ECI_ASSIGN_OR_RETURN(src, sys::open(source, O_PATH));
  ECI_ASSIGN_OR_RETURN(resolved, fdPath(src.get()));
  struct stat st {};
  if (::fstat(src.get(), &st) != 0) return Error::fromErrno("fstat(" + quote(source) + ")");
  // Anything that is not a directory (file, socket, device node, fifo) is mounted on a file.
  const bool isDir = S_ISDIR(st.st_mode);

  BindResult result;
  result.resolvedSource = resolved;
  auto m = cloneForBind(src.get(), resolved, userns, options, &result.idmapped);
  if (!m.ok()) return std::move(m).error().wrap("ID-mapped bind of " + quote(source));
  UniqueFd clone = std::move(m).value();

  bool created = false;
  ECI_TRY(makeMountPoint(target, isDir, created));
  auto mv = sys::moveMount(clone.get(), "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
  if (!mv.ok()) {
    if (created) removeMountPoint(target);
    return std::move(mv).error().wrap("attaching the bind of " + quote(source));
  }
  result.mount = MountGuard(target, created);
  // On failure result.mount detaches the whole tree again (MNT_DETACH is recursive). Only a
  // directory can have mounts strictly below it: a file bind (resolv.conf, hosts, hostname on
  // every container) skips reading the host's mount table.
  if (options.recursive && isDir) ECI_TRY(attachSubmounts(resolved, target, userns, options));
  return result;
}

// ---------------------------------------------------------------------------------------------
// ContainerFs

namespace {

// The container's directory: 0710 root:<range's root gid>. Only this container's root may pass
// (runc's init must, as root of the namespace); host users and other containers cannot read the
// rootfs through it, which Docker's 0710 data-root otherwise ensures.
Status makeContainerDir(const Layout& layout, gid_t rootGid) {
  ECI_TRY(fs::makeDirs(layout.runDir(), 0711));
  const std::string dir = layout.containerDir();
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      return Error(EEXIST, "mkdir(" + quote(dir) + ")",
                   "state of an earlier container with this id is left; cleanup() it first");
    }
    return Error::fromErrno("mkdir(" + quote(dir) + ", 0700)");
  }
  if (::chown(dir.c_str(), 0, rootGid) != 0 || ::chmod(dir.c_str(), 0710) != 0) {
    Error e = Error::fromErrno("chown/chmod(" + quote(dir) + ", 0:" + std::to_string(rootGid) +
                               ", 0710)");
    ::rmdir(dir.c_str());
    return e;
  }
  return okStatus();
}

}  // namespace

Result<ContainerFs> ContainerFs::begin(const Layout& layout, IdRange uids, IdRange gids) {
  ECI_TRY(checkRange("gid", gids));
  ECI_TRY(makeContainerDir(layout, gids.hostStart));
  const std::string dir = layout.containerDir();
  ScopeExit removeDir([&] { ::rmdir(dir.c_str()); });
  auto ns = UserNamespace::create(layout.usernsPath(), uids, gids);
  if (!ns.ok()) return std::move(ns).error().wrap("creating the user namespace");
  removeDir.dismiss();
  return ContainerFs(layout, std::move(ns).value());
}

Result<ContainerFs> ContainerFs::beginShared(const Layout& layout,
                                             const std::string& ownerUsernsPath) {
  // Read the ranges first (the directory's group is the range's root group).
  IdRange gids;
  {
    ECI_ASSIGN_OR_RETURN(fd, sys::open(ownerUsernsPath, O_RDONLY));
    auto maps = readMaps(fd.get());
    if (!maps.ok()) return std::move(maps).error().wrap("joining " + quote(ownerUsernsPath));
    gids = maps->second;
  }
  ECI_TRY(makeContainerDir(layout, gids.hostStart));
  const std::string dir = layout.containerDir();
  ScopeExit removeDir([&] { ::rmdir(dir.c_str()); });
  auto ns = UserNamespace::pinExisting(layout.usernsPath(), ownerUsernsPath);
  if (!ns.ok()) return std::move(ns).error().wrap("joining " + quote(ownerUsernsPath));
  removeDir.dismiss();
  return ContainerFs(layout, std::move(ns).value());
}

ContainerFs::ContainerFs(ContainerFs&& o) noexcept
    : layout_(o.layout_),
      userns_(std::move(o.userns_)),
      mounts_(std::move(o.mounts_)),
      nextBind_(o.nextBind_),
      committed_(o.committed_),
      active_(std::exchange(o.active_, false)) {}

ContainerFs::~ContainerFs() {
  if (!active_ || committed_) return;
  // cleanup() works from the layout alone, the same path `delete` takes; the guards then have
  // nothing left to do.
  (void)cleanup(layout_);
  for (auto& m : mounts_) m.commit();
  userns_.commit();
}

Result<std::string> ContainerFs::mountRootfs(const OverlayOptions& opts) {
  const std::string target = layout_.rootfsPath();
  ECI_TRY(checkSearchableBy(layout_.containerDir(), userns_.uids().hostStart,
                            userns_.gids().hostStart));
  auto m = mountIdmappedOverlay(opts, userns_, target);
  if (!m.ok()) return std::move(m).error().wrap("mounting the ID-mapped rootfs");
  mounts_.push_back(std::move(m).value());
  return target;
}

Result<BindResult> ContainerFs::addBind(const std::string& source, BindOptions options) {
  const std::string dir = layout_.bindsDir();
  if (::mkdir(dir.c_str(), 0711) != 0 && errno != EEXIST) {
    return Error::fromErrno("mkdir(" + quote(dir) + ", 0711)");
  }
  ::chmod(dir.c_str(), 0711);
  ECI_TRY(checkSearchableBy(dir, userns_.uids().hostStart, userns_.gids().hostStart));
  const std::string target = dir + "/" + std::to_string(nextBind_);
  auto b = idmappedBind(source, userns_, target, options);
  if (!b.ok()) return std::move(b).error();
  ++nextBind_;
  BindResult out;
  out.resolvedSource = b->resolvedSource;
  out.idmapped = b->idmapped;
  // The ContainerFs owns the mount; the caller gets a committed copy of the path only.
  out.mount = MountGuard(target, false);
  out.mount.commit();
  mounts_.push_back(std::move(b->mount));
  return out;
}

void ContainerFs::commit() {
  committed_ = true;
  for (auto& m : mounts_) m.commit();
  userns_.commit();
}

// ---------------------------------------------------------------------------------------------
// cleanup

Result<std::vector<std::string>> mountsUnder(const std::string& dir) {
  const std::string d = normalize(dir);
  ECI_ASSIGN_OR_RETURN(entries, readMountInfo());
  std::vector<std::string> out;
  for (const auto& e : entries) {
    if (paths::isUnder(e.mountPoint, d)) out.push_back(e.mountPoint);
  }
  // Deepest first, and for equal paths the later (upper) mount first.
  std::reverse(out.begin(), out.end());
  std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  return out;
}

Result<std::vector<std::string>> listContainerIds(const std::string& runDir) {
  std::vector<std::string> out;
  UniqueFd fd(::open(runDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return out;
    return Error::fromErrno("open(" + quote(runDir) + ")");
  }
  DIR* d = ::fdopendir(fd.get());
  if (d == nullptr) return Error::fromErrno("fdopendir(" + quote(runDir) + ")");
  (void)fd.release();
  while (dirent* ent = ::readdir(d)) {
    const std::string n = ent->d_name;
    if (n == "." || n == ".." || ent->d_type != DT_DIR) continue;
    if (Layout::make(runDir, n).ok()) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status cleanup(const Layout& layout) {
  const std::string dir = layout.containerDir();
  Status first;
  auto note = [&](Error e) {
    if (first.ok()) first = std::move(e);
  };

  // Nothing there: no mount can be under a path that does not exist (a mount point cannot be
  // removed, nor the directory holding one), so the mount table need not be read. This is the
  // second `delete` the engine sends for every container.
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 && errno == ENOENT) return okStatus();

  // Stacked mounts show up once per layer; a few rounds take them all. Each round's table is
  // the check of the one before.
  auto left = mountsUnder(dir);
  for (int round = 0; round < 8 && left.ok() && !left->empty(); ++round) {
    for (const std::string& m : *left) {
      if (::umount2(m.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
        note(Error::fromErrno("umount2(" + quote(m) + ", MNT_DETACH)"));
      }
    }
    left = mountsUnder(dir);
  }
  if (!left.ok()) return std::move(left).error().wrap("cleaning up " + quote(dir));
  if (!left->empty()) {
    // Never remove anything while a mount is left: below it could be a volume's data.
    note(Error(ErrorKind::kConflict,
               "mounts left under " + quote(dir) + " (" + left->front() + ", ...)"));
    return first;
  }

  // Only the entries this library creates, one level each: no recursive removal, so nothing that
  // is not ours can be deleted even if the layout was tampered with.
  auto emptyDir = [&](const std::string& sub) {
    UniqueFd bd(::open(sub.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!bd) return;
    std::vector<std::string> names;
    if (DIR* d = ::fdopendir(bd.release())) {
      while (dirent* ent = ::readdir(d)) {
        const std::string n = ent->d_name;
        if (n != "." && n != "..") names.push_back(n);
      }
      ::closedir(d);
    }
    for (const std::string& n : names) {
      const std::string p = sub + "/" + n;
      if (::rmdir(p.c_str()) != 0) {
        if (errno == ENOTDIR) {
          if (::unlink(p.c_str()) != 0) note(Error::fromErrno("unlink(" + quote(p) + ")"));
        } else if (errno != ENOENT) {
          note(Error::fromErrno("rmdir(" + quote(p) + ")"));
        }
      }
    }
  };
  const std::string binds = layout.bindsDir();
  emptyDir(binds);
  emptyDir(layout.bundleDir());
  emptyDir(layout.fifosDir());
  auto rm = [&](const std::string& p, bool isDir) {
    const int rc = isDir ? ::rmdir(p.c_str()) : ::unlink(p.c_str());
    if (rc != 0 && errno != ENOENT) {
      note(Error::fromErrno(std::string(isDir ? "rmdir(" : "unlink(") + quote(p) + ")"));
    }
  };
  rm(binds, true);
  rm(layout.bundleDir(), true);
  rm(layout.fifosDir(), true);
  rm(layout.rootfsPath(), true);
  rm(layout.usernsPath(), false);
  rm(dir, true);
  if (!first.ok()) return std::move(first).error().wrap("cleaning up " + quote(dir));
  return okStatus();
}

}  // namespace eci::idmap
