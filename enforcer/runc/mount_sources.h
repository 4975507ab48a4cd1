// Which host paths a container spec may mount (ECI's File sharing rule,
// docs/design/bind-sources.md).
//
// Every mount is judged by the host paths it names, never by its type: bind/rbind sources, the
// paths in overlay's lowerdir/upperdir/workdir (and any other option whose value is a path), the
// source of a filesystem type eci does not know, and the host directory a local volume's `_data`
// really shows (the kernel's mount table first, the engine's opts.json as a second opinion).
//
// A host path may be mounted only if, resolved (symlinks, `..`, /proc/<pid>/root, /proc/*/fd,
// /proc/self, /dev/fd), it lies under an allowed directory (the built-in user areas plus the
// policy's fileSharingAllowedDirectories) and is neither under nor a parent of a restricted path.
// Exceptions, decided first: the engine's own files for this container, named volumes in the
// engine's volume dir (whose real source gets the same rule), the guard's per-container socket.
//
// Pure apart from SpecContext's host hooks (resolve, hostMounts, readFile, isSocket), so every
// rule is unit tested and fuzzed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"
#include "eci/mountinfo.h"
#include "spec_rewrite.h"

namespace eci::runc {

// Docker's wording (its ECI "restricted host mount" refusal).
std::string restrictedMountMessage(const std::string& path);

// Checks every entry of the spec's `mounts` (the first refusal wins).
Status checkMountSources(const nlohmann::json& spec, const SpecContext& ctx);

// eci-runc, after the ID-mapped bind opened its source: the same rule on the path the kernel
// really opened (`opened`, from the fd), so a symlink swapped in after the first check is caught.
// `mount` is the spec entry, `written` its source as given.
Status checkOpenedBind(const nlohmann::json& mount, const std::string& written,
                       const std::string& opened, const SpecContext& ctx);

// What a bind source is, for eci-runc's ID-mapping choice (contract 4: only host binds act with
// the caller's rights; named volumes and the engine's files keep the container's mapping). A local
// volume that shows host files (o=bind device=<dir>, overlay layers, a host block device) is kHost.
enum class SourceKind { kHost, kEngineFile, kNamedVolume, kGuardSocket };
// `resolved` as checkBindSource saw it (absolute, resolved).
SourceKind classifyBindSource(const std::string& resolved, const SpecContext& ctx);

// Overlay mount data ("lowerdir=/a:/b,upperdir=/u,workdir=/w,index=off") -> every host path it
// names. Split as the kernel splits mount(2) data (a backslash takes the next character
// literally); `fromMountinfo`: the text is mountinfo's super options, whose octal escapes
// (\072) are decoded instead. A relative or empty path is an error (refused, never guessed).
Result<std::vector<std::string>> overlayPaths(std::string_view data, bool fromMountinfo = false);

// A local volume's opts.json (<data-root>/volumes/<name>/opts.json, moby's volume/local):
// {"MountType":"none","MountOpts":"bind","MountDevice":"/etc/docker","Quota":{}} -> the host paths
// mounting it names (device= of a bind or of a block device, overlay options' dirs). Malformed is
// an error.
struct VolumeOpts {
  std::string type;    // MountType
  std::string opts;    // MountOpts
  std::string device;  // MountDevice
};
Result<VolumeOpts> parseVolumeOpts(std::string_view json);
Result<std::vector<std::string>> volumeOptsPaths(const VolumeOpts& v);

// The host paths a mount shows, from the kernel's table: for a mount whose filesystem is also
// mounted elsewhere (a bind), each mount of the filesystem's root plus m's root (all must pass
// the rule), else the shortest path through another bind; empty when the filesystem is mounted
// only here (tmpfs, a fresh block device or network mount).
std::vector<std::string> hostPathsOfMount(const std::vector<MountEntry>& table,
                                          const MountEntry& m);

}  // namespace eci::runc
