// The one parser of /proc/<pid>/mountinfo (proc(5)) every eci check uses: the seccomp
// supervisor's mount table, the ID-mapping code's overlay lookup, eci-runc's bind-source checks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci {

struct MountEntry {
  int id = 0;
  int parent = 0;
  unsigned major = 0, minor = 0;
  std::string root;          // path of the mount's root inside its filesystem
  std::string mountPoint;    // as seen from the reading process's root
  std::string options;       // per-mount options ("ro,nosuid,...")
  std::string fstype;        // "ext4", "overlay", "fuse.eci" (type.subtype)
  std::string source;        // "/dev/sda1", "overlay", "tmpfs", ...
  std::string superOptions;  // per-superblock options, still octal-escaped as the kernel shows
                             // them (overlay's lowerdir=... is decoded by its own parser)
  // Propagation (mountinfo's optional fields "shared:N" / "master:N"; statmount's peer group and
  // master): 0 = not shared / not a slave.
  uint64_t sharedGroup = 0, masterGroup = 0;
  bool readOnly() const;
};

// Parses mountinfo text; octal escapes (\040) in root, mount point, type and source are decoded.
// A malformed line is an error naming its line number (never a partial table); more than
// `maxEntries` mounts is E2BIG (the seccomp worker bounds what a container can make it read).
Result<std::vector<MountEntry>> parseMountInfo(std::string_view text, size_t maxEntries = SIZE_MAX);

// Reads and parses /proc/<pid>/mountinfo ("self" by default).
Result<std::vector<MountEntry>> readMountInfo(const std::string& pid = "self");

// Decodes the kernel's octal escapes (mountinfo, show_options): "\040" -> " ".
std::string unescapeOctal(std::string_view s);

// The top-most mount whose mount point is exactly `mountPoint` (the last one listed), or null.
const MountEntry* topMountAt(const std::vector<MountEntry>& table, std::string_view mountPoint);

// The mount a (resolved, absolute) path lies on: the top-most entry with the longest mount point
// that `path` is under. Null only for an empty table.
const MountEntry* mountOf(const std::vector<MountEntry>& table, std::string_view path);

}  // namespace eci
