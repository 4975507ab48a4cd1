// Syscall wrappers in one place. Each returns Result/Status with the call and its arguments in the
// message, retries EINTR where the call is restartable, and all fds are O_CLOEXEC. New mount API
// and seccomp-notify calls have no glibc wrappers on Debian 12, so they go through syscall(2).
// Kernel features are probed (see probe*), never inferred from the kernel version.
#pragma once

#include <linux/mount.h>
#include <sys/types.h>
#include <time.h>

#include <optional>
#include <string>
#include <vector>

#include "eci/error.h"
#include "eci/unique_fd.h"

namespace eci::sys {

Result<UniqueFd> open(const std::string& path, int flags, mode_t mode = 0);
Result<UniqueFd> openAt(int dirfd, const std::string& path, int flags, mode_t mode = 0);
// One write(2) of a whole message to a device that takes messages, not streams (/dev/fuse: a
// reply or notification is one write, the kernel refuses a partial one). EINTR is retried; a
// short write is an error. `what` names the message in the error.
Status writeMessage(int fd, const void* buf, size_t len, const std::string& what);

// New mount API (Linux >= 5.2; MOUNT_ATTR_IDMAP >= 5.12).
Result<UniqueFd> openTree(int dirfd, const std::string& path, unsigned flags);
Status mountSetattr(int dirfd, const std::string& path, unsigned flags, const mount_attr& attr);
Result<UniqueFd> fsopen(const std::string& fsname, unsigned flags);
Status fsconfig(int fsfd, unsigned cmd, const char* key, const void* value, int aux);
Result<UniqueFd> fsmount(int fsfd, unsigned flags, unsigned attrFlags);
Status moveMount(int fromDirfd, const std::string& fromPath, int toDirfd, const std::string& toPath,
                 unsigned flags);

Result<UniqueFd> pidfdOpen(pid_t pid, unsigned flags = 0);

// One message with file descriptors attached (SCM_RIGHTS) over a unix socket, retrying EINTR.
// Allocation-free and errno-style (-1 + errno) on purpose: usable between fork and exec of a
// multi-threaded process, where malloc is not safe.
//   sendWithFds: sends `len` bytes and `nfds` (<= kMaxPassedFds) descriptors.
//   recvWithFds: receives up to `len` bytes; received descriptors (O_CLOEXEC) go to fds[0..*nfds),
//   any beyond `maxFds` are closed so none leak; *truncated reports MSG_CTRUNC (the sender passed
//   more than the control buffer holds, i.e. more than kMaxPassedFds).
inline constexpr size_t kMaxPassedFds = 8;
ssize_t sendWithFds(int sock, const void* buf, size_t len, const int* fds, size_t nfds);
ssize_t recvWithFds(int sock, void* buf, size_t len, int* fds, size_t maxFds, size_t* nfds,
                    bool* truncated);

// The last step of a fork that runs this binary again (a helper process of a multi-threaded
// daemon): closes every fd from `firstToClose` up, unblocks every signal, and execs
// /proc/self/exe with `argv` (NULL-terminated); _exit(127) if that fails. Allocation-free and
// async-signal-safe: made for the child between fork and exec.
[[noreturn]] void execSelfInChild(char* const argv[], int firstToClose);

// statmount(2) (Linux 6.8): one mount's record - what a mountinfo line says about it - by the
// mount's unique id (statx STATX_MNT_ID_UNIQUE, see uniqueMountId), for a mount of the caller's
// mount namespace. Rendering a whole mountinfo to learn about one mount costs far more. ENOSYS on
// older kernels: callers fall back to mountinfo.
struct MountRecord {
  uint64_t uniqueId = 0, parentUniqueId = 0;
  uint32_t id = 0, parentId = 0;  // the ids mountinfo shows
  unsigned major = 0, minor = 0;  // the superblock's device
  std::string root;               // of the mount inside its file system
  std::string mountPoint;         // seen from the caller's root
  std::string fstype;
  uint64_t attr = 0;  // MOUNT_ATTR_* (MOUNT_ATTR_RDONLY: a read-only mount)
  // Propagation: the peer group (mountinfo's shared:N, 0 if not shared) and the master's group
  // (master:N, 0 if not a slave).
  uint64_t peerGroup = 0, master = 0;
};
Result<MountRecord> statMount(uint64_t uniqueId);
// statx's STATX_MNT_ID_UNIQUE (Linux 6.8; glibc 2.36 lacks the name).
inline constexpr unsigned kStatxMntIdUnique = 0x4000;
// The unique (never reused) id of the mount `fd` is on; ENOSYS-like EINVAL before Linux 6.8.
Result<uint64_t> uniqueMountId(int fd);

// The calling thread's capability sets (capget/capset of pid 0; bit n is capability n). The
// kernel allows setting an effective set within the permitted one, and raising it again later.
struct CapSets {
  uint64_t effective = 0, permitted = 0, inheritable = 0;
};
Result<CapSets> threadCaps();
Status setThreadCaps(const CapSets& caps);

// A clock's reading in nanoseconds (clock_gettime cannot fail for the clocks we use).
int64_t clockNs(clockid_t clock);

// A namespace's identity: the (device, inode) of its nsfs file, as stat() of /proc/<pid>/ns/<kind>
// or fstat() of an open namespace fd reports it.
struct NsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NsId&) const = default;
};
std::optional<NsId> nsIdOfFd(int fd);
// `path` relative to `dirfd` (AT_FDCWD for absolute paths), following links as stat() does.
std::optional<NsId> nsIdAt(int dirfd, const std::string& path);

// `mkdir -p path` exactly as the user uid:gid with supplementary `groups` would run it: a forked
// child drops every id to theirs (setgroups, setresgid, setresuid) before the first mkdir, so
// each permission check, symlink followed and owner of what is made is that user's. New
// directories get `mode` (umask 022). The caller must be root (CAP_SETUID/CAP_SETGID). Fails
// with the first mkdir's errno (EEXIST only when a component exists and is not a directory).
Status mkdirAllAs(const std::string& absPath, uid_t uid, gid_t gid,
                  const std::vector<gid_t>& groups, mode_t mode = 0755);

// Feature probes (cached after the first call).
bool probeIdmappedMounts();  // open_tree + mount_setattr(MOUNT_ATTR_IDMAP) on a tmpfs

}  // namespace eci::sys
