#include "eci/ipc.h"

#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "eci/fs_util.h"
#include "json_strict.h"

namespace eci::ipc {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

Result<sockaddr_un> unixAddress(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& s = path.native();
  if (s.empty() || s.size() >= sizeof addr.sun_path) {
    return Error(ErrorKind::kInvalidInput, "socket path '" + s + "' is empty or longer than " +
                                               std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  return addr;
}

// Milliseconds left until `deadline`, for poll(); never negative.
int remainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > INT32_MAX ? INT32_MAX : static_cast<int>(left);
}

// Waits for `events` on fd until the deadline. ETIMEDOUT when it passes.
Status waitFor(int fd, short events, Clock::time_point deadline, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ms = remainingMs(deadline);
    const int rc = ::poll(&p, 1, ms);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno(std::string("poll(") + what + ")");
    }
    if (rc == 0)
      return Error(ErrorKind::kTimeout, std::string(what) + ": peer did not respond in time");
    // POLLHUP/POLLERR: let the following recv/send report what happened.
    return {};
  }
}

// Reads exactly n bytes. `gotAny` tells the caller whether a clean EOF happened between frames.
Status readFull(int fd, char* buf, size_t n, Clock::time_point deadline, bool* gotAny) {
  size_t off = 0;
  while (off < n) {
    ECI_TRY(waitFor(fd, POLLIN, deadline, "reading frame"));
    // MSG_DONTWAIT: the fd may be in blocking mode, and poll() readiness can be spurious.
    const ssize_t r = ::recv(fd, buf + off, n - off, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return Error::fromErrno("recv(fd " + std::to_string(fd) + ")");
    }
    if (r == 0) {
      if (off == 0 && gotAny != nullptr && !*gotAny) {
        return Error(ErrorKind::kProtocol, "reading frame: peer closed the connection");
      }
      return Error(ErrorKind::kProtocol, "reading frame: peer closed the connection mid-frame (" +
                                             std::to_string(off) + " of " + std::to_string(n) +
                                             " bytes)");
    }
    off += static_cast<size_t>(r);
    if (gotAny != nullptr) *gotAny = true;
  }
  return {};
}

Status writeFull(int fd, const char* buf, size_t n, Clock::time_point deadline) {
  size_t off = 0;
  while (off < n) {
    ECI_TRY(waitFor(fd, POLLOUT, deadline, "writing frame"));
    // MSG_NOSIGNAL: a peer that went away must be an EPIPE error, not a SIGPIPE killing the
    // enforcer.
    const ssize_t w = ::send(fd, buf + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return Error::fromErrno("send(fd " + std::to_string(fd) + ")");
    }
    off += static_cast<size_t>(w);
  }
  return {};
}

Status setNonBlocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return Error::fromErrno("fcntl(F_GETFL)");
  const int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && ::fcntl(fd, F_SETFL, want) < 0) return Error::fromErrno("fcntl(F_SETFL)");
  return {};
}

}  // namespace

Result<UniqueFd> listenUnix(const std::filesystem::path& path, int backlog) {
  ECI_ASSIGN_OR_RETURN(addr, unixAddress(path));
  const std::string& p = path.native();
  if (path.has_parent_path()) {
    std::error_code ec;
    if (!std::filesystem::exists(path.parent_path(), ec)) {
      ECI_TRY(fs::makeDirs(path.parent_path(), 0700));
    }
  }
  struct stat st {};
  if (::lstat(p.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error(ErrorKind::kConflict, "listen on '" + p + "': path exists and is not a socket");
    }
    // A socket file left by a crashed daemon refuses connections; a live one accepts. Never steal
    // the path from a running instance (two enforcers would hand out the same uid ranges).
    // Non-blocking: a live server with a full backlog would otherwise block this connect.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!probe) return Error::fromErrno("socket(AF_UNIX)");
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
        errno == EAGAIN) {
      return Error(ErrorKind::kConflict,
                   "listen on '" + p + "': another process is listening there");
    }
    if (errno != ECONNREFUSED && errno != ENOENT) {
      return Error::fromErrno("connect('" + p + "') (checking for a live listener)");
    }
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
      return Error::fromErrno("unlink('" + p + "') (stale socket)");
    }
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::fromErrno("socket(AF_UNIX)");
  // The socket file gets its mode at bind() from the umask; a chmod afterwards would leave a
  // window in which any local user could connect. umask is process-wide, so a concurrent file
  // creation in another thread may briefly see 0177 too — only ever narrower, never wider.
  const mode_t old = ::umask(0177);
  const int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bindErr = errno;
  ::umask(old);
  if (rc != 0) return Error(bindErr, "bind('" + p + "')");
  if (::chmod(p.c_str(), 0600) != 0) return Error::fromErrno("chmod('" + p + "', 0600)");
  if (::listen(fd.get(), backlog) != 0) return Error::fromErrno("listen('" + p + "')");
  return fd;
}

Result<UniqueFd> connectUnix(const std::filesystem::path& path, milliseconds timeout) {
  ECI_ASSIGN_OR_RETURN(addr, unixAddress(path));
  const auto deadline = Clock::now() + timeout;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::fromErrno("socket(AF_UNIX)");
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) break;
    if (errno == EINTR) continue;
    // A non-blocking AF_UNIX connect returns EAGAIN when the listener's backlog is full (it never
    // returns EINPROGRESS); retry until the deadline instead of failing a create under load.
    if (errno == EAGAIN) {
      if (remainingMs(deadline) == 0) {
        return Error(ErrorKind::kTimeout,
                     "connect('" + path.string() + "'): listener backlog full");
      }
      std::this_thread::sleep_for(milliseconds(std::min(5, remainingMs(deadline))));
      continue;
    }
    if (errno == EINPROGRESS) {
      ECI_TRY_CTX(waitFor(fd.get(), POLLOUT, deadline, "connect"),
                  "connect('" + path.string() + "')");
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return Error::fromErrno("getsockopt(SO_ERROR)");
      }
      if (err != 0) return Error(err, "connect('" + path.string() + "')");
      break;
    }
    return Error::fromErrno("connect('" + path.string() + "')");
  }
  ECI_TRY(setNonBlocking(fd.get(), false));
  return fd;
}

Status sendMessage(int fd, const json& msg, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  ECI_ASSIGN_OR_RETURN(body, internal::dumpJson(msg, "sending frame"));
  if (body.size() > kMaxFrameBytes) {
    return Error(ErrorKind::kTooLarge, "sending frame: " + std::to_string(body.size()) +
                                           " bytes exceeds the limit of " +
                                           std::to_string(kMaxFrameBytes));
  }
  const uint32_t n = static_cast<uint32_t>(body.size());
  std::string frame;
  frame.reserve(4 + body.size());
  frame.push_back(static_cast<char>((n >> 24) & 0xff));
  frame.push_back(static_cast<char>((n >> 16) & 0xff));
  frame.push_back(static_cast<char>((n >> 8) & 0xff));
  frame.push_back(static_cast<char>(n & 0xff));
  frame += body;
  return writeFull(fd, frame.data(), frame.size(), deadline);
}

Result<json> recvMessage(int fd, milliseconds timeout, size_t maxBytes) {
  const auto deadline = Clock::now() + timeout;
  unsigned char hdr[4];
  bool gotAny = false;
  ECI_TRY(readFull(fd, reinterpret_cast<char*>(hdr), sizeof hdr, deadline, &gotAny));
  const uint32_t n = (uint32_t{hdr[0]} << 24) | (uint32_t{hdr[1]} << 16) | (uint32_t{hdr[2]} << 8) |
                     uint32_t{hdr[3]};
  // Checked before allocating: a hostile length must not make us reserve gigabytes.
  if (n > maxBytes || n > kMaxFrameBytes) {
    return Error(ErrorKind::kTooLarge,
                 "reading frame: length " + std::to_string(n) + " exceeds the limit of " +
                     std::to_string(std::min(maxBytes, kMaxFrameBytes)) + " bytes");
  }
  if (n == 0) return Error("reading frame: empty frame");
  std::string body(n, '\0');
  ECI_TRY(readFull(fd, body.data(), body.size(), deadline, &gotAny));
  return internal::parseJsonStrict(body, "reading frame");
}

Result<json> call(const std::filesystem::path& socket, const json& request, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto left = [&] { return milliseconds(remainingMs(deadline)); };
  auto fd = connectUnix(socket, timeout);
  if (!fd.ok()) return std::move(fd).error();
  auto sent = sendMessage(fd->get(), request, left());
  if (!sent.ok()) return std::move(sent).error().wrap("request to '" + socket.string() + "'");
  auto reply = recvMessage(fd->get(), left());
  if (!reply.ok()) return std::move(reply).error().wrap("reply from '" + socket.string() + "'");
  return reply;
}

Result<PeerCred> peerCred(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return Error::fromErrno("getsockopt(fd " + std::to_string(fd) + ", SO_PEERCRED)");
  }
  return PeerCred{cred.pid, cred.uid, cred.gid};
}

namespace {
sockaddr_vm vsockAddress(uint32_t cid, uint32_t port) {
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = cid;
  addr.svm_port = port;
  return addr;
}
}  // namespace

Result<UniqueFd> listenVsock(uint32_t port, int backlog) {
  UniqueFd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::fromErrno("socket(AF_VSOCK, SOCK_STREAM)");
  const sockaddr_vm addr = vsockAddress(VMADDR_CID_ANY, port);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Error::fromErrno("bind(AF_VSOCK, port " + std::to_string(port) + ")");
  }
  if (::listen(fd.get(), backlog) != 0) return Error::fromErrno("listen(AF_VSOCK)");
  return fd;
}

Result<UniqueFd> connectVsock(uint32_t cid, uint32_t port) {
  UniqueFd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::fromErrno("socket(AF_VSOCK, SOCK_STREAM)");
  const sockaddr_vm addr = vsockAddress(cid, port);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Error::fromErrno("connect(vsock " + std::to_string(cid) + ":" + std::to_string(port) +
                            ")");
  }
  return fd;
}

}  // namespace eci::ipc
