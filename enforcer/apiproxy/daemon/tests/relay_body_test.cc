// The body relay without a copy (relay_body.h): what Beast's parser decodes goes out as views
// into the read buffer (or, for small pieces, one staged copy), re-framed by Beast's serializer.
// Each test drives the real relayBody() over scripted reads, and checks what went out against a
// reference parse: the payload byte for byte (each read's bytes differ, so a view into bytes
// that were overwritten, moved or dropped shows), nothing of the sender's framing, and where the
// body ended (what stays buffered is the next message).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fake_streams.h"
#include "relay_body_io.h"

namespace eci::apiproxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using testing::ScriptedStream;

// Payload bytes that encode their offset (a shifted or stale view changes them).
std::string payload(size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251 + seed) % 26);
  return s;
}

std::string chunk(std::string_view data, std::string_view ext = {}) {
  char len[32];
  std::snprintf(len, sizeof len, "%zx", data.size());
  return std::string(len) + std::string(ext) + "\r\n" + std::string(data) + "\r\n";
}

// `wire` cut into reads at the given sizes (the last read takes the rest).
std::vector<std::string> cut(const std::string& wire, const std::vector<size_t>& sizes) {
  std::vector<std::string> out;
  size_t off = 0;
  for (size_t n : sizes) {
    if (off >= wire.size()) break;
    out.push_back(wire.substr(off, n));
    off += n;
  }
  if (off < wire.size()) out.push_back(wire.substr(off));
  return out;
}

struct Relayed {
  RelayFailure failed = RelayFailure::none;
  beast::error_code ec;
  std::string out;   // what went out: the head, then the body re-framed
  std::string left;  // what the read buffer holds after the body
  std::vector<ScriptedStream::Write> writes;
  size_t readCalls = 0;
  bool pointsIntoReadBuffer = false;  // some buffer written lay in the read buffer (no copy)
};

template <bool isRequest>
asio::awaitable<void> drive(ScriptedStream& from, beast::flat_buffer& b,
                            http::parser<isRequest, RelayBody>& p, ScriptedStream& to,
                            RelayBuffer& relay, Relayed& r) {
  http::serializer<isRequest, RelayBody> sr{p.get()};
  co_await http::async_write_header(to, sr, asio::redirect_error(asio::use_awaitable, r.ec));
  if (r.ec) co_return;
  r.failed = co_await relayBody(from, b, p, to, sr, relay, r.ec);
}

// Relays a message: `head` is parsed first (as proxy.cc does), then the body comes in `reads`.
template <bool isRequest = true>
Relayed relay(const std::string& head, std::vector<std::string> reads) {
  asio::io_context io;
  ScriptedStream from(io), to(io);
  from.reads = std::move(reads);
  http::parser<isRequest, RelayBody> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  beast::error_code ec;
  p.put(asio::buffer(head), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_header_done());
  beast::flat_buffer b;
  RelayBuffer staging;
  Relayed r;
  asio::co_spawn(io, drive(from, b, p, to, staging, r), asio::detached);
  io.run();
  r.out = to.written;
  r.left.assign(static_cast<const char*>(b.data().data()), b.size());
  r.writes = to.writes;
  r.readCalls = from.readCalls;
  // Consumed whole, a flat_buffer's bytes start at its storage again (flat_buffer::consume).
  b.consume(b.size());
  const char* lo = static_cast<const char*>(b.data().data());
  for (const auto& w : to.writes) {
    for (const auto& buf : w.buffers) {
      const char* d = static_cast<const char*>(buf.data());
      if (buf.size() >= RelayBody::kCopyBelow && d >= lo && d < lo + b.capacity()) {
        r.pointsIntoReadBuffer = true;
      }
    }
  }
  return r;
}

// The body of `out` as a reference parser (Beast, string_body) reads it; fails the test when it
// is not one complete message.
template <bool isRequest = true>
std::string decodedBody(const std::string& out, http::header<isRequest>* head = nullptr) {
  http::parser<isRequest, http::string_body> ref;
  ref.body_limit(std::numeric_limits<std::uint64_t>::max());
  ref.eager(true);
  beast::error_code ec;
  const size_t used = ref.put(asio::buffer(out), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(ref.is_done()) << "what went out is not a complete message";
  EXPECT_EQ(used, out.size()) << "bytes after the message";
  if (head) *head = ref.get().base();
  return ref.get().body();
}

const std::string kChunkedHead =
    "PUT /v1.41/containers/c/archive?path=/ HTTP/1.1\r\nHost: docker\r\n"
    "Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n";

std::string lengthHead(size_t n) {
  return "PUT /v1.41/containers/c/archive?path=/ HTTP/1.1\r\nHost: docker\r\n"
         "Content-Type: application/x-tar\r\nContent-Length: " +
         std::to_string(n) + "\r\n\r\n";
}

TEST(ProxyRelayBody, AChunkSplitAcrossReadsGoesOutWholeFromTheReadBuffer) {
  const std::string data = payload(700 * 1024 + 3);
  const std::string wire = chunk(data) + "0\r\n\r\n";
  const Relayed r = relay(kChunkedHead, cut(wire, {5000, 70000, 1, 200000, 3, 131072}));
  ASSERT_EQ(r.failed, RelayFailure::none) << r.ec.message();
  EXPECT_TRUE(decodedBody(r.out) == data) << "the payload differs";
  EXPECT_TRUE(r.pointsIntoReadBuffer) << "large pieces were copied, not sent from the read buffer";
  EXPECT_TRUE(r.left.empty());
}

TEST(ProxyRelayBody, ChunkHeadersSplitAtEveryByteDecodeTheSame) {
  // Three chunks (one with an extension), the final chunk with a trailer; the wire cut into two
  // reads at every offset, and also fed a byte a read.
  const std::string a = payload(3000, 1), c = payload(5, 2), d = payload(2049, 3);
  const std::string wire =
      chunk(a) + chunk(c, ";name=value") + chunk(d) + "0\r\nX-Trailer: 1\r\n\r\n";
  for (size_t at = 1; at < wire.size(); ++at) {
    const Relayed r = relay(kChunkedHead, cut(wire, {at}));
    ASSERT_EQ(r.failed, RelayFailure::none) << "cut at " << at << ": " << r.ec.message();
    ASSERT_TRUE(decodedBody(r.out) == a + c + d) << "cut at " << at;
    ASSERT_EQ(r.out.find("name=value"), std::string::npos) << "a chunk extension was forwarded";
    ASSERT_EQ(r.out.find("X-Trailer"), std::string::npos) << "a trailer was forwarded";
  }
  std::vector<size_t> ones(wire.size(), 1);
  const Relayed r = relay(kChunkedHead, cut(wire, ones));
  ASSERT_EQ(r.failed, RelayFailure::none) << r.ec.message();
  EXPECT_TRUE(decodedBody(r.out) == a + c + d);
}

TEST(ProxyRelayBody, ManySmallChunksInOneReadGoOutAsOneChunkInOneWrite) {
  // `docker logs`: one tiny chunk per line. Copied into the staging buffer back to back, sent as
  // one view: one write for the whole read, not one per chunk.
  std::string wire, data;
  for (int i = 0; i < 1000; ++i) {
    const std::string line = "line " + std::to_string(i) + " " + payload(40, i) + "\n";
    data += line;
    wire += chunk(line);
  }
  const Relayed r = relay(kChunkedHead, {wire, "0\r\n\r\n"});
  ASSERT_EQ(r.failed, RelayFailure::none) << r.ec.message();
  EXPECT_TRUE(decodedBody(r.out) == data);
  // The head, the body piece, the last chunk.
  ASSERT_EQ(r.writes.size(), 3u);
  const std::string bodyWrite = r.out.substr(r.writes[0].bytes, r.writes[1].bytes);
  char len[32];
  std::snprintf(len, sizeof len, "%zx\r\n", data.size());
  EXPECT_EQ(bodyWrite.rfind(len, 0), 0u) << "not one chunk: " << bodyWrite.substr(0, 40);
  EXPECT_LE(r.writes[1].buffers.size(), 8u);
}

TEST(ProxyRelayBody, MoreChunksInOneReadThanViewsGoOutInOrderWithoutAnotherRead) {
  // A long chunk first, so that reads grow to their maximum (each read that fills the buffer
  // doubles it: 64, 128, then 256 KiB); then 100 chunks of 2 KiB (views, not copies) in one
  // read: more than kMaxViews. The parser stops at the last view and goes on, from the same
  // buffer, after that piece was written: no read while views are held.
  const std::string lead = payload(192 * 1024, 99);
  std::string rest, data = lead;
  for (unsigned i = 0; i < 100; ++i) {
    const std::string piece = payload(RelayBody::kCopyBelow, i);
    data += piece;
    rest += chunk(piece);
  }
  rest += "0\r\n\r\n";
  static_assert(RelayBody::kMaxViews < 100);
  ASSERT_LE(rest.size(), kRelayBufferMax);
  const Relayed r = relay(kChunkedHead, {chunk(lead), rest});
  ASSERT_EQ(r.failed, RelayFailure::none) << r.ec.message();
  EXPECT_TRUE(decodedBody(r.out) == data);
  // The lead: 64 KiB, 128 KiB, its last bytes; the 100 chunks: one read.
  EXPECT_EQ(r.readCalls, 4u);
  // The head, the lead's three pieces, the 100 chunks in three pieces (48, 48, 4 and the end).
  EXPECT_EQ(r.writes.size(), 7u);
  for (const auto& w : r.writes) EXPECT_LE(w.buffers.size(), 64u) << "more than a sendmsg takes";
}

TEST(ProxyRelayBody, MixedPieceSizesAcrossRandomReadsDecodeTheSame) {
  std::mt19937 rng(7);
  for (int round = 0; round < 40; ++round) {
    std::string wire, data;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      const size_t size = 1 + (rng() % 3 == 0 ? rng() % 100 : rng() % 20000);
      const std::string piece = payload(size, rng());
      data += piece;
      wire += chunk(piece);
    }
    wire += "0\r\n\r\n";
    std::vector<size_t> sizes;
    for (size_t total = 0; total < wire.size();) {
      sizes.push_back(1 + rng() % 40000);
      total += sizes.back();
    }
    const Relayed r = relay(kChunkedHead, cut(wire, sizes));
    ASSERT_EQ(r.failed, RelayFailure::none) << r.ec.message();
    ASSERT_TRUE(decodedBody(r.out) == data) << "round " << round;
  }
}

TEST(ProxyRelayBody, AContentLengthBodyGoesOutExactlyAndTheNextRequestStaysBuffered) {
  const std::string data = payload(300 * 1024 + 11);
  const std::string next = "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n";
  // The last read carries the body's end and the next request (keep-alive).
  const Relayed r = relay(lengthHead(data.size()), cut(data + next, {100000, 131072}));
  ASSERT_EQ(r.failed, RelayFailure::none) << r.ec.message();
  http::request_header<> head;
  EXPECT_TRUE(decodedBody(r.out, &head) == data);
  EXPECT_EQ(head[http::field::content_length], std::to_string(data.size()));
  EXPECT_EQ(head.find(http::field::transfer_encoding), head.end());
  EXPECT_EQ(r.left, next) << "the body's end was not where its length says";
  EXPECT_TRUE(r.pointsIntoReadBuffer);
}

TEST(ProxyRelayBody, ACloseDelimitedResponseEndsAtEof) {
  const std::string data = payload(200 * 1024 + 1);
  const Relayed r =
      relay<false>("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", cut(data, {65536, 65536, 7}));
  ASSERT_EQ(r.failed, RelayFailure::none) << r.ec.message();
  EXPECT_TRUE(r.out.substr(r.out.find("\r\n\r\n") + 4) == data);
}

TEST(ProxyRelayBody, AMalformedChunkMidBodyIsRefusedAndNothingOfItGoesOut) {
  const std::string a = payload(10000, 1);
  // A chunk size that is not hex, after a valid chunk, in the same read and in the next one.
  for (const auto& reads : std::vector<std::vector<std::string>>{
           {chunk(a) + "zz\r\nEVIL\r\n0\r\n\r\n"}, {chunk(a), "zz\r\nEVIL\r\n0\r\n\r\n"}}) {
    const Relayed r = relay(kChunkedHead, reads);
    EXPECT_EQ(r.failed, RelayFailure::read);
    EXPECT_EQ(r.ec, http::error::bad_chunk) << r.ec.message();
    EXPECT_EQ(r.out.find("EVIL"), std::string::npos) << "bytes past the bad chunk went out";
    EXPECT_EQ(r.out.find("0\r\n\r\n"), std::string::npos) << "the body was ended for the peer";
  }
  // A chunk longer than its size says: the bytes where its CRLF must be are refused.
  const Relayed r = relay(kChunkedHead, {"5\r\nhelloEVIL\r\n0\r\n\r\n"});
  EXPECT_EQ(r.failed, RelayFailure::read);
  EXPECT_EQ(r.out.find("EVIL"), std::string::npos);
  // A body cut short (EOF mid-chunk) is an error, not a shorter body.
  const Relayed cutShort = relay(kChunkedHead, {chunk(a).substr(0, 5000)});
  EXPECT_EQ(cutShort.failed, RelayFailure::read);
  EXPECT_EQ(cutShort.ec, asio::error::eof);
  EXPECT_EQ(cutShort.out.find("0\r\n\r\n"), std::string::npos);
}

TEST(ProxyRelayBody, AnEmptyFinalChunkEndsTheBody) {
  // Only the final chunk: an empty body, framed as one.
  const Relayed empty = relay(kChunkedHead, {"0\r\n\r\n"});
  ASSERT_EQ(empty.failed, RelayFailure::none) << empty.ec.message();
  EXPECT_EQ(decodedBody(empty.out), "");
  EXPECT_EQ(empty.out.substr(empty.out.size() - 5), "0\r\n\r\n");
  // The final chunk in a read of its own, after the data: no empty data chunk before it (that
  // would end the body early for the peer), exactly one end.
  const std::string a = payload(3000);
  const Relayed r = relay(kChunkedHead, {chunk(a), "0\r\n", "\r\n"});
  ASSERT_EQ(r.failed, RelayFailure::none) << r.ec.message();
  EXPECT_TRUE(decodedBody(r.out) == a);
  const std::string body = r.out.substr(r.out.find("\r\n\r\n") + 4);
  EXPECT_EQ(body.find("\r\n0\r\n"), body.size() - 7) << body.substr(0, 20);
}

// An upload's dockerd-facing socket gets room for several 256 KiB pieces, past
// net.core.wmem_max (SO_SNDBUFFORCE: the guard, and this test, run as root).
TEST(ProxyRelayBody, AnUploadsSocketToDockerdGetsAWideSendBuffer) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root (CAP_NET_ADMIN for SO_SNDBUFFORCE)";
  asio::io_context io;
  asio::local::stream_protocol::socket a(io), b(io);
  asio::local::connect_pair(a, b);
  asio::socket_base::send_buffer_size before;
  a.get_option(before);
  widenUploadSendBuffer(a);
  asio::socket_base::send_buffer_size after;
  a.get_option(after);
  EXPECT_LT(before.value(), kUploadSendBuffer) << "the default is already as wide";
  // What was asked, not capped by net.core.wmem_max (Asio halves the kernel's doubled value).
  EXPECT_EQ(after.value(), kUploadSendBuffer);
  asio::socket_base::send_buffer_size other;
  b.get_option(other);
  EXPECT_EQ(other.value(), before.value()) << "only the socket it was asked for";
}

// A bulk download's claim on a wide send buffer: none for small answers, taken once past
// kBulkDownloadBytes, at most kMaxWideDownloads at a time, restored and given back on release.
struct FakeSendBuffer {
  int value = 106496;  // what Asio reads of a stock default (212992 in the kernel)
  int sets = 0;
  std::function<void(int)> setter() {
    return [this](int v) {
      value = v;
      ++sets;
    };
  }
  std::function<int()> getter() {
    return [this] { return value; };
  }
};

TEST(ProxyDownloadSendBuffer, SmallAnswersNeverWidenIt) {
  int inUse = 0;
  FakeSendBuffer fb;
  DownloadSendBuffer d(inUse, fb.setter(), fb.getter());
  for (int i = 0; i < 100; ++i) d.written(kBulkDownloadBytes / 200);
  EXPECT_FALSE(d.holds());
  EXPECT_EQ(fb.sets, 0);
  EXPECT_EQ(inUse, 0);
}

TEST(ProxyDownloadSendBuffer, ABulkDownloadWidensItOnceAndRestoresTheDefaultAtTheEnd) {
  int inUse = 0;
  FakeSendBuffer fb;
  {
    DownloadSendBuffer d(inUse, fb.setter(), fb.getter());
    d.written(kBulkDownloadBytes - 1);
    EXPECT_FALSE(d.holds());
    d.written(1);
    EXPECT_TRUE(d.holds());
    EXPECT_EQ(fb.value, kUploadSendBuffer);
    EXPECT_EQ(inUse, 1);
    for (int i = 0; i < 10; ++i) d.written(kBulkDownloadBytes);
    EXPECT_EQ(fb.sets, 1) << "widened once, not on every piece";
  }
  EXPECT_EQ(fb.value, 106496) << "the default is back when the connection ends";
  EXPECT_EQ(inUse, 0) << "and the slot is free";
}

TEST(ProxyDownloadSendBuffer, AtMostKMaxWideDownloadsHoldOneAtATime) {
  int inUse = 0;
  std::vector<FakeSendBuffer> fbs(kMaxWideDownloads + 2);
  std::vector<std::unique_ptr<DownloadSendBuffer>> ds;
  for (auto& fb : fbs) {
    ds.push_back(std::make_unique<DownloadSendBuffer>(inUse, fb.setter(), fb.getter()));
    ds.back()->written(kBulkDownloadBytes);
  }
  EXPECT_EQ(inUse, kMaxWideDownloads);
  for (int i = 0; i < kMaxWideDownloads; ++i) EXPECT_TRUE(ds[i]->holds()) << i;
  for (size_t i = kMaxWideDownloads; i < ds.size(); ++i) {
    EXPECT_FALSE(ds[i]->holds()) << i;
    EXPECT_EQ(fbs[i].sets, 0) << "a connection past the bound keeps the default";
  }
  // A slot given back (the response has gone out) is not retaken by a response already refused
  // one (asked once per response), but the next response, on any connection, gets it.
  ds[0]->release();
  ds[0]->release();  // twice is harmless
  EXPECT_EQ(inUse, kMaxWideDownloads - 1);
  EXPECT_EQ(fbs[0].value, 106496) << "the default is back after the response";
  ds[kMaxWideDownloads]->written(kBulkDownloadBytes);
  EXPECT_FALSE(ds[kMaxWideDownloads]->holds());
  ds[kMaxWideDownloads]->release();
  ds[kMaxWideDownloads]->written(kBulkDownloadBytes);
  EXPECT_TRUE(ds[kMaxWideDownloads]->holds()) << "its next response";
  EXPECT_EQ(inUse, kMaxWideDownloads);
  ds.clear();
  EXPECT_EQ(inUse, 0);
}

// Each response is counted on its own: many small answers on one keep-alive connection never
// add up to a bulk download.
TEST(ProxyDownloadSendBuffer, SmallAnswersOnOneConnectionDoNotAddUp) {
  int inUse = 0;
  FakeSendBuffer fb;
  DownloadSendBuffer d(inUse, fb.setter(), fb.getter());
  for (int i = 0; i < 10; ++i) {
    d.written(kBulkDownloadBytes / 2);
    d.release();
  }
  EXPECT_EQ(fb.sets, 0);
  EXPECT_EQ(inUse, 0);
}

// The same on a real socket pair, as proxy.cc wires it (SO_SNDBUFFORCE: root).
TEST(ProxyDownloadSendBuffer, OnARealSocketTheKernelHoldsTheWideBufferAndThenTheDefault) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root (CAP_NET_ADMIN for SO_SNDBUFFORCE)";
  asio::io_context io;
  asio::local::stream_protocol::socket a(io), b(io);
  asio::local::connect_pair(a, b);
  auto get = [&a] {
    asio::socket_base::send_buffer_size v;
    a.get_option(v);
    return v.value();
  };
  const int before = get();
  int inUse = 0;
  {
    DownloadSendBuffer d(
        inUse, [&a](int bytes) { setSendBuffer(a, bytes); }, get);
    d.written(kBulkDownloadBytes);
    EXPECT_EQ(get(), kUploadSendBuffer);
  }
  EXPECT_EQ(get(), before);
}

}  // namespace
}  // namespace eci::apiproxy
