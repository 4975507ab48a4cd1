// Grant records of a guard older than the state directory (issue 14). Before commit e496217 the
// guard kept each per-container socket's grant record next to the socket, as
// <socketDir>/<token>/grant.json (root, 0600, written atomically, in a root-owned 0711 directory);
// the guard now reads <stateDir>/grants/<token>.json only (grant_store.h). Without this step an
// upgrade would leave every socket granted before it dead until its container is re-created.
//
// At guard start, before the reconcile pass reads the records (reconcile.h), each old record is
// read with the strictness the store uses for its own (checkRootOnly on the token directory and
// the file, never through a symlink, the token exactly 32 lowercase hex, the content parsed by
// parseGrantRecord, as the old guard's reader did), stored through GrantStore::store (atomic,
// fsynced), and only then removed. A migrated record gives nothing by itself: the reconcile pass
// still checks it against the engine (this container, this image) and the current policy before
// the socket is served again.
#pragma once

#include <filesystem>

#include "eci/error.h"
#include "grant_store.h"

namespace eci::apiproxy {

struct GrantMigration {
  int migrated = 0;    // stored in the state directory, the old file removed
  int refused = 0;     // not trusted (or not stored): left in place, logged with its file
  int superseded = 0;  // the token had a record in the state directory already: that one kept,
                       // the old file removed
};

// Migrates every <socketDir>/<name>/grant.json into `store` (prepared: GrantStore::prepare).
// Fail closed: a record that is not exactly what the old guard wrote (a name that is not a token,
// a symlink anywhere at or below <socketDir>, not root's, open to others, not a regular file,
// too large, not a strict record) is logged with its path and left where it is, never stored,
// never removed. Nothing but an old record file that passed those checks is ever removed. Error
// (nothing migrated) only if <socketDir> itself is not a directory of root's no one else may
// write; no <socketDir> (a reboot emptied /run) is nothing to migrate.
Result<GrantMigration> migrateOldGrantRecords(const std::filesystem::path& socketDir,
                                              const GrantStore& store);

}  // namespace eci::apiproxy
