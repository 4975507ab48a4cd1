// The relay's own answers (417, 413, 502, a failed create hook's 500) leave the guard serving.
// GCC 12 once turned each of them into a double free (SIGABRT of eci-apiproxyd): a refusal built
// as an aggregate temporary inside `co_await writeRefusal(...)` was destroyed twice
// (framing.h, Refusal). A crash here aborts the whole test binary.
#include "eci/apiproxy/proxy.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
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
// without an Id, anything else 200 {}.
class FakeEngine {
 public:
  explicit FakeEngine(const fs::path& path) {
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
      conns_.emplace_back([c] {
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
          const ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          req.append(buf, static_cast<size_t>(n));
        }
        if (!req.empty()) {
          const bool create = req.find("/containers/create") != std::string::npos;
          writeAll(c, std::string(create ? "HTTP/1.1 201 Created" : "HTTP/1.1 200 OK") +
                          "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                          "Connection: close\r\n\r\n{}");
        }
        ::close(c);
      });
    }
  }
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

}  // namespace
}  // namespace eci::apiproxy
