// The per-container socket grants on disk (grant_store.h).
#include "grant_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eci/fs_util.h"
#include "eci/sys.h"

namespace eci::apiproxy {

namespace {

constexpr std::string_view kRecordSuffix = ".json";
// A grant record is a few hundred bytes; anything beyond this is not one.
constexpr size_t kMaxGrantRecordSize = 4096;

}  // namespace

// Root-owned and writable by root alone: nobody else could have put anything in it. A record
// must not even be readable by others (it names who created which container).
Status checkRootOnly(int fd, const std::string& what, bool wantDir) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Error::fromErrno("fstat(" + what + ")");
  if (wantDir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
    return Error(what + " is not a " + (wantDir ? "directory" : "regular file"));
  }
  if (st.st_uid != 0) return Error(what + " is not owned by root");
  if ((st.st_mode & (wantDir ? 022 : 077)) != 0) return Error(what + " is open to others");
  return okStatus();
}

std::filesystem::path GrantStore::fileOf(const std::string& token) const {
  return grantsDir_ / (token + std::string(kRecordSuffix));
}

Status GrantStore::prepare() const {
  ECI_TRY(fs::makeDirs(grantsDir_, 0700));
  ECI_ASSIGN_OR_RETURN(dir, sys::open(grantsDir_.string(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  struct stat st {};
  if (::fstat(dir.get(), &st) != 0) return Error::fromErrno("fstat(" + grantsDir_.string() + ")");
  if (st.st_uid != 0) return Error(grantsDir_.string() + " is not owned by root");
  // Root-only, whatever an admin or an older package left (records name creators).
  if ((st.st_mode & 07777) != 0700 && ::fchmod(dir.get(), 0700) != 0) {
    return Error::fromErrno("chmod(" + grantsDir_.string() + ", 0700)");
  }
  return okStatus();
}

Status GrantStore::store(const std::string& token, const GrantRecord& record) const {
  if (!isSocketToken(token)) return Error("grant record: bad token " + token);
  return fs::writeFileAtomic(fileOf(token), grantRecordJson(record), 0600,
                             fs::Durability::kDurable);
}

Result<GrantRecord> GrantStore::load(const std::string& token) const {
  if (!isSocketToken(token)) return Error("grant record: bad token " + token);
  const std::string dirName = grantsDir_.string();
  ECI_ASSIGN_OR_RETURN(dir, sys::open(dirName, O_PATH | O_DIRECTORY | O_NOFOLLOW));
  ECI_TRY(checkRootOnly(dir.get(), dirName, /*wantDir=*/true));
  return readGrantRecordAt(dir.get(), token + std::string(kRecordSuffix), fileOf(token).string());
}

Result<GrantRecord> readGrantRecordAt(int dirFd, const std::string& name, const std::string& path,
                                      UniqueFd* opened) {
  // O_NONBLOCK: a FIFO planted there must not hang the reader (it is then refused: not regular).
  ECI_ASSIGN_OR_RETURN(file, sys::openAt(dirFd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
  ECI_TRY(checkRootOnly(file.get(), path, /*wantDir=*/false));
  ECI_ASSIGN_OR_RETURN(text, fs::readFd(file.get(), kMaxGrantRecordSize, path));
  auto r = parseGrantRecord(text);
  if (!r.ok()) return Error(path + " is corrupt: " + r.error().str());
  if (opened) *opened = std::move(file);
  return r;
}

void GrantStore::remove(const std::string& token) const {
  if (!isSocketToken(token)) return;
  ::unlink(fileOf(token).c_str());
}

std::vector<std::string> GrantStore::tokens() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(grantsDir_, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() != 32 + kRecordSuffix.size() || !name.ends_with(kRecordSuffix)) continue;
    name.resize(32);
    if (isSocketToken(name)) out.push_back(std::move(name));
  }
  return out;
}

}  // namespace eci::apiproxy
