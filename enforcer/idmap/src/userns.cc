// The user namespaces of eci_idmap (idmap.h UserNamespace, callerMapping): made, pinned,
// re-opened and read back.
#include <fcntl.h>
#include <linux/capability.h>
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
#include "eci/sys_process.h"
#include "internal.h"

namespace eci::idmap {

using namespace detail;  // NOLINT(google-build-using-namespace): this library's own helpers

// ---------------------------------------------------------------------------------------------
// UserNamespace

namespace {

// Runs `use("/proc/<pid>")` while a short-lived child holds a new user namespace whose maps are
// `uidMap`/`gidMap` (uid_map syntax), written by host root from the parent namespace.
Status withNewUserns(const std::string& uidMap, const std::string& gidMap,
                     const std::function<Status(const std::string&)>& use) {
  // The holder shares our memory but keeps host root's credentials, in a namespace of host root's
  // (sys_process.h): only host root may ptrace it or read our memory through it.
  ECI_ASSIGN_OR_RETURN(holder, sys::UsernsHolder::start());
  const std::string proc = "/proc/" + std::to_string(holder.pid());
  // Root writes the maps from the parent namespace, so "setgroups deny" is not needed (and is
  // not wanted: container root may legitimately call setgroups).
  ECI_TRY(writeProcFile(proc + "/uid_map", uidMap));
  ECI_TRY(writeProcFile(proc + "/gid_map", gidMap));
  return use(proc);
}

}  // namespace

Result<UserNamespace> UserNamespace::create(const std::string& pinPath, IdRange uids,
                                            IdRange gids) {
  ECI_TRY(checkRange("uid", uids));
  ECI_TRY(checkRange("gid", gids));
  UserNamespace ns;
  ECI_TRY(withNewUserns(
      "0 " + std::to_string(uids.hostStart) + " " + std::to_string(uids.size),
      "0 " + std::to_string(gids.hostStart) + " " + std::to_string(gids.size),
      [&](const std::string& proc) -> Status {
        ECI_ASSIGN_OR_RETURN(nsfd, sys::open(proc + "/ns/user", O_RDONLY));
        ECI_ASSIGN_OR_RETURN(pin,
                             sys::open(pinPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0444));
        pin.reset();
        const std::string nsPath = proc + "/ns/user";
        if (::mount(nsPath.c_str(), pinPath.c_str(), nullptr, MS_BIND, nullptr) != 0) {
          Error e =
              Error::fromErrno("mount(" + quote(nsPath) + ", " + quote(pinPath) + ", MS_BIND)");
          ::unlink(pinPath.c_str());
          return e;
        }
        ns.path_ = pinPath;
        ns.fd_ = std::move(nsfd);
        return {};
      }));
  ns.uids_ = uids;
  ns.gids_ = gids;
  return ns;
}

Result<UniqueFd> callerMapping(IdRange container, uint32_t uid, uint32_t gid) {
  ECI_TRY(checkRange("uid", container));
  UniqueFd out;
  ECI_TRY(withNewUserns(callerMapText(uid, container), callerMapText(gid, container),
                        [&](const std::string& proc) -> Status {
                          ECI_ASSIGN_OR_RETURN(fd, sys::open(proc + "/ns/user", O_RDONLY));
                          out = std::move(fd);
                          return {};
                        }));
  return out;
}

namespace detail {

// On a mount ID-mapped through this map, on-disk id U shows as container root (host id R, the
// range's start) and container root's writes land as U. Every other on-disk id k maps to host id
// k, except the container's own range [R, R+size), which stays unmapped:
// - no process of the container holds any of those host ids (its user namespace maps only its
//   range), so a file of host root or of a third user is "other" to it: its mode bits decide, and
//   container root has no capability over it (the kernel grants CAP_DAC_OVERRIDE, CAP_FOWNER or
//   CAP_CHOWN over an inode only if the inode's owner and group are mapped in the caller's
//   namespace): root's 0600 files stay unreadable, root's files in a sticky directory cannot be
//   removed, and nothing can be chowned or made set-id there;
// - container users other than root (host ids R+1...) are not mapped at all, so only container
//   root can create files, and what it creates is U's: nothing on the host can become root's or
//   a third user's;
// - every inode has a mapping, so the kernel lets writes through where the mode bits allow: a
//   world-writable directory or file of root's (/tmp, a shared directory, an X11 socket) is
//   writable as it is for U on the host. Left unmapped, the kernel refuses any write to an inode
//   whose owner or group it cannot map (HAS_UNMAPPED_ID), stricter than U's own rights.
// (uid_t)-1 is never an id: the last line ends below it.
std::string callerMapText(uint32_t id, IdRange container) {
  constexpr uint64_t kEnd = 0xffffffffULL;  // exclusive
  const uint64_t r = container.hostStart, rEnd = r + container.size;
  std::string map = std::to_string(id) + " " + std::to_string(r) + " 1\n";
  auto identity = [&map](uint64_t from, uint64_t to) {
    if (to > from)
      map += std::to_string(from) + " " + std::to_string(from) + " " + std::to_string(to - from) +
             "\n";
  };
  // [0, kEnd) without the container's range and without `id` (which may lie inside the range):
  // the gaps between the two excluded intervals, taken in order.
  std::pair<uint64_t, uint64_t> cuts[2] = {{id, uint64_t{id} + 1}, {r, rEnd}};
  if (cuts[1].first < cuts[0].first) std::swap(cuts[0], cuts[1]);
  uint64_t from = 0;
  for (const auto& [cutStart, cutEnd] : cuts) {
    identity(from, cutStart);
    from = std::max(from, cutEnd);
  }
  identity(from, kEnd);
  return map;
}

// "0 <start> <size>" as a process inside the namespace reads /proc/self/{uid,gid}_map.
Result<IdRange> parseSingleMap(const std::string& text, const char* what) {
  unsigned long inside = 0, start = 0, size = 0;
  char extra = 0;
  const std::string first = text.substr(0, text.find('\n'));
  if (std::sscanf(first.c_str(), "%lu %lu %lu %c", &inside, &start, &size, &extra) != 3 ||
      inside != 0 || size == 0 || start > 0xffffffffUL || size > 0xffffffffUL ||
      text.find('\n') + 1 < text.size()) {
    return Error(std::string("the namespace's ") + what + " is not one range from 0: '" + text +
                 "'");
  }
  return IdRange{static_cast<uint32_t>(start), static_cast<uint32_t>(size)};
}

// Reads the namespace's maps from a child that joined it.
Result<std::pair<IdRange, IdRange>> readMaps(int nsfd) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error::fromErrno("pipe2()");
  UniqueFd rd(p[0]), wr(p[1]);
  const pid_t pid = ::fork();
  if (pid < 0) return Error::fromErrno("fork()");
  if (pid == 0) {
    // Only async-signal-safe calls from here.
    rd.reset();
    if (::setns(nsfd, CLONE_NEWUSER) != 0) _exit(1);
    char buf[512];
    for (const char* f : {"/proc/self/uid_map", "/proc/self/gid_map"}) {
      const int fd = ::open(f, O_RDONLY | O_CLOEXEC);
      if (fd < 0) _exit(1);
      const ssize_t n = ::read(fd, buf, sizeof buf);
      ::close(fd);
      if (n <= 0 || ::write(wr.get(), buf, static_cast<size_t>(n)) != n) _exit(1);
      if (::write(wr.get(), "|", 1) != 1) _exit(1);
    }
    _exit(0);
  }
  wr.reset();
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(rd.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error(ErrorKind::kDenied, "setns(CLONE_NEWUSER) to read the namespace's maps");
  }
  const size_t bar = out.find('|');
  if (bar == std::string::npos || out.size() < bar + 2)
    return Error("reading the namespace's maps");
  // The kernel pads the columns: "         0     100000      65536\n".
  auto squeeze = [](std::string t) {
    std::string r;
    bool space = true;
    for (char c : t) {
      if (c == ' ' || c == '\t') {
        if (!space) r += ' ';
        space = true;
      } else {
        r += c;
        space = c == '\n';
      }
    }
    return r;
  };
  ECI_ASSIGN_OR_RETURN(u, parseSingleMap(squeeze(out.substr(0, bar)), "uid_map"));
  ECI_ASSIGN_OR_RETURN(
      g, parseSingleMap(squeeze(out.substr(bar + 1, out.size() - bar - 2)), "gid_map"));
  return std::make_pair(u, g);
}

}  // namespace detail

Result<UserNamespace> UserNamespace::pinExisting(const std::string& pinPath,
                                                 const std::string& existing) {
  ECI_ASSIGN_OR_RETURN(nsfd, sys::open(existing, O_RDONLY));
  // NS_GET_NSTYPE: refuse anything but a user namespace (a pid or net ns file would "work" here).
  constexpr unsigned long kNsGetNsType = 0xb703;  // _IO(0xb7, 0x3)
  const int type = ::ioctl(nsfd.get(), kNsGetNsType);
  if (type != CLONE_NEWUSER) {
    return Error(type < 0 ? errno : EINVAL,
                 "ioctl(" + quote(existing) + ", NS_GET_NSTYPE) is not a user namespace");
  }
  ECI_ASSIGN_OR_RETURN(maps, readMaps(nsfd.get()));
  ECI_ASSIGN_OR_RETURN(pin, sys::open(pinPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0444));
  pin.reset();
  if (::mount(existing.c_str(), pinPath.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    Error e = Error::fromErrno("mount(" + quote(existing) + ", " + quote(pinPath) + ", MS_BIND)");
    ::unlink(pinPath.c_str());
    return e;
  }
  UserNamespace ns;
  ns.path_ = pinPath;
  ns.fd_ = std::move(nsfd);
  ns.uids_ = maps.first;
  ns.gids_ = maps.second;
  return ns;
}

UserNamespace::UserNamespace(UserNamespace&& o) noexcept
    : path_(std::exchange(o.path_, {})),
      fd_(std::move(o.fd_)),
      uids_(o.uids_),
      gids_(o.gids_),
      committed_(o.committed_) {}

UserNamespace& UserNamespace::operator=(UserNamespace&& o) noexcept {
  if (this != &o) {
    unpin();
    path_ = std::exchange(o.path_, {});
    fd_ = std::move(o.fd_);
    uids_ = o.uids_;
    gids_ = o.gids_;
    committed_ = o.committed_;
  }
  return *this;
}

UserNamespace::~UserNamespace() {
  unpin();
}

void UserNamespace::unpin() {
  if (committed_ || path_.empty()) return;
  ::umount2(path_.c_str(), MNT_DETACH);
  ::unlink(path_.c_str());
  path_.clear();
}

}  // namespace eci::idmap
