#include "eci/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <random>

#include "eci/unique_fd.h"

namespace eci::fs {

Result<std::string> readFile(const std::filesystem::path& path, size_t maxBytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return Error::fromErrno("open('" + path.string() + "')");
  return readFd(fd.get(), maxBytes, path.string());
}

Result<std::string> readFd(int fd, size_t maxBytes, const std::string& name) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("read('" + name + "')");
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > maxBytes) {
      return Error(ErrorKind::kTooLarge,
                   "'" + name + "' is larger than " + std::to_string(maxBytes) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status writeFileAtomic(const std::filesystem::path& path, const std::string& content, mode_t mode,
                       Durability durability) {
  const bool durable = durability == Durability::kDurable;
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::random_device rd;
  const auto tmp = dir / ("." + path.filename().string() + ".tmp" + std::to_string(rd()));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return Error::fromErrno("open('" + tmp.string() + "', O_CREAT|O_EXCL)");
  ScopeExit removeTmp([&] { ::unlink(tmp.c_str()); });
  // The umask may have narrowed the mode; state files must have exactly the mode asked for.
  if (::fchmod(fd.get(), mode) != 0) return Error::fromErrno("fchmod('" + tmp.string() + "')");
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("write('" + tmp.string() + "')");
    }
    off += static_cast<size_t>(n);
  }
  if (durable && ::fsync(fd.get()) != 0) return Error::fromErrno("fsync('" + tmp.string() + "')");
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error::fromErrno("rename('" + tmp.string() + "', '" + path.string() + "')");
  }
  removeTmp.dismiss();
  if (!durable) return {};
  // Without the directory fsync a crash can lose the rename itself.
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return Error::fromErrno("open('" + dir.string() + "')");
  if (::fsync(dfd.get()) != 0) return Error::fromErrno("fsync('" + dir.string() + "')");
  return {};
}

Status makeDirs(const std::filesystem::path& path, mode_t mode) {
  std::filesystem::path cur;
  for (const auto& part : path) {
    cur /= part;
    if (cur.empty() || cur == "/") continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      return Error::fromErrno("mkdir('" + cur.string() + "')");
    }
  }
  return {};
}

Result<std::string> realpathWithMissingTail(const std::string& path, bool skipUnresolvable) {
  std::string prefix = path;
  std::string tail;
  for (int depth = 0; depth < 4096; ++depth) {
    std::unique_ptr<char, decltype(&free)> r(::realpath(prefix.c_str(), nullptr), &free);
    if (r) {
      std::string out = r.get();
      if (!tail.empty()) out = out == "/" ? tail : out + tail;
      return out;
    }
    if (errno != ENOENT && !skipUnresolvable) return Error::fromErrno("realpath('" + prefix + "')");
    const auto slash = prefix.rfind('/');
    if (slash == std::string::npos || prefix == "/") {
      return Error(ENOENT, "realpath('" + path + "')");
    }
    tail = prefix.substr(slash) + tail;
    prefix = slash == 0 ? "/" : prefix.substr(0, slash);
  }
  return Error(ErrorKind::kInvalidInput, "resolve('" + path + "')");
}

}  // namespace eci::fs
