// eci-apiproxyd's per-container engine sockets (CONTRACTS.md 3): opened for a grant, served
// again after a restart (reconcile.h), closed with their container (DELETE through the guard, or
// the engine's destroy events). Also the destroy-events watcher, which runs a reconcile pass each
// time its subscription is up. Binding and accepting are listeners.cc.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <thread>

#include "eci/ipc.h"
#include "eci/log.h"
#include "reconcile.h"
#include "relay.h"

namespace eci::apiproxy {

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
  // Directory made and listener registered under one lock: a reconcile pass never takes the
  // directory of a grant in flight for a stale one (removeUnservedSocketDir).
  std::lock_guard lk(mu);
  if (::mkdir((cfg.socketDir / g.token).c_str(), 0711) != 0) {
    return Error::fromErrno("mkdir('" + (cfg.socketDir / g.token).string() + "')");
  }
  auto l = std::make_shared<Listener>(io, want, g.token);
  if (auto st = listenOn(l, 0666, 0, 0); !st.ok()) {
    std::filesystem::remove_all(cfg.socketDir / g.token, fec);
    return std::move(st).error();
  }
  listeners[g.token] = l;
  asio::co_spawn(io, acceptLoop(l), asio::detached);
  return l;
}

// The socket's directory, root's 0711 (the container's root must reach the socket through it;
// its name is the secret). Made again after a reboot (/run is empty then).
static Status ensureSocketDir(const std::filesystem::path& socketDir, const std::string& token) {
  std::error_code fec;
  std::filesystem::create_directories(socketDir, fec);
  ::chmod(socketDir.c_str(), 0711);
  const std::filesystem::path dir = socketDir / token;
  if (::mkdir(dir.c_str(), 0711) != 0 && errno != EEXIST) {
    return Error::fromErrno("mkdir('" + dir.string() + "')");
  }
  // Not a symlink or anything else planted there: lstat, and root's.
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return Error::fromErrno("lstat('" + dir.string() + "')");
  if (!S_ISDIR(st.st_mode) || st.st_uid != 0) {
    return Error(dir.string() + " is not a directory of root's");
  }
  if (::chmod(dir.c_str(), 0711) != 0) return Error::fromErrno("chmod('" + dir.string() + "')");
  return okStatus();
}

// The same socket again after a restart or reboot (reconcile.h): the record checked by the pass,
// the listener bound at start from that record (pending) is let accept, or the dead socket file
// is replaced by a new listener; either way it carries the identity of the grant before it
// accepts anything.
Result<std::shared_ptr<Listener>> Proxy::Impl::reopenContainerSocket(
    const std::string& token, const GrantRecord& record, std::vector<std::string> bindSources) {
  if (!isSocketToken(token)) return Error("refusing to re-serve a socket named " + token);
  std::lock_guard lk(mu);
  std::shared_ptr<Listener> l;
  if (auto it = listeners.find(token); it != listeners.end()) {
    if (!it->second->pending) return Error("socket " + token + " is served already");
    l = it->second;
  } else {
    l = std::make_shared<Listener>(io, cfg.socketDir / token / std::string(kSocketName), token);
  }
  l->containerId = record.containerId;
  l->imageId = record.imageId;
  l->bindSources = std::move(bindSources);
  l->ownerUid = record.uid;
  l->ownerGid = record.gid;
  if (!l->pending) {
    ECI_TRY(ensureSocketDir(cfg.socketDir, token));
    ECI_TRY(listenOn(l, 0666, 0, 0));  // removes the dead socket file first
    listeners[token] = l;
  }
  l->pending = false;
  asio::co_spawn(io, acceptLoop(l), asio::detached);
  return l;
}

void Proxy::Impl::bindRecordedSockets() {
  if (auto st = grants.prepare(); !st.ok()) {
    LOG_ERROR("grant records in %s unusable, no per-container socket is served again: %s",
              grants.dir().c_str(), st.error().str().c_str());
    return;
  }
  int bound = 0;
  for (const std::string& token : grants.tokens()) {
    auto record = grants.load(token);
    if (!record.ok()) {
      // Fail closed: that container's socket stays dead; the admin finds the file named here.
      LOG_ERROR("grant record %s: not serving socket %s: %s", grants.fileOf(token).c_str(),
                token.c_str(), record.error().str().c_str());
      continue;
    }
    std::lock_guard lk(mu);
    if (listeners.count(token)) continue;
    auto l =
        std::make_shared<Listener>(io, cfg.socketDir / token / std::string(kSocketName), token);
    l->containerId = record->containerId;
    l->imageId = record->imageId;
    l->ownerUid = record->uid;
    l->ownerGid = record->gid;
    l->pending = true;  // no acceptLoop until the engine pass confirms the grant
    Status st = ensureSocketDir(cfg.socketDir, token);
    if (st.ok()) st = listenOn(l, 0666, 0, 0);
    if (!st.ok()) {
      LOG_ERROR("container %s: cannot bind its engine socket %s: %s",
                record->containerId.substr(0, 12).c_str(), l->path.c_str(),
                st.error().str().c_str());
      continue;
    }
    listeners[token] = l;
    ++bound;
  }
  if (bound > 0) {
    LOG_INFO(
        "%d per-container sockets bound from the grant records in %s; each is accepted on once "
        "the engine confirms its container and the policy its image",
        bound, grants.dir().c_str());
  }
}

std::shared_ptr<Listener> Proxy::Impl::takeListener(const std::string& token, bool pendingOnly) {
  std::shared_ptr<Listener> l;
  {
    std::lock_guard lk(mu);
    auto it = listeners.find(token);
    if (it == listeners.end() || token.empty() || (pendingOnly && !it->second->pending))
      return nullptr;
    l = it->second;
    listeners.erase(it);
  }
  l->closed = true;
  asio::post(io, [l] {
    error_code ec;
    l->acceptor.close(ec);
  });
  return l;
}

void Proxy::Impl::dropPendingSocket(const std::string& token) {
  auto l = takeListener(token, /*pendingOnly=*/true);
  if (!l) return;
  std::error_code fec;
  std::filesystem::remove(l->path, fec);
}

void Proxy::Impl::removeUnservedSocketDir(const std::string& token) {
  dropPendingSocket(token);
  std::lock_guard lk(mu);
  if (token.empty() || listeners.count(token)) return;
  std::error_code fec;
  std::filesystem::remove_all(cfg.socketDir / token, fec);
  grants.remove(token);
  LOG_INFO("removed the engine socket %s and its grant: its container is gone", token.c_str());
}

bool Proxy::Impl::reserveSockets(const char* when, std::chrono::milliseconds listTimeout) {
  const auto t0 = std::chrono::steady_clock::now();
  ReserveHooks hooks;
  hooks.serving = [this](const std::string& token) {
    std::lock_guard lk(mu);
    auto it = listeners.find(token);
    return it != listeners.end() && !it->second->pending;
  };
  hooks.loadRecord = [this](const std::string& token) { return grants.load(token); };
  hooks.recheck = [this](const GrantRecord& r) { return gate.recheckSocketGrant(r); };
  hooks.dropPending = [this](const std::string& token) { dropPendingSocket(token); };
  hooks.recordedTokens = [this] { return grants.tokens(); };
  hooks.reopen = [this](const std::string& token, const GrantRecord& r,
                        std::vector<std::string> binds) {
    return reopenContainerSocket(token, r, std::move(binds));
  };
  hooks.adopt = [this](const std::string& id, const std::string& token) {
    gate.adoptSocket(id, token);
  };
  hooks.removeIfUnserved = [this](const std::string& token) { removeUnservedSocketDir(token); };
  auto r = reserveContainerSockets(cfg, hooks, listTimeout);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  if (!r.ok()) {
    LOG_INFO("per-container sockets not served again yet (%s): %s", when, r.error().str().c_str());
    return false;
  }
  // A socket left dead is a container that lost its engine access, or one that tampered with
  // its socket's path: the admin sees it in the audit log (once per container).
  for (const ReserveFailure& f : r->failures) {
    gate.auditReserveFailure(f.containerId, f.name, f.image, f.reason);
  }
  if (r->reserved + r->notReserved + r->injectFailed + r->staleRemoved == 0) return true;
  LOG_INFO(
      "per-container sockets (%s): %d served again (%d put back into running containers), %d "
      "left dead (no valid grant record), %d not put back, %d stale removed, in %lld ms",
      when, r->reserved, r->injected, r->notReserved, r->injectFailed, r->staleRemoved,
      static_cast<long long>(ms));
  return true;
}

void Proxy::Impl::closeContainerSocket(const std::string& token) {
  if (!takeListener(token, /*pendingOnly=*/false)) return;
  std::error_code fec;
  std::filesystem::remove_all(cfg.socketDir / token, fec);
  grants.remove(token);  // the grant ends with its container
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
    // With the subscription up (destroy events now queue on it), catch up on sockets: at boot
    // the engine comes after the guard, and after an engine restart its containers may differ.
    if (!ec && !stopping) reserveSockets("engine connected", std::chrono::seconds(30));
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

}  // namespace eci::apiproxy
