// Internals of eci-apiproxyd shared by its source files: the listener table, one exchange
// (request on a client connection) as the decision bridge sees it, and the blocking helpers that
// talk to dockerd's private socket and to eci-enforcerd.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "eci/apiproxy/framing.h"
#include "eci/apiproxy/proxy.h"
#include "eci/error.h"

namespace eci::apiproxy {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Socket = asio::local::stream_protocol::socket;
using Acceptor = asio::local::stream_protocol::acceptor;

// "No limit" for Beast parsers. Not boost::none: Beast 1.74 compares `len > body_limit_` on the
// optional, and an empty optional is less than every length, so none refuses every body.
inline constexpr std::uint64_t kNoBodyLimit = std::numeric_limits<std::uint64_t>::max();

// One listening socket: the public one, or a per-container one (CONTRACTS.md 3).
struct Listener {
  Listener(asio::io_context& io, std::filesystem::path p, std::string t)
      : acceptor(io), path(std::move(p)), token(std::move(t)) {}
  Acceptor acceptor;
  std::filesystem::path path;
  std::string token;  // empty: the public socket
  // The container this socket was made for, once its create succeeded, its image ID, its own bind
  // sources and who created it on the public socket (under the registry's mutex).
  std::string containerId;
  std::string imageId;
  std::vector<std::string> bindSources;
  uid_t ownerUid = static_cast<uid_t>(-1);
  gid_t ownerGid = static_cast<gid_t>(-1);
  std::atomic<bool> closed{false};
  // Listening but not accepting yet: bound at start from a grant record on disk (after a reboot
  // the engine restarts containers before anyone could ask it about them, and their binds need
  // the socket file); accepted on only once a pass with the engine confirmed the grant
  // (reconcile.h). Clients wait in the backlog meanwhile. Under the registry's mutex.
  bool pending = false;
  bool isContainerSocket() const { return !token.empty(); }
};

struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// What the decision bridge returns for one request.
struct Outcome {
  // Read the body whole (at most maxBody bytes, else 413) and decide again.
  bool needBody = false;
  size_t maxBody = 0;
  std::optional<Refusal> refusal;
  // Hold the (small) response and run afterResponse before the client sees it (create ->
  // setCaller; CONTRACTS.md 4). A failed afterResponse turns the reply into a 500.
  std::function<Status(unsigned status, const std::string& body)> afterResponse;
};

// One request as the decision bridge sees it. `body` is the complete request body when the route
// needs it (Gate::needsBody), else nullopt; the bridge may rewrite header target and body.
struct Exchange {
  std::shared_ptr<Listener> listener;
  Peer caller;
  http::request_header<>* header = nullptr;
  std::optional<std::string> body;
};

// Blocking HTTP/1.1 over dockerd's private socket, for the guard's own look-ups.
struct EngineReply {
  unsigned status = 0;
  std::string body;
};
Result<EngineReply> engineCall(const std::filesystem::path& socket, http::verb method,
                               const std::string& target, const std::string& body = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace eci::apiproxy
