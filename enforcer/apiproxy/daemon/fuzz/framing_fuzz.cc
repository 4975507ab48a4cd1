// libFuzzer target: the guard's request framing (raw head checks, Beast parse, framing rules,
// chunked body) on arbitrary bytes. Must never crash, hang or accept a request whose head it
// could not parse.
//
// A request the checks accept has its body relayed as the guard relays a streamed one, without a
// copy (relay_body.h: the body's views into the read buffer, Beast's serializer re-framing them),
// once in one read and once a byte a read; what goes out must be exactly what a reference parse
// (Beast into a string) decodes: the same payload, ended where the reference ends it, refused
// where the reference refuses. The reads follow relay_body_io.h's readBodyPiece (the coroutines
// themselves need GCC: Boost 1.74's Asio has no co_await with clang and libstdc++).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "eci/apiproxy/framing.h"
#include "relay_body.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using eci::apiproxy::RelayBody;
using eci::apiproxy::RelayBuffer;

constexpr std::uint64_t kNoLimit = ~std::uint64_t{0};

struct Outcome {
  bool complete = false;  // the body ended (else: refused, or cut short)
  std::string out;        // the request as it went out: head, then the re-framed body
  size_t used = 0;        // body bytes of the input consumed up to the body's end
};

// What the serializer has for the wire now (only the head: as async_write_header), appended to
// `out`.
void drain(http::request_serializer<RelayBody>& sr, std::string& out, bool headOnly = false) {
  beast::error_code ec;
  sr.split(headOnly);
  while (!sr.is_done() && !(headOnly && sr.is_header_done())) {
    size_t n = 0;
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
           ++it) {
        const asio::const_buffer b = *it;
        out.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
    });
    if (ec) return;  // need_buffer: the next piece first
    sr.consume(n);
  }
}

Outcome relayBody(std::string_view head, std::string_view body, size_t readSize) {
  Outcome o;
  http::request_parser<RelayBody> p;
  p.header_limit(static_cast<std::uint32_t>(eci::apiproxy::kHeaderLimit));
  p.body_limit(kNoLimit);
  beast::error_code ec;
  p.put(asio::buffer(head.data(), head.size()), ec);
  if (ec || !p.is_header_done()) __builtin_trap();  // parseAndCheck accepted this head
  RelayBuffer staging;
  auto& piece = p.get().body();
  piece.staging = &staging;
  http::request_serializer<RelayBody> sr{p.get()};
  beast::flat_buffer b;
  size_t off = 0;
  drain(sr, o.out, true);
  while (!sr.is_done()) {
    piece.clear();  // written: its views may go stale now
    if (!p.is_done()) {
      for (;;) {
        eci::apiproxy::parseBuffered(p, b, ec);
        if (ec) return o;
        if (piece.bytes > 0 || p.is_done()) break;
        if (off == body.size()) return o;  // cut short
        // No view held: the buffer may move its bytes.
        const size_t n = std::min(readSize, body.size() - off);
        asio::buffer_copy(b.prepare(n), asio::buffer(body.data() + off, n));
        b.commit(n);
        off += n;
      }
      piece.more = !p.is_done();
    } else {
      piece.more = false;
    }
    drain(sr, o.out);
  }
  o.complete = true;
  o.used = off - b.size();
  return o;
}

void checkBodyRelay(std::string_view in, size_t headLen) {
  // The reference: the whole request parsed by Beast into a string.
  http::request_parser<http::string_body> ref;
  ref.header_limit(static_cast<std::uint32_t>(eci::apiproxy::kHeaderLimit));
  ref.body_limit(kNoLimit);
  ref.eager(true);
  beast::error_code ec;
  const size_t refUsed = ref.put(asio::buffer(in.data(), in.size()), ec);
  if (!ref.is_header_done()) __builtin_trap();
  const bool refComplete = !ec && ref.is_done();
  for (size_t readSize : {in.size() + 1, size_t{1}}) {
    const Outcome o = relayBody(in.substr(0, headLen), in.substr(headLen), readSize);
    if (o.complete != refComplete) __builtin_trap();
    if (!o.complete) continue;
    if (headLen + o.used != refUsed) __builtin_trap();  // ended elsewhere than the reference
    http::request_parser<http::string_body> back;
    back.header_limit(static_cast<std::uint32_t>(eci::apiproxy::kHeaderLimit));
    back.body_limit(kNoLimit);
    back.eager(true);
    const size_t backUsed = back.put(asio::buffer(o.out), ec);
    if (ec || !back.is_done() || backUsed != o.out.size()) __builtin_trap();
    if (back.get().body() != ref.get().body()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t consumed = 0;
  auto r = eci::apiproxy::parseAndCheck(in, &consumed);
  if (r && (r->status < 400 || r->status > 599)) __builtin_trap();
  if (!r && consumed > in.size()) __builtin_trap();
  if (!r && consumed > 0) checkBodyRelay(in, consumed);
  return 0;
}
