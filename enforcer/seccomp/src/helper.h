// The per-container helper process: forked by the supervisor, joined to the container's user
// namespace as its root, it performs the privileged actions of rules.h on fds and private copies
// the supervisor sends. Its loop uses only system calls (it is forked from a threaded process).
#pragma once

#include <sys/mount.h>
#include <sys/types.h>

#include <cstdint>

#include "eci/seccomp/rules.h"

namespace eci::seccomp::helper {

struct Request {
  uint32_t action = 0;  // Action
  uint32_t hasTargetFd = 0, hasSourceFd = 0;
  uint32_t hasSource = 0, hasFstype = 0, hasData = 0;
  uint64_t flags = 0;
  mount_attr attr{};
  char source[kMaxPath + 1] = {};
  char fstype[kMaxFsName + 1] = {};
  char data[kMaxData + 1] = {};
  // kUmount: the target fd is the mount point's parent directory, `name` the last component,
  // and `mountId` the mount the supervisor decided on.
  char name[256] = {};
  uint64_t mountId = 0;
};
// fds travel with the request: [mntns, target?, source?].

struct Reply {
  int32_t err = 0;    // errno of the action, 0 on success
  int32_t hasFd = 0;  // a result fd follows (SCM_RIGHTS)
};

// Forks the helper. `usernsFd` is the container's user namespace. Returns the helper's pid and
// the supervisor's end of a SOCK_SEQPACKET pair.
struct Handle {
  pid_t pid = -1;
  int sock = -1;
};
Result<Handle> spawn(int usernsFd);

}  // namespace eci::seccomp::helper
