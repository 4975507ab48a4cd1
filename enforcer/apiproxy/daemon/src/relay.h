// The state of eci-apiproxyd's relay (Proxy::Impl), shared by its three parts: the listening
// sockets, accept loops, spare dockerd connections and start/stop (listeners.cc), the
// per-container sockets, their re-serving after a restart and the engine's events
// (container_sockets.cc), and the per-connection request/response relay (proxy.cc). I/O thread
// unless said otherwise.
#pragma once

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <deque>
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
  // Client connections holding a wide send buffer for a bulk download (DownloadSendBuffer,
  // relay_body_io.h); at most kMaxWideDownloads. Touched only on the I/O thread. Declared before
  // `io`: connections still open when `io` is destroyed give their slot back to it then.
  int wideDownloads = 0;
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

  // Spare connections to dockerd: connected ahead of need and never used, so a new client
  // connection finds one ready (no connect, no accept by dockerd on its critical path), and
  // replaced when the client connection that took it ends (proxy.cc, fillSpareUpstreams).
  //
  // INVARIANT: a connection to dockerd serves exactly one client connection. A spare has carried
  // nothing; it goes to the first client connection that needs one and never comes back: when that
  // client connection ends, its dockerd connection is closed, never handed to another client. A
  // connection that carried an exchange may be out of step with dockerd in ways the guard cannot
  // see (a hijacked stream, a body read halfway, an answer dockerd framed differently from Beast),
  // and a second client on it could be handed the first one's answer, or have its request read as
  // the tail of the first one's request, which the guard decided for someone else. The price:
  // dockerd answers the first request on a connection ~30 us slower than a later one (its
  // connection goroutine is new; bench/README.md), which reuse across clients saved.
  //
  // A spare dockerd closed (a restart; its 5 min ReadHeaderTimeout on a connection that brings no
  // request) is readable (EOF): it is dropped, never used, when taken (MSG_PEEK) and by the sweep
  // every second, which also replaces spares older than kMaxSpareAge (far from that timeout). A
  // close racing the take is the retry's case (proxy.cc). I/O thread only.
  static constexpr size_t kSpareUpstreams = 4;  // `docker run` opens 3 connections at once
  static constexpr std::chrono::seconds kMaxSpareAge{60};
  struct SpareUpstream {
    Socket socket;
    std::chrono::steady_clock::time_point connectedAt;
  };
  std::deque<SpareUpstream> spareUpstreams;
  // Spares being connected or warmed up: counted until offered or given up, so that a sweep or a
  // client connection's end meanwhile does not start one more (it would be closed unused).
  size_t spareConnectsInFlight = 0;
  // A spare still unused and open, or nullopt (then the caller connects).
  std::optional<Socket> takeSpareUpstream();
  // Starts connects (in the background) until there are kSpareUpstreams spares.
  void fillSpareUpstreams();
  awaitable<void> connectSpareUpstream();
  // One new dockerd connection that carried the guard's warm-up `GET /_ping`, or nullopt.
  awaitable<std::optional<Socket>> connectWarmedUpstream();
  // Every second until stop: drops dead and old spares, fills up.
  awaitable<void> spareUpstreamsLoop();
  // Gate::refreshDecisionCaches() every half policy refresh period, on the pool.
  awaitable<void> decisionCachesLoop();
};

}  // namespace eci::apiproxy
