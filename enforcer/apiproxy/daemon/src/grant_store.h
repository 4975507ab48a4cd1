// The per-container socket grants on disk (issue 14): <stateDir>/grants/<token>.json, one record
// per granted socket (reserve.h: container id, image ID, creator uid/gid). They live in the
// guard's state directory (default /var/lib/eci/apiproxy, root 0700), not next to the sockets in
// /run: /run is empty after a reboot, and a container restarted by its restart policy must find
// its socket served again by a guard that knows whose it is. Root-only (0700 directory, 0600
// files), written atomically and fsynced (file and directory) before the create is answered.
// Never in the containers' view: only the socket file under the socket directory is bound.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "eci/error.h"
#include "eci/unique_fd.h"
#include "reserve.h"

namespace eci::apiproxy {

// Root-owned and writable by root alone (wantDir: a directory no one else may write; else: a
// regular file no one else may read or write): nobody else could have put anything in it.
Status checkRootOnly(int fd, const std::string& what, bool wantDir);

// The one way every grant record is read (GrantStore::load, grant_migrate.h): the file `name` in
// the already verified directory `dirFd`, never through a symlink, root-only (checkRootOnly),
// bounded, parsed strictly. `path` names it in errors. `opened`, if given, keeps the fd that was
// read (the migration removes exactly that file).
Result<GrantRecord> readGrantRecordAt(int dirFd, const std::string& name, const std::string& path,
                                      UniqueFd* opened = nullptr);

class GrantStore {
 public:
  explicit GrantStore(std::filesystem::path stateDir)
      : grantsDir_(std::move(stateDir) / "grants") {}
  const std::filesystem::path& dir() const { return grantsDir_; }
  // The file of `token`'s record (whether it exists or not).
  std::filesystem::path fileOf(const std::string& token) const;

  // Creates the state and grants directories (0700) if missing and makes the grants directory
  // root's 0700. Error if it is not a directory of root's (then nothing is stored or loaded).
  Status prepare() const;
  // Atomic replace, fsynced: a record is there whole or not at all, also after a power loss.
  Status store(const std::string& token, const GrantRecord& record) const;
  // Read back only from a root-owned directory no one else may write, a root-owned regular file
  // no one else may read or write, never through a symlink; the content parsed strictly. Every
  // error names the file: a corrupt or tampered record is no record (fail closed), and the admin
  // must be able to find it.
  Result<GrantRecord> load(const std::string& token) const;
  // Removes `token`'s record (no error if there is none).
  void remove(const std::string& token) const;
  // The tokens that have a record file (<32 lowercase hex>.json); other names are ignored.
  std::vector<std::string> tokens() const;

 private:
  std::filesystem::path grantsDir_;
};

}  // namespace eci::apiproxy
