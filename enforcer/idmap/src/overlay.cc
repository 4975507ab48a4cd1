// The ID-mapped overlay rootfs of eci_idmap (idmap.h parseOverlayOptions, overlayOptionsAt,
// mountIdmappedOverlay).
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/fsuid.h>
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
#include "eci/idmap/idmap.h"
#include "eci/mountinfo.h"
#include "eci/paths.h"
#include "eci/sys.h"
#include "internal.h"

namespace eci::idmap {

using namespace detail;  // NOLINT(google-build-using-namespace): this library's own helpers

namespace {

// Our overlay's work dir, next to the engine's (see mountIdmappedOverlay in the header).
constexpr const char* kWorkSuffix = ".eci";

// Per-thread credential switch for the overlay's FSCONFIG_CMD_CREATE (see the header): fsuid and
// fsgid become the range's root, and the fs capabilities the kernel drops on a non-zero fsuid are
// raised again from the permitted set. Restored on destruction.
class MounterCreds {
 public:
  static Result<MounterCreds> become(uid_t uid, gid_t gid) {
    MounterCreds c;
    c.header_ = {_LINUX_CAPABILITY_VERSION_3, 0};
    if (::syscall(SYS_capget, &c.header_, c.saved_) != 0) return Error::fromErrno("capget()");
    c.oldUid_ = static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1)));
    c.oldGid_ = static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1)));
    c.active_ = true;
    ::setfsgid(gid);
    ::setfsuid(uid);
    // setfsuid reports nothing on failure; reading it back is the only check.
    if (static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) != uid ||
        static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) != gid) {
      return Error(ErrorKind::kDenied,
                   "setfsuid(" + std::to_string(uid) + ")/setfsgid(" + std::to_string(gid) + ")",
                   "needs CAP_SETUID/CAP_SETGID");
    }
    __user_cap_data_struct raised[2];
    std::memcpy(raised, c.saved_, sizeof raised);
    raised[0].effective = raised[0].permitted;
    raised[1].effective = raised[1].permitted;
    if (::syscall(SYS_capset, &c.header_, raised) != 0) return Error::fromErrno("capset()");
    return c;
  }
  MounterCreds(MounterCreds&& o) noexcept
      : header_(o.header_), oldUid_(o.oldUid_), oldGid_(o.oldGid_), active_(o.active_) {
    std::memcpy(saved_, o.saved_, sizeof saved_);
    o.active_ = false;
  }
  MounterCreds& operator=(MounterCreds&&) = delete;
  ~MounterCreds() {
    if (!active_) return;
    ::setfsuid(oldUid_);
    ::setfsgid(oldGid_);
    ::syscall(SYS_capset, &header_, saved_);
  }

 private:
  MounterCreds() = default;
  __user_cap_header_struct header_{};
  __user_cap_data_struct saved_[2]{};
  uid_t oldUid_ = 0;
  gid_t oldGid_ = 0;
  bool active_ = false;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Overlay options

Result<OverlayOptions> parseOverlayOptions(std::string_view data, const std::string& relativeTo) {
  OverlayOptions out;
  auto absolute = [&](const std::string& key, std::string p) -> Result<std::string> {
    if (p.empty()) return Error("overlay option " + key + " has an empty path");
    if (p[0] != '/') {
      if (relativeTo.empty()) {
        return Error("overlay option " + key + "=" + p +
                     " is relative and no base directory is known");
      }
      p = relativeTo + "/" + p;
    }
    if (hasDotDot(p)) return Error("overlay option " + key + "=" + p + " contains '..'");
    return normalize(p);
  };
  for (std::string_view opt : split(data, ',')) {
    if (opt.empty()) continue;
    const size_t eq = opt.find('=');
    const std::string key(opt.substr(0, eq));
    const std::string_view raw =
        eq == std::string_view::npos ? std::string_view() : opt.substr(eq + 1);
    if (key == "lowerdir") {
      // Input syntax escapes ':' as "\:"; mountinfo shows it as \072. A "::" (data-only layers)
      // is not something the engines here produce.
      std::string cur;
      std::vector<std::string> parts;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == ':') {
          cur += ':';
          ++i;
        } else if (raw[i] == ':') {
          parts.push_back(cur);
          cur.clear();
        } else {
          cur += raw[i];
        }
      }
      parts.push_back(cur);
      for (const std::string& part : parts) {
        if (part.empty())
          return Error(
              "overlay option lowerdir has an empty layer (data-only layers are not supported)");
        ECI_ASSIGN_OR_RETURN(p, absolute("lowerdir", unescapeOctal(part)));
        out.lowerDirs.push_back(std::move(p));
      }
    } else if (key == "upperdir") {
      ECI_ASSIGN_OR_RETURN(p, absolute(key, unescapeOctal(raw)));
      out.upperDir = std::move(p);
    } else if (key == "workdir") {
      ECI_ASSIGN_OR_RETURN(p, absolute(key, unescapeOctal(raw)));
      out.workDir = std::move(p);
    } else if (key == "rw" || key == "ro") {
      // mountinfo's super options start with rw/ro; the mount's own flags are not layer options.
    } else if (key == "index" || key == "xino" || key == "volatile" || key == "nfs_export" ||
               key == "redirect_dir" || key == "metacopy" || key == "uuid" || key == "verity") {
      // Kept as the engine chose them: they describe how the layers are to be read. The host-root
      // mounter keeps every one of them meaningful.
      out.extra.push_back(std::string(opt));
    } else {
      return Error("overlay option " + quote(std::string(opt)) +
                   " is not supported for an ID-mapped rootfs");
    }
  }
  if (out.lowerDirs.empty()) return Error("overlay options have no lowerdir");
  if (out.upperDir.empty() != out.workDir.empty()) {
    return Error("overlay options need both upperdir and workdir, or neither");
  }
  return out;
}

Result<OverlayOptions> overlayOptionsAt(const std::string& mountPoint) {
  if (mountPoint.empty() || mountPoint[0] != '/') {
    return Error("overlay mount point " + quote(mountPoint) + " is not absolute");
  }
  const std::string mp = normalize(mountPoint);
  ECI_ASSIGN_OR_RETURN(entries, readMountInfo());
  const MountEntry* top = topMountAt(entries, mp);  // later lines are mounted on top
  if (top == nullptr)
    return Error(ErrorKind::kNotFound, "no mount at " + quote(mp) + " in /proc/self/mountinfo");
  if (top->fstype != "overlay") {
    return Error("the mount at " + quote(mp) + " is " + top->fstype + ", not overlay");
  }
  std::string base = mp.substr(0, mp.rfind('/'));
  base = base.empty() ? "/" : base.substr(0, base.rfind('/'));
  if (base.empty()) base = "/";
  auto opts = parseOverlayOptions(top->superOptions, base);
  if (!opts.ok()) return std::move(opts).error().wrap("reading the overlay at " + quote(mp));
  return opts;
}

// ---------------------------------------------------------------------------------------------
// Overlay

Result<MountGuard> mountIdmappedOverlay(const OverlayOptions& opts, const UserNamespace& userns,
                                        const std::string& target) {
  if (opts.lowerDirs.empty()) return Error("overlay needs at least one lower dir");
  const int nsfd = userns.fd();

  std::vector<UniqueFd> lowers;
  for (const std::string& dir : opts.lowerDirs) {
    auto m = idmappedClone(dir, nsfd);
    if (!m.ok()) return std::move(m).error().wrap("ID-mapping lower layer " + quote(dir));
    lowers.push_back(std::move(m).value());
  }

  // overlayfs wants upper and work on one mount ("workdir and upperdir must reside under the same
  // mount"), so their nearest common directory is cloned once and both are named inside it.
  UniqueFd upperMnt;
  std::string upperRel, workRel;
  if (!opts.upperDir.empty()) {
    // overlayfs empties its workdir when it mounts; sharing the engine's would pull work/work
    // from under the engine's live overlay, whose next copy-up (docker cp into a lower dir) then
    // fails with ENOENT. Ours is a sibling on the same filesystem, removed with the layer dir.
    const std::string u = normalize(opts.upperDir), w = normalize(opts.workDir) + kWorkSuffix;
    if (::mkdir(w.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error::fromErrno("mkdir(" + quote(w) + ", 0700)");
    }
    size_t common = 0;
    for (size_t k = 0; k < std::min(u.size(), w.size()) && u[k] == w[k]; ++k) {
      if (u[k] == '/') common = k;
    }
    if ((u.size() == w.size() && u == w)) {
      return Error("overlay upperdir and workdir are the same directory " + quote(u));
    }
    std::string base = u.substr(0, common);
    if (base.empty()) base = "/";
    upperRel = u.substr(common + 1);
    workRel = w.substr(common + 1);
    ECI_ASSIGN_OR_RETURN(baseFd, sys::open(base, O_PATH | O_DIRECTORY));
    ECI_ASSIGN_OR_RETURN(baseId, mountIdOf(baseFd.get(), ""));
    ECI_ASSIGN_OR_RETURN(upperId, mountIdOf(baseFd.get(), upperRel));
    ECI_ASSIGN_OR_RETURN(workId, mountIdOf(baseFd.get(), workRel));
    if (upperId != baseId || workId != baseId) {
      return Error("overlay upperdir " + quote(u) + " and workdir " + quote(w) +
                   " are not on the same mount as " + quote(base) +
                   "; a non-recursive ID-mapped clone of it would not contain them");
    }
    auto m = idmappedCloneFd(baseFd.get(), base, nsfd);
    if (!m.ok()) return std::move(m).error().wrap("ID-mapping the upper layer's directory");
    upperMnt = std::move(m).value();
  }

  ECI_ASSIGN_OR_RETURN(fsfd, sys::fsopen("overlay", 0));
  auto fdRef = [](const UniqueFd& f) { return "/proc/self/fd/" + std::to_string(f.get()); };

  // "lowerdir+" (Linux 6.8) adds one layer per call, so the 256-byte limit of an fsconfig string
  // does not cap the number of layers; older kernels get one joined "lowerdir".
  bool appended = true;
  for (size_t k = 0; k < lowers.size() && appended; ++k) {
    const std::string ref = fdRef(lowers[k]);
    auto st = sys::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "lowerdir+", ref.c_str(), 0);
    if (!st.ok()) {
      if (k == 0 && st.error().code() == EINVAL) {
        appended = false;
      } else {
        return std::move(st).error().wrap("adding lower layer " + quote(opts.lowerDirs[k]));
      }
    }
  }
  if (!appended) {
    std::string joined;
    for (const auto& l : lowers) joined += (joined.empty() ? "" : ":") + fdRef(l);
    if (joined.size() > 255) {
      return Error(ErrorKind::kTooLarge,
                   "overlay lowerdir for " + std::to_string(lowers.size()) + " layers",
                   "this kernel lacks lowerdir+ and the joined list exceeds fsconfig's 256 bytes");
    }
    ECI_TRY(sys::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "lowerdir", joined.c_str(), 0));
  }
  if (upperMnt) {
    const std::string up = fdRef(upperMnt) + "/" + upperRel;
    const std::string wk = fdRef(upperMnt) + "/" + workRel;
    ECI_TRY(sys::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "upperdir", up.c_str(), 0));
    ECI_TRY(sys::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "workdir", wk.c_str(), 0));
  }
  for (const std::string& e : opts.extra) {
    const size_t eq = e.find('=');
    if (eq == std::string::npos) {
      ECI_TRY(sys::fsconfig(fsfd.get(), FSCONFIG_SET_FLAG, e.c_str(), nullptr, 0));
    } else {
      const std::string key = e.substr(0, eq), value = e.substr(eq + 1);
      ECI_TRY(sys::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0));
    }
  }

  {
    ECI_ASSIGN_OR_RETURN(creds,
                         MounterCreds::become(userns.uids().hostStart, userns.gids().hostStart));
    auto st = sys::fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0);
    if (!st.ok()) {
      Error e = std::move(st).error();
      const std::string log = drainFsLog(fsfd.get());
      return Error(e.code(), "creating the ID-mapped overlay (" + e.message() + ")",
                   log.empty() ? e.hint() : log);
    }
  }
  ECI_ASSIGN_OR_RETURN(mnt, sys::fsmount(fsfd.get(), 0, 0));

  // overlayfs does not fail when it cannot create its work dir; it mounts read-only and only
  // says so in the kernel log. A rootfs that silently refuses writes is a failure here.
  if (upperMnt) {
    struct statvfs sv {};
    if (::fstatvfs(mnt.get(), &sv) != 0) return Error::fromErrno("fstatvfs(overlay)");
    if ((sv.f_flag & ST_RDONLY) != 0) {
      return Error(ErrorKind::kUnsupported, "the ID-mapped overlay came up read-only",
                   "overlayfs could not use its workdir " + quote(opts.workDir) +
                       " through the ID-mapped mount (see the kernel log)");
    }
  }

  bool created = false;
  ECI_TRY(makeMountPoint(target, true, created));
  MountGuard guard(target, created);
  auto mv = sys::moveMount(mnt.get(), "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
  if (!mv.ok()) {
    guard.commit();  // nothing was mounted; only the mount point goes
    if (created) ::rmdir(target.c_str());
    return std::move(mv).error().wrap("attaching the ID-mapped overlay");
  }
  return guard;
}

}  // namespace eci::idmap
