// "Locked" settings files: a file an MDM tool deployed must be changeable by root only. Shared by
// eci-agent (refuses unlocked files) and `eci-admin validate --check-permissions`.
//
// A file is locked when nothing on its path lets a non-root user change what the agent reads:
//   - the file is a regular file owned by root, without group or other write permission;
//   - no component of the path is a symlink (a user could aim it at a file they own, and even a
//     root-owned link hides where the content really comes from);
//   - every parent directory is owned by root and is not group/other writable, unless it carries
//     the sticky bit (then users can add entries but cannot rename or delete root's).
// Each problem is reported with the path component at fault and a plain reason, e.g.
//   /usr/share/docker-desktop/admin-settings.json: writable by group 1000 (staff); MDM-deployed
//   settings must be writable by root only
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "eci/error.h"

namespace eci {

struct LockProblem {
  std::string path;    // the component at fault (the file itself or a parent directory)
  std::string reason;  // "writable by group 1000 (staff)"
  // "<path>: <reason>; MDM-deployed settings must be writable by root only"
  std::string str() const;
};

struct LockReport {
  std::filesystem::path file;  // absolute, as checked (symlinks not resolved)
  std::vector<LockProblem> problems;
  dev_t dev = 0;  // the file's inode as checked (readLockedFile compares its fd against these)
  ino_t ino = 0;
  bool locked() const { return problems.empty(); }
  // All problems, one per line (empty when locked).
  std::string str() const;
};

// Inspects `file` and each of its parent directories with lstat(2). Returns an Error only when the
// check itself cannot be done (file missing, a directory unreadable); an unlocked file is a
// successful LockReport with problems.
Result<LockReport> checkFileLocked(const std::filesystem::path& file);

// Checks the file, then reads it (at most `maxBytes`) through an O_NOFOLLOW fd and makes sure the
// fd is the inode that was checked, so a swap between check and read is caught. An unlocked file
// is an Error whose message is LockReport::str() (errno EPERM).
Result<std::string> readLockedFile(const std::filesystem::path& file, size_t maxBytes);

// "1000 (staff)" / "1000" when the id has no name. Exposed for messages elsewhere.
std::string describeGroup(gid_t gid);
std::string describeUser(uid_t uid);

}  // namespace eci
