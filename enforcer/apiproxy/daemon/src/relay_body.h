// How eci-apiproxyd relays a streamed message body (a `docker cp` archive either way, `docker
// logs`, `docker load`, a build context) without copying it in user space: Beast still frames
// it (Content-Length or chunked, with its strict checks: they decide where the body ends and the
// next message begins), but the body type below (RelayBody) does not copy what the parser
// decodes. Its reader records views (pointer, size) into the read buffer for the payload bytes
// the parser hands it; the outgoing serializer's writer sends those views as one gather write,
// freshly chunk-framed by Beast for a chunked message (the peer's framing bytes are never
// forwarded: request smuggling defence), exact for a Content-Length one. Only pieces smaller than
// kCopyBelow are copied (into a staging buffer, contiguously): `docker logs` is one tiny chunk
// per log line, and a view each would make a write of thousands of iovecs.
//
// Header-only so that the unit tests (relay_body_test.cc) and the framing fuzz target drive
// exactly this code; the coroutines that read and write with it are in relay_body_io.h.
#pragma once

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <memory>
#include <span>

namespace eci::apiproxy {

namespace relay_detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
}  // namespace relay_detail

// Body reads: this much a syscall at first, doubled while reads fill it, up to kRelayBufferMax (a
// unix socket holds ~200 KiB queued): `docker cp` out of a container took ~92 syscalls per MiB
// through 64 KiB reads (strace -c: recvfrom, sendmsg, epoll_wait), a quarter of that at 256 KiB.
inline constexpr size_t kRelayBuffer = 64 * 1024;
inline constexpr size_t kRelayBufferMax = 256 * 1024;

// The read size of a body relay and its staging buffer (small pieces are copied there; large
// ones are sent from the read buffer). The staging buffer is allocated only when a small piece
// comes (never for `docker cp`), freed by grow() and release(): the connection gives it back when
// it waits for its next request, so an idle keep-alive connection holds none. Not zeroed.
class RelayBuffer {
 public:
  void release() {
    p_.reset();
    size_ = kRelayBuffer;
  }
  // Doubles the read size, up to kRelayBufferMax (false at the maximum). Only while nothing is
  // staged: the staging buffer is dropped (allocated again, at the new size, when needed).
  bool grow() {
    if (size_ >= kRelayBufferMax) return false;
    size_ *= 2;
    p_.reset();
    return true;
  }
  // Bytes to read a syscall, and the staging buffer's size.
  size_t size() const { return size_; }
  char* staging() {
    if (!p_) p_.reset(new char[size_]);
    return p_.get();
  }

 private:
  std::unique_ptr<char[]> p_;
  size_t size_ = kRelayBuffer;
};

// A Beast body type (reader and writer) carrying views of a body piece, not its bytes.
//
// INVARIANT (what makes the views safe): a view points into the read buffer (a
// beast::flat_buffer) at bytes the parser has consumed (parseBuffered consume()s them at once).
// flat_buffer::consume() only moves its read pointer: consumed bytes stay where they are until
// the next prepare() (Boost 1.74, core/impl/flat_buffer.hpp: prepare() memmoves the unconsumed
// rest to the front, or reallocates) and the read into it. So views stay valid until the buffer
// is next prepared, and readBodyPiece (relay_body_io.h) prepares (reads) only when the body
// holds no view: the relay writes a body's pieces out before it asks for the next (relayBody),
// and readBodyPiece clears them first. (Consuming everything resets the read pointer to the
// start, still without moving a byte; proxy.cc shrinks the buffer only between requests.) Nothing
// else touches that buffer meanwhile (the other direction of the exchange has its own, and a
// connection relays one body at a time). Staged pieces
// point into RelayBuffer, which grows or is released only while nothing is staged.
struct RelayBody {
  // Views per piece: Asio sends at most 64 buffers a syscall, and a chunked piece adds up to 5
  // of its own (chunk size, extensions, CRLFs, the last chunk), the head its own on the first.
  static constexpr size_t kMaxViews = 48;
  // Smaller parser pieces are copied into the staging buffer (a memcpy of a few hundred bytes
  // costs less than an iovec entry, and consecutive ones become one view).
  static constexpr size_t kCopyBelow = 2048;

  struct value_type {
    // Where small pieces are copied; set by the relay before it parses (never owned).
    RelayBuffer* staging = nullptr;
    std::array<relay_detail::asio::const_buffer, kMaxViews> views{};
    size_t count = 0;         // views in use
    size_t bytes = 0;         // payload bytes they hold
    size_t staged = 0;        // staging bytes in use
    bool lastStaged = false;  // the last view is in the staging buffer (a copy may extend it)
    // More body follows this piece (the serializer then waits for it: need_buffer).
    bool more = false;

    // The pieces were written: their bytes may be overwritten now.
    void clear() {
      count = 0;
      bytes = 0;
      staged = 0;
      lastStaged = false;
    }
    std::span<const relay_detail::asio::const_buffer> pieces() const {
      return {views.data(), count};
    }
    // Takes what it can of one decoded piece; returns the bytes taken (fewer when full).
    size_t take(const char* data, size_t size) {
      if (size == 0) return 0;
      if (size >= kCopyBelow) {
        if (count == kMaxViews) return 0;
        views[count++] = {data, size};
        lastStaged = false;
        bytes += size;
        return size;
      }
      if (!staging) return 0;  // not set up for a relay: the parser stops (need_buffer)
      char* const room = staging->staging() + staged;
      const size_t n = std::min(size, staging->size() - staged);
      if (n == 0) return 0;
      if (lastStaged) {
        // Contiguous with the last staged view: one iovec for a run of small pieces.
        views[count - 1] = {views[count - 1].data(), views[count - 1].size() + n};
      } else {
        if (count == kMaxViews) return 0;
        views[count++] = {room, n};
        lastStaged = true;
      }
      std::memcpy(room, data, n);
      staged += n;
      bytes += n;
      return n;
    }
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(relay_detail::http::header<isRequest, Fields>&, value_type& b) : body_(b) {}
    void init(const boost::optional<std::uint64_t>&, relay_detail::beast::error_code& ec) {
      ec = {};
    }
    // The parser hands over decoded payload (a Content-Length body's bytes, a chunk's data)
    // pointing into the buffer it parses. Taken as views; need_buffer when full (the parser
    // then stops there, and the rest is parsed after this piece was written).
    template <class ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers, relay_detail::beast::error_code& ec) {
      ec = {};
      size_t taken = 0;
      for (auto it = relay_detail::asio::buffer_sequence_begin(buffers);
           it != relay_detail::asio::buffer_sequence_end(buffers); ++it) {
        const relay_detail::asio::const_buffer b = *it;
        const size_t n = body_.take(static_cast<const char*>(b.data()), b.size());
        taken += n;
        if (n < b.size()) {
          ec = relay_detail::http::error::need_buffer;
          break;
        }
      }
      return taken;
    }
    void finish(relay_detail::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };

  // As buffer_body's writer: the pieces once, then need_buffer while more is to come.
  class writer {
   public:
    using const_buffers_type = std::span<const relay_detail::asio::const_buffer>;
    template <bool isRequest, class Fields>
    writer(const relay_detail::http::header<isRequest, Fields>&, const value_type& b) : body_(b) {}
    void init(relay_detail::beast::error_code& ec) { ec = {}; }
    boost::optional<std::pair<const_buffers_type, bool>> get(relay_detail::beast::error_code& ec) {
      ec = {};
      if (!sent_ && body_.count > 0) {
        sent_ = true;
        return {{body_.pieces(), body_.more}};
      }
      sent_ = false;
      if (body_.more) ec = relay_detail::http::error::need_buffer;
      return boost::none;
    }

   private:
    const value_type& body_;
    bool sent_ = false;
  };
};

// A body read (Beast's read_some) stops after one chunk even when more are buffered: `docker
// logs` is one small chunk per log line, and relaying them one by one cost a write each and two
// thirds of the throughput. This parses what is already buffered, as far as the body takes it,
// without reading (the parser's eager mode would read on, and hold a `logs -f` stream back).
// basic_parser::put() (Boost 1.74, http/impl/basic_parser.ipp) returns how many bytes it
// consumed: the framing it parsed and the payload the body reader took (the reader's own count:
// fewer when it is full, need_buffer). A chunk header or CRLF cut by the end of the buffer is not
// consumed (need_more): it is passed again, with more bytes after it, on the next put(). So what
// the reader took is consumed here at once, and its views point at consumed bytes, which stay in
// place (see the invariant on RelayBody).
template <bool isRequest>
void parseBuffered(relay_detail::http::parser<isRequest, RelayBody>& p,
                   relay_detail::beast::flat_buffer& b, relay_detail::beast::error_code& ec) {
  namespace http = relay_detail::http;
  while (b.size() > 0 && !p.is_done()) {
    const size_t used = p.put(b.data(), ec);
    b.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) {
      ec = {};
      return;
    }
    if (ec || used == 0) return;
  }
}

}  // namespace eci::apiproxy
