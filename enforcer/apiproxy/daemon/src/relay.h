// The state of eci-apiproxyd's relay (Proxy::Impl), shared by its three parts: the listening
// sockets, accept loops, idle dockerd connections and start/stop (listeners.cc), the
// per-container sockets, their re-serving after a restart and the engine's events
// (container_sockets.cc), and the per-connection request/response relay (proxy.cc). I/O thread
// unless said otherwise.
#pragma once

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "gate.h"
#include "grant_store.h"
#include "proxy_impl.h"
#include "reserve.h"

namespace eci::apiproxy {

namespace beast = boost::beast;
using asio::awaitable;
using asio::use_awaitable;
using error_code = boost::system::error_code;

// Completion token of the relay's coroutines: errors come back in `ec`, never as exceptions.
inline auto ecToken(error_code& ec) {
  return asio::redirect_error(use_awaitable, ec);
}

struct Proxy::Impl {
  explicit Impl(ProxyConfig c)
      : cfg(std::move(c)),
        grants(cfg.stateDir),
        pool(static_cast<size_t>(std::max(1, cfg.workerThreads))),
        gate(cfg, grants) {}

  ProxyConfig cfg;
  GrantStore grants;
  asio::io_context io{1};
  asio::thread_pool pool;
  Gate gate;
  std::mutex mu;
  std::map<std::string, std::shared_ptr<Listener>> listeners;  // by token ("" = public)

  // Runs `f` on the worker pool and resumes the coroutine on the I/O thread with its result.
  template <typename R, typename F>
  awaitable<R> offload(F f) {
    auto ioEx = io.get_executor();
    co_return co_await asio::async_initiate<decltype(use_awaitable), void(R)>(
        [this, ioEx, f = std::move(f)](auto handler) mutable {
          auto work = asio::make_work_guard(ioEx);
          asio::post(pool, [ioEx, f = std::move(f), h = std::move(handler),
                            w = std::move(work)]() mutable {
            R r = f();
            asio::post(ioEx, [h = std::move(h), r = std::move(r)]() mutable { h(std::move(r)); });
          });
        },
        use_awaitable);
  }

  Status listenOn(const std::shared_ptr<Listener>& l, mode_t mode, uid_t uid, gid_t gid);
  Result<std::shared_ptr<Listener>> openContainerSocket(const SocketGrant& g);
  Result<std::shared_ptr<Listener>> reopenContainerSocket(const std::string& token,
                                                          const GrantRecord& record,
                                                          std::vector<std::string> bindSources);
  void closeContainerSocket(const std::string& token);
  // Removes <socketDir>/<token> and its grant record unless a listener accepts on it (a pending
  // one is closed first): its container is gone.
  void removeUnservedSocketDir(const std::string& token);
  // At start, when the engine cannot be asked yet (boot): binds every socket a grant record on
  // disk names, pending (not accepting) until the engine pass confirms it (reconcile.h).
  void bindRecordedSockets();
  // A pending listener the engine pass refused: closed, its socket file removed (the record
  // stays until its container is gone: a policy change back may serve it again after a restart).
  void dropPendingSocket(const std::string& token);
  // Takes the listener of `token` out of the table (only a pending one if `pendingOnly`) and
  // closes its acceptor on the io thread; nullptr if there is none.
  std::shared_ptr<Listener> takeListener(const std::string& token, bool pendingOnly);
  // One reconcile pass (reconcile.h), logged with its duration. false: the engine could not be
  // listed within listTimeout.
  bool reserveSockets(const char* when, std::chrono::milliseconds listTimeout);
  // Follows the engine's destroy events; runs a reconcile pass each time it is subscribed.
  void watchEvents();
  std::thread eventsThread;
  std::atomic<bool> stopping{false};
  std::atomic<int> eventsFd{-1};
  awaitable<void> acceptLoop(std::shared_ptr<Listener> l);
  // Every second until stop: the audit summaries due (Gate::flushAuditSummaries), so a flooder's
  // "N refusals not recorded" comes even when its flood (and every other request) has stopped.
  awaitable<void> auditSummaryLoop();
  awaitable<void> serve(Socket client, std::shared_ptr<Listener> l);
  awaitable<bool> writeRefusal(Socket& client, const Refusal& r, bool keepAlive);
  // A malformed request (framing, parse errors, a bad Expect): logged, refused, closed.
  awaitable<void> refuseMalformed(Socket& client, const Refusal& r, const Listener& l,
                                  const Peer& caller);
  // A new connection to dockerd in `up`; false (logged, audited) if it cannot be made.
  awaitable<bool> connectUpstream(std::optional<Socket>& up, const Listener& l, const Peer& caller,
                                  std::string_view method, std::string_view target);

  // Idle keep-alive connections to dockerd, reused by the next client connection: a connect per
  // `docker` invocation costs the guard four syscalls and dockerd an accept. Only connections
  // whose last answer was read completely come here (never a hijacked one), and dockerd's API is
  // stateless per request: a request goes out on a reused connection exactly as on a new one.
  // I/O thread only.
  // dockerd closes a connection that brings no request within 5 minutes (its ReadHeaderTimeout):
  // a parked one is used within a minute or dropped, so it never races that close.
  static constexpr size_t kMaxIdleUpstreams = 8;
  static constexpr std::chrono::seconds kMaxUpstreamIdle{60};
  struct IdleUpstream {
    Socket socket;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<IdleUpstream> idleUpstreams;
  std::optional<Socket> takeIdleUpstream();
  void parkUpstream(Socket s);
};

}  // namespace eci::apiproxy
