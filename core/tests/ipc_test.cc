#include "eci/ipc.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "eci/sys.h"

namespace eci::ipc {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct Pair {
  UniqueFd a, b;
};
Pair socketPair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

void writeRaw(int fd, const std::string& bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
}

std::string header(uint32_t n) {
  std::string h(4, '\0');
  h[0] = static_cast<char>(n >> 24);
  h[1] = static_cast<char>(n >> 16);
  h[2] = static_cast<char>(n >> 8);
  h[3] = static_cast<char>(n);
  return h;
}

TEST(IpcTest, RoundTripOverSocketPair) {
  auto p = socketPair();
  json msg = {{"op", "create"}, {"id", "abc"}, {"n", 42}, {"list", {1, 2, 3}}};
  ASSERT_TRUE(sendMessage(p.a.get(), msg).ok());
  auto r = recvMessage(p.b.get(), 1000ms);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, msg);
}

TEST(IpcTest, WireFormatIsBigEndianLengthPlusJson) {
  auto p = socketPair();
  ASSERT_TRUE(sendMessage(p.a.get(), json{{"a", 1}}).ok());
  char buf[64];
  const ssize_t n = ::recv(p.b.get(), buf, sizeof buf, 0);
  ASSERT_EQ(n, 4 + 7);
  EXPECT_EQ(std::string(buf, 4), header(7));
  EXPECT_EQ(std::string(buf + 4, 7), "{\"a\":1}");
}

TEST(IpcTest, LargeFrameCrossesSocketBuffers) {
  auto p = socketPair();
  json big = {{"blob", std::string(3u << 20, 'x')}};
  std::thread writer([&] { EXPECT_TRUE(sendMessage(p.a.get(), big, 5000ms).ok()); });
  auto r = recvMessage(p.b.get(), 5000ms);
  writer.join();
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ((*r)["blob"].get_ref<const std::string&>().size(), 3u << 20);
}

TEST(IpcTest, OversizedFrameRefusedBeforeReadingBody) {
  auto p = socketPair();
  writeRaw(p.a.get(), header(0xffffffffu));  // no body follows: it must not wait for 4 GiB
  const auto start = Clock::now();
  auto r = recvMessage(p.b.get(), 2000ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kTooLarge);
  EXPECT_NE(r.error().str().find("exceeds the limit"), std::string::npos);
  EXPECT_LT(Clock::now() - start, 1000ms);
}

TEST(IpcTest, CallerLimitApplies) {
  auto p = socketPair();
  ASSERT_TRUE(sendMessage(p.a.get(), json{{"k", std::string(200, 'v')}}).ok());
  auto r = recvMessage(p.b.get(), 1000ms, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kTooLarge);
}

TEST(IpcTest, SendRefusesOversizedMessage) {
  auto p = socketPair();
  auto s = sendMessage(p.a.get(), json{{"k", std::string(kMaxFrameBytes, 'v')}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind(), ErrorKind::kTooLarge);
}

TEST(IpcTest, TimeoutOnSilentPeer) {
  auto p = socketPair();
  const auto start = Clock::now();
  auto r = recvMessage(p.b.get(), 200ms);
  const auto took = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kTimeout);
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2000ms);
}

TEST(IpcTest, TimeoutOnPeerThatStopsMidFrame) {
  auto p = socketPair();
  writeRaw(p.a.get(), header(10) + "{\"a\"");
  auto r = recvMessage(p.b.get(), 200ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kTimeout);
}

TEST(IpcTest, SendTimesOutWhenPeerDoesNotRead) {
  auto p = socketPair();
  // Fill the socket buffer; a peer that never reads must not block the writer forever.
  auto s = sendMessage(p.a.get(), json{{"k", std::string(kMaxFrameBytes - 100, 'v')}}, 300ms);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind(), ErrorKind::kTimeout);
}

TEST(IpcTest, PeerDisconnectBeforeFrame) {
  auto p = socketPair();
  p.a.reset();
  auto r = recvMessage(p.b.get(), 1000ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kProtocol);
  EXPECT_NE(r.error().str().find("peer closed the connection"), std::string::npos);
}

TEST(IpcTest, PeerDisconnectMidFrame) {
  auto p = socketPair();
  writeRaw(p.a.get(), header(100) + "{\"x\":");
  p.a.reset();
  auto r = recvMessage(p.b.get(), 1000ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kProtocol);
  EXPECT_NE(r.error().str().find("mid-frame"), std::string::npos) << r.error().str();
}

TEST(IpcTest, SendToClosedPeerIsAnErrorNotSigpipe) {
  auto p = socketPair();
  p.b.reset();
  auto s = sendMessage(p.a.get(), json{{"a", 1}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), EPIPE);
}

TEST(IpcTest, MalformedJsonIsAnError) {
  for (const std::string body : {"{not json", "{\"a\":1,\"a\":2}", "\xff\xfe", "[1,2"}) {
    auto p = socketPair();
    writeRaw(p.a.get(), header(static_cast<uint32_t>(body.size())) + body);
    auto r = recvMessage(p.b.get(), 1000ms);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code(), 0) << body;
    EXPECT_NE(r.error().str().find("malformed JSON"), std::string::npos) << r.error().str();
    EXPECT_EQ(r.error().str().find("json.exception"), std::string::npos) << r.error().str();
  }
}

TEST(IpcTest, EmptyFrameIsAnError) {
  auto p = socketPair();
  writeRaw(p.a.get(), header(0));
  auto r = recvMessage(p.b.get(), 1000ms);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("empty frame"), std::string::npos);
}

TEST(IpcTest, InvalidUtf8MessageRefusedBySender) {
  auto p = socketPair();
  auto s = sendMessage(p.a.get(), json{{"k", std::string("\xff")}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().str().find("UTF-8"), std::string::npos);
}

class ListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eci-ipc-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(ListenerTest, ListenCreatesPrivateSocketAndDirectory) {
  const auto sock = dir_ / "run" / "eci" / "test.sock";
  auto l = listenUnix(sock);
  ASSERT_TRUE(l.ok()) << l.error().str();
  struct stat st {};
  ASSERT_EQ(::lstat(sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "run" / "eci").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(ListenerTest, CallRoundTripAndPeerCred) {
  const auto sock = dir_ / "s.sock";
  auto l = listenUnix(sock);
  ASSERT_TRUE(l.ok()) << l.error().str();
  std::thread server([&] {
    UniqueFd c(::accept4(l->get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(c.valid());
    auto cred = peerCred(c.get());
    ASSERT_TRUE(cred.ok());
    EXPECT_EQ(cred->pid, ::getpid());
    EXPECT_EQ(cred->uid, ::getuid());
    auto req = recvMessage(c.get(), 2000ms);
    ASSERT_TRUE(req.ok()) << req.error().str();
    json reply = {{"ok", true}, {"echo", (*req)["op"]}, {"uid", cred->uid}};
    ASSERT_TRUE(sendMessage(c.get(), reply).ok());
  });
  auto r = call(sock, json{{"op", "status"}}, 3000ms);
  server.join();
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ((*r)["echo"], "status");
  EXPECT_EQ((*r)["uid"], ::getuid());
}

TEST_F(ListenerTest, CallTimesOutOnServerThatNeverAnswers) {
  const auto sock = dir_ / "s.sock";
  auto l = listenUnix(sock);
  ASSERT_TRUE(l.ok());
  // Nobody accepts: the connection sits in the backlog; the reply never comes.
  const auto start = Clock::now();
  auto r = call(sock, json{{"op", "status"}}, 300ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kTimeout);
  EXPECT_LT(Clock::now() - start, 2000ms);
  EXPECT_NE(r.error().str().find(sock.string()), std::string::npos) << r.error().str();
}

TEST_F(ListenerTest, ConnectToMissingSocketFailsFast) {
  auto r = connectUnix(dir_ / "absent.sock", 1000ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ENOENT);
  EXPECT_NE(r.error().str().find("absent.sock"), std::string::npos);
}

TEST_F(ListenerTest, StaleSocketIsReplaced) {
  const auto sock = dir_ / "s.sock";
  {
    auto l = listenUnix(sock);
    ASSERT_TRUE(l.ok());
  }  // closed: the file stays, nobody listens
  ASSERT_TRUE(std::filesystem::exists(sock));
  auto l2 = listenUnix(sock);
  ASSERT_TRUE(l2.ok()) << l2.error().str();
  auto c = connectUnix(sock, 1000ms);
  EXPECT_TRUE(c.ok());
}

TEST_F(ListenerTest, LiveSocketIsNotStolen) {
  const auto sock = dir_ / "s.sock";
  auto l = listenUnix(sock);
  ASSERT_TRUE(l.ok());
  auto l2 = listenUnix(sock);
  ASSERT_FALSE(l2.ok());
  EXPECT_EQ(l2.error().kind(), ErrorKind::kConflict);
}

TEST_F(ListenerTest, ConnectTimesOutWhenBacklogStaysFull) {
  const auto sock = dir_ / "s.sock";
  auto l = listenUnix(sock, /*backlog=*/0);
  ASSERT_TRUE(l.ok());
  // Nobody accepts; fill the queue until a connect reports the backlog full.
  std::vector<UniqueFd> pending;
  Error last("the listener never reported a full backlog");
  bool refused = false;
  const auto start = Clock::now();
  for (int i = 0; i < 8 && !refused; ++i) {
    auto c = connectUnix(sock, 200ms);
    if (c.ok()) {
      pending.push_back(std::move(c).value());
    } else {
      last = std::move(c).error();
      refused = true;
    }
  }
  ASSERT_TRUE(refused) << last.str();
  EXPECT_EQ(last.kind(), ErrorKind::kTimeout);
  EXPECT_NE(last.str().find("backlog full"), std::string::npos) << last.str();
  EXPECT_LT(Clock::now() - start, 3000ms);
  // A second listenUnix on a live-but-stuck server must neither block nor steal the path.
  auto l2 = listenUnix(sock);
  ASSERT_FALSE(l2.ok());
  EXPECT_EQ(l2.error().kind(), ErrorKind::kConflict);
}

TEST_F(ListenerTest, RegularFileIsNotRemoved) {
  const auto path = dir_ / "file";
  { std::ofstream(path) << "data"; }
  auto l = listenUnix(path);
  ASSERT_FALSE(l.ok());
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST_F(ListenerTest, TooLongPathRefused) {
  auto l = listenUnix(dir_ / std::string(200, 'x'));
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().kind(), ErrorKind::kInvalidInput);
}

// SCM_RIGHTS helpers shared by the seccomp supervisor and its helper.
TEST(PassFds, DescriptorsArriveAndExtrasAreClosedNotLeaked) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  int pipeFds[2];
  ASSERT_EQ(::pipe2(pipeFds, O_CLOEXEC), 0);
  UniqueFd r(pipeFds[0]), w(pipeFds[1]);
  const int sent[2] = {r.get(), w.get()};
  const char payload[] = "hello";
  ASSERT_EQ(sys::sendWithFds(a.get(), payload, sizeof payload, sent, 2),
            static_cast<ssize_t>(sizeof payload));

  char buf[16] = {};
  int got[1] = {-1};
  size_t n = 0;
  bool truncated = true;
  ASSERT_EQ(sys::recvWithFds(b.get(), buf, sizeof buf, got, 1, &n, &truncated),
            static_cast<ssize_t>(sizeof payload));
  EXPECT_STREQ(buf, "hello");
  EXPECT_FALSE(truncated);
  ASSERT_EQ(n, 1u);
  UniqueFd received(got[0]);
  // The received read end works: data written on our write end comes out of it.
  ASSERT_EQ(::write(w.get(), "x", 1), 1);
  char c = 0;
  EXPECT_EQ(::read(received.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  // The second (write-end) descriptor was closed by recvWithFds: closing ours leaves no writer,
  // so the read end sees EOF; a leaked copy would keep a writer alive (EAGAIN, non-blocking).
  ASSERT_EQ(::fcntl(received.get(), F_SETFL, O_NONBLOCK), 0);
  w.reset();
  EXPECT_EQ(::read(received.get(), &c, 1), 0);
}

TEST(PassFds, TooManyToSendIsRefused) {
  int fds[sys::kMaxPassedFds + 1] = {};
  EXPECT_EQ(sys::sendWithFds(-1, "x", 1, fds, sys::kMaxPassedFds + 1), -1);
  EXPECT_EQ(errno, EINVAL);
}

}  // namespace
}  // namespace eci::ipc
