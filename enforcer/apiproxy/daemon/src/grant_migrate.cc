// Grant records of a guard older than the state directory (grant_migrate.h).
#include "grant_migrate.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "eci/log.h"
#include "eci/sys.h"
#include "reserve.h"

namespace eci::apiproxy {

namespace {

const std::string kOldRecordName(kGrantRecordName);

enum class Moved { kStored, kSuperseded };

// The same file still sits at `name` in `dir`: the inode that was read is the one removed.
bool sameFileAt(int dir, const std::string& name, int fd) {
  struct stat read {};
  struct stat now {};
  return ::fstat(fd, &read) == 0 && ::fstatat(dir, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
         read.st_dev == now.st_dev && read.st_ino == now.st_ino;
}

// One old record: <socketDir>/<name>/grant.json, read as the old guard's reader did
// (readGrantRecord before e496217), then stored in `store` unless the token has a record there,
// then removed. An error means the record was not trusted (or not stored) and is left in place.
Result<Moved> migrateOne(int socketDirFd, const std::string& socketDirName, const std::string& name,
                         const GrantStore& store) {
  // The old guard named every socket directory by its token; anything else it did not make.
  if (!isSocketToken(name)) return Error("'" + name + "' is not a socket token");
  const std::string dirName = socketDirName + "/" + name;
  const std::string fileName = dirName + "/" + kOldRecordName;
  // Each step from the fd of the step before, never through a symlink (O_NOFOLLOW on the one
  // component opened): a path swapped in meanwhile cannot redirect the read or the removal.
  ECI_ASSIGN_OR_RETURN(dir, sys::openAt(socketDirFd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW));
  ECI_TRY(checkRootOnly(dir.get(), dirName, /*wantDir=*/true));
  // The old guard wrote 0600 root and its reader refused any group/other bit: so does this.
  UniqueFd file;
  ECI_ASSIGN_OR_RETURN(record, readGrantRecordAt(dir.get(), kOldRecordName, fileName, &file));

  // A record in the state directory was written by this guard, after the old one: it wins
  // (whatever state it is in: load() judges it, an older record never replaces it).
  Moved moved = Moved::kSuperseded;
  const std::string newFile = store.fileOf(name).string();
  struct stat st {};
  if (::lstat(newFile.c_str(), &st) != 0) {
    if (errno != ENOENT) return Error::fromErrno("lstat(" + newFile + ")");
    // Stored (atomic, fsynced) before the old file goes: a crash in between leaves both, and the
    // next start finds the new one and removes the old.
    if (auto s = store.store(name, record); !s.ok()) {
      return Error("not stored in " + store.dir().string() + ": " + s.error().str());
    }
    moved = Moved::kStored;
  }
  // Only the file that was read, by name in its verified directory. The directory is root's and
  // no one else may write it, so nothing else can be there; checked anyway (one stat).
  if (!sameFileAt(dir.get(), kOldRecordName, file.get())) {
    LOG_WARN("old grant record %s changed while it was migrated: not removed", fileName.c_str());
  } else if (::unlinkat(dir.get(), kOldRecordName.c_str(), 0) != 0) {
    // The grant is where it belongs now; the old file goes at the next start (superseded then).
    LOG_WARN("old grant record %s: could not be removed (%s); removed at the next start",
             fileName.c_str(), std::strerror(errno));
  }
  return moved;
}

}  // namespace

Result<GrantMigration> migrateOldGrantRecords(const std::filesystem::path& socketDir,
                                              const GrantStore& store) {
  GrantMigration m;
  const std::string socketDirName = socketDir.string();
  auto top = sys::open(socketDirName, O_PATH | O_DIRECTORY | O_NOFOLLOW);
  if (!top.ok()) {
    if (top.error().code() == ENOENT) return m;  // /run emptied by a reboot: no old record
    return std::move(top).error();
  }
  // What anyone but root could have put in this directory is no record.
  ECI_TRY(checkRootOnly(top->get(), socketDirName, /*wantDir=*/true));

  // The names only: each is opened again below from the verified fd, so a listing of something
  // swapped in at the path can only name entries that are then looked up in the verified dir.
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(socketDir, ec), end; !ec && it != end;
       it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) return Error(ec.value(), "listing " + socketDirName);  // str() adds the errno text

  for (const std::string& name : names) {
    // Only entries holding an old record are this step's: a socket directory of this guard has
    // its socket only. (A symlinked entry is followed for this probe only, so that it is found
    // and refused below, not silently skipped.)
    struct stat probe {};
    const std::string rel = name + "/" + kOldRecordName;
    if (::fstatat(top->get(), rel.c_str(), &probe, AT_SYMLINK_NOFOLLOW) != 0) continue;
    const std::string oldFile = socketDirName + "/" + rel;
    auto moved = migrateOne(top->get(), socketDirName, name, store);
    if (!moved.ok()) {
      // Fail closed: no record for that token, so its socket is not served again; the file stays
      // for the admin, named here.
      LOG_WARN("old grant record %s refused (left in place, its socket is not served again): %s",
               oldFile.c_str(), moved.error().str().c_str());
      ++m.refused;
    } else if (*moved == Moved::kStored) {
      LOG_INFO("old grant record %s migrated to %s", oldFile.c_str(), store.fileOf(name).c_str());
      ++m.migrated;
    } else {
      LOG_INFO("old grant record %s removed: %s is the newer record", oldFile.c_str(),
               store.fileOf(name).c_str());
      ++m.superseded;
    }
  }
  LOG_INFO("grant records migrated from %s: %d, refused: %d (superseded by a newer record: %d)",
           socketDirName.c_str(), m.migrated, m.refused, m.superseded);
  return m;
}

}  // namespace eci::apiproxy
