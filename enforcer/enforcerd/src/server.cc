#include "eci/enforcerd/server.h"

#include <linux/vm_sockets.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "eci/ipc.h"
#include "eci/log.h"

namespace eci::enforcerd {
namespace {

using nlohmann::json;

const char* endpointName(Endpoint e) {
  switch (e) {
    case Endpoint::kControl:
      return "control";
    case Endpoint::kPush:
      return "push";
    case Endpoint::kVsockPush:
      return "vsock push";
  }
  return "?";
}

}  // namespace

Server::Server(Enforcer& enforcer) : enforcer_(enforcer) {}

Server::~Server() {
  stop();
}

Status Server::addUnixListener(const std::filesystem::path& path, Endpoint endpoint) {
  auto fd = ipc::listenUnix(path);
  if (!fd.ok()) return std::move(fd).error().wrap(std::string(endpointName(endpoint)) + " socket");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error::fromErrno("stat('" + path.string() + "')");
  // listenUnix creates it 0600; make sure no umask or race widened it before anyone can connect.
  if (::chmod(path.c_str(), 0600) != 0) return Error::fromErrno("chmod('" + path.string() + "')");
  listeners_.push_back({std::move(*fd), endpoint, path, st.st_dev, st.st_ino});
  return {};
}

Status Server::addVsockListener(uint32_t port) {
  ECI_ASSIGN_OR_RETURN(fd, ipc::listenVsock(port));
  listeners_.push_back({std::move(fd), Endpoint::kVsockPush, {}, 0, 0});
  return {};
}

Status Server::start() {
  const Config& cfg = enforcer_.config();
  wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) return Error::fromErrno("eventfd()");
  ECI_TRY(addUnixListener(cfg.controlSocket, Endpoint::kControl));
  ECI_TRY(addUnixListener(cfg.pushSocket, Endpoint::kPush));
  if (cfg.vsockPort) ECI_TRY(addVsockListener(*cfg.vsockPort));
  acceptThread_ = std::thread([this] { acceptLoop(); });
  return {};
}

void Server::acceptLoop() {
  std::vector<pollfd> pfds;
  pfds.push_back({wake_.get(), POLLIN, 0});
  for (const auto& l : listeners_) pfds.push_back({l.fd.get(), POLLIN, 0});
  while (!stopping_.load()) {
    int n = ::poll(pfds.data(), pfds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("poll on the listening sockets: %s", strerror(errno));
      return;
    }
    if (pfds[0].revents != 0) break;
    for (size_t i = 1; i < pfds.size(); ++i) {
      if ((pfds[i].revents & POLLIN) == 0) continue;
      const Listener& l = listeners_[i - 1];
      UniqueFd conn(::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
          LOG_WARN("accept on the %s socket: %s", endpointName(l.endpoint), strerror(errno));
          // EMFILE and friends: back off instead of spinning on a readable listener.
          ::poll(nullptr, 0, 50);
        }
        continue;
      }
      if (active_.load() >= enforcer_.config().maxConnections) {
        LOG_WARN("%zu connections in flight; refusing one on the %s socket", active_.load(),
                 endpointName(l.endpoint));
        continue;  // closing it is the answer; the client sees EOF and reports the enforcer busy
      }
      ++active_;
      std::thread(&Server::serve, this, std::move(conn), l.endpoint).detach();
    }
  }
}

void Server::serve(UniqueFd conn, Endpoint endpoint) {
  const auto timeout = enforcer_.config().ioTimeout;
  [&] {
    if (endpoint == Endpoint::kVsockPush) {
      sockaddr_vm peer{};
      socklen_t len = sizeof peer;
      if (::getpeername(conn.get(), reinterpret_cast<sockaddr*>(&peer), &len) != 0 ||
          peer.svm_cid != enforcer_.config().vsockAllowedCid) {
        LOG_WARN("vsock push from cid %u refused (only cid %u may push)", peer.svm_cid,
                 enforcer_.config().vsockAllowedCid);
        (void)ipc::sendMessage(
            conn.get(), errorReply("permission denied: vsock peer cid not allowed"), timeout);
        return;
      }
    } else {
      auto cred = ipc::peerCred(conn.get());
      if (!cred.ok() || cred->uid != 0) {
        const std::string who =
            cred.ok() ? "uid " + std::to_string(cred->uid) + " pid " + std::to_string(cred->pid)
                      : cred.error().str();
        LOG_WARN("%s socket: refused a client that is not root (%s)", endpointName(endpoint),
                 who.c_str());
        // Take the request off the socket first (bounded, and ignored): replying and closing with
        // it unread can race the client's send into EPIPE, and the client would see a broken
        // connection instead of the reason.
        (void)ipc::recvMessage(conn.get(), timeout, 64 * 1024);
        (void)ipc::sendMessage(
            conn.get(),
            errorReply("permission denied: eci-enforcerd serves root only (peer " + who + ")"),
            timeout);
        return;
      }
    }
    auto req = ipc::recvMessage(conn.get(), timeout);
    if (!req.ok()) {
      LOG_DEBUG("%s socket: reading a request: %s", endpointName(endpoint),
                req.error().str().c_str());
      return;
    }
    json reply =
        endpoint == Endpoint::kControl ? enforcer_.handleControl(*req) : enforcer_.handlePush(*req);
    if (auto st = ipc::sendMessage(conn.get(), reply, timeout); !st.ok()) {
      LOG_WARN("%s socket: sending a reply: %s", endpointName(endpoint), st.error().str().c_str());
    }
  }();
  conn.reset();
  std::lock_guard lock(mu_);
  if (--active_ == 0) idle_.notify_all();
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_) {
    const uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
  }
  if (acceptThread_.joinable()) acceptThread_.join();
  for (auto& l : listeners_) {
    l.fd.reset();
    if (l.path.empty()) continue;
    // Remove only the socket this daemon created: a successor may already have replaced it.
    struct stat st {};
    if (::lstat(l.path.c_str(), &st) == 0 && st.st_dev == l.dev && st.st_ino == l.ino) {
      ::unlink(l.path.c_str());
    }
  }
  listeners_.clear();
  // Each connection is bounded by two I/O timeouts (request, reply) plus the handler.
  std::unique_lock lock(mu_);
  const auto limit = enforcer_.config().ioTimeout * 3 + std::chrono::seconds(5);
  if (!idle_.wait_for(lock, limit, [this] { return active_.load() == 0; })) {
    LOG_WARN("%zu requests still in flight at shutdown", active_.load());
  }
}

}  // namespace eci::enforcerd
