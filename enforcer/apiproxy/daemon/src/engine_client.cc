// Blocking HTTP/1.1 calls to dockerd's private socket for the guard's own look-ups (image facts,
// container inspect, registry digests). One connection per call, with a deadline on every read
// and write (SO_RCVTIMEO/SO_SNDTIMEO), so a stuck engine cannot hold a worker forever.
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/beast/core/flat_buffer.hpp>

#include "eci/ipc.h"
#include "proxy_impl.h"

namespace eci::apiproxy {

Result<EngineReply> engineCall(const std::filesystem::path& socket, http::verb method,
                               const std::string& target, const std::string& body,
                               std::chrono::milliseconds timeout) {
  ECI_ASSIGN_OR_RETURN(fd, ipc::connectUnix(socket, timeout));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  asio::io_context io{1};
  Socket s(io);
  boost::system::error_code ec;
  s.assign(asio::local::stream_protocol(), fd.release(), ec);
  if (ec) return Error(ec.value(), "engine socket: " + ec.message());
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "docker");
  req.set(http::field::user_agent, "eci-apiproxyd");
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  req.keep_alive(false);
  http::write(s, req, ec);
  if (ec) return Error(ec.value(), "engine " + target + ": " + ec.message());
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(16u << 20);
  http::read(s, buf, p, ec);
  if (ec) return Error(ec.value(), "engine " + target + ": " + ec.message());
  EngineReply r;
  r.status = p.get().result_int();
  r.body = std::move(p.get().body());
  return r;
}

}  // namespace eci::apiproxy
