// "No TCP without TLS while ECI is on": finds dockerd (the peer of a connection to its private
// socket) and reports a TCP listener it has without TLS — from its command line (-H/--host
// tcp://... without --tlsverify/--tls) and from the listening TCP sockets it holds
// (/proc/net/tcp{,6} state 0A matched against its fds). daemon.json "hosts" come back as such
// listeners too, so the fd check covers them without parsing the file.
#include "engine_tcp.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "eci/ipc.h"

namespace eci::apiproxy {

namespace {

std::set<std::string> listeningTcpInodes() {
  std::set<std::string> out;
  for (const char* f : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(f);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string sl, local, remote, st, q, tr, rt, uid, to, inode;
      ls >> sl >> local >> remote >> st >> q >> tr >> rt >> uid >> to >> inode;
      if (st == "0A") out.insert(inode);
    }
  }
  return out;
}

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
  const auto inodes = listeningTcpInodes();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(proc + "/fd", ec)) {
    std::error_code rec;
    const std::string t = std::filesystem::read_symlink(e.path(), rec).string();
    if (t.rfind("socket:[", 0) == 0 && inodes.count(t.substr(8, t.size() - 9))) {
      return "dockerd (pid " + std::to_string(pid) + ") listens on TCP without TLS";
    }
  }
  return std::nullopt;
}

}  // namespace eci::apiproxy
