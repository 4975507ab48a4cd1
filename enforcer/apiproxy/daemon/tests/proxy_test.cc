// The relay's own answers (417, 413, 502, a failed create hook's 500) leave the guard serving.
// GCC 12 once turned each of them into a double free (SIGABRT of eci-apiproxyd): a refusal built
// as an aggregate temporary inside `co_await writeRefusal(...)` was destroyed twice
// (framing.h, Refusal). A crash here aborts the whole test binary.
#include "eci/apiproxy/proxy.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "eci/ipc.h"
#include "eci/unique_fd.h"

namespace eci::apiproxy {
namespace {

namespace fs = std::filesystem;

void writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    // MSG_NOSIGNAL: the guard may close before it has read everything (a refusal).
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads what the peer sends until it closes (the guard closes after each refusal).
std::string readToEof(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

// A stand-in for dockerd's private socket: one request per connection; a create is answered 201
// without an Id, anything else 200 {} (or what `answer` writes on the connection).
class FakeEngine {
 public:
  using Answer = std::function<void(int fd, const std::string& requestHead)>;
  explicit FakeEngine(const fs::path& path, Answer answer = {}) : answer_(std::move(answer)) {
    auto l = ipc::listenUnix(path);
    EXPECT_TRUE(l.ok());
    if (l.ok()) listenFd_ = std::move(*l);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeEngine() {
    stop_ = true;
    ::shutdown(listenFd_.get(), SHUT_RDWR);
    thread_.join();
    for (auto& t : conns_) t.join();
  }

 private:
  void serve() {
    while (!stop_) {
      const int c = ::accept(listenFd_.get(), nullptr, nullptr);
      if (c < 0) return;
      conns_.emplace_back([this, c] {
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
          const ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          req.append(buf, static_cast<size_t>(n));
        }
        if (!req.empty() && answer_) {
          answer_(c, req);
        } else if (!req.empty()) {
          const bool create = req.find("/containers/create") != std::string::npos;
          writeAll(c, std::string(create ? "HTTP/1.1 201 Created" : "HTTP/1.1 200 OK") +
                          "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                          "Connection: close\r\n\r\n{}");
        }
        ::close(c);
      });
    }
  }
  Answer answer_;
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
    cfg.protectedSockets.clear();
    proxy_ = std::make_unique<Proxy>(cfg);
    ASSERT_TRUE(proxy_->start().ok());
    runner_ = std::thread([this] { proxy_->run(); });
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

const std::string kPing = "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n";

TEST_F(ProxyTest, RelayRefusalsLeaveTheGuardServing) {
  startGuard();
  // 417: an expectation other than 100-continue.
  EXPECT_EQ(statusLine(exchange("GET /_ping HTTP/1.1\r\nHost: docker\r\nExpect: x\r\n\r\n")),
            "HTTP/1.1 417 Expectation Failed");
  // 413: a body the decision must read, larger than it inspects.
  const std::string big(5u << 20, ' ');
  EXPECT_EQ(statusLine(exchange("POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\n"
                                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                                "\r\n500000\r\n" +
                                big)),
            "HTTP/1.1 413 Payload Too Large");
  // 502: no engine behind the guard.
  EXPECT_EQ(statusLine(exchange(kPing)), "HTTP/1.1 502 Bad Gateway");
  EXPECT_EQ(statusLine(exchange(kPing)), "HTTP/1.1 502 Bad Gateway");
}

TEST_F(ProxyTest, AFailedCreateHookIsA500AndTheGuardServesOn) {
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock");
  startGuard();
  const std::string body = R"({"Image":"alpine"})";
  const std::string res = exchange(
      "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(statusLine(res), "HTTP/1.1 500 Internal Server Error");
  EXPECT_NE(res.find("the engine's create reply has no container id"), std::string::npos) << res;
  EXPECT_EQ(statusLine(exchange(kPing)), "HTTP/1.1 200 OK");
}

// A response whose body comes later (events, logs -f, a container's wait): the client gets the
// head at once, not with the first piece of body, and each piece as it comes. The guard writes
// a head together with a body that is already there, and parses on what is buffered, but never
// waits for more.
TEST_F(ProxyTest, AStreamedAnswerIsRelayedPieceByPieceAsItComes) {
  std::atomic<int> seen{0};  // what the client has seen: 1 the head, 2 the first event
  auto waitSeen = [&](int n) {
    for (int i = 0; i < 500 && seen < n; ++i) ::usleep(10 * 1000);  // at most 5 s
  };
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock", [&](int fd, const std::string&) {
    writeAll(fd,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n");
    waitSeen(1);
    writeAll(fd, "9\r\n{\"a\":\"1\"}\r\n");
    waitSeen(2);
    writeAll(fd, "9\r\n{\"b\":\"2\"}\r\n0\r\n\r\n");
  });
  startGuard();
  auto fd = ipc::connectUnix(dir_ / "docker.sock", std::chrono::seconds(5));
  ASSERT_TRUE(fd.ok());
  writeAll(fd->get(), "GET /v1.41/events HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
  std::string got;
  auto readUntil = [&](const std::string& what) {
    char buf[4096];
    while (got.find(what) == std::string::npos) {
      pollfd p{fd->get(), POLLIN, 0};
      // Well under the engine's 5 s: a piece held back for the next one arrives only after those.
      if (::poll(&p, 1, 2000) != 1) return false;
      const ssize_t n = ::read(fd->get(), buf, sizeof buf);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    return true;
  };
  ASSERT_TRUE(readUntil("\r\n\r\n")) << "no head from the guard before the body; got: " << got;
  seen = 1;
  ASSERT_TRUE(readUntil("{\"a\":\"1\"}")) << "the first event held back; got: " << got;
  seen = 2;
  got += readToEof(fd->get());
  EXPECT_EQ(statusLine(got), "HTTP/1.1 200 OK");
  EXPECT_NE(got.find("{\"b\":\"2\"}"), std::string::npos) << got;
}

// Large bodies both ways arrive whole and in order, and the connection serves the next request
// after them (the relay's buffers are given back between requests).
TEST_F(ProxyTest, LargeBodiesAreRelayedWholeOnAKeptConnection) {
  // 3 MiB + 7 bytes: not a multiple of any buffer size; bytes that encode their offset.
  std::string big((3u << 20) + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  std::atomic<size_t> uploaded{0};
  std::atomic<bool> uploadIntact{false};
  engine_ =
      std::make_unique<FakeEngine>(dir_ / "engine.sock", [&](int fd, const std::string& head) {
        // Keep-alive: answer requests on this connection until the guard closes it.
        std::string pending = head;
        for (;;) {
          const size_t end = pending.find("\r\n\r\n");
          if (end == std::string::npos) return;
          const std::string h = pending.substr(0, end + 4);
          pending.erase(0, end + 4);
          if (h.rfind("POST /v1.41/images/load", 0) == 0) {
            // The upload: Content-Length as sent by the client.
            char buf[65536];
            while (pending.size() < big.size()) {
              const ssize_t n = ::read(fd, buf, sizeof buf);
              if (n <= 0) return;
              pending.append(buf, static_cast<size_t>(n));
            }
            uploaded = pending.size();
            uploadIntact = pending.compare(0, big.size(), big) == 0;
            pending.erase(0, big.size());
            writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
          } else if (h.find("/logs") != std::string::npos) {
            // The download, chunked in odd pieces.
            writeAll(fd,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
            for (size_t off = 0; off < big.size();) {
              const size_t n = std::min<size_t>(100003, big.size() - off);
              char len[32];
              std::snprintf(len, sizeof len, "%zx\r\n", n);
              writeAll(fd, len + big.substr(off, n) + "\r\n");
              off += n;
            }
            writeAll(fd, "0\r\n\r\n");
          } else {
            writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
          }
          char buf[4096];
          while (pending.find("\r\n\r\n") == std::string::npos) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) return;
            pending.append(buf, static_cast<size_t>(n));
          }
        }
      });
  startGuard();
  auto fd = ipc::connectUnix(dir_ / "docker.sock", std::chrono::seconds(5));
  ASSERT_TRUE(fd.ok());
  writeAll(fd->get(), "GET /v1.41/containers/c/logs?stdout=1 HTTP/1.1\r\nHost: docker\r\n\r\n");
  // Read the chunked answer through: head, then the de-chunked body must equal `big`.
  std::string got;
  char buf[65536];
  auto readMore = [&] {
    const ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    return n > 0;
  };
  while (got.find("\r\n\r\n") == std::string::npos) ASSERT_TRUE(readMore());
  ASSERT_EQ(statusLine(got), "HTTP/1.1 200 OK");
  got.erase(0, got.find("\r\n\r\n") + 4);
  std::string body;
  for (;;) {
    size_t eol;
    while ((eol = got.find("\r\n")) == std::string::npos) ASSERT_TRUE(readMore());
    const size_t n = std::strtoul(got.substr(0, eol).c_str(), nullptr, 16);
    while (got.size() < eol + 2 + n + 2) ASSERT_TRUE(readMore());
    body.append(got, eol + 2, n);
    got.erase(0, eol + 2 + n + 2);
    if (n == 0) break;
  }
  EXPECT_EQ(body.size(), big.size());
  EXPECT_TRUE(body == big) << "the downloaded body differs";
  // The same connection: an upload of the same size (docker load), then a plain request.
  writeAll(fd->get(),
           "POST /v1.41/images/load?quiet=1 HTTP/1.1\r\nHost: docker\r\n"
           "Content-Type: application/x-tar\r\nContent-Length: " +
               std::to_string(big.size()) + "\r\n\r\n" + big);
  while (got.find("\r\n\r\n") == std::string::npos) ASSERT_TRUE(readMore());
  EXPECT_EQ(statusLine(got), "HTTP/1.1 200 OK") << got;
  got.erase(0, got.find("\r\n\r\n") + 4);
  EXPECT_EQ(uploaded.load(), big.size());
  EXPECT_TRUE(uploadIntact.load()) << "the uploaded body differs";
  writeAll(fd->get(), "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
  got += readToEof(fd->get());
  EXPECT_EQ(statusLine(got), "HTTP/1.1 200 OK");
  EXPECT_EQ(got.substr(got.size() - 2), "OK") << got;
}

// Answers every request on a connection with 200 "OK" (keep-alive) until the guard closes it;
// with `closeAfterOne`, closes after the first answer as a restarting dockerd would. Counts the
// connections that carried a /_ping (the guard's own look-ups connect too).
// `closed` counts the connections closed that way.
FakeEngine::Answer keepAliveOk(bool closeAfterOne, std::atomic<int>* pingConnections,
                               std::atomic<int>* closed = nullptr) {
  return [closeAfterOne, pingConnections, closed](int fd, const std::string& head) {
    if (head.find("/_ping") != std::string::npos) ++*pingConnections;
    std::string pending = head;
    for (;;) {
      const size_t end = pending.find("\r\n\r\n");
      if (end == std::string::npos) return;
      pending.erase(0, end + 4);
      writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
      if (closeAfterOne) {
        ::shutdown(fd, SHUT_RDWR);
        if (closed) ++*closed;
        return;
      }
      char buf[4096];
      while (pending.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return;
        pending.append(buf, static_cast<size_t>(n));
      }
    }
  };
}

// One `docker` invocation after another: the guard reuses its idle connection to dockerd instead
// of opening one per client connection.
TEST_F(ProxyTest, ClientConnectionsShareAnIdleEngineConnection) {
  std::atomic<int> pingConnections{0};
  engine_ =
      std::make_unique<FakeEngine>(dir_ / "engine.sock", keepAliveOk(false, &pingConnections));
  startGuard();
  for (int i = 0; i < 3; ++i) {
    const std::string res = exchange(kPing);
    EXPECT_EQ(statusLine(res), "HTTP/1.1 200 OK");
    EXPECT_EQ(res.substr(res.size() - 2), "OK") << res;
  }
  EXPECT_EQ(pingConnections.load(), 1);
}

// An idle engine connection dockerd has closed (a restart) is never used: the next request goes
// out on a new one and is answered.
TEST_F(ProxyTest, AClosedIdleEngineConnectionIsNotReused) {
  std::atomic<int> pingConnections{0};
  std::atomic<int> closed{0};
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock",
                                         keepAliveOk(true, &pingConnections, &closed));
  startGuard();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(statusLine(exchange(kPing)), "HTTP/1.1 200 OK") << "request " << i;
    // The engine's close lands before the next request: what is tested is that a closed idle
    // connection is noticed, not a close racing the reuse itself.
    for (int w = 0; w < 500 && closed.load() <= i; ++w) ::usleep(10 * 1000);
  }
  EXPECT_EQ(pingConnections.load(), 3);
}

}  // namespace
}  // namespace eci::apiproxy
