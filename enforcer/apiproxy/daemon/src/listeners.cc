// eci-apiproxyd's sockets: the public one and the per-container ones (CONTRACTS.md 3), the idle
// connections to dockerd kept for reuse, and the engine's destroy events that retire
// per-container sockets. The relay on each accepted connection is proxy.cc.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "eci/ipc.h"
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

// A per-container socket (CONTRACTS.md 3): <socketDir>/<token>/docker.sock. The container's root
// is a mapped uid not known yet at create, so the socket is 0666 in a 0711 directory whose
// 128-bit random name is not listable: only who was given the path (the bind) can connect.
Result<std::shared_ptr<Listener>> Proxy::Impl::openContainerSocket(const SocketGrant& g) {
  const std::filesystem::path want = cfg.socketDir / g.token / "docker.sock";
  if (g.token.size() != 32 || g.path != want.string()) {
    return Error("refusing a socket grant outside the socket directory: " + g.path);
  }
  std::error_code fec;
  std::filesystem::create_directories(cfg.socketDir, fec);
  ::chmod(cfg.socketDir.c_str(), 0711);
  if (::mkdir((cfg.socketDir / g.token).c_str(), 0711) != 0) {
    return Error::fromErrno("mkdir('" + (cfg.socketDir / g.token).string() + "')");
  }
  auto l = std::make_shared<Listener>(io, want, g.token);
  if (auto st = listenOn(l, 0666, 0, 0); !st.ok()) {
    std::filesystem::remove_all(cfg.socketDir / g.token, fec);
    return std::move(st).error();
  }
  {
    std::lock_guard lk(mu);
    listeners[g.token] = l;
  }
  asio::co_spawn(io, acceptLoop(l), asio::detached);
  return l;
}

void Proxy::Impl::closeContainerSocket(const std::string& token) {
  std::shared_ptr<Listener> l;
  {
    std::lock_guard lk(mu);
    auto it = listeners.find(token);
    if (it == listeners.end() || token.empty()) return;
    l = it->second;
    listeners.erase(it);
  }
  l->closed = true;
  asio::post(io, [l] {
    error_code ec;
    l->acceptor.close(ec);
  });
  std::error_code fec;
  std::filesystem::remove_all(cfg.socketDir / token, fec);
}

// Containers removed without a DELETE through the guard (--rm, engine-side removal): follow the
// engine's destroy events on the private socket and drop their sockets.
void Proxy::Impl::watchEvents() {
  while (!stopping) {
    auto fd = ipc::connectUnix(cfg.upstreamSocket, std::chrono::seconds(5));
    if (!fd.ok()) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    eventsFd = fd->get();
    asio::io_context lio{1};
    Socket s(lio);
    error_code ec;
    s.assign(asio::local::stream_protocol(), fd->release(), ec);
    http::request<http::empty_body> req{http::verb::get,
                                        "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C%"
                                        "22event%22%3A%5B%22destroy%22%5D%7D",
                                        11};
    req.set(http::field::host, "docker");
    http::write(s, req, ec);
    beast::flat_buffer buf;
    http::response_parser<http::buffer_body> p;
    p.body_limit(kNoBodyLimit);
    if (!ec) http::read_header(s, buf, p, ec);
    std::string line;
    std::vector<char> chunk(16 * 1024);
    while (!ec && !stopping && !p.is_done()) {
      p.get().body().data = chunk.data();
      p.get().body().size = chunk.size();
      http::read_some(s, buf, p, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) break;
      line.append(chunk.data(), chunk.size() - p.get().body().size);
      for (size_t nl; (nl = line.find('\n')) != std::string::npos;) {
        auto j = nlohmann::json::parse(line.substr(0, nl), nullptr, false);
        line.erase(0, nl + 1);
        if (j.is_object() && j.value("Action", "") == "destroy") {
          std::string id = j.value("id", "");
          if (id.empty() && j.contains("Actor") && j["Actor"].is_object()) {
            id = j["Actor"].value("ID", "");
          }
          if (!id.empty()) gate.containerGone(id);
        }
      }
    }
    eventsFd = -1;
    if (!stopping) std::this_thread::sleep_for(std::chrono::seconds(1));
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

Proxy::Proxy(ProxyConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}
Proxy::~Proxy() = default;

Status Proxy::start() {
  auto pub = std::make_shared<Listener>(impl_->io, impl_->cfg.listenSocket, "");
  ECI_TRY(impl_->listenOn(pub, impl_->cfg.listenMode, impl_->cfg.listenUid, impl_->cfg.listenGid));
  {
    std::lock_guard lk(impl_->mu);
    impl_->listeners[""] = pub;
  }
  asio::co_spawn(impl_->io, impl_->acceptLoop(pub), asio::detached);
  Impl* impl = impl_.get();
  impl_->gate.setSocketHooks(
      [impl](const SocketGrant& g) { return impl->openContainerSocket(g); },
      [impl](const std::string& token) { impl->closeContainerSocket(token); });
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
      std::error_code fec;
      // Per-container sockets go with their directory; the public one is just removed.
      if (l->isContainerSocket()) {
        std::filesystem::remove_all(l->path.parent_path(), fec);
      } else {
        std::filesystem::remove(l->path, fec);
      }
    }
    // Idle connections to dockerd end with the guard (dockerd would keep them open otherwise).
    impl_->idleUpstreams.clear();
    impl_->io.stop();
  });
}
}  // namespace eci::apiproxy
