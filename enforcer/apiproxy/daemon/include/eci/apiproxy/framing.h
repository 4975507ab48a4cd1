// HTTP/1.1 request framing checks of eci-apiproxyd: what Boost.Beast's parser accepts but a guard
// in front of dockerd must not pass on. A request that two HTTP implementations could frame
// differently (Content-Length and Transfer-Encoding together, repeated or conflicting lengths, a
// transfer coding other than plain "chunked", folded header lines, absolute-form targets) could
// smuggle a second request past the guard's decision, so it is answered with a 4xx here and never
// reaches dockerd. Pure functions: unit-tested and fuzzed (fuzz/framing_fuzz.cc).
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace eci::apiproxy {

// Go's http.DefaultMaxHeaderBytes, what dockerd itself accepts (registry auth headers are large).
inline constexpr size_t kHeaderLimit = 1u << 20;
// Bodies the guard inspects (create, build query forms, volume/exec create) are read whole up to
// this size; larger ones are refused with 413 (engine-api.md §6).
inline constexpr size_t kInspectBodyLimit = 4u << 20;

// A refusal the proxy answers itself: HTTP status and the sentence for {"message": ...}.
// Deliberately not an aggregate: GCC 12 destroys an aggregate temporary in a co_await expression
// twice (`co_await writeRefusal(client, {417, "..."}, ...)` was a double free, SIGABRT, on every
// refusal the relay answers itself); a constructor call is a plain temporary and is destroyed once.
struct Refusal {
  Refusal() = default;
  Refusal(unsigned s, std::string m) : status(s), message(std::move(m)) {}
  unsigned status = 400;
  std::string message;
};

// Checks a request header Beast parsed. `rawHead` is the header's bytes as received (up to and
// including the blank line) when the caller has them, for checks the parsed form hides (obs-fold).
std::optional<Refusal> checkRequestFraming(const boost::beast::http::request_header<>& header,
                                           std::string_view rawHead = {});

// The refusal for a Beast parse error on the request side (bad chunk, header too large, ...).
Refusal refusalForParseError(const boost::beast::error_code& ec);

// JSON error body Docker's client shows as "Error response from daemon: <message>".
std::string errorBody(std::string_view message);

// Parses one request from `bytes` with the proxy's parser settings and checks; used by the fuzzer
// and the unit tests. Returns the refusal, or nullopt when the request is acceptable (complete or
// not). `consumed` gets the header length when a header was parsed.
std::optional<Refusal> parseAndCheck(std::string_view bytes, size_t* consumed = nullptr);

}  // namespace eci::apiproxy
