// Putting a mount into another process's mount namespace (the Engine API guard re-serving a
// running container's engine socket after a restart). Raw syscalls, so they live in eci::sys.
#pragma once

#include <sys/types.h>

#include <string>

#include "eci/error.h"
#include "eci/unique_fd.h"

namespace eci::sys {

// pidfd_send_signal(pidfd, 0): true while the process the pidfd names is alive. A pid read
// earlier (from the engine) may have been recycled; a pidfd opened after it and still alive
// afterwards pins one process for every check made in between.
bool pidfdAlive(int pidfd);

// Replaces what is mounted at `destination` in the mount namespace of the process `pidfd` names
// by the detached tree `treeFd` (open_tree(..., OPEN_TREE_CLONE) made in OUR namespace). A forked
// child does it: setns(CLONE_NEWNS) needs a single-threaded caller, and the guard is
// multi-threaded. The child enters the namespace by the pidfd (no /proc/<pid> race), resolves the
// destination's parent with openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS from that namespace's
// root (the container's rootfs) and the last component without following it, unmounts the
// sockets stacked there (a bind of an unlinked file cannot be mounted on; anything that is not a
// socket, such as eci's /proc emulation reached through a container-made symlink, is an error and
// stays), and moves the tree onto the mount point left. Only async-signal-safe calls happen in the
// child. Needs root (CAP_SYS_ADMIN over the target's user namespace).
Status replaceMountInNs(int treeFd, int pidfd, const std::string& destination);

}  // namespace eci::sys
