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

// Crash-safe replace: write a temp file in the same directory, fsync it, rename over `path`,
// fsync the directory. A crash at any point leaves either the old or the new content.
Status writeFileAtomic(const std::filesystem::path& path, const std::string& content,
                       mode_t mode = 0600);

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
