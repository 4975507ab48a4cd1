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
#include <mutex>
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
// without an Id, anything else 200 {} (or what `answer` writes on the connection). The guard's
// container list (its reconcile pass at start and on each events connection, reconcile.h) is
// always answered "no containers" here, never given to `answer`: the tests count and time the
// relay's own connections.
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
        if (req.rfind("GET /containers/json?all=1 ", 0) == 0) {
          writeAll(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]");
        } else if (!req.empty() && answer_) {
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
    cfg.stateDir = dir_ / "state";  // never the host's /var/lib/eci/apiproxy
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

// Response bodies are read in pieces larger than Beast's own 64 KiB reads (readBodyPiece): a
// body with a Content-Length and a close-delimited one arrive whole, byte for byte, the first on
// a connection that serves the next request; a body dockerd cuts short is not passed off as
// complete (the client's connection closes before its length).
TEST_F(ProxyTest, LengthAndCloseDelimitedBodiesAreRelayedWholeAndACutOneIsNot) {
  std::string big((5u << 20) + 13, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  engine_ =
      std::make_unique<FakeEngine>(dir_ / "engine.sock", [&](int fd, const std::string& head) {
        if (head.find("/archive") != std::string::npos) {
          writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: " +
                           std::to_string(big.size()) + "\r\n\r\n" + big);
          // Keep-alive: the next request on this connection gets a small answer.
          char buf[4096];
          if (::read(fd, buf, sizeof buf) > 0) {
            writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK");
          }
        } else if (head.find("/export") != std::string::npos) {
          writeAll(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big);  // ends at EOF
        } else {
          writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) +
                           "\r\n\r\n" + big.substr(0, big.size() / 2));  // then closes
        }
      });
  startGuard();
  auto bodyOf = [](const std::string& answer) {
    const size_t end = answer.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : answer.substr(end + 4);
  };
  auto fd = ipc::connectUnix(dir_ / "docker.sock", std::chrono::seconds(5));
  ASSERT_TRUE(fd.ok());
  writeAll(fd->get(),
           "GET /v1.41/containers/c/archive?path=/big HTTP/1.1\r\nHost: docker\r\n\r\n"
           "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
  const std::string two = readToEof(fd->get());
  EXPECT_EQ(statusLine(two), "HTTP/1.1 200 OK");
  const std::string first = bodyOf(two);
  ASSERT_GE(first.size(), big.size());
  EXPECT_TRUE(first.compare(0, big.size(), big) == 0) << "the Content-Length body differs";
  EXPECT_EQ(first.substr(big.size(), 17), "HTTP/1.1 200 OK\r\n") << "no second answer";
  EXPECT_EQ(two.substr(two.size() - 2), "OK");

  const std::string closeDelimited =
      exchange("GET /v1.41/containers/c/export HTTP/1.1\r\nHost: docker\r\n\r\n");
  EXPECT_EQ(statusLine(closeDelimited), "HTTP/1.1 200 OK");
  EXPECT_TRUE(bodyOf(closeDelimited) == big) << "the close-delimited body differs";

  const std::string cut =
      exchange("GET /v1.41/containers/c/logs?stdout=1 HTTP/1.1\r\nHost: docker\r\n\r\n");
  EXPECT_EQ(statusLine(cut), "HTTP/1.1 200 OK");
  EXPECT_NE(cut.find("Content-Length: " + std::to_string(big.size())), std::string::npos);
  EXPECT_LT(bodyOf(cut).size(), big.size()) << "a body cut short was completed";
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

// --- a reused engine connection dockerd closes just as a request goes out on it ----------------

// What a fake engine saw: each request, the connection it came on (1, 2, ... in accept order of
// connections that carried one) and its place on that connection (1 = first).
struct SeenRequest {
  int connection;
  int onConnection;
  std::string head;
  std::string body;
};
struct EngineLog {
  std::mutex mu;
  std::vector<SeenRequest> seen;
  int connections = 0;
  // Every request seen, one line each: for failure messages.
  std::string dump() {
    std::lock_guard lk(mu);
    std::string out;
    for (const auto& r : seen) {
      out += std::to_string(r.connection) + "/" + std::to_string(r.onConnection) + " " +
             r.head.substr(0, r.head.find("\r\n")) + "\n";
    }
    return out;
  }
  std::vector<SeenRequest> requestsFor(const std::string& target) {
    std::lock_guard lk(mu);
    std::vector<SeenRequest> out;
    for (const auto& r : seen)
      if (r.head.find(" " + target + " ") != std::string::npos) out.push_back(r);
    return out;
  }
};

// How a fake engine connection ends after answering its first request.
enum class SecondRequest {
  kClose,        // closed unanswered once the next request has arrived (dockerd's idle close
                 // racing the reuse)
  kPartialHead,  // a piece of an answer head, then closed
};

// Reads one request (head and body: Content-Length or chunked) from `pending` + the socket.
bool readRequest(int fd, std::string& pending, std::string& head, std::string& body) {
  char buf[65536];
  auto more = [&] {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) pending.append(buf, static_cast<size_t>(n));
    return n > 0;
  };
  size_t end;
  while ((end = pending.find("\r\n\r\n")) == std::string::npos)
    if (!more()) return false;
  head = pending.substr(0, end + 4);
  pending.erase(0, end + 4);
  body.clear();
  if (head.find("Transfer-Encoding: chunked") != std::string::npos) {
    // De-chunked; the test bodies are small and well formed.
    for (;;) {
      size_t eol;
      while ((eol = pending.find("\r\n")) == std::string::npos)
        if (!more()) return false;
      const size_t n = std::strtoul(pending.substr(0, eol).c_str(), nullptr, 16);
      while (pending.size() < eol + 2 + n + 2)
        if (!more()) return false;
      body.append(pending, eol + 2, n);
      pending.erase(0, eol + 2 + n + 2);
      if (n == 0) return true;
    }
  }
  if (auto cl = head.find("Content-Length: "); cl != std::string::npos) {
    const size_t n = std::strtoul(head.c_str() + cl + 16, nullptr, 10);
    while (pending.size() < n)
      if (!more()) return false;
    body = pending.substr(0, n);
    pending.erase(0, n);
  }
  return true;
}

// Answers the first request of each connection keep-alive (200 "conn-N", a create 409 with
// {"message":"conn-N"}), then treats the second as `second` says (the guard's events watcher
// is not counted and never answered). Connections numbered past
// `answeringConnections` close at their first request unanswered.
FakeEngine::Answer closesAtSecondRequest(EngineLog* log, SecondRequest second,
                                         int answeringConnections = 1 << 30) {
  return [log, second, answeringConnections](int fd, const std::string& first) {
    if (first.rfind("GET /events", 0) == 0) {  // the guard's destroy-events watcher: no answer
      char buf[256];
      while (::read(fd, buf, sizeof buf) > 0) {
      }
      return;
    }
    int conn;
    {
      std::lock_guard lk(log->mu);
      conn = ++log->connections;
    }
    std::string pending = first;
    for (int n = 1;; ++n) {
      std::string head, body;
      if (!readRequest(fd, pending, head, body)) return;
      {
        std::lock_guard lk(log->mu);
        log->seen.push_back({conn, n, head, body});
      }
      if (n > 1 || conn > answeringConnections) {
        if (second == SecondRequest::kPartialHead) writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Le");
        ::shutdown(fd, SHUT_RDWR);
        return;
      }
      const std::string tag = "conn-" + std::to_string(conn);
      if (head.find("/containers/create") != std::string::npos) {
        const std::string msg = "{\"message\":\"" + tag + "\"}";
        writeAll(fd, "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(msg.size()) + "\r\n\r\n" + msg);
      } else {
        writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(tag.size()) +
                         "\r\n\r\n" + tag);
      }
    }
  };
}

// Reads one answer with a Content-Length body from a keep-alive client connection.
std::string readAnswer(int fd) {
  std::string got;
  char buf[4096];
  for (;;) {
    const size_t end = got.find("\r\n\r\n");
    if (end != std::string::npos) {
      const size_t cl = got.find("Content-Length: ");
      const size_t n = cl < end ? std::strtoul(got.c_str() + cl + 16, nullptr, 10) : 0;
      if (got.size() >= end + 4 + n) return got;
    }
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return got;
    got.append(buf, static_cast<size_t>(n));
  }
}

std::string bodyOf(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : response.substr(end + 4);
}

const std::string kVersion =
    "GET /v1.41/version HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n";

// An idle engine connection that passed the MSG_PEEK check (dockerd had not closed it yet) is
// closed by dockerd as the next client's GET arrives on it: the GET goes out again on a new
// connection, and that connection's answer reaches the client.
TEST_F(ProxyTest, AGetOnAnIdleConnectionClosedAtReuseIsSentAgainOnANewOne) {
  auto log = std::make_shared<EngineLog>();
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock",
                                         closesAtSecondRequest(log.get(), SecondRequest::kClose));
  startGuard();
  const std::string first = exchange(kPing);  // opens engine connection 1, parked after it
  EXPECT_EQ(statusLine(first), "HTTP/1.1 200 OK");
  EXPECT_EQ(bodyOf(first), "conn-1") << log->dump();
  const std::string res = exchange(kVersion);  // reuses connection 1, which dockerd closes
  EXPECT_EQ(statusLine(res), "HTTP/1.1 200 OK") << res;
  const auto seen = log->requestsFor("/v1.41/version");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].connection, 1);  // the reused one, as its second request
  EXPECT_EQ(seen[0].onConnection, 2);
  EXPECT_NE(seen[1].connection, 1);  // then a new one, as its first
  EXPECT_EQ(seen[1].onConnection, 1);
  EXPECT_EQ(bodyOf(res), "conn-" + std::to_string(seen[1].connection));
}

// A create (its body read whole for the decision) on a keep-alive client's engine connection,
// which dockerd closes as the create arrives: the create goes out again, with the same body, on a
// new connection; the client gets that connection's answer (a 409, which the create hook passes
// through).
TEST_F(ProxyTest, AnInspectedBodyIsSentAgainWholeOnANewConnection) {
  auto log = std::make_shared<EngineLog>();
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock",
                                         closesAtSecondRequest(log.get(), SecondRequest::kClose));
  startGuard();
  auto fd = ipc::connectUnix(dir_ / "docker.sock", std::chrono::seconds(5));
  ASSERT_TRUE(fd.ok());
  writeAll(fd->get(), "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n");  // keep-alive
  const std::string first = readAnswer(fd->get());
  EXPECT_EQ(statusLine(first), "HTTP/1.1 200 OK");
  EXPECT_EQ(bodyOf(first), "conn-1");
  const std::string body = R"({"Image":"alpine","Cmd":["echo","retried"]})";
  writeAll(fd->get(),
           "POST /v1.41/containers/create?name=r HTTP/1.1\r\nHost: docker\r\n"
           "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body);
  const std::string res = readToEof(fd->get());
  EXPECT_EQ(statusLine(res), "HTTP/1.1 409 Conflict") << res;
  const auto seen = log->requestsFor("/v1.41/containers/create?name=r");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].connection, 1);
  EXPECT_EQ(seen[0].onConnection, 2);
  EXPECT_NE(seen[1].connection, 1);
  EXPECT_EQ(seen[1].onConnection, 1);
  EXPECT_NE(seen[0].body.find("retried"), std::string::npos) << seen[0].body;
  EXPECT_EQ(seen[1].body, seen[0].body);  // byte for byte, as the decision let it go
  EXPECT_NE(res.find("conn-" + std::to_string(seen[1].connection)), std::string::npos) << res;
}

// A streamed body (chunked, read from the client as it goes out) cannot be sent twice, so it never
// goes out on a reused connection: the load goes on a new one, though the client's connection
// holds an idle engine connection (which dockerd would close at the next request).
TEST_F(ProxyTest, AStreamedBodyGoesOutOnANewConnection) {
  auto log = std::make_shared<EngineLog>();
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock",
                                         closesAtSecondRequest(log.get(), SecondRequest::kClose));
  startGuard();
  auto fd = ipc::connectUnix(dir_ / "docker.sock", std::chrono::seconds(5));
  ASSERT_TRUE(fd.ok());
  writeAll(fd->get(), "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n");
  EXPECT_EQ(bodyOf(readAnswer(fd->get())), "conn-1");
  writeAll(fd->get(),
           "POST /v1.41/images/load?quiet=1 HTTP/1.1\r\nHost: docker\r\n"
           "Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n"
           "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n-load!\r\n0\r\n\r\n");
  const std::string res = readToEof(fd->get());
  EXPECT_EQ(statusLine(res), "HTTP/1.1 200 OK") << res;
  const auto seen = log->requestsFor("/v1.41/images/load?quiet=1");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_NE(seen[0].connection, 1);
  EXPECT_EQ(seen[0].onConnection, 1);
  EXPECT_EQ(seen[0].body, "hello-load!");
}

// An answer begun (a piece of its head) may have been acted on: the request is not sent again,
// the client gets the 502.
TEST_F(ProxyTest, AnAnswerHeadPartlyReceivedIsNotRetried) {
  auto log = std::make_shared<EngineLog>();
  engine_ = std::make_unique<FakeEngine>(
      dir_ / "engine.sock", closesAtSecondRequest(log.get(), SecondRequest::kPartialHead));
  startGuard();
  EXPECT_EQ(bodyOf(exchange(kPing)), "conn-1");
  EXPECT_EQ(statusLine(exchange(kVersion)), "HTTP/1.1 502 Bad Gateway");
  EXPECT_EQ(log->requestsFor("/v1.41/version").size(), 1u);
}

// Once, and only after a reused connection failed: a second failure is the answer (502), and a
// request on a new connection that fails is not sent again either.
TEST_F(ProxyTest, ARequestIsSentAgainAtMostOnceAndNeverAfterANewConnectionFailed) {
  auto log = std::make_shared<EngineLog>();
  engine_ = std::make_unique<FakeEngine>(
      dir_ / "engine.sock",
      closesAtSecondRequest(log.get(), SecondRequest::kClose, /*answeringConnections=*/1));
  startGuard();
  EXPECT_EQ(bodyOf(exchange(kPing)), "conn-1");
  EXPECT_EQ(statusLine(exchange(kVersion)), "HTTP/1.1 502 Bad Gateway");
  EXPECT_EQ(log->requestsFor("/v1.41/version").size(), 2u);
  EXPECT_EQ(statusLine(exchange("GET /v1.41/containers/json HTTP/1.1\r\nHost: docker\r\n"
                                "Connection: close\r\n\r\n")),
            "HTTP/1.1 502 Bad Gateway");
  EXPECT_EQ(log->requestsFor("/v1.41/containers/json").size(), 1u);
}

// dockerd closes the engine connection right after its answer, before the keep-alive client's
// next request (no MSG_PEEK check for a connection kept with its client): that request is sent
// again on a new connection and answered.
TEST_F(ProxyTest, AKeptConnectionClosedAfterItsAnswerIsNotTheClientsError) {
  std::atomic<int> pingConnections{0};
  std::atomic<int> closed{0};
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock",
                                         keepAliveOk(true, &pingConnections, &closed));
  startGuard();
  auto fd = ipc::connectUnix(dir_ / "docker.sock", std::chrono::seconds(5));
  ASSERT_TRUE(fd.ok());
  writeAll(fd->get(), "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n");
  EXPECT_EQ(statusLine(readAnswer(fd->get())), "HTTP/1.1 200 OK");
  for (int w = 0; w < 500 && closed.load() < 1; ++w) ::usleep(10 * 1000);
  writeAll(fd->get(), kPing);
  const std::string res = readToEof(fd->get());
  EXPECT_EQ(statusLine(res), "HTTP/1.1 200 OK") << res;
  EXPECT_EQ(pingConnections.load(), 2);
}

}  // namespace
}  // namespace eci::apiproxy
