// The reads and writes of a body relayed without a copy (relay_body.h): readBodyPiece reads and
// frames the next piece, relayBody writes piece after piece. Templates on the stream types, so the
// unit tests drive them over scripted streams (tests/fake_streams.h).
#pragma once

#include <sys/socket.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "relay_body.h"

namespace eci::apiproxy {

// The next piece of a body (a response's, or a streamed request's: uploads), as views in the
// parser's body; returns its size (0 only when the body is complete, or with `ec` set). The
// previous piece must have been written (its views are dropped here). What `b` holds is parsed
// first; the socket is read only when that gave nothing, so a stream (`logs -f`, events) goes on
// as soon as a piece arrives. EOF ends a close-delimited response body (a request has none); any
// other body cut short is an error (the connection is closed, the body incomplete).
template <class Stream, bool isRequest>
boost::asio::awaitable<size_t> readBodyPiece(Stream& from, relay_detail::beast::flat_buffer& b,
                                             relay_detail::http::parser<isRequest, RelayBody>& p,
                                             RelayBuffer& relay,
                                             relay_detail::beast::error_code& ec) {
  namespace asio = relay_detail::asio;
  auto& body = p.get().body();
  body.staging = &relay;
  body.clear();
  for (;;) {
    parseBuffered(p, b, ec);
    if (ec) co_return 0;
    if (body.bytes > 0 || p.is_done()) co_return body.bytes;
    // No view is held (bytes == 0): `b` may move its bytes now (prepare), and `relay` grow.
    const size_t want = relay.size();
    const size_t n = co_await from.async_read_some(b.prepare(want),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof && p.need_eof()) {
      ec = {};
      p.put_eof(ec);
      if (ec) co_return 0;
      continue;
    }
    if (ec) co_return 0;
    b.commit(n);
    if (n == want) relay.grow();
  }
}

// The kernel's send buffer of the dockerd-facing socket while an upload (`docker cp` into,
// `docker load`, a build context) is relayed: 1 MiB asked, 2 MiB granted (the kernel doubles it).
// With the default (net.core.wmem_default, ~208 KiB) a 256 KiB piece went out in two sendmsg with
// an epoll wait between, and nothing was read from the client meanwhile; with room for several
// pieces the client, the guard and dockerd run side by side (bench/README.md, thirteenth session:
// `docker cp` into of 1 GiB, 1.185x direct against 0.75-1.01x with the default). Only on sockets to
// dockerd, which always reads: on a client's socket a client that stops reading would pin this
// much kernel memory per connection. SO_SNDBUFFORCE (the guard runs as root) so that
// net.core.wmem_max (212992 on a stock Debian) does not cap it; without CAP_NET_ADMIN, SO_SNDBUF
// as capped. Best effort: if both fail the default stays, and so does correctness.
inline constexpr int kUploadSendBuffer = 1 << 20;

struct SendBufferForce {  // an Asio socket option (SettableSocketOption) for SO_SNDBUFFORCE
  int value;
  template <class Protocol>
  int level(const Protocol&) const {
    return SOL_SOCKET;
  }
  template <class Protocol>
  int name(const Protocol&) const {
    return SO_SNDBUFFORCE;
  }
  template <class Protocol>
  const int* data(const Protocol&) const {
    return &value;
  }
  template <class Protocol>
  std::size_t size(const Protocol&) const {
    return sizeof value;
  }
};

template <class Socket>
void widenUploadSendBuffer(Socket& s) {
  relay_detail::beast::error_code ec;
  s.set_option(SendBufferForce{kUploadSendBuffer}, ec);
  if (ec) s.set_option(typename Socket::send_buffer_size(kUploadSendBuffer), ec);
}

// Which side failed a body relay.
enum class RelayFailure { none, read, write };

// Relays the rest of a body from `from` (framed by `p`) to `to` through `sr`, the serializer of
// the same message (its head written, or going out with the first piece): piece by piece, each
// written before the next is read (the views' invariant, RelayBody).
template <class From, class To, bool isRequest>
boost::asio::awaitable<RelayFailure> relayBody(
    From& from, relay_detail::beast::flat_buffer& b,
    relay_detail::http::parser<isRequest, RelayBody>& p, To& to,
    relay_detail::http::serializer<isRequest, RelayBody>& sr, RelayBuffer& relay,
    relay_detail::beast::error_code& ec) {
  namespace asio = relay_detail::asio;
  namespace http = relay_detail::http;
  auto& body = p.get().body();
  while (!sr.is_done()) {
    if (!p.is_done()) {
      co_await readBodyPiece(from, b, p, relay, ec);
      if (ec) co_return RelayFailure::read;
      body.more = !p.is_done();
    } else {
      body.clear();
      body.more = false;
    }
    co_await http::async_write(to, sr, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return RelayFailure::write;
  }
  co_return RelayFailure::none;
}

}  // namespace eci::apiproxy
