// Inside the per-container seccomp worker (worker.cc): what it knows about its container, how it
// reads a caller's memory, and the system side of rules.h's Environment - where a caller's paths
// lead, resolved in the caller's root, cwd and mount namespace.
#pragma once

#include <linux/openat2.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eci/seccomp/rules.h"
#include "eci/sys.h"
#include "eci/unique_fd.h"

namespace eci::seccomp::worker {

// "<pid>/<rest>", relative to the host /proc (worker_protocol.h kProcFd). After joining the
// container's mount namespace an absolute "/proc/..." would be the container's procfs (its pid
// namespace, its mounts), which the container controls.
std::string procPath(pid_t pid, const char* rest);
// The namespace of `kind` ("mnt", "user", ...) the task `pid` is in.
std::optional<sys::NsId> nsOf(pid_t pid, const char* kind);
// An fd on the task's namespace of `kind` ("mnt", "pid", ...), from the host /proc.
UniqueFd openNsOf(pid_t pid, const char* kind);

// Reads the caller's memory with process_vm_readv, page by page, so a string ending right before
// an unmapped page is still read.
class ProcessMemory : public MemoryReader {
 public:
  explicit ProcessMemory(pid_t pid) : pid_(pid) {}
  std::optional<std::string> readBytes(uint64_t addr, size_t len) override;
  std::optional<std::string> readString(uint64_t addr, size_t max) override;
  void readStrings(const std::vector<StringRead>& reads) override;

 private:
  pid_t pid_;
};

// Feature probe: statmount must exist here and describe our own root mount exactly as the
// container's initial mountinfo does; otherwise the worker keeps to mountinfo.
bool probeStatmount(const std::vector<MountEntry>& initial);

// What the worker knows about its container.
struct ContainerView {
  std::string id;
  std::unique_ptr<ContainerMounts> mounts;
  std::optional<sys::NsId> pidns, netns, userns;
  std::optional<sys::NsId> currentMntns;  // the mount namespace the worker is in now
  // The container's first mount namespace and, in it, the roots of its /proc and /sys, opened
  // when the worker starts: the templates of a fresh proc/sysfs's masks (worker_fresh.h).
  UniqueFd initialMntns, procTemplate, sysTemplate;
  std::optional<sys::NsId> firstMntns;  // initialMntns's id
  bool statmountWorks = false;          // probeStatmount() passed
};

// Brings the worker into the mount namespace `ns` of the task `pid` (its caller's) and records it
// in c.currentMntns; nothing when it is there already. errno, or 0.
int enterMntnsOf(pid_t pid, const std::optional<sys::NsId>& ns, ContainerView& c);

// The system side of rules.h's Environment for one notification. It may move the worker into
// the caller's mount namespace (describeFd), hence the mutable view.
class RealEnvironment : public Environment {
 public:
  RealEnvironment(pid_t pid, const Decoded& d, ContainerView& c) : pid_(pid), d_(d), c_(c) {}

  PathInfo resolve(Which which) override;
  PathInfo resolveCreated() override;
  PathInfo resolveInRoot(const std::string& absPath) override;
  const std::vector<MountEntry>* mountTable() override;
  bool callerHasSysAdmin() override;
  bool callerInContainerPidNs() override;
  bool callerInContainerNetNs() override;
  bool callerInContainerMntNs() override;

  // The caller's mount namespace, looked up once per notification.
  const std::optional<sys::NsId>& callerMntns();
  // Whether the caller is in the container's own user namespace (not a nested one), looked up
  // once per notification: describeFd and the worker's check before acting both ask.
  bool callerInContainerUserns();

  // Where a caller's path starts: the caller's root for an absolute path, else its cwd or
  // dirfd, and how the walk from there is confined (see openFrom).
  struct Start {
    UniqueFd base;
    uint64_t resolve = 0;
  };
  // The start of the call's created path (open, openat, creat, mknod, mknodat: their dirfd and
  // path). Opened with the worker's own credentials: /proc/<pid>/root, cwd and fd/ need ptrace
  // access, which a caller's ids do not always give. nullopt with errno set.
  std::optional<Start> createdStart();
  // Opens `path` from `start` with `flags` and `mode` (openat2: strict about flags), resolved
  // exactly as resolve() resolves a path. The worker's current credentials, umask and
  // capabilities apply (worker_act.h ActAsCaller). An fd, or an empty one with errno set.
  static UniqueFd openFrom(const Start& start, const std::string& path, uint64_t flags,
                           mode_t mode);
  // Which mount `fd` (one the worker opened) is on, as resolve() reports it for a path.
  PathInfo describe(int fd);

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

  // The directory a path of the caller starts from: its cwd (AT_FDCWD) or its fd `fdNum`.
  UniqueFd openBase(int fdNum);
  Start startOf(int dfd, const std::string& path);
  UniqueFd openNsFile(const ProcNsPath& p);
  // Resolves `path` as the caller would, into an O_PATH fd the worker owns (see worker_env.cc).
  PathInfo resolvePath(int dfd, const std::string& path, bool emptyOk, bool follow, UniqueFd& out);
  // The mount of `fd`. A new mount's target that is no mount root skips the mount look-up (the
  // rules ask nothing more of it).
  PathInfo describeFd(int fd, bool isNewMountTarget);

  pid_t pid_;
  const Decoded& d_;
  ContainerView& c_;
  Slot source_, target_, inRoot_, created_;
  bool tableLoaded_ = false;
  std::optional<std::vector<MountEntry>> table_;
  bool mntnsLooked_ = false;
  std::optional<sys::NsId> mntns_;
  std::optional<bool> inContainerUserns_;
};

}  // namespace eci::seccomp::worker
