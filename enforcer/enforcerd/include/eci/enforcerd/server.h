// eci-enforcerd's sockets: the control socket (eci-runc, eci-admin status), the push socket (the
// agent, eci-admin policy push) and an optional AF_VSOCK push listener for a VM. One thread per
// connection (bounded by Config::maxConnections), one request and one reply per connection, every
// read and write under Config::ioTimeout. Unix peers must be uid 0 (SO_PEERCRED), checked on
// every connection in addition to the sockets' 0600 mode.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "eci/enforcerd/enforcer.h"
#include "eci/error.h"
#include "eci/unique_fd.h"

namespace eci::enforcerd {

enum class Endpoint { kControl, kPush, kVsockPush };

class Server {
 public:
  explicit Server(Enforcer& enforcer);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the sockets (mode 0600) and starts accepting.
  Status start();
  // Stops accepting, removes the socket files it created, waits for in-flight requests (each is
  // bounded by the I/O timeout). Idempotent.
  void stop();

  size_t activeConnections() const { return active_.load(); }

 private:
  struct Listener {
    UniqueFd fd;
    Endpoint endpoint;
    std::filesystem::path path;  // empty for vsock
    dev_t dev = 0;
    ino_t ino = 0;
  };
  void acceptLoop();
  void serve(UniqueFd conn, Endpoint endpoint);
  Status addUnixListener(const std::filesystem::path& path, Endpoint endpoint);
  Status addVsockListener(uint32_t port);

  Enforcer& enforcer_;
  std::vector<Listener> listeners_;
  UniqueFd wake_;  // eventfd that wakes the accept loop for stop()
  std::thread acceptThread_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> active_{0};
  std::mutex mu_;
  std::condition_variable idle_;
};

}  // namespace eci::enforcerd
