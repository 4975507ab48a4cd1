// Inside the per-container seccomp worker (worker.cc): the actions rules.h's decide() asks for,
// done with the container root's credentials in the caller's mount namespace - or, where the
// kernel must check the caller's own rights (a file it creates, a mode it sets), with the
// caller's file-system ids, groups, capabilities and umask.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eci/seccomp/rules.h"
#include "eci/sys.h"
#include "eci/unique_fd.h"
#include "worker_env.h"

namespace eci::seccomp::worker {

// Returns errno (0 ok); a resulting fd (fsopen, fspick) goes to *outFd. Not for kCreateSetId
// (createSetId below).
int act(Action action, const Decoded& d, uint64_t flags, int target, int source,
        const std::string& name, uint64_t mountId, int* outFd);

// What the kernel checks a caller's file operations against, as /proc/<pid>/status shows them
// to the worker (ids as the container's user namespace sees them, which is the worker's).
struct CallerCredentials {
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  std::vector<gid_t> groups;
  uint64_t effectiveCaps = 0;
  mode_t umask = 022;
};
// Parses a /proc/<pid>/status text; nullopt if a field is missing or malformed.
std::optional<CallerCredentials> parseCallerCredentials(const std::string& status);
std::optional<CallerCredentials> readCallerCredentials(pid_t pid);

// While alive, the worker's file-system ids, groups, effective capabilities and umask are the
// caller's, so every permission check of what it does is the one the kernel would have made for
// the caller. A worker that cannot put its own back exits (its in-flight notification is then
// answered by the supervisor, and a new worker serves the container): it must never go on
// deciding with a caller's credentials.
class ActAsCaller {
 public:
  explicit ActAsCaller(const CallerCredentials& caller);
  ~ActAsCaller();
  ActAsCaller(const ActAsCaller&) = delete;
  ActAsCaller& operator=(const ActAsCaller&) = delete;
  // 0, or the errno of the step that failed (then nothing may be done as the caller).
  int error() const { return err_; }

 private:
  int err_ = 0;
  sys::CapSets saved_{};
  mode_t savedUmask_ = 022;
};

// The mode chmod(2) would set for the caller, or an errno: the caller must own the file or hold
// CAP_FOWNER, and S_ISGID is dropped when it is not in the file's group and lacks CAP_FSETID.
int chmodModeFor(pid_t pid, int fd, uint64_t mode, uint64_t* out);

// Action::kCreateSetId: the file is made by the worker as the caller, without the set-id bits;
// only once the new file's own fd shows it is on the container's own files are the bits added
// (fchmod on that fd). Returns errno (0 ok); for open/openat/creat the new fd goes to *outFd.
// `reason` says why a refusal was made, for the audit record.
int createSetId(RealEnvironment& env, const Decoded& d, const ContainerMounts& mounts, pid_t pid,
                UniqueFd* outFd, const char** reason);

}  // namespace eci::seccomp::worker
