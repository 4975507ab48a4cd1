// The relay's own answers (417, 413, 502, a failed create hook's 500) leave the guard serving.
// GCC 12 once turned each of them into a double free (SIGABRT of eci-apiproxyd): a refusal built
// as an aggregate temporary inside `co_await writeRefusal(...)` was destroyed twice
// (framing.h, Refusal). A crash here aborts the whole test binary.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "eci/ipc.h"
#include "eci/policy.h"
#include "fake_engine.h"

namespace eci::apiproxy {
namespace {

using namespace eci::apiproxy::testing;  // NOLINT(google-build-using-namespace)

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

// A stand-in for eci-enforcerd's control socket: answers each `status` with an ECI-on policy, at
// once, or after `delay` while `slow` is set; counts them.
class StandInEnforcer {
 public:
  StandInEnforcer(const fs::path& path, std::chrono::milliseconds delay) : delay_(delay) {
    auto l = ipc::listenUnix(path);
    EXPECT_TRUE(l.ok());
    if (l.ok()) listenFd_ = std::move(*l);
    thread_ = std::thread([this] { serve(); });
  }
  ~StandInEnforcer() {
    stop_ = true;
    thread_.join();
  }
  int statusCalls() const { return calls_.load(); }
  std::atomic<bool> slow{false};

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listenFd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      UniqueFd c(::accept4(listenFd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) continue;
      auto req = ipc::recvMessage(c.get(), std::chrono::seconds(2));
      if (!req.ok() || req->value("op", "") != "status") continue;
      calls_.fetch_add(1);
      if (slow) std::this_thread::sleep_for(delay_);
      Policy policy;
      policy.enabled = true;
      (void)ipc::sendMessage(c.get(), {{"ok", true}, {"policy", policy.toJson()}});
    }
  }
  std::chrono::milliseconds delay_;
  UniqueFd listenFd_;
  std::atomic<bool> stop_{false};
  std::atomic<int> calls_{0};
  std::thread thread_;
};

// A plain GET after a pause longer than the policy's refresh period (1 s) is still decided on
// the I/O thread: while clients come, the guard reads the policy again in the background
// (Gate::refreshDecisionCaches). Before, such a GET (every interactive `docker ps`) waited for a
// pool thread and for eci-enforcerd's answer. While the GET is out the stand-in answers only
// after 400 ms: a GET that waits for it takes that long; one decided on the I/O thread does not
// (a background read that happens to fall in the window is slowed too, but nothing waits on it).
TEST_F(ProxyTest, APlainGetAfterAPauseIsDecidedOnAPolicyReadInTheBackground) {
  using std::chrono::milliseconds;
  StandInEnforcer enforcer(dir_ / "enforcer.sock", milliseconds(400));
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock");
  startGuard();
  EXPECT_EQ(statusLine(exchange(kPing)), "HTTP/1.1 200 OK");  // the first reads the policy
  const int first = enforcer.statusCalls();
  EXPECT_GE(first, 1);
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(milliseconds(1300));
    enforcer.slow = true;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(statusLine(exchange(kPing)), "HTTP/1.1 200 OK");
    const auto took = std::chrono::steady_clock::now() - t0;
    enforcer.slow = false;
    EXPECT_LT(took, milliseconds(300))
        << "GET after a pause took " << std::chrono::duration_cast<milliseconds>(took).count()
        << " ms";
  }
  EXPECT_GE(enforcer.statusCalls(), first + 3) << "the policy was not read in the background";
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

}  // namespace
}  // namespace eci::apiproxy
