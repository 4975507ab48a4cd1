// What eci-runc adds to a container's OCI spec so the container sees the emulation served at
// <base>/<id> (manager.h), and the createRuntime hook that binds the /proc/sys knobs.
//
// Why a hook for /proc/sys: runc (1.1.5 as every other version) refuses spec mounts inside /proc
// except a short lxcfs list (/proc/uptime, /proc/swaps, ...; checkProcMount). So /proc/uptime,
// /proc/swaps and the /sys paths are plain spec bind mounts, and the knobs under /proc/sys are
// bound by eci-procfs-hook, which runc runs as a createRuntime hook in the host's namespaces while
// the container's init waits after its mounts and before pivot_root.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eci/error.h"

namespace eci::procfs {

inline constexpr const char* kDefaultHookPath = "/usr/libexec/eci/eci-procfs-hook";

// Host path existence (a /sys bind is added only where the kernel has the target: binding onto a
// missing path would make runc try to create it in sysfs and fail the start).
using ExistsFn = std::function<bool(const std::string& hostPath)>;

// Container ids eci serves: [A-Za-z0-9_.-]{1,128}, not "." or "..".
bool validContainerId(const std::string& id);

// OCI mounts to APPEND to spec.mounts (after the engine's /proc and /sys):
// /proc/uptime, /proc/swaps, /sys/kernel/{debug,tracing,security,config} (those that exist),
// /sys/devices/virtual/dmi/id/product_uuid (if it exists). Sources are <base>/<id>/...
std::vector<nlohmann::json> procfsMountsForSpec(const std::string& id,
                                                const std::filesystem::path& base,
                                                const ExistsFn& exists = {});

// The hooks.createRuntime entry running `hookPath --base <base>`.
nlohmann::json procfsHookForSpec(const std::filesystem::path& hookPath,
                                 const std::filesystem::path& base);

// Both of the above applied to `spec` (mounts appended, hook appended to
// hooks.createRuntime). Errors if spec.mounts / hooks have the wrong JSON type.
Status addProcfsToSpec(nlohmann::json& spec, const std::string& id,
                       const std::filesystem::path& base, const std::filesystem::path& hookPath,
                       const ExistsFn& exists = {});

// eci-runc's entry point: reads the create grant's modules/procfs entry ({"base", "hook"},
// written by eci-enforcerd's procfs module) and applies addProcfsToSpec. No entry: nothing to
// add (the daemon runs without the module). Malformed entry: error.
Status addProcfsFromGrant(nlohmann::json& spec, const std::string& id,
                          const nlohmann::json& grantModules);

// The hook's work: bind every knob file under <mountDir>/proc/sys over the same path in the
// container's procfs at <rootfs>/proc/sys, inside the mount namespace of `initPid`. Each target
// is opened beneath <rootfs> without following symlinks and must be on procfs, so a crafted
// image cannot redirect the bind. Forks (setns(CLONE_NEWNS) needs a single-threaded caller).
// Returns the number of knobs bound.
Result<int> bindProcSys(pid_t initPid, const std::filesystem::path& rootfs,
                        const std::filesystem::path& mountDir);

}  // namespace eci::procfs
