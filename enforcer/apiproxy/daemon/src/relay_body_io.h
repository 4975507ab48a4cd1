// The reads and writes of a body relayed without a copy (relay_body.h): readBodyPiece reads and
// frames the next piece, relayBody writes piece after piece. Templates on the stream types, so the
// unit tests drive them over scripted streams (tests/fake_streams.h).
#pragma once

#include <sys/socket.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>

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
// `docker cp` into of 1 GiB, 1.185x direct against 0.75-1.01x with the default). Unbounded only on
// sockets to dockerd, which always reads: a client that stops reading would pin this much kernel
// memory per connection, so a client's socket gets it only under DownloadSendBuffer's bound.
// SO_SNDBUFFORCE (the guard runs as root) so that net.core.wmem_max (212992 on a stock Debian) does
// not cap it; without CAP_NET_ADMIN, SO_SNDBUF as capped. Best effort: if both fail the default
// stays, and so does correctness.
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

// Asks for a send buffer of `bytes` on `s` (the kernel holds twice that): SO_SNDBUFFORCE, else
// SO_SNDBUF as capped. Best effort: on failure the socket keeps what it had.
template <class Socket>
void setSendBuffer(Socket& s, int bytes) {
  relay_detail::beast::error_code ec;
  s.set_option(SendBufferForce{bytes}, ec);
  if (ec) s.set_option(typename Socket::send_buffer_size(bytes), ec);
}

template <class Socket>
void widenUploadSendBuffer(Socket& s) {
  setSendBuffer(s, kUploadSendBuffer);
}

// A client connection's claim on a wide send buffer for a bulk download (`docker cp` out, `save`,
// `export`, the `logs` of a large log): the socket to the client gets kUploadSendBuffer once
// kBulkDownloadBytes of one response's body went out, so that the guard's write of a
// 256 KiB piece completes at once and it goes back to reading dockerd while the client drains
// (`docker cp` out of 1 GiB: bench/README.md, seventeenth session). Unlike dockerd, a client may
// stop reading and pin what its send buffer holds; so at most kMaxWideDownloads connections hold
// one at a time (2 MiB of kernel memory each, the kernel doubling what is asked: 16 MiB in all),
// the others keep the default, and small answers never widen it. The slot is given back, and the
// default restored, when that response has gone out (release(), so that a keep-alive connection
// idling after a download holds no slot), when the connection ends, or before it is handed on (a
// hijacked stream).
// `inUse` counts the slots taken; it is touched only on the relay's one I/O thread.
inline constexpr size_t kBulkDownloadBytes = size_t{1} << 20;
inline constexpr int kMaxWideDownloads = 8;

class DownloadSendBuffer {
 public:
  // `setSendBuffer(bytes)` asks for a send buffer of `bytes` on the client socket (the kernel
  // holds twice that), `getSendBuffer()` reads what was asked (Asio's send_buffer_size: the
  // kernel's value halved), so that the value read before widening restores it.
  DownloadSendBuffer(int& inUse, std::function<void(int)> setSendBuffer,
                     std::function<int()> getSendBuffer)
      : inUse_(inUse), set_(std::move(setSendBuffer)), get_(std::move(getSendBuffer)) {}
  DownloadSendBuffer(const DownloadSendBuffer&) = delete;
  DownloadSendBuffer& operator=(const DownloadSendBuffer&) = delete;
  ~DownloadSendBuffer() { release(); }

  // `n` more bytes of the current response's body were written to the client.
  void written(size_t n) {
    if (asked_) return;
    seen_ += n;
    if (seen_ < kBulkDownloadBytes) return;
    asked_ = true;  // once per response: a refused claim is not retried on every piece
    if (inUse_ >= kMaxWideDownloads) return;
    ++inUse_;
    held_ = true;
    restoreTo_ = get_();
    set_(kUploadSendBuffer);
  }
  // The response has gone out: restores the default, gives the slot back and starts counting
  // the next response afresh. Safe to call more than once.
  void release() {
    seen_ = 0;
    asked_ = false;
    if (!held_) return;
    held_ = false;
    --inUse_;
    if (restoreTo_ > 0) set_(restoreTo_);
  }
  bool holds() const { return held_; }

 private:
  int& inUse_;
  std::function<void(int)> set_;
  std::function<int()> get_;
  size_t seen_ = 0;
  bool asked_ = false;
  bool held_ = false;
  int restoreTo_ = 0;
};

// Which side failed a body relay.
enum class RelayFailure { none, read, write };

// Relays the rest of a body from `from` (framed by `p`) to `to` through `sr`, the serializer of
// the same message (its head written, or going out with the first piece): piece by piece, each
// written before the next is read (the views' invariant, RelayBody). `download`, for a response
// to a client, is told what went out.
template <class From, class To, bool isRequest>
boost::asio::awaitable<RelayFailure> relayBody(
    From& from, relay_detail::beast::flat_buffer& b,
    relay_detail::http::parser<isRequest, RelayBody>& p, To& to,
    relay_detail::http::serializer<isRequest, RelayBody>& sr, RelayBuffer& relay,
    relay_detail::beast::error_code& ec, DownloadSendBuffer* download = nullptr) {
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
    const size_t piece = body.bytes;
    co_await http::async_write(to, sr, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return RelayFailure::write;
    if (download != nullptr) download->written(piece);
  }
  co_return RelayFailure::none;
}

}  // namespace eci::apiproxy
