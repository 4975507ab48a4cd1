// Small file helpers with the guarantees eci's state needs.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "eci/error.h"

namespace eci::fs {

// Reads at most `maxBytes` (error "... is larger than N bytes" beyond that).
Result<std::string> readFile(const std::filesystem::path& path, size_t maxBytes);
// The same from an open fd, up to its end; `name` is what errors call it.
Result<std::string> readFd(int fd, size_t maxBytes, const std::string& name);

// How long a state file must last. kDurable: through a power loss (fsync of the file and of its
// directory). kThisBoot: only through a crash of the writing process - every reader in this boot
// sees old or new content (rename is atomic in the page cache), but after a power loss the file
// may hold anything; only for state that a reboot voids anyway (the caller must tell which boot
// wrote it, see RangeAllocator).
enum class Durability { kDurable, kThisBoot };

// Atomic replace: write a temp file in the same directory, rename it over `path` (with kDurable,
// fsync the file before and the directory after). Readers see either the old or the new content.
Status writeFileAtomic(const std::filesystem::path& path, const std::string& content,
                       mode_t mode = 0600, Durability durability = Durability::kDurable);

// mkdir -p with a mode for created directories.
Status makeDirs(const std::filesystem::path& path, mode_t mode = 0755);

// realpath(3) of the longest existing prefix of the absolute `path`, the missing rest appended as
// written (a -v source runc/dockerd would create; a path that does not exist has no symlink to
// follow). The tail is not normalised: a caller that wants `..` resolved as the kernel would does
// not clean `path` first, and normalises the result. A realpath failure other than ENOENT is an
// error, unless `skipUnresolvable`: that prefix (ENOTDIR, EACCES, ELOOP) then counts as missing
// too. Error when no prefix resolves.
Result<std::string> realpathWithMissingTail(const std::string& path, bool skipUnresolvable = false);

}  // namespace eci::fs
