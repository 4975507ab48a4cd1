// eci-apiproxyd's listening sockets: binding one (public or per-container) and its accept loop,
// the idle connections to dockerd kept for reuse, and Proxy's start/run/stop. The per-container
// sockets themselves and the engine's events are container_sockets.cc; the relay on each
// accepted connection is proxy.cc.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "eci/log.h"
#include "relay.h"

namespace eci::apiproxy {

std::optional<Socket> Proxy::Impl::takeIdleUpstream() {
  while (!idleUpstreams.empty()) {
    Socket s = std::move(idleUpstreams.back().socket);
    const bool fresh =
        std::chrono::steady_clock::now() - idleUpstreams.back().since < kMaxUpstreamIdle;
    idleUpstreams.pop_back();
    if (!fresh) continue;  // closed by ~Socket
    // Still open and silent? dockerd closing it (a restart) shows as EOF, anything else it
    // might send as data: either way the connection is dropped, never used.
    error_code ec;
    char c;
    s.non_blocking(true, ec);
    if (!ec) s.receive(asio::buffer(&c, 1), Socket::message_peek, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      s.non_blocking(false, ec);
      if (!ec) return s;
    }
    s.close(ec);
  }
  return std::nullopt;
}

void Proxy::Impl::parkUpstream(Socket s) {
  if (stopping || idleUpstreams.size() >= kMaxIdleUpstreams) return;  // closed by ~Socket
  idleUpstreams.push_back({std::move(s), std::chrono::steady_clock::now()});
}

Status Proxy::Impl::listenOn(const std::shared_ptr<Listener>& l, mode_t mode, uid_t uid,
                             gid_t gid) {
  std::error_code fec;
  std::filesystem::remove(l->path, fec);
  error_code ec;
  l->acceptor.open(asio::local::stream_protocol(), ec);
  if (!ec) l->acceptor.bind(asio::local::stream_protocol::endpoint(l->path.string()), ec);
  if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error(ec.value(), "listening on " + l->path.string() + ": " + ec.message());
  // Owner, group and mode of the socket dockerd used to own (CONTRACTS.md 2).
  if (::chown(l->path.c_str(), uid, gid) != 0) {
    return Error::fromErrno("chown('" + l->path.string() + "')");
  }
  if (::chmod(l->path.c_str(), mode) != 0) {
    return Error::fromErrno("chmod('" + l->path.string() + "')");
  }
  return okStatus();
}

awaitable<void> Proxy::Impl::acceptLoop(std::shared_ptr<Listener> l) {
  for (;;) {
    error_code ec;
    Socket s = co_await l->acceptor.async_accept(ecToken(ec));
    if (ec) {
      if (l->closed || ec == asio::error::operation_aborted) co_return;
      LOG_WARN("accept on %s: %s", l->path.c_str(), ec.message().c_str());
      if (ec == asio::error::no_descriptors) {
        asio::steady_timer t(io, std::chrono::milliseconds(100));
        co_await t.async_wait(ecToken(ec));
      }
      continue;
    }
    asio::co_spawn(io, serve(std::move(s), l), asio::detached);
  }
}

awaitable<void> Proxy::Impl::auditSummaryLoop() {
  asio::steady_timer t(io);
  while (!stopping) {
    t.expires_after(std::chrono::seconds(1));
    error_code ec;
    co_await t.async_wait(ecToken(ec));
    if (ec || stopping) co_return;
    gate.flushAuditSummaries();  // never blocks: the records go detached
  }
}

Proxy::Proxy(ProxyConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}
Proxy::~Proxy() = default;

Status Proxy::start() {
  auto pub = std::make_shared<Listener>(impl_->io, impl_->cfg.listenSocket, "");
  ECI_TRY(impl_->listenOn(pub, impl_->cfg.listenMode, impl_->cfg.listenUid, impl_->cfg.listenGid));
  {
    std::lock_guard lk(impl_->mu);
    impl_->listeners[""] = pub;
  }
  Impl* impl = impl_.get();
  impl_->gate.setSocketHooks(
      [impl](const SocketGrant& g) { return impl->openContainerSocket(g); },
      [impl](const std::string& token) { impl->closeContainerSocket(token); });
  // Per-container sockets of a previous run are served again BEFORE the public socket accepts
  // (clients wait in its backlog meanwhile): a `docker start` or `docker rm` racing the pass
  // could otherwise bind a socket file being replaced, or remove a container whose socket the
  // pass then re-serves. Only if the engine answers now (a guard restart: 2 s at most for the
  // list); at boot the engine starts after the guard (Type=notify ordering), so waiting here
  // would stall the boot, and the events watcher makes the pass when the engine comes.
  if (auto st = impl_->grants.prepare(); !st.ok()) {
    // Fail closed on grants only: without a usable state directory no socket is granted or
    // served again (gate: the record cannot be written), everything else works.
    LOG_ERROR("grant records: %s", st.error().str().c_str());
  }
  if (!impl_->reserveSockets("guard start", std::chrono::seconds(2))) {
    // No engine yet (boot): it will restart containers with a restart policy before anyone can
    // ask it about them, and their binds need the socket files. Bound now from the records,
    // accepted on once the events watcher's pass has confirmed each with the engine.
    impl_->bindRecordedSockets();
  }
  asio::co_spawn(impl_->io, impl_->acceptLoop(pub), asio::detached);
  asio::co_spawn(impl_->io, impl_->auditSummaryLoop(), asio::detached);
  impl_->eventsThread = std::thread([impl] { impl->watchEvents(); });
  return okStatus();
}

void Proxy::run() {
  impl_->io.run();
  impl_->pool.join();
  if (impl_->eventsThread.joinable()) impl_->eventsThread.join();
}

void Proxy::stop() {
  impl_->stopping = true;
  // Unblocks the events watcher's read.
  if (int fd = impl_->eventsFd.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  asio::post(impl_->io, [this] {
    std::lock_guard lk(impl_->mu);
    for (auto& [token, l] : impl_->listeners) {
      l->closed = true;
      error_code ec;
      l->acceptor.close(ec);
      // Per-container sockets stay, with their grant records: their containers still bind them,
      // and the next start serves them again (reconcile.h). The public one is removed.
      if (!l->isContainerSocket()) {
        std::error_code fec;
        std::filesystem::remove(l->path, fec);
      }
    }
    // Idle connections to dockerd end with the guard (dockerd would keep them open otherwise).
    impl_->idleUpstreams.clear();
    impl_->io.stop();
  });
}

}  // namespace eci::apiproxy
