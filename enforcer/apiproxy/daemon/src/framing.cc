// Request framing checks; see framing.h for why each one exists.
#include "eci/apiproxy/framing.h"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

namespace eci::apiproxy {

namespace http = boost::beast::http;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Refusal bad(std::string m) {
  return {400, std::move(m)};
}

}  // namespace

std::string errorBody(std::string_view message) {
  return nlohmann::json{{"message", std::string(message)}}.dump() + "\n";
}

std::optional<Refusal> checkRequestFraming(const http::request_header<>& h,
                                           std::string_view rawHead) {
  // Folded header lines (obs-fold) are joined differently by different parsers.
  for (size_t i = rawHead.find("\r\n"); i != std::string_view::npos;
       i = rawHead.find("\r\n", i + 2)) {
    if (i + 2 < rawHead.size() && (rawHead[i + 2] == ' ' || rawHead[i + 2] == '\t')) {
      return bad("bad request: folded header lines are not accepted");
    }
  }
  if (h.version() != 11 && h.version() != 10) return bad("bad request: unsupported HTTP version");
  switch (h.method()) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::post:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::options:
      break;
    default:
      return Refusal{405, "method not allowed: " + std::string(h.method_string())};
  }
  // Origin-form only: an absolute-form target names a host dockerd would ignore while a
  // path-based check might not; '*' (asterisk-form) is for OPTIONS to a proxy.
  const std::string_view target = h.target();
  if (target.empty() || target.front() != '/') {
    return bad("bad request: the request target must be an absolute path");
  }
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f || c == '#') {
      return bad("bad request: invalid character in the request target");
    }
  }

  size_t nTe = 0, nCl = 0, nHost = 0;
  std::string_view te, cl;
  for (const auto& f : h) {
    const std::string_view name = f.name_string();
    const std::string_view value = f.value();
    for (unsigned char c : value) {
      // Beast rejects CR/LF in values; NUL and other controls reach Go's parser differently.
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return bad("bad request: control character in header " + std::string(name));
      }
    }
    if (iequals(name, "transfer-encoding")) {
      ++nTe;
      te = value;
    } else if (iequals(name, "content-length")) {
      ++nCl;
      cl = value;
    } else if (iequals(name, "host")) {
      ++nHost;
    }
  }
  if (nTe > 1) return bad("bad request: repeated Transfer-Encoding header");
  if (nCl > 1) return bad("bad request: repeated Content-Length header");
  if (nHost > 1) return bad("bad request: repeated Host header");
  if (nTe == 1 && nCl == 1) {
    return bad("bad request: both Content-Length and Transfer-Encoding (ambiguous framing)");
  }
  if (nTe == 1) {
    if (!iequals(trim(te), "chunked")) {
      return Refusal{501, "transfer coding not supported: " + std::string(te)};
    }
    if (h.version() == 10) return bad("bad request: chunked transfer coding in HTTP/1.0");
  }
  if (nCl == 1) {
    const std::string_view v = trim(cl);
    if (v.empty() || v.size() > 18) return bad("bad request: invalid Content-Length");
    for (char c : v) {
      if (c < '0' || c > '9') return bad("bad request: invalid Content-Length");
    }
  }
  return std::nullopt;
}

Refusal refusalForParseError(const boost::beast::error_code& ec) {
  if (ec == http::error::header_limit) {
    return {431, "request header fields too large"};
  }
  if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
    return {413, "request body too large for the guard to inspect"};
  }
  if (ec == http::error::bad_content_length) return bad("bad request: invalid Content-Length");
  if (ec == http::error::bad_transfer_encoding) {
    return bad("bad request: invalid Transfer-Encoding");
  }
  if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension) {
    return bad("bad request: malformed chunked body");
  }
  return bad("bad request: " + ec.message());
}

std::optional<Refusal> parseAndCheck(std::string_view bytes, size_t* consumed) {
  // The head ends at the first blank line; a bare LF anywhere before it is refused (Go accepts
  // it, Beast does not: the two would disagree on where the head ends).
  const size_t end = bytes.find("\r\n\r\n");
  const std::string_view headPart =
      bytes.substr(0, end == std::string_view::npos ? bytes.size() : end + 4);
  for (size_t i = 0; i < headPart.size(); ++i) {
    if (headPart[i] == '\n' && (i == 0 || headPart[i - 1] != '\r')) {
      return bad("bad request: bare LF in the request head");
    }
  }
  if (end == std::string_view::npos) {
    if (bytes.size() > kHeaderLimit) return Refusal{431, "request header fields too large"};
    return std::nullopt;  // incomplete
  }
  if (end + 4 > kHeaderLimit) return Refusal{431, "request header fields too large"};
  http::request_parser<http::string_body> p;
  p.header_limit(static_cast<std::uint32_t>(kHeaderLimit));
  p.body_limit(kInspectBodyLimit);
  p.eager(false);
  boost::beast::error_code ec;
  const size_t n = p.put(boost::asio::buffer(headPart.data(), headPart.size()), ec);
  if (ec) return refusalForParseError(ec);
  if (!p.is_header_done()) return bad("bad request: incomplete request head");
  if (consumed) *consumed = n;
  if (auto r = checkRequestFraming(p.get().base(), headPart)) return r;
  // Body: what the parser can frame now (chunk sizes, lengths); the rest is incomplete.
  std::string_view rest = bytes.substr(n);
  p.eager(true);
  while (!rest.empty() && !p.is_done()) {
    const size_t used = p.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec == http::error::need_more) break;
    if (ec) return refusalForParseError(ec);
    if (used == 0) break;
    rest.remove_prefix(used);
  }
  return std::nullopt;
}

}  // namespace eci::apiproxy
