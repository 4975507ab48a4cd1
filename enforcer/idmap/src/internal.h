// Helpers shared by eci_idmap's files (idmap.cc, userns.cc, overlay.cc); not part of its interface.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eci/error.h"
#include "eci/idmap/idmap.h"

namespace eci::idmap::detail {

// 'path' quoted for messages.
std::string quote(const std::string& s);
// Lexically cleaned absolute path (no "//", "." or trailing '/').
std::string normalize(const std::string& p);
bool hasDotDot(const std::string& p);
std::vector<std::string_view> split(std::string_view s, char sep);
// The file system type of an open fd, for messages ("overlay", "fuse", or the magic in hex).
std::string fsTypeName(int fd);
// The path the kernel shows for an fd (/proc/self/fd/<fd>).
Result<std::string> fdPath(int fd);
// The mount id of `path` below `dirfd` (statx STATX_MNT_ID).
Result<uint64_t> mountIdOf(int dirfd, const std::string& path);
// The messages the kernel left on an fs context (fsopen/fsconfig), joined for an error.
std::string drainFsLog(int fsfd);
bool writeAllFd(int fd, const std::string& data);
Status writeProcFile(const std::string& path, const std::string& data);
Status checkRange(const char* what, IdRange r);
// A mount point for a bind at `target` (a directory or an empty file); `created` says whether it
// was made here, so a rollback removes only what this call made.
Status makeMountPoint(const std::string& target, bool directory, bool& created);
void removeMountPoint(const std::string& target);
// The uid_map (gid_map) text of callerMapping(): on-disk `id` <-> container root, every on-disk id
// outside the container's range (and other than `id`) to itself, the container's range unmapped.
std::string callerMapText(uint32_t id, IdRange container);
// The uid and gid ranges of the user namespace `nsfd` as a process inside it reads them.
Result<std::pair<IdRange, IdRange>> readMaps(int nsfd);

}  // namespace eci::idmap::detail
