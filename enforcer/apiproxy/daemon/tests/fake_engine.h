// Test support for the relay's tests (proxy_test.cc, upstream_test.cc): a fake engine on a unix
// socket and a guard started in front of it on temporary sockets.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eci/apiproxy/proxy.h"
#include "eci/ipc.h"
#include "eci/unique_fd.h"

namespace eci::apiproxy::testing {

namespace fs = std::filesystem;

inline void writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    // MSG_NOSIGNAL: the guard may close before it has read everything (a refusal).
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads what the peer sends until it closes (the guard closes after each refusal).
inline std::string readToEof(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

// A stand-in for dockerd's private socket: one request per connection; a create is answered 201
// without an Id, anything else 200 {} (or what `answer` writes on the connection). The guard's
// own requests (its container list for the reconcile pass at start and on each events
// connection, reconcile.h; its events watcher; the warm-up of a spare) are answered here, never
// given to `answer`: the tests count and time the relay's own connections, and only a client's
// request, made while the test body runs, can reach what `answer` captured.
class FakeEngine {
 public:
  using Answer = std::function<void(int fd, const std::string& requestHead)>;
  explicit FakeEngine(const fs::path& path, Answer answer = {}) : answer_(std::move(answer)) {
    auto l = ipc::listenUnix(path);
    EXPECT_TRUE(l.ok());
    if (l.ok()) listenFd_ = std::move(*l);
    thread_ = std::thread([this] { serve(); });
  }
  // Closes every connection still open too, as a stopping dockerd does (the guard's spares).
  ~FakeEngine() {
    stop_ = true;
    ::shutdown(listenFd_.get(), SHUT_RDWR);
    thread_.join();
    {
      std::lock_guard lk(mu_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conns_) t.join();
  }
  // Connections accepted that have brought no request but the guard's warm-up yet: its spares.
  int silentConnections() const { return silent_; }
  // Warm-up exchanges answered (one per spare the guard made).
  int warmUps() const { return warmUps_; }
  static constexpr std::string_view kWarmUpRequest = "GET /_ping HTTP/1.1\r\nHost: api\r\n\r\n";

 private:
  void serve() {
    while (!stop_) {
      const int c = ::accept(listenFd_.get(), nullptr, nullptr);
      if (c < 0) return;
      {
        std::lock_guard lk(mu_);
        open_.push_back(c);
      }
      ++silent_;
      conns_.emplace_back([this, c] {
        std::string req;
        char buf[4096];
        for (;;) {
          while (req.find("\r\n\r\n") == std::string::npos) {
            const ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) break;
            req.append(buf, static_cast<size_t>(n));
          }
          // The guard's warm-up of a spare (listeners.cc): answered as dockerd does, keep-alive;
          // the connection still counts as a spare until a client's request comes.
          if (req != kWarmUpRequest) break;
          ++warmUps_;
          writeAll(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nOK");
          req.clear();
        }
        --silent_;
        if (req.rfind("GET /events", 0) == 0) {
          // The guard's own destroy-events watcher (unversioned; a client's is /v1.xx/events):
          // held open, silent, until the guard or this engine ends it. Never given to `answer`:
          // the watcher reconnects whenever it likes, also after a test body has returned, when
          // what `answer` captured from that body is gone.
          while (::read(c, buf, sizeof buf) > 0) {
          }
        } else if (req.rfind("GET /containers/json?all=1 ", 0) == 0) {
          writeAll(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]");
        } else if (!req.empty() && answer_) {
          answer_(c, req);
        } else if (!req.empty()) {
          const bool create = req.find("/containers/create") != std::string::npos;
          writeAll(c, std::string(create ? "HTTP/1.1 201 Created" : "HTTP/1.1 200 OK") +
                          "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                          "Connection: close\r\n\r\n{}");
        }
        {
          std::lock_guard lk(mu_);
          std::erase(open_, c);
        }
        ::close(c);
      });
    }
  }
  Answer answer_;
  std::mutex mu_;
  std::vector<int> open_;  // connections not yet closed (under mu_)
  std::atomic<int> silent_{0};
  std::atomic<int> warmUps_{0};
  UniqueFd listenFd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> conns_;
};

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eci-apiproxy-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (proxy_) {
      proxy_->stop();
      runner_.join();
      proxy_.reset();
    }
    engine_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void startGuard() {
    ProxyConfig cfg;
    cfg.listenSocket = dir_ / "docker.sock";
    cfg.listenMode = 0600;
    cfg.listenUid = ::getuid();
    cfg.listenGid = ::getgid();
    cfg.upstreamSocket = dir_ / "engine.sock";
    cfg.controlSocket = dir_ / "enforcer.sock";  // absent: the fail-closed policy (ECI on)
    cfg.socketDir = dir_ / "sockets";
    cfg.stateDir = dir_ / "state";  // never the host's /var/lib/eci/apiproxy
    cfg.protectedSockets.clear();
    proxy_ = std::make_unique<Proxy>(cfg);
    ASSERT_TRUE(proxy_->start().ok());
    runner_ = std::thread([this] { proxy_->run(); });
  }
  // The guard in front of a fake engine answering with `answer`, and one client connection to
  // it (invalid, the test failed, when it cannot connect).
  UniqueFd startAndConnect(FakeEngine::Answer answer) {
    engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock", std::move(answer));
    startGuard();
    auto fd = ipc::connectUnix(dir_ / "docker.sock", std::chrono::seconds(5));
    EXPECT_TRUE(fd.ok());
    return fd.ok() ? std::move(*fd) : UniqueFd();
  }
  // One request on a fresh connection; the whole answer.
  std::string exchange(const std::string& request) {
    auto fd = ipc::connectUnix(dir_ / "docker.sock", std::chrono::seconds(5));
    EXPECT_TRUE(fd.ok());
    if (!fd.ok()) return {};
    writeAll(fd->get(), request);
    return readToEof(fd->get());
  }
  static std::string statusLine(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
  }

  fs::path dir_;
  std::unique_ptr<FakeEngine> engine_;
  std::unique_ptr<Proxy> proxy_;
  std::thread runner_;
};

inline const std::string kPing = "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n";

}  // namespace eci::apiproxy::testing
