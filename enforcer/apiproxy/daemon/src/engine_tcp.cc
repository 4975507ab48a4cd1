// "No TCP without TLS while ECI is on": finds dockerd (the peer of a connection to its private
// socket) and reports a TCP listener it has without TLS — from its command line (-H/--host
// tcp://... without --tlsverify/--tls) and from the listening TCP sockets it holds
// (/proc/net/tcp{,6} state 0A matched against its fds), each asked once whether it answers the
// Engine API in plain HTTP. daemon.json "hosts" come back as such listeners too, so the fd check
// covers them without parsing the file. Only a plain-HTTP answer counts: dockerd holds other TCP
// listeners that are not the Engine API (swarm mode's cluster port 2377 speaks mutual TLS, its
// gossip port 7946 memberlist), and counting those made `docker swarm init` refuse every request.
#include "engine_tcp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

#include "eci/ipc.h"

namespace eci::apiproxy {

namespace {

// A listening TCP socket: its inode and where to reach it.
struct TcpListener {
  bool v6 = false;
  std::string addrHex;  // /proc/net/tcp's local address, without the port
  uint16_t port = 0;
};

std::map<std::string, TcpListener> listeningTcp() {
  std::map<std::string, TcpListener> out;
  for (const char* f : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(f);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string sl, local, remote, st, q, tr, rt, uid, to, inode;
      ls >> sl >> local >> remote >> st >> q >> tr >> rt >> uid >> to >> inode;
      const size_t colon = local.find(':');
      if (st != "0A" || colon == std::string::npos) continue;
      TcpListener l;
      l.v6 = std::string_view(f).find("tcp6") != std::string_view::npos;
      l.addrHex = local.substr(0, colon);
      l.port = static_cast<uint16_t>(std::strtoul(local.c_str() + colon + 1, nullptr, 16));
      out[inode] = l;
    }
  }
  return out;
}

// /proc/net/tcp prints each 32-bit word of the address in host byte order.
bool parseProcAddr(const std::string& hex, bool v6, sockaddr_storage& ss, socklen_t& len) {
  const size_t words = v6 ? 4 : 1;
  if (hex.size() != words * 8) return false;
  uint32_t w[4] = {};
  for (size_t i = 0; i < words; ++i) {
    w[i] = static_cast<uint32_t>(std::strtoul(hex.substr(i * 8, 8).c_str(), nullptr, 16));
  }
  ss = {};
  if (!v6) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = w[0];
    // A wildcard listener is reached on loopback.
    if (a->sin_addr.s_addr == htonl(INADDR_ANY)) a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    std::memcpy(&a->sin6_addr, w, sizeof w);
    if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)) a->sin6_addr = in6addr_loopback;
    len = sizeof(sockaddr_in6);
  }
  return true;
}

// Does the listener answer a plain HTTP request with an HTTP response (the Engine API without
// TLS)? A TLS or other protocol server closes, resets or answers something else. Bounded: 0.5 s.
bool answersPlainHttp(const TcpListener& l) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!parseProcAddr(l.addrHex, l.v6, ss, len)) return false;
  if (l.v6) {
    reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(l.port);
  } else {
    reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(l.port);
  }
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  auto waitFor = [fd](short ev) {
    pollfd p{fd, ev, 0};
    return ::poll(&p, 1, 250) == 1 && (p.revents & ev) != 0;
  };
  bool http = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 ||
      (errno == EINPROGRESS && waitFor(POLLOUT))) {
    int err = 0;
    socklen_t el = sizeof err;
    static constexpr char kPing[] = "GET /_ping HTTP/1.0\r\nHost: eci\r\n\r\n";
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0 &&
        ::send(fd, kPing, sizeof kPing - 1, MSG_NOSIGNAL) ==
            static_cast<ssize_t>(sizeof kPing - 1) &&
        waitFor(POLLIN)) {
      char buf[8] = {};
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      http = n >= 7 && std::string_view(buf, 7) == "HTTP/1.";
    }
  }
  ::close(fd);
  return http;
}

// Each listening socket is asked once: its protocol does not change while it exists.
std::mutex probedMu;
std::map<std::string, bool> probed;  // socket inode -> answers plain HTTP

}  // namespace

std::optional<std::string> engineTcpWithoutTls(const std::filesystem::path& upstream) {
  auto fd = ipc::connectUnix(upstream, std::chrono::seconds(5));
  if (!fd.ok()) return std::nullopt;
  auto peer = ipc::peerCred(fd->get());
  if (!peer.ok() || peer->pid <= 0) return std::nullopt;
  const pid_t pid = peer->pid;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream cf(proc + "/cmdline");
  std::string cmd((std::istreambuf_iterator<char>(cf)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t i = 0; i < cmd.size();) {
    const size_t z = cmd.find('\0', i);
    args.push_back(cmd.substr(i, z == std::string::npos ? std::string::npos : z - i));
    if (z == std::string::npos) break;
    i = z + 1;
  }
  bool tls = false;
  std::string tcpHost;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--tlsverify" || a == "--tlsverify=true" || a == "--tls" || a == "--tls=true") {
      tls = true;
    }
    std::string v;
    if ((a == "-H" || a == "--host") && i + 1 < args.size()) v = args[i + 1];
    if (a.rfind("--host=", 0) == 0) v = a.substr(7);
    if (a.rfind("-H=", 0) == 0) v = a.substr(3);
    if (v.rfind("tcp://", 0) == 0) tcpHost = v;
  }
  if (!tcpHost.empty() && !tls)
    return "dockerd (pid " + std::to_string(pid) + ") is started with -H " + tcpHost +
           " without TLS";
  if (tls) return std::nullopt;
  const auto listeners = listeningTcp();
  std::set<std::string> held;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(proc + "/fd", ec)) {
    std::error_code rec;
    const std::string t = std::filesystem::read_symlink(e.path(), rec).string();
    if (t.rfind("socket:[", 0) == 0) held.insert(t.substr(8, t.size() - 9));
  }
  std::lock_guard lk(probedMu);
  for (auto it = probed.begin(); it != probed.end();) {  // forget closed listeners
    it = held.count(it->first) ? std::next(it) : probed.erase(it);
  }
  for (const auto& inode : held) {
    auto l = listeners.find(inode);
    if (l == listeners.end()) continue;
    auto [p, fresh] = probed.emplace(inode, false);
    if (fresh) p->second = answersPlainHttp(l->second);
    if (p->second) {
      return "dockerd (pid " + std::to_string(pid) + ") listens on TCP port " +
             std::to_string(l->second.port) + " without TLS";
    }
  }
  return std::nullopt;
}

}  // namespace eci::apiproxy
