// Blocking HTTP/1.1 calls to dockerd's private socket for the guard's own look-ups (image facts,
// container inspect, registry digests). One connection per call, with one deadline for the whole
// exchange, so a stuck engine cannot hold a worker (or the guard's start) forever.
#include <boost/beast/core/flat_buffer.hpp>
#include <cerrno>

#include "eci/ipc.h"
#include "proxy_impl.h"

namespace eci::apiproxy {
namespace {

// Asio reports a failed system call in system_category (its value is the errno); Beast's HTTP
// errors (end_of_stream, body_limit, a bad header) and Asio's misc errors (eof) are codes of
// their own categories, not errnos: from the engine they mean a broken or cut-short answer.
Error engineError(const boost::system::error_code& ec, const std::string& what) {
  if (ec.category() == boost::system::system_category()) {
    return Error(ec.value(), what);  // Error::str() adds strerror (what ec.message() says)
  }
  return Error(ErrorKind::kProtocol, what + ": " + ec.message());
}

}  // namespace

Result<EngineReply> engineCall(const std::filesystem::path& socket, http::verb method,
                               const std::string& target, const std::string& body,
                               std::chrono::milliseconds timeout) {
  ECI_ASSIGN_OR_RETURN(fd, ipc::connectUnix(socket, timeout));
  asio::io_context io{1};
  Socket s(io);
  boost::system::error_code ec;
  s.assign(asio::local::stream_protocol(), fd.release(), ec);
  if (ec) return engineError(ec, "engine socket");
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "docker");
  req.set(http::field::user_agent, "eci-apiproxyd");
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  req.keep_alive(false);
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(16u << 20);
  // One deadline for the whole exchange. Not SO_RCVTIMEO: Asio's blocking reads poll again,
  // without a limit, after the EAGAIN such a timeout gives, so an engine that accepted but never
  // answers held the caller forever.
  bool done = false;
  http::async_write(s, req, [&](boost::system::error_code e, size_t) {
    if (e) {
      ec = e;
      done = true;
      return;
    }
    http::async_read(s, buf, p, [&](boost::system::error_code e2, size_t) {
      ec = e2;
      done = true;
    });
  });
  io.run_for(timeout);
  if (!done) {
    // Pending handlers are destroyed with `io`, never run.
    return Error(ErrorKind::kTimeout, "engine " + target + ": no answer within " +
                                          std::to_string(timeout.count()) + " ms");
  }
  if (ec) return engineError(ec, "engine " + target);
  EngineReply r;
  r.status = p.get().result_int();
  r.body = std::move(p.get().body());
  return r;
}

}  // namespace eci::apiproxy
