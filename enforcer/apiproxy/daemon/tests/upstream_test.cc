// The guard's connections to the engine (relay.h): spare connections made ahead and never used
// before, one engine connection per client connection, the retry of a request dockerd's close
// raced, and uploads streamed through them.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eci/ipc.h"
#include "fake_engine.h"

namespace eci::apiproxy {
namespace {

using namespace eci::apiproxy::testing;  // NOLINT(google-build-using-namespace)

// Answers every request on a connection with 200 "OK" (keep-alive) until the guard closes it;
// with `closeAfterOne`, closes after the first answer as a restarting dockerd would. Counts the
// connections that carried a /_ping (the guard's own look-ups connect too).
// `closed` counts the connections closed that way. The counters are shared with the engine's
// threads, which may still answer the guard's own requests after the test body has returned.
using Counter = std::shared_ptr<std::atomic<int>>;
Counter counter() {
  return std::make_shared<std::atomic<int>>(0);
}
FakeEngine::Answer keepAliveOk(bool closeAfterOne, Counter pingConnections,
                               Counter closed = nullptr) {
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

// The guard's spare engine connections (relay.h): there are kSpareUpstreams (4) of them, made
// before any client came; waits until `n` are there (5 s at most).
bool waitForSpares(const FakeEngine& engine, int n) {
  for (int i = 0; i < 500; ++i) {
    if (engine.silentConnections() == n) return true;
    ::usleep(10 * 1000);
  }
  return false;
}
constexpr int kSpares = 4;

// One `docker` invocation after another: each client connection's request goes out on a spare
// made before it came (the engine had it open, warmed up by the guard's own /_ping and otherwise
// silent), the spare is replaced once the answer is out, and no engine connection ever serves a
// second client connection, though the engine keeps every one open (a reuse would show fewer
// connections than clients).
TEST_F(ProxyTest, EachClientConnectionGetsItsOwnSpareEngineConnection) {
  Counter pingConnections = counter();
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock", keepAliveOk(false, pingConnections));
  startGuard();
  ASSERT_TRUE(waitForSpares(*engine_, kSpares)) << engine_->silentConnections();
  for (int i = 0; i < 3; ++i) {
    const std::string res = exchange(kPing);
    EXPECT_EQ(statusLine(res), "HTTP/1.1 200 OK");
    EXPECT_EQ(res.substr(res.size() - 2), "OK") << res;
    EXPECT_TRUE(waitForSpares(*engine_, kSpares)) << "not replenished after request " << i;
  }
  EXPECT_EQ(pingConnections->load(), 3);
  // Every spare was warmed up once, by the guard (the last one's may still be under way: the
  // engine counts a connection as a spare from its accept), and no client request was one.
  for (int i = 0; i < 200 && engine_->warmUps() < kSpares + 3; ++i) ::usleep(10 * 1000);
  EXPECT_EQ(engine_->warmUps(), kSpares + 3);
}

// dockerd restarts while the guard holds its spares: every spare is closed under it. The next
// requests, one after another and several at once, are all answered by the new engine: a closed
// spare is dropped, never used (EOF at MSG_PEEK), and none of them is a client's error. The sweep
// then makes new spares on the new engine.
TEST_F(ProxyTest, SparesTheEngineClosedAreReplacedWithoutAClientError) {
  Counter pingConnections = counter();
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock", keepAliveOk(false, pingConnections));
  startGuard();
  ASSERT_TRUE(waitForSpares(*engine_, kSpares));
  engine_.reset();  // closes the spares (and the events watcher's connection)
  Counter newPings = counter();
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock", keepAliveOk(false, newPings));
  for (int i = 0; i < 3; ++i) {
    const std::string res = exchange(kPing);
    EXPECT_EQ(statusLine(res), "HTTP/1.1 200 OK") << "sequential request " << i << ": " << res;
  }
  std::vector<std::string> answers(6);
  std::vector<std::thread> clients;
  for (auto& a : answers) clients.emplace_back([&] { a = exchange(kPing); });
  for (auto& t : clients) t.join();
  for (const auto& a : answers) EXPECT_EQ(statusLine(a), "HTTP/1.1 200 OK") << a;
  EXPECT_EQ(newPings->load(), 9);
  EXPECT_TRUE(waitForSpares(*engine_, kSpares)) << engine_->silentConnections();
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
// `answeringConnections`, and the first `closingFirstConnections`, close at their first request
// unanswered.
FakeEngine::Answer closesAtSecondRequest(std::shared_ptr<EngineLog> log, SecondRequest second,
                                         int answeringConnections = 1 << 30,
                                         int closingFirstConnections = 0) {
  return [log, second, answeringConnections, closingFirstConnections](int fd,
                                                                      const std::string& first) {
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
      if (n > 1 || conn > answeringConnections || conn <= closingFirstConnections) {
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

// One keep-alive client connection: its first request (a ping, answered "conn-1") and what
// `fd` reads for the second one.
std::string pingThen(int fd, const std::string& second) {
  writeAll(fd, "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n");  // keep-alive
  const std::string first = readAnswer(fd);
  if (bodyOf(first) != "conn-1") return "first answer: " + first;
  writeAll(fd, second);
  return readToEof(fd);
}

// The client's kept engine connection is closed by dockerd as the client's next GET arrives on it:
// the GET goes out again on a new connection, and that connection's answer reaches the client.
TEST_F(ProxyTest, AGetOnAKeptConnectionClosedAtItsNextRequestIsSentAgainOnANewOne) {
  auto log = std::make_shared<EngineLog>();
  UniqueFd fd = startAndConnect(closesAtSecondRequest(log, SecondRequest::kClose));
  ASSERT_TRUE(fd);
  const std::string res = pingThen(fd.get(), kVersion);
  EXPECT_EQ(statusLine(res), "HTTP/1.1 200 OK") << res;
  const auto seen = log->requestsFor("/v1.41/version");
  ASSERT_EQ(seen.size(), 2u) << log->dump();
  EXPECT_EQ(seen[0].connection, 1);  // the kept one, as its second request
  EXPECT_EQ(seen[0].onConnection, 2);
  EXPECT_NE(seen[1].connection, 1);  // then a new one, as its first
  EXPECT_EQ(seen[1].onConnection, 1);
  EXPECT_EQ(bodyOf(res), "conn-" + std::to_string(seen[1].connection));
}

// A spare (never used, open at the MSG_PEEK check) that dockerd closes as the request arrives on
// it: the request goes out again on a new connection and is answered; not the client's error.
TEST_F(ProxyTest, ASpareClosedAsTheRequestArrivesIsSentAgainOnANewOne) {
  auto log = std::make_shared<EngineLog>();
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock",
                                         closesAtSecondRequest(log, SecondRequest::kClose,
                                                               /*answeringConnections=*/1 << 30,
                                                               /*closingFirstConnections=*/1));
  startGuard();
  ASSERT_TRUE(waitForSpares(*engine_, kSpares));
  const std::string res = exchange(kVersion);
  EXPECT_EQ(statusLine(res), "HTTP/1.1 200 OK") << res;
  const auto seen = log->requestsFor("/v1.41/version");
  ASSERT_EQ(seen.size(), 2u) << log->dump();
  EXPECT_EQ(seen[0].connection, 1);  // the spare, closed at its first request
  EXPECT_EQ(seen[0].onConnection, 1);
  EXPECT_EQ(seen[1].connection, 2);
  EXPECT_EQ(bodyOf(res), "conn-2");
}

// A create (its body read whole for the decision) on a keep-alive client's engine connection,
// which dockerd closes as the create arrives: the create goes out again, with the same body, on a
// new connection; the client gets that connection's answer (a 409, which the create hook passes
// through).
TEST_F(ProxyTest, AnInspectedBodyIsSentAgainWholeOnANewConnection) {
  auto log = std::make_shared<EngineLog>();
  UniqueFd fd = startAndConnect(closesAtSecondRequest(log, SecondRequest::kClose));
  ASSERT_TRUE(fd);
  writeAll(fd.get(), "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n");  // keep-alive
  const std::string first = readAnswer(fd.get());
  EXPECT_EQ(statusLine(first), "HTTP/1.1 200 OK");
  EXPECT_EQ(bodyOf(first), "conn-1");
  const std::string body = R"({"Image":"alpine","Cmd":["echo","retried"]})";
  writeAll(fd.get(),
           "POST /v1.41/containers/create?name=r HTTP/1.1\r\nHost: docker\r\n"
           "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body);
  const std::string res = readToEof(fd.get());
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
  UniqueFd fd = startAndConnect(closesAtSecondRequest(log, SecondRequest::kClose));
  ASSERT_TRUE(fd);
  writeAll(fd.get(), "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n");
  EXPECT_EQ(bodyOf(readAnswer(fd.get())), "conn-1");
  writeAll(fd.get(),
           "POST /v1.41/images/load?quiet=1 HTTP/1.1\r\nHost: docker\r\n"
           "Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n"
           "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n-load!\r\n0\r\n\r\n");
  const std::string res = readToEof(fd.get());
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
  UniqueFd fd = startAndConnect(closesAtSecondRequest(log, SecondRequest::kPartialHead));
  ASSERT_TRUE(fd);
  EXPECT_EQ(statusLine(pingThen(fd.get(), kVersion)), "HTTP/1.1 502 Bad Gateway");
  EXPECT_EQ(log->requestsFor("/v1.41/version").size(), 1u);
}

// Once, and only after a kept connection or a spare failed: a failure on the new connection is
// the answer (502), never followed by a third attempt.
TEST_F(ProxyTest, ARequestIsSentAgainAtMostOnceAndNeverAfterANewConnectionFailed) {
  auto log = std::make_shared<EngineLog>();
  engine_ = std::make_unique<FakeEngine>(
      dir_ / "engine.sock",
      closesAtSecondRequest(log, SecondRequest::kClose, /*answeringConnections=*/1));
  startGuard();
  ASSERT_TRUE(waitForSpares(*engine_, kSpares));
  auto fd = ipc::connectUnix(dir_ / "docker.sock", std::chrono::seconds(5));
  ASSERT_TRUE(fd.ok());
  // The kept connection 1 closes at the version, the new one (2) too.
  EXPECT_EQ(statusLine(pingThen(fd->get(), kVersion)), "HTTP/1.1 502 Bad Gateway");
  EXPECT_EQ(log->requestsFor("/v1.41/version").size(), 2u);
  // A spare (closes), then a new connection (closes): two attempts, not three.
  EXPECT_EQ(statusLine(exchange("GET /v1.41/containers/json HTTP/1.1\r\nHost: docker\r\n"
                                "Connection: close\r\n\r\n")),
            "HTTP/1.1 502 Bad Gateway");
  EXPECT_EQ(log->requestsFor("/v1.41/containers/json").size(), 2u) << log->dump();
}

// dockerd closes the engine connection right after its answer, before the keep-alive client's
// next request (no MSG_PEEK check for a connection kept with its client): that request is sent
// again on a new connection and answered.
TEST_F(ProxyTest, AKeptConnectionClosedAfterItsAnswerIsNotTheClientsError) {
  Counter pingConnections = counter();
  Counter closed = counter();
  UniqueFd fd = startAndConnect(keepAliveOk(true, pingConnections, closed));
  ASSERT_TRUE(fd);
  writeAll(fd.get(), "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n");
  EXPECT_EQ(statusLine(readAnswer(fd.get())), "HTTP/1.1 200 OK");
  for (int w = 0; w < 500 && closed->load() < 1; ++w) ::usleep(10 * 1000);
  writeAll(fd.get(), kPing);
  const std::string res = readToEof(fd.get());
  EXPECT_EQ(statusLine(res), "HTTP/1.1 200 OK") << res;
  EXPECT_EQ(pingConnections->load(), 2);
}

// An upload with a chunked body (`docker cp` into a container, load, a build context) read in
// pieces of up to 256 KiB (readBodyPiece, as responses are): 3 MiB in odd chunk sizes, the
// chunks' framing parsed by Beast as before, arrives whole and in order, and the pipelined request
// after it is answered on the same connection.
TEST_F(ProxyTest, AChunkedUploadIsRelayedWholeAndTheNextRequestAfterIt) {
  std::string big((3u << 20) + 5, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 11 + i / 999) % 26);
  auto log = std::make_shared<EngineLog>();
  engine_ = std::make_unique<FakeEngine>(dir_ / "engine.sock",
                                         closesAtSecondRequest(log, SecondRequest::kClose));
  startGuard();
  std::string chunked;
  for (size_t off = 0; off < big.size();) {
    const size_t n = std::min<size_t>(off % 3 == 0 ? 300007 : 4093, big.size() - off);
    char len[32];
    std::snprintf(len, sizeof len, "%zx\r\n", n);
    chunked += len + big.substr(off, n) + "\r\n";
    off += n;
  }
  chunked += "0\r\n\r\n";
  auto fd = ipc::connectUnix(dir_ / "docker.sock", std::chrono::seconds(5));
  ASSERT_TRUE(fd.ok());
  writeAll(fd->get(),
           "PUT /v1.41/containers/c/archive?path=/ HTTP/1.1\r\nHost: docker\r\n"
           "Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n" +
               chunked + "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
  const std::string res = readToEof(fd->get());
  const auto seen = log->requestsFor("/v1.41/containers/c/archive?path=/");
  ASSERT_EQ(seen.size(), 1u) << log->dump();
  EXPECT_EQ(seen[0].body.size(), big.size());
  EXPECT_TRUE(seen[0].body == big) << "the uploaded body differs";
  EXPECT_EQ(statusLine(res), "HTTP/1.1 200 OK") << res;
  // Two answers: the upload's, then the ping's (sent on the kept connection, which this engine
  // closes at a second request: sent again on a new one).
  EXPECT_NE(res.find("HTTP/1.1 200 OK", 10), std::string::npos) << res;
}

}  // namespace
}  // namespace eci::apiproxy
