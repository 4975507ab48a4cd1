// The daemon's sockets driven through the real client library (eci/enforcer_client.h).
#include "eci/enforcerd/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <set>
#include <thread>

#include "eci/enforcer_client.h"
#include "eci/ipc.h"
#include "test_util.h"

namespace eci::enforcerd {
namespace {

using namespace eci::enforcerd::testing;  // NOLINT
using ::testing::HasSubstr;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "these tests check root-only sockets and must run as root";
    trustKey(key_, cfg_.trustedKeysDir, "admin");
    std::filesystem::permissions(dir_.path(), std::filesystem::perms::all);
    enforcer_ = std::make_unique<Enforcer>(cfg_);
    ASSERT_TRUE(enforcer_->init().ok());
    server_ = std::make_unique<Server>(*enforcer_);
    auto st = server_->start();
    ASSERT_TRUE(st.ok()) << st.error().str();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  std::string bundleDir(const std::string& id) {
    auto p = dir_ / "bundles" / id;
    std::filesystem::create_directories(p);
    return p.string();
  }

  TempDir dir_;
  KeyPair key_ = makeKey();
  Config cfg_ = [this] {
    Config c;
    c.stateDir = dir_ / "state";
    c.trustedKeysDir = dir_ / "keys";
    c.controlSocket = dir_ / "run" / "control.sock";
    c.pushSocket = dir_ / "run" / "push.sock";
    c.ioTimeout = std::chrono::milliseconds(500);
    c.auditLog = dir_ / "log" / "audit.log";
    return c;
  }();
  std::unique_ptr<Enforcer> enforcer_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, SocketsAreRootOnly) {
  for (const auto& p : {cfg_.controlSocket, cfg_.pushSocket}) {
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u) << p;
    EXPECT_EQ(st.st_uid, 0u);
  }
}

TEST_F(ServerTest, ClientCreateReleaseStatusAndPush) {
  enforcer::Client client(cfg_.controlSocket);
  auto g = client.create("c1", bundleDir("c1"), "/run/runc");
  ASSERT_TRUE(g.ok()) << g.error().str();
  EXPECT_FALSE(g->policyVerified);
  EXPECT_TRUE(g->policy.enabled);
  EXPECT_EQ(g->range.start, 100000u);
  EXPECT_EQ(g->range.size, 65536u);
  EXPECT_EQ(g->engineDataRoot, "/var/lib/docker");

  auto pushed = enforcer::pushBundle(cfg_.pushSocket, signedBundle(key_, testPolicy(false), 1));
  ASSERT_TRUE(pushed.ok()) << pushed.error().str();
  EXPECT_TRUE(pushed->applied);
  EXPECT_EQ(pushed->serial, 1u);
  auto replay = enforcer::pushBundle(cfg_.pushSocket, signedBundle(key_, testPolicy(false), 1));
  ASSERT_TRUE(replay.ok());
  EXPECT_FALSE(replay->applied);
  EXPECT_THAT(replay->reason, HasSubstr("not greater than the current serial 1"));

  auto off = client.create("c2", bundleDir("c2"), "/run/runc");
  ASSERT_TRUE(off.ok()) << off.error().str();
  EXPECT_TRUE(off->policyVerified);
  EXPECT_FALSE(off->policy.enabled);
  EXPECT_EQ(off->range.size, 0u);

  auto s = client.status();
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ((*s)["eci"], "off");
  EXPECT_EQ((*s)["serial"], 1);
  EXPECT_EQ((*s)["allocations"].size(), 1u);
  ASSERT_TRUE(client.release("c1").ok());
  ASSERT_TRUE(client.release("c1").ok());
  EXPECT_EQ((*client.status())["allocations"].size(), 0u);
}

TEST_F(ServerTest, ControlAndPushSocketsServeOnlyTheirOwnOps) {
  auto r = ipc::call(cfg_.pushSocket, {{"op", "status"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["ok"], false);
  r = ipc::call(cfg_.controlSocket, {{"op", "push"}, {"bundle", "{}"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["ok"], false);
  EXPECT_THAT((*r)["error"].get<std::string>(), HasSubstr("on the control socket"));
}

TEST_F(ServerTest, RefusalsAreClientErrors) {
  enforcer::Client client(cfg_.controlSocket);
  auto g = client.create("../x", "/b", "");
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.error().str(), HasSubstr("eci-enforcerd refused to create container '../x'"));
  enforcer::Client nowhere(dir_ / "nope.sock");
  auto n = nowhere.create("c1", "/b", "");
  ASSERT_FALSE(n.ok());
  EXPECT_THAT(n.error().str(), HasSubstr("cannot reach eci-enforcerd"));
  EXPECT_FALSE(enforcer::pushBundle(dir_ / "nope.sock", "{}").ok());
}

TEST_F(ServerTest, AuditRecordsFromRootOnlyReachTheFile) {
  const nlohmann::json rec = {{"source", "eci-runc"},
                              {"event", "refused"},
                              {"container", "c1"},
                              {"rule", "spec"},
                              {"reason", "host pid namespace"}};
  ASSERT_TRUE(enforcer::sendAudit(cfg_.controlSocket, rec).ok());
  auto bad = enforcer::sendAudit(cfg_.controlSocket, {{"source", "eci-enforcerd"}, {"event", "x"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().str(), HasSubstr("may not be sent"));
  // Fire and forget: it arrives without the caller waiting for it.
  nlohmann::json second = rec;
  second["container"] = "c2";
  enforcer::sendAuditDetached(cfg_.controlSocket, second);
  for (int i = 0; i < 100; ++i) {
    auto all = audit::readAll(cfg_.auditLog, {}, 3);
    if (all.ok() && all->records.size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto all = audit::readAll(cfg_.auditLog, {}, 3);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->records.size(), 2u);
  EXPECT_EQ(all->records[0].container, "c1");
  EXPECT_EQ(all->records[1].container, "c2");

  // A process that is not root cannot write to the audit log, whatever the socket's mode.
  ASSERT_EQ(::chmod(cfg_.controlSocket.c_str(), 0666), 0);
  ASSERT_EQ(::chmod(cfg_.controlSocket.parent_path().c_str(), 0755), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) _exit(3);
    nlohmann::json forged = rec;
    forged["container"] = "forged";
    _exit(enforcer::sendAudit(cfg_.controlSocket, forged).ok() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  all = audit::readAll(cfg_.auditLog, {std::nullopt, "forged"}, 3);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->records.empty());
}

TEST_F(ServerTest, NonRootPeerIsRefusedEvenWhenTheSocketIsOpenedUp) {
  // Widen the socket's mode so only the SO_PEERCRED check stands between uid 65534 and the daemon.
  ASSERT_EQ(::chmod(cfg_.controlSocket.c_str(), 0666), 0);
  ASSERT_EQ(::chmod(cfg_.controlSocket.parent_path().c_str(), 0755), 0);
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) _exit(3);
    auto r = ipc::call(cfg_.controlSocket,
                       {{"op", "create"}, {"id", "evil"}, {"bundle", "/tmp"}, {"runcRoot", ""}},
                       std::chrono::milliseconds(2000));
    std::string out = r.ok() ? r->dump() : "ERR " + r.error().str();
    (void)!::write(pipefd[1], out.data(), out.size());
    _exit(0);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, n);
  ::close(pipefd[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  auto reply = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(reply.is_discarded()) << out;
  EXPECT_EQ(reply["ok"], false);
  EXPECT_THAT(reply["error"].get<std::string>(), HasSubstr("serves root only (peer uid 65534"));
  EXPECT_EQ(enforcer_->ranges().inUse(), 0u);
}

TEST_F(ServerTest, SilentClientDoesNotBlockOthers) {
  // A peer that connects and never sends holds one thread until the I/O timeout, nothing more.
  UniqueFd silent(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, cfg_.controlSocket.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(silent.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const auto t0 = std::chrono::steady_clock::now();
  enforcer::Client client(cfg_.controlSocket);
  ASSERT_TRUE(client.create("c1", bundleDir("c1"), "").ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(400));
  // After the timeout the daemon drops the silent peer.
  char c;
  EXPECT_EQ(::read(silent.get(), &c, 1), 0);
}

TEST_F(ServerTest, FiftyConcurrentClientsGetFiftyDistinctRanges) {
  std::vector<std::thread> threads;
  std::vector<uint32_t> starts(50, 0);
  std::vector<std::string> errors(50);
  for (int i = 0; i < 50; ++i) bundleDir("c" + std::to_string(i));
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      enforcer::Client client(cfg_.controlSocket);
      const std::string id = "c" + std::to_string(i);
      auto g = client.create(id, (dir_ / "bundles" / id).string(), "/run/runc");
      if (g.ok()) {
        starts[i] = g->range.start;
      } else {
        errors[i] = g.error().str();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(errors[i], "") << i;
  std::set<uint32_t> distinct(starts.begin(), starts.end());
  EXPECT_EQ(distinct.size(), 50u);
  EXPECT_EQ(*distinct.begin(), 100000u);
  EXPECT_EQ(*distinct.rbegin(), 100000u + 49u * 65536u);
  // Releasing them all in parallel leaves nothing behind.
  threads.clear();
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      enforcer::Client client(cfg_.controlSocket);
      if (auto st = client.release("c" + std::to_string(i)); !st.ok()) errors[i] = st.error().str();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(errors[i], "") << i;
  EXPECT_EQ(enforcer_->ranges().inUse(), 0u);
}

TEST_F(ServerTest, StopRemovesSocketsAndWaitsForRequests) {
  enforcer::Client client(cfg_.controlSocket);
  ASSERT_TRUE(client.status().ok());
  server_->stop();
  EXPECT_FALSE(std::filesystem::exists(cfg_.controlSocket));
  EXPECT_FALSE(std::filesystem::exists(cfg_.pushSocket));
  EXPECT_EQ(server_->activeConnections(), 0u);
  EXPECT_FALSE(client.status().ok());
}

TEST_F(ServerTest, StopLeavesASuccessorsSocketAlone) {
  // A new daemon replaced the socket file: the old one's shutdown must not delete it.
  std::filesystem::remove(cfg_.pushSocket);
  auto replacement = ipc::listenUnix(cfg_.pushSocket);
  ASSERT_TRUE(replacement.ok());
  server_->stop();
  EXPECT_TRUE(std::filesystem::exists(cfg_.pushSocket));
  EXPECT_FALSE(std::filesystem::exists(cfg_.controlSocket));
}

TEST(ServerVsockTest, VsockPushListenerBindsAndAPortClashIsAClearError) {
  // This VM has no vsock loopback transport, so no peer can connect here: the test covers the
  // listener's setup and error path; the peer-CID check is exercised only in a real VM.
  TempDir dir;
  const uint32_t port = 40000 + static_cast<uint32_t>(::getpid() % 20000);
  auto makeCfg = [&](const std::string& name) {
    Config c;
    c.stateDir = dir / (name + "-state");
    c.trustedKeysDir = dir / "keys";
    c.controlSocket = dir / (name + "-control.sock");
    c.pushSocket = dir / (name + "-push.sock");
    c.vsockPort = port;
    return c;
  };
  Enforcer e1(makeCfg("a"));
  ASSERT_TRUE(e1.init().ok());
  Server s1(e1);
  auto st = s1.start();
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_TRUE(enforcer::Client(dir / "a-control.sock").status().ok());
  Enforcer e2(makeCfg("b"));
  ASSERT_TRUE(e2.init().ok());
  Server s2(e2);
  auto clash = s2.start();
  ASSERT_FALSE(clash.ok());
  EXPECT_THAT(clash.error().str(), HasSubstr("bind(AF_VSOCK, port " + std::to_string(port) + ")"));
  s2.stop();
  s1.stop();
}

}  // namespace
}  // namespace eci::enforcerd
