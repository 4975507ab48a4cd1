// What eci-runc adds to a container's OCI spec so the container sees the emulation served at
// <base>/<id> (manager.h), and how the /proc/sys knobs get bound.
//
// runc (1.1.5 as every other version) refuses spec mounts inside /proc except a short lxcfs list
// (/proc/uptime, /proc/swaps, ...; checkProcMount). So /proc/uptime, /proc/swaps and the /sys
// paths are plain spec bind mounts, and the knobs under /proc/sys are bound by eci itself:
// - after `runc create` (what engines use), by eci-runc: the container's init is then blocked on
//   runc's exec fifo, so none of the container's code has run, and its mounts are final. This
//   costs no process: a hook is an exec from runc, ~10 ms of every start on the development VM;
// - under `runc run`, which starts the container itself and leaves eci-runc no such moment, by
//   eci-procfs-hook, run by runc as a createRuntime hook in the host's namespaces while the init
//   waits after its mounts and before pivot_root.
// Either way the knob mounts are FUSE mounts of type kFuseType, which the seccomp rules know
// as emulation whenever they appeared.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eci/error.h"

namespace eci::procfs {

inline constexpr const char* kDefaultHookPath = "/usr/libexec/eci/eci-procfs-hook";
// The mount type of every emulation mount (mountinfo's "fuse.<subtype>"). Containers cannot make
// one: fuse is not a type they may mount, and they have no /dev/fuse.
inline constexpr const char* kFuseType = "fuse.eci";

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

// Both of the above applied to `spec` (mounts appended; the hook appended to
// hooks.createRuntime unless hookPath is empty: then the caller binds the knobs itself).
// Errors if spec.mounts / hooks have the wrong JSON type.
Status addProcfsToSpec(nlohmann::json& spec, const std::string& id,
                       const std::filesystem::path& base, const std::filesystem::path& hookPath,
                       const ExistsFn& exists = {});

// eci-runc's entry point: reads the create grant's modules/procfs entry ({"base", "hook"},
// written by eci-enforcerd's procfs module) and applies addProcfsToSpec, with the hook only if
// !callerBindsKnobs. Returns <base>/<id> (for bindProcSys), or nullopt when there is no entry
// (the daemon runs without the module). Malformed entry: error.
Result<std::optional<std::filesystem::path>> addProcfsFromGrant(nlohmann::json& spec,
                                                                const std::string& id,
                                                                const nlohmann::json& grantModules,
                                                                bool callerBindsKnobs);

// Binds every knob file under <mountDir>/proc/sys over the same path in the container's procfs,
// inside the mount namespace of `initPid`. The container's root is <rootfs> as seen in that
// namespace (the hook, before pivot_root), or, with an empty rootfs, the root of `initPid` itself
// (after `runc create`, when runc has pivoted into it). Each target is opened beneath that root
// without following symlinks and must be on procfs, so a crafted image cannot redirect a bind.
// Forks (setns(CLONE_NEWNS) needs a single-threaded caller). Returns the number of knobs bound.
Result<int> bindProcSys(pid_t initPid, const std::filesystem::path& rootfs,
                        const std::filesystem::path& mountDir);

}  // namespace eci::procfs
