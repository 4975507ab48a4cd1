// eci-apiproxyd's HTTP relay: on each accepted connection (listeners.cc) parse each request with
// Beast, decide it (gate.cc), forward it to dockerd's private socket and relay the response.
// Bodies and responses are relayed piece by piece as they arrive (never buffered whole, except the
// bounded bodies a decision needs); 101 upgrades and the raw-200 attach/exec form become a
// two-way byte tunnel with half-close propagated per direction.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "eci/ipc.h"
#include "eci/log.h"
#include "relay.h"
#include "relay_body_io.h"

namespace eci::apiproxy {

namespace {

constexpr size_t kTunnelBuffer = 64 * 1024;  // each direction of a hijacked stream, at most
constexpr size_t kTunnelStartBuffer = 1024;  // ... and at first
constexpr size_t kHeadReadChunk = 8 * 1024;

// Bodies (cp, logs, load, build contexts) are relayed without a copy: relay_body.h.

// An idle connection keeps no body-sized buffers.
void shrinkIdle(beast::flat_buffer& b) {
  if (b.size() == 0 && b.capacity() > kHeadReadChunk) b.shrink_to_fit();
}

Peer peerOf(Socket& s) {
  Peer c;
  // Fail closed: an unknown peer is nobody (uid -1), never root.
  c.uid = static_cast<uid_t>(-1);
  c.gid = static_cast<gid_t>(-1);
  if (auto cred = ipc::peerCred(s.native_handle()); cred.ok()) {
    c.pid = cred->pid;
    c.uid = cred->uid;
    c.gid = cred->gid;
  }
  return c;
}

// The path part of a target, query dropped (normalising is the rules library's job; here it only
// tells hijack routes apart, where a miss is harmless: the relay then streams the close-delimited
// body one way and closes).
std::string_view pathOf(std::string_view target) {
  const size_t q = target.find('?');
  return target.substr(0, q);
}

bool isHijackRoute(const http::request_header<>& h) {
  if (h.method() != http::verb::post) return false;
  const std::string_view p = pathOf(h.target());
  auto endsWith = [&](std::string_view s) {
    return p.size() >= s.size() && p.substr(p.size() - s.size()) == s;
  };
  const bool attach = endsWith("/attach") && p.find("/containers/") != std::string_view::npos;
  const bool exec = endsWith("/start") && p.find("/exec/") != std::string_view::npos;
  return attach || exec;
}

// Two sockets joined after an upgrade; closed when both directions are done.
struct Tunnel {
  Tunnel(Socket a, Socket b) : client(std::move(a)), upstream(std::move(b)) {}
  Socket client;
  Socket upstream;
  void closeBoth() {
    error_code ec;
    client.close(ec);
    upstream.close(ec);
  }
};

awaitable<void> pump(std::shared_ptr<Tunnel> t, bool clientToUpstream) {
  Socket& from = clientToUpstream ? t->client : t->upstream;
  Socket& to = clientToUpstream ? t->upstream : t->client;
  // Small while the stream idles (an attach waiting for output: 100 of them must stay cheap),
  // doubled each time a read fills it, up to kTunnelBuffer while data flows.
  std::vector<char> buf(kTunnelStartBuffer);
  error_code ec;
  for (;;) {
    const size_t n = co_await from.async_read_some(asio::buffer(buf), ecToken(ec));
    if (ec) break;
    co_await asio::async_write(to, asio::buffer(buf.data(), n), ecToken(ec));
    if (ec) break;
    if (n == buf.size() && buf.size() < kTunnelBuffer) buf.resize(buf.size() * 2);
  }
  if (ec == asio::error::eof) {
    // Half-close: the CLI closes its write side at stdin EOF and waits for the output; dockerd
    // closes after the output. Pass each on as shutdown(SHUT_WR) of the other side.
    error_code ignored;
    to.shutdown(Socket::shutdown_send, ignored);
  } else if (ec != asio::error::operation_aborted) {
    t->closeBoth();  // a reset or failed write ends the stream both ways
  }
}

std::string serializeError(unsigned status, const std::string& message, bool keepAlive) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  // Exactly application/json: Docker's client parses the message only on an exact match.
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "eci-apiproxyd");
  res.body() = errorBody(message);
  res.keep_alive(keepAlive);
  res.prepare_payload();
  std::ostringstream os;
  os << res;
  return os.str();
}

// Nothing of an answer came before the connection failed: not one byte read (what Beast reads
// is either still in the buffer or parsed: got_some) and the failure is dockerd's close (EOF,
// reset, or a write into a closed socket).
bool closedUnanswered(const error_code& ec, const http::response_parser<RelayBody>& p,
                      const beast::flat_buffer& b) {
  const bool closed = ec == http::error::end_of_stream || ec == asio::error::eof ||
                      ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
  return closed && !p.got_some() && b.size() == 0;
}

}  // namespace

awaitable<bool> Proxy::Impl::writeRefusal(Socket& client, const Refusal& r, bool keepAlive) {
  const std::string out = serializeError(r.status, r.message, keepAlive);
  error_code ec;
  co_await asio::async_write(client, asio::buffer(out), ecToken(ec));
  if (ec) co_return false;
  if (!keepAlive) {
    // Lingering close: closing with unread request bytes queued sends a reset, and the client
    // would lose the refusal. Stop sending, then discard what it still sends (bounded: 1 s,
    // 8 MiB) before the socket is closed. None of it goes anywhere.
    client.shutdown(Socket::shutdown_send, ec);
    asio::steady_timer t(io, std::chrono::seconds(1));
    t.async_wait([&client](error_code e) {
      if (!e) {
        error_code ignored;
        client.cancel(ignored);
      }
    });
    std::vector<char> sink(16 * 1024);
    size_t total = 0;
    while (total < (8u << 20)) {
      const size_t n = co_await client.async_read_some(asio::buffer(sink), ecToken(ec));
      if (ec) break;
      total += n;
    }
    t.cancel();
  }
  co_return true;
}

// Not audited, only logged: malformed requests cost a client nothing (no decision, no engine);
// audited, a spray of garbage would use up its sender's share of the guard's few audit senders
// (audit_budget.h) for nothing an admin needs. They never reach dockerd.
awaitable<void> Proxy::Impl::refuseMalformed(Socket& client, const Refusal& r, const Listener& l,
                                             const Peer& caller) {
  LOG_INFO("refused a malformed request from uid %d on %s: %u %s", static_cast<int>(caller.uid),
           l.path.c_str(), r.status, r.message.c_str());
  co_await writeRefusal(client, r, false);
}

awaitable<bool> Proxy::Impl::connectUpstream(std::optional<Socket>& up, const Listener& l,
                                             const Peer& caller, std::string_view method,
                                             std::string_view target) {
  error_code ec;
  up.emplace(io);
  co_await up->async_connect(asio::local::stream_protocol::endpoint(cfg.upstreamSocket.string()),
                             ecToken(ec));
  if (!ec) co_return true;
  up.reset();
  const std::string why =
      "cannot reach dockerd at " + cfg.upstreamSocket.string() + ": " + ec.message();
  LOG_ERROR("%s", why.c_str());
  // Audited (throttled): while the engine is down every request fails, and the admin must see it.
  // Named, not a braced temporary: see the note on GCC 12 and aggregates in coroutines (Refusal).
  const RefusalFacts facts{"engine-unreachable", why, {}, {}};
  gate.auditEngineTrouble(l, caller, method, target, facts, 502);
  co_return false;
}

awaitable<void> Proxy::Impl::serve(Socket client, std::shared_ptr<Listener> l) {
  const Peer caller = peerOf(client);
  beast::flat_buffer cbuf;
  beast::flat_buffer ubuf;
  std::optional<Socket> up;
  bool upClean = false;  // `up` finished its last exchange completely (it may serve the next)
  RelayBuffer relay;     // while a body is relayed
  error_code ec;
  // The spare this client connection took is replaced when the connection ends, not as soon as
  // its answer is written: the connect (and dockerd's accept) would compete for the two cores with
  // the client reading that answer. New client connections meanwhile take the other spares, or
  // connect; the sweep fills up every second.
  bool spareTaken = false;
  struct RefillAtEnd {
    Impl* impl;
    const bool* due;
    ~RefillAtEnd() {
      if (*due) impl->fillSpareUpstreams();
    }
  } refillAtEnd{this, &spareTaken};
  // A bulk download's wide send buffer (relay_body_io.h): bounded, given back after each response.
  DownloadSendBuffer download(
      wideDownloads, [&client](int bytes) { setSendBuffer(client, bytes); },
      [&client] {
        error_code ignored;
        Socket::send_buffer_size v;
        client.get_option(v, ignored);
        return ignored ? 0 : v.value();
      });

  for (;;) {
    relay.release();
    shrinkIdle(cbuf);
    shrinkIdle(ubuf);
    // --- the request head, as raw bytes first (framing checks need them), then Beast ---
    size_t headLen = 0;
    for (;;) {
      const std::string_view have(static_cast<const char*>(cbuf.data().data()), cbuf.size());
      const size_t end = have.find("\r\n\r\n");
      if (end != std::string_view::npos) {
        headLen = end + 4;
        break;
      }
      if (auto r = parseAndCheck(have)) {  // bare LF, oversized head
        co_await refuseMalformed(client, *r, *l, caller);
        co_return;
      }
      const size_t n = co_await client.async_read_some(cbuf.prepare(kHeadReadChunk), ecToken(ec));
      // EOF between requests, or the client went away mid-head. Its dockerd connection, if
      // any, is closed with it (relay.h: never handed to another client).
      if (ec) co_return;
      cbuf.commit(n);
    }
    const std::string rawHead(static_cast<const char*>(cbuf.data().data()), headLen);
    if (auto r = parseAndCheck(rawHead)) {
      co_await refuseMalformed(client, *r, *l, caller);
      co_return;
    }
    http::request_parser<RelayBody> rp;
    rp.header_limit(static_cast<std::uint32_t>(kHeaderLimit));
    rp.body_limit(kNoBodyLimit);
    rp.put(asio::buffer(rawHead), ec);
    if (ec || !rp.is_header_done()) {
      co_await refuseMalformed(client, refusalForParseError(ec), *l, caller);
      co_return;
    }
    cbuf.consume(headLen);
    auto& req = rp.get();

    // Expect: 100-continue is answered here (dockerd never sees it); other expectations fail.
    if (auto it = req.find(http::field::expect); it != req.end()) {
      if (!beast::iequals(it->value(), "100-continue")) {
        co_await refuseMalformed(client, {417, "expectation failed"}, *l, caller);
        co_return;
      }
      req.erase(http::field::expect);
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await asio::async_write(client, asio::buffer(kContinue), ecToken(ec));
      if (ec) co_return;
    }

    // --- the decision; a body it needs is read whole (bounded) and it decides again ---
    Exchange ex;
    ex.listener = l;
    ex.caller = caller;
    ex.header = &req.base();
    // Cheap decisions (a GET on the cached policy, no look-ups) are made right here: a round trip
    // through the worker pool costs two cross-thread wake-ups, more than the decision itself.
    // Everything that may block (eci-enforcerd, engine look-ups, host files) goes to the pool.
    Outcome v;
    if (std::optional<Outcome> quick = gate.decideInline(ex)) {
      v = std::move(*quick);
    } else {
      v = co_await offload<Outcome>([this, &ex] { return gate.decide(ex); });
    }
    if (v.needBody) {
      std::string body;
      while (!rp.is_done()) {
        co_await readBodyPiece(client, cbuf, rp, relay, ec);
        if (ec) {
          if (ec != asio::error::eof && ec != asio::error::connection_reset) {
            co_await refuseMalformed(client, refusalForParseError(ec), *l, caller);
          }
          co_return;
        }
        for (const auto& piece : req.body().pieces()) {
          body.append(static_cast<const char*>(piece.data()), piece.size());
        }
        if (body.size() > v.maxBody) {
          // Audited: a body the decision needs (create, exec, build options) too large to be
          // inspected is refused unseen; it costs the sender a decision on the pool, as any
          // audited refusal does, so it floods no more cheaply than those.
          const Refusal r{413, "request body too large for the guard to inspect"};
          const RefusalFacts facts{
              "body-size",
              r.message + " (more than " + std::to_string(v.maxBody) + " bytes)",
              {},
              {}};
          gate.auditRelayRefusal(*l, caller, req.method_string(), req.target(), facts, r.status);
          co_await writeRefusal(client, r, false);
          co_return;
        }
      }
      ex.body = std::move(body);
      v = co_await offload<Outcome>([this, &ex] { return gate.decide(ex); });
      if (v.needBody && !v.refusal) {
        // Audited: fail closed on a request the rules could not decide (a bug in them): the admin
        // must see what was refused. A decision on the pool each, like any audited refusal.
        v.refusal = Refusal{500, "eci-apiproxyd: undecidable request"};
        const RefusalFacts facts{"undecidable", "the rules asked for the body twice", {}, {}};
        gate.auditRelayRefusal(*l, caller, req.method_string(), req.target(), facts, 500);
      }
    }
    if (v.refusal) {
      // The connection stays usable only if the body was consumed.
      const bool keep = req.keep_alive() && rp.is_done();
      if (!co_await writeRefusal(client, *v.refusal, keep) || !keep) co_return;
      continue;
    }

    // --- forward the request ---
    // Replayable: the whole request is in hand before it goes out (no body, or the inspected
    // body read whole), so it can go out again on a new connection. A streamed body (build
    // context, load, cp, chunked) is read from the client as it goes out and cannot be.
    const bool replayable = ex.body.has_value() || rp.is_done();
    if (up && (!upClean || !replayable)) {
      // A streamed body never goes out on a connection that carried a request before: dockerd may
      // close one just as it is used again (a close racing the request), and such a request
      // cannot be sent again. One with bytes past its last answer is out of step with dockerd.
      // Either way it is closed: never handed to another client (relay.h).
      error_code ignored;
      up->close(ignored);
      up.reset();
      ubuf.consume(ubuf.size());
    }
    // A spare (never used; relay.h) for a request the guard holds whole: if dockerd closed it just
    // as it was taken, the request goes out again (below). A streamed body gets a new connection.
    if (!up && replayable) {
      up = takeSpareUpstream();
      if (up) spareTaken = true;
    }
    const bool reused = up.has_value();
    if (!up && !co_await connectUpstream(up, *l, caller, req.method_string(), req.target())) {
      co_await writeRefusal(client, {502, "eci-apiproxyd: the engine is not reachable"}, false);
      co_return;
    }
    upClean = false;
    const bool hijackRoute = isHijackRoute(req);
    const bool wantsUpgrade = req.find(http::field::upgrade) != req.end();
    const bool isHead = req.method() == http::verb::head;
    const bool reqKeepAlive = req.keep_alive();
    std::optional<http::response_parser<RelayBody>> spo;
    auto newResponseParser = [&] {
      spo.emplace();
      spo->header_limit(static_cast<std::uint32_t>(kHeaderLimit));
      spo->body_limit(kNoBodyLimit);
      if (isHead) spo->skip(true);
    };
    newResponseParser();
    // Beast reads no more than the buffer's free capacity: a head-sized buffer takes most
    // answers (head and a small body) in one read.
    if (ubuf.capacity() < kHeadReadChunk) ubuf.reserve(kHeadReadChunk);
    std::optional<http::request<http::string_body>> whole;  // a replayable request, as sent
    if (replayable) {
      whole.emplace(std::move(req.base()));
      if (ex.body) {
        // The inspected body goes on with an exact length (it may have been rewritten).
        whole->erase(http::field::transfer_encoding);
        whole->body() = std::move(*ex.body);
        whole->content_length(whole->body().size());
      }
      co_await http::async_write(*up, *whole, ecToken(ec));
      if (!ec) co_await http::async_read_header(*up, ubuf, *spo, ecToken(ec));
      // dockerd closed a kept connection or a spare just as the request went out on it (its close
      // raced the request; the MSG_PEEK check in takeSpareUpstream cannot see a close that comes
      // after it): the request is sent once more, on a new connection. Only when not one byte
      // of an answer came: dockerd closes only connections it reads no request on (idle, or
      // shutting down), and an answer begun may have been acted on. Never on a new connection,
      // never twice: dockerd failing a request it was surely given is its answer (502).
      if (ec && reused && closedUnanswered(ec, *spo, ubuf)) {
        LOG_DEBUG(
            "dockerd closed a kept or spare connection under %s %s (%s): sending it again on a new "
            "one",
            std::string(whole->method_string()).c_str(), std::string(whole->target()).c_str(),
            ec.message().c_str());
        error_code ignored;
        up->close(ignored);
        up.reset();
        if (!co_await connectUpstream(up, *l, caller, whole->method_string(), whole->target())) {
          co_await writeRefusal(client, {502, "eci-apiproxyd: the engine is not reachable"}, false);
          co_return;
        }
        newResponseParser();
        co_await http::async_write(*up, *whole, ecToken(ec));
        if (!ec) co_await http::async_read_header(*up, ubuf, *spo, ecToken(ec));
      }
    } else {
      // The client's framing never reaches dockerd: the decoded payload goes out re-framed by
      // Beast's serializer (chunked as the head says, or exactly Content-Length bytes).
      http::request_serializer<RelayBody> sr{req};
      widenUploadSendBuffer(*up);  // an upload: room for several pieces on the way to dockerd
      co_await http::async_write_header(*up, sr, ecToken(ec));
      if (ec) co_return;
      // Read as the response bodies are (up to 256 KiB a read), framed by the same parser.
      const RelayFailure failed = co_await relayBody(client, cbuf, rp, *up, sr, relay, ec);
      if (failed == RelayFailure::read && ec != asio::error::eof) {
        // A malformed chunk mid-body: dockerd has a partial request; drop both.
        co_await refuseMalformed(client, refusalForParseError(ec), *l, caller);
      }
      if (failed != RelayFailure::none) co_return;
      co_await http::async_read_header(*up, ubuf, *spo, ecToken(ec));
    }

    // --- the response ---
    const http::request_header<>& sent = whole ? whole->base() : req.base();
    if (ec) {
      const std::string why = "dockerd closed the connection before answering " +
                              std::string(sent.method_string()) + " " + std::string(sent.target()) +
                              ": " + ec.message();
      LOG_WARN("%s", why.c_str());
      // Audited (throttled): requests failing because of the engine are the admin's business.
      const RefusalFacts facts{"engine-no-answer", why, {}, {}};
      gate.auditEngineTrouble(*l, caller, sent.method_string(), sent.target(), facts, 502);
      co_await writeRefusal(client, {502, "eci-apiproxyd: no answer from the engine"}, false);
      co_return;
    }
    auto& sp = *spo;
    auto& res = sp.get();
    const bool upgraded = res.result() == http::status::switching_protocols && wantsUpgrade;
    const bool rawStream = hijackRoute && res.result() == http::status::ok && sp.need_eof();
    if (upgraded || rawStream) {
      // Hijacked: send the head, then whatever either side already sent past its head, then
      // splice bytes both ways until both directions are closed.
      http::response_serializer<RelayBody> sr{res};
      co_await http::async_write_header(client, sr, ecToken(ec));
      if (ec) co_return;
      if (ubuf.size() > 0) {
        co_await asio::async_write(client, ubuf.data(), ecToken(ec));
        if (ec) co_return;
        ubuf.consume(ubuf.size());
      }
      if (cbuf.size() > 0) {
        co_await asio::async_write(*up, cbuf.data(), ecToken(ec));
        if (ec) co_return;
        cbuf.consume(cbuf.size());
      }
      download.release();  // a tunnel's client socket keeps the default
      auto t = std::make_shared<Tunnel>(std::move(client), std::move(*up));
      asio::co_spawn(io, pump(t, true), asio::detached);
      asio::co_spawn(io, pump(t, false), asio::detached);
      co_return;
    }

    if (v.afterResponse) {
      // A small JSON answer (create): read it whole, run the hook, then reply.
      http::response_parser<http::string_body> sp2{std::move(sp)};
      sp2.body_limit(kInspectBodyLimit);
      co_await http::async_read(*up, ubuf, sp2, ecToken(ec));
      if (ec) co_return;
      auto res2 = sp2.release();
      Status st = co_await offload<Status>([&v, status = res2.result_int(), &body = res2.body()] {
        return v.afterResponse(status, body);
      });
      if (!st.ok()) {
        // Not audited here: the hook audits its own failures (record-caller, create-reply), once.
        LOG_ERROR("%s", st.error().str().c_str());
        co_await writeRefusal(client, {500, "eci-apiproxyd: " + st.error().str()}, false);
        co_return;
      }
      const bool keep = res2.keep_alive() && reqKeepAlive;
      co_await http::async_write(client, res2, ecToken(ec));
      if (ec || !keep) co_return;
      continue;
    }

    http::response_serializer<RelayBody> sr{res};
    if (ubuf.size() == 0 && !sp.is_done()) {
      // Nothing of the body is here yet (a stream: events, logs -f, wait): the client gets the
      // head now, not when the first byte of body comes. Otherwise the head goes out together
      // with the first piece of body, in one write.
      co_await http::async_write_header(client, sr, ecToken(ec));
      if (ec) co_return;
    }
    const RelayFailure relayed =
        co_await relayBody(*up, ubuf, sp, client, sr, relay, ec, &download);
    download.release();
    if (relayed != RelayFailure::none) co_return;
    if (!res.keep_alive() || sp.need_eof()) {
      error_code ignored;
      up->close(ignored);
      up.reset();
      ubuf.consume(ubuf.size());
      // The client was told (or will infer from EOF) that this connection ends here.
      client.shutdown(Socket::shutdown_send, ignored);
      co_return;
    }
    // Answer read to its end on a connection dockerd keeps open, nothing more sent after it.
    upClean = sp.is_done() && ubuf.size() == 0;
    if (!reqKeepAlive) {
      error_code ignored;
      client.shutdown(Socket::shutdown_send, ignored);
      co_return;  // its dockerd connection is closed with it (relay.h)
    }
  }
}

}  // namespace eci::apiproxy
