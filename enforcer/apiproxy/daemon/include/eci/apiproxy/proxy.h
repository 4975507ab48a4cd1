// eci-apiproxyd: the Engine API guard. It owns the engine's public socket, forwards every request
// to dockerd's private socket, and decides each request (eci/apiproxy/decide.h) before dockerd sees
// it. HTTP/1.1 is done by Boost.Beast on Boost.Asio (engine-api.md §6): hijacked attach/exec
// (101 and raw 200), h2c upgrades (/session, /grpc) and chunked streams are relayed as they come,
// bodies streamed, never buffered whole (except the bounded bodies a decision needs).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "eci/error.h"

namespace eci::apiproxy {

struct ProxyConfig {
  std::filesystem::path listenSocket = "/run/docker.sock";  // the public engine socket
  mode_t listenMode = 0660;
  uid_t listenUid = 0;
  gid_t listenGid = 0;
  std::filesystem::path upstreamSocket = "/run/eci/dockerd.sock";  // dockerd's private socket
  std::filesystem::path controlSocket = "/run/eci/enforcer.sock";  // eci-enforcerd (policy)
  // Per-container engine sockets: <socketDir>/<32 hex>/docker.sock (CONTRACTS.md 3).
  std::filesystem::path socketDir = "/run/eci-apiproxy/sockets";
  // The guard's state: the per-container socket grants (<stateDir>/grants, grant_store.h), kept
  // across reboots (eci-enforcerd's --state-dir is /var/lib/eci).
  std::filesystem::path stateDir = "/var/lib/eci/apiproxy";
  // Other engine sockets no container may mount (containerd's, ...).
  std::vector<std::string> protectedSockets = {"/run/containerd/containerd.sock"};
  // How long a registry digest looked up through the engine stays fresh.
  std::chrono::seconds digestRefresh{120};
  // How long the policy read from eci-enforcerd serves requests that carry no body to inspect;
  // creates, starts and builds always read it afresh.
  std::chrono::milliseconds policyRefresh{1000};
  // Threads for blocking work (enforcerd and engine look-ups); I/O runs on one thread.
  int workerThreads = 4;
};

class Proxy {
 public:
  explicit Proxy(ProxyConfig cfg);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Binds the public socket (and re-serves per-container sockets left from a previous run).
  Status start();
  // Serves until stop(); returns when every thread has finished.
  void run();
  // Thread-safe and async-signal-unsafe: call from a signal-waiting thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eci::apiproxy
