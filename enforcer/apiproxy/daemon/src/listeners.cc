// eci-apiproxyd's listening sockets: binding one (public or per-container) and its accept loop,
// the spare (never used) connections to dockerd, and Proxy's start/run/stop. The per-container
// sockets themselves and the engine's events are container_sockets.cc; the relay on each
// accepted connection is proxy.cc.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "eci/log.h"
#include "grant_migrate.h"
#include "relay.h"

namespace eci::apiproxy {

namespace {

// A spare's state before use: dockerd sends nothing on a connection that brought no request, so a
// readable one was closed (EOF) or is out of step (data): either way it is never used. Also false
// for any error. One syscall: the spare is in non-blocking mode from its connect on (the relay
// only makes asynchronous calls on it), so the peek cannot block.
bool stillUnused(Socket& s) {
  error_code ec;
  char c;
  s.receive(asio::buffer(&c, 1), Socket::message_peek, ec);
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

}  // namespace

std::optional<Socket> Proxy::Impl::takeSpareUpstream() {
  const auto now = std::chrono::steady_clock::now();
  while (!spareUpstreams.empty()) {
    SpareUpstream spare = std::move(spareUpstreams.front());
    spareUpstreams.pop_front();
    // Leaves the pool for good (relay.h: one dockerd connection per client connection).
    if (now - spare.connectedAt < kMaxSpareAge && stillUnused(spare.socket)) {
      return std::move(spare.socket);
    }
    LOG_DEBUG("a spare dockerd connection was closed or is too old: dropped");
  }
  return std::nullopt;
}

void Proxy::Impl::fillSpareUpstreams() {
  if (stopping || io.stopped()) return;  // also: a client coroutine's end while `io` is destroyed
  while (spareUpstreams.size() + spareConnectsInFlight < kSpareUpstreams) {
    ++spareConnectsInFlight;
    asio::co_spawn(io, connectSpareUpstream(), asio::detached);
  }
}

awaitable<void> Proxy::Impl::connectSpareUpstream() {
  std::optional<Socket> s = co_await connectWarmedUpstream();
  // In flight until here, warm-up included (relay.h). Counting only the connect let a sweep or a
  // client connection's end during a warm-up start one more spare, closed unused after its own
  // warm-up by the check below: a dockerd connection and a request for nothing.
  --spareConnectsInFlight;
  if (!s || stopping || spareUpstreams.size() >= kSpareUpstreams) co_return;  // closed by ~Socket
  spareUpstreams.push_back({std::move(*s), std::chrono::steady_clock::now()});
}

awaitable<std::optional<Socket>> Proxy::Impl::connectWarmedUpstream() {
  Socket s(io);
  error_code ec;
  co_await s.async_connect(asio::local::stream_protocol::endpoint(cfg.upstreamSocket.string()),
                           ecToken(ec));
  if (ec) {
    // dockerd is down or not there yet: the sweep tries again in a second, and a client meanwhile
    // connects itself (and gets the audited 502 if that fails too).
    LOG_DEBUG("spare dockerd connection: %s", ec.message().c_str());
    co_return std::nullopt;
  }
  if (stopping) co_return std::nullopt;
  // Warm-up: one `GET /_ping` of the guard's own before the spare is offered. dockerd answers the
  // first request on a connection ~30 us slower than later ones (its connection goroutine and
  // buffers are new; bench/README.md): paid here, off every client's path. The invariant of
  // relay.h holds: the one exchange this connection carried is the guard's own, written by us and
  // read to its end by Beast's parser (a fixed two-byte body). Anything unexpected (not 200, not
  // keep-alive, a byte after the answer) drops the connection.
  static constexpr std::string_view kWarmUp = "GET /_ping HTTP/1.1\r\nHost: api\r\n\r\n";
  co_await asio::async_write(s, asio::buffer(kWarmUp), ecToken(ec));
  if (ec) co_return std::nullopt;
  beast::flat_buffer b;
  http::response_parser<http::string_body> p;
  p.header_limit(8 * 1024);
  p.body_limit(64);
  co_await http::async_read(s, b, p, ecToken(ec));
  if (ec || p.get().result() != http::status::ok || !p.get().keep_alive() || b.size() != 0) {
    LOG_DEBUG("spare dockerd connection: warm-up /_ping failed (%s): dropped",
              ec ? ec.message().c_str() : "unexpected answer");
    co_return std::nullopt;
  }
  s.non_blocking(true, ec);  // for stillUnused, off the request's path
  if (ec) co_return std::nullopt;
  co_return std::optional<Socket>(std::move(s));
}

awaitable<void> Proxy::Impl::spareUpstreamsLoop() {
  asio::steady_timer t(io);
  while (!stopping) {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(spareUpstreams, [&](SpareUpstream& s) {
      return now - s.connectedAt >= kMaxSpareAge || !stillUnused(s.socket);
    });
    fillSpareUpstreams();
    t.expires_after(std::chrono::seconds(1));
    error_code ec;
    co_await t.async_wait(ecToken(ec));
    if (ec) co_return;
  }
}

Status Proxy::Impl::listenOn(const std::shared_ptr<Listener>& l, mode_t mode, uid_t uid,
                             gid_t gid) {
  std::error_code fec;
  std::filesystem::remove(l->path, fec);
  error_code ec;
  l->acceptor.open(asio::local::stream_protocol(), ec);
  if (!ec) l->acceptor.bind(asio::local::stream_protocol::endpoint(l->path.string()), ec);
  if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error(ec.value(), "listening on " + l->path.string());  // str(): + strerror
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

awaitable<void> Proxy::Impl::decisionCachesLoop() {
  const auto period = cfg.policyRefresh / 2;
  if (period <= std::chrono::milliseconds(0)) co_return;  // no cache to keep fresh
  asio::steady_timer t(io);
  while (!stopping) {
    t.expires_after(period);
    error_code ec;
    co_await t.async_wait(ecToken(ec));
    if (ec || stopping) co_return;
    // On the pool: it may wait for eci-enforcerd and dockerd. One at a time (awaited).
    co_await offload<int>([this] {
      gate.refreshDecisionCaches();
      return 0;
    });
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
  } else if (auto m = migrateOldGrantRecords(impl_->cfg.socketDir, impl_->grants); !m.ok()) {
    // Records of a guard older than the state directory (grant_migrate.h), moved before the
    // pass reads the records. A socket directory others could write holds nothing trusted.
    LOG_ERROR("old grant records in %s not migrated (their sockets are not served again): %s",
              impl_->cfg.socketDir.c_str(), m.error().str().c_str());
  }
  if (!impl_->reserveSockets("guard start", std::chrono::seconds(2))) {
    // No engine yet (boot): it will restart containers with a restart policy before anyone can
    // ask it about them, and their binds need the socket files. Bound now from the records,
    // accepted on once the events watcher's pass has confirmed each with the engine.
    impl_->bindRecordedSockets();
  }
  asio::co_spawn(impl_->io, impl_->acceptLoop(pub), asio::detached);
  asio::co_spawn(impl_->io, impl_->auditSummaryLoop(), asio::detached);
  asio::co_spawn(impl_->io, impl_->spareUpstreamsLoop(), asio::detached);
  asio::co_spawn(impl_->io, impl_->decisionCachesLoop(), asio::detached);
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
    // Spare connections to dockerd end with the guard (dockerd would keep them open otherwise).
    impl_->spareUpstreams.clear();
    impl_->io.stop();
  });
}

}  // namespace eci::apiproxy
