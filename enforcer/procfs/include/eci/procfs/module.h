// The /proc and /sys emulation as an eci-enforcerd module: one FUSE mount per container created
// on the enforcer's `create` (before the grant goes to eci-runc) and removed on `release`, plus a
// health check thread. The grant carries, under modules/procfs, what eci-runc needs to add the
// mounts and the hook (spec.h): {"base": dir, "hook": path}.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include "eci/enforcerd/module.h"
#include "eci/procfs/manager.h"

namespace eci::procfs {

struct ModuleOptions {
  // manager.base empty (the default here) = "procfs" next to the control socket: /run/eci/procfs
  // in production, and a private directory for every test daemon (a daemon's start removes stale
  // mounts in its base, so two daemons must never share one).
  ManagerOptions manager = [] {
    ManagerOptions m;
    m.base.clear();
    return m;
  }();
  // eci-procfs-hook as runc will run it; empty = the installed one
  // (/usr/libexec/eci/eci-procfs-hook), else the build tree's next to eci-enforcerd.
  std::filesystem::path hook;
  std::chrono::milliseconds healthInterval{1000};
};

std::unique_ptr<enforcerd::Module> makeModule(ModuleOptions options = {});

}  // namespace eci::procfs
