#include "eci/file_lock.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "eci/unique_fd.h"

namespace eci {
namespace {

constexpr const char* kRootOnly = "MDM-deployed settings must be writable by root only";

std::string octalMode(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string readLinkText(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n < 0) return "?";
  return std::string(buf, static_cast<size_t>(n));
}

// Appends the problems of one path component. `isFile` selects the rules for the settings file
// itself; directories may be group/other writable only with the sticky bit, because then other
// users can add entries but cannot rename or unlink root's.
void inspect(const std::string& path, const struct stat& st, bool isFile,
             std::vector<LockProblem>& out) {
  if (S_ISLNK(st.st_mode)) {
    out.push_back({path, "is a symlink (to " + readLinkText(path) +
                             "); the file and every directory above it must be real, root-owned "
                             "entries"});
    return;
  }
  const std::string what = isFile ? "" : "directory ";
  if (isFile && !S_ISREG(st.st_mode)) {
    out.push_back({path, "is not a regular file"});
  } else if (!isFile && !S_ISDIR(st.st_mode)) {
    out.push_back({path, "is not a directory"});
    return;
  }
  if (st.st_uid != 0) {
    out.push_back({path, what + "owned by uid " + describeUser(st.st_uid) + ", not root"});
  }
  const bool sticky = !isFile && (st.st_mode & S_ISVTX) != 0;
  // "All users" already covers the group's members, so it is the one reason given.
  if ((st.st_mode & S_IWOTH) && !sticky) {
    out.push_back({path, what + "writable by all users (mode " + octalMode(st.st_mode) + ")"});
  } else if ((st.st_mode & S_IWGRP) && !sticky) {
    out.push_back({path, what + "writable by group " + describeGroup(st.st_gid)});
  }
}

}  // namespace

std::string describeGroup(gid_t gid) {
  struct group gr {};
  struct group* res = nullptr;
  char buf[4096];
  if (::getgrgid_r(gid, &gr, buf, sizeof buf, &res) == 0 && res != nullptr) {
    return std::to_string(gid) + " (" + res->gr_name + ")";
  }
  return std::to_string(gid);
}

std::string describeUser(uid_t uid) {
  struct passwd pw {};
  struct passwd* res = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res != nullptr) {
    return std::to_string(uid) + " (" + res->pw_name + ")";
  }
  return std::to_string(uid);
}

std::string LockProblem::str() const {
  return path + ": " + reason + "; " + kRootOnly;
}

std::string LockReport::str() const {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += "\n";
    out += p.str();
  }
  return out;
}

Result<LockReport> checkFileLocked(const std::filesystem::path& file) {
  std::filesystem::path abs = file;
  if (abs.is_relative()) {
    std::error_code ec;
    auto cwd = std::filesystem::current_path(ec);
    if (ec) return Error(ec.value(), "getcwd()");
    abs = cwd / abs;
  }
  // Lexical only: ".." through a symlink would be wrong, but any symlink is refused anyway.
  abs = abs.lexically_normal();
  if (!abs.has_filename())
    return Error(ErrorKind::kInvalidInput, "'" + file.string() + "' names a directory");

  LockReport report;
  report.file = abs;
  // Walk from "/" down to the file; each prefix is lstat'ed so a symlink is seen, not followed.
  std::filesystem::path cur;
  const auto last = std::prev(abs.end());
  for (auto it = abs.begin(); it != abs.end(); ++it) {
    cur /= *it;
    struct stat st {};
    if (::lstat(cur.c_str(), &st) != 0) return Error::fromErrno("lstat('" + cur.string() + "')");
    const bool isFile = it == last;
    const size_t before = report.problems.size();
    inspect(cur.string(), st, isFile, report.problems);
    if (isFile) {
      report.dev = st.st_dev;
      report.ino = st.st_ino;
    }
    // Past a symlink the rest of the walk would describe the link's target, which is already
    // refused; stop so the report names the real culprit only.
    if (S_ISLNK(st.st_mode) && report.problems.size() > before) break;
  }
  return report;
}

Result<std::string> readLockedFile(const std::filesystem::path& file, size_t maxBytes) {
  ECI_ASSIGN_OR_RETURN(report, checkFileLocked(file));
  if (!report.locked()) return Error(ErrorKind::kDenied, report.str());
  // O_NOFOLLOW + O_NONBLOCK: a last-moment swap to a symlink or a FIFO fails instead of being
  // followed or hanging the agent.
  UniqueFd fd(::open(report.file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open('" + report.file.string() + "', O_NOFOLLOW)");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::fromErrno("fstat('" + report.file.string() + "')");
  if (st.st_dev != report.dev || st.st_ino != report.ino) {
    return Error(ErrorKind::kUnavailable,
                 report.file.string() + ": replaced while being checked; try again");
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("read('" + report.file.string() + "')");
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > maxBytes) {
      return Error(ErrorKind::kTooLarge, "'" + report.file.string() + "' is larger than " +
                                             std::to_string(maxBytes) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace eci
