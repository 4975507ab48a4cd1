// End to end: the real eci-enforcerd binary on private paths, driven by the real eci-admin
// (policy push, status) and the client library eci-runc uses (create/release). Covers SIGKILL
// and restart: the policy and the live ranges come back, replays stay refused.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "eci/enforcer_client.h"
#include "test_util.h"

extern char** environ;

namespace eci::enforcerd {
namespace {

using namespace eci::enforcerd::testing;  // NOLINT
using nlohmann::json;
using ::testing::HasSubstr;

struct RunResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

class EnforcerdE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "eci-enforcerd serves root only; run this test as root";
    ASSERT_TRUE(std::filesystem::exists(ECI_ENFORCERD_BIN)) << ECI_ENFORCERD_BIN;
    ASSERT_TRUE(std::filesystem::exists(ECI_ADMIN_BIN)) << ECI_ADMIN_BIN << " (build eci-admin)";
    trustKey(key_, keys_, "admin");
    std::filesystem::create_directories(dir_ / "bundles");
  }
  void TearDown() override {
    if (pid_ > 0) {
      // SIGTERM lets the daemon's modules take down their per-container mounts.
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 100 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    // Whatever a SIGKILLed daemon's modules left mounted under the private dir goes too, so the
    // temp dir can be removed and the host is left as it was.
    std::ifstream mounts("/proc/self/mounts");
    std::string src, target, rest;
    std::vector<std::string> ours;
    while (mounts >> src >> target && std::getline(mounts, rest)) {
      if (target.rfind(dir_.path().string() + "/", 0) == 0) ours.push_back(target);
    }
    for (auto it = ours.rbegin(); it != ours.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  }

  void start() {
    const std::string log = (dir_ / "enforcerd.log").string();
    std::vector<std::string> args = {ECI_ENFORCERD_BIN,
                                     "--control-socket",
                                     control_.string(),
                                     "--push-socket",
                                     push_.string(),
                                     "--state-dir",
                                     state_.string(),
                                     "--trusted-keys",
                                     keys_.string(),
                                     "--engine-data-root",
                                     "/var/lib/docker-e2e",
                                     "--range-base",
                                     "100000",
                                     "--range-count",
                                     "64",
                                     "--audit-log",
                                     (dir_ / "audit" / "audit.log").string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ASSERT_EQ(posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    enforcer::Client client(control_);
    for (int i = 0; i < 200; ++i) {
      if (client.status().ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "eci-enforcerd did not come up:\n" << readFile(log);
  }
  // Returns the exit status of the daemon.
  int stop(int sig) {
    EXPECT_EQ(::kill(pid_, sig), 0);
    int status = 0;
    EXPECT_EQ(::waitpid(pid_, &status, 0), pid_);
    pid_ = -1;
    return status;
  }

  RunResult admin(const std::string& args) {
    const auto out = dir_ / "out", err = dir_ / "err";
    const std::string cmd =
        std::string(ECI_ADMIN_BIN) + " " + args + " >" + out.string() + " 2>" + err.string();
    int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, readFile(out), readFile(err)};
  }
  json status() {
    RunResult r = admin("status --control-socket " + control_.string() + " --format json");
    EXPECT_EQ(r.exitCode, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j.is_discarded() ? json::object() : j["enforcer"];
  }
  RunResult pushFile(const std::string& bundleText, const std::string& name) {
    writeFile(dir_ / name, bundleText);
    return admin("policy push " + (dir_ / name).string() + " --push-socket " + push_.string());
  }
  std::string bundleDir(const std::string& id) {
    auto p = dir_ / "bundles" / id;
    std::filesystem::create_directories(p);
    return p.string();
  }
  std::string runcRoot() const { return (dir_ / "runc").string(); }

  TempDir dir_;
  KeyPair key_ = makeKey();
  std::filesystem::path keys_ = dir_ / "keys";
  std::filesystem::path state_ = dir_ / "state";
  std::filesystem::path control_ = dir_ / "run" / "enforcer.sock";
  std::filesystem::path push_ = dir_ / "run" / "push.sock";
  pid_t pid_ = -1;
};

TEST_F(EnforcerdE2eTest, PushStatusSigkillRestartRecoversPolicyAndLiveRanges) {
  start();
  json s = status();
  EXPECT_EQ(s["eci"], "on");
  EXPECT_EQ(s["verified"], false);
  EXPECT_EQ(s["reason"], "no policy pushed yet");
  RunResult text = admin("status --control-socket " + control_.string());
  EXPECT_EQ(text.exitCode, 0);
  EXPECT_THAT(text.out, HasSubstr("built-in defaults, ECI on (fail closed): no policy pushed yet"));

  const std::string b1 = signedBundle(key_, testPolicy(true), 1);
  RunResult p = pushFile(b1, "b1.json");
  ASSERT_EQ(p.exitCode, 0) << p.err;
  EXPECT_EQ(p.out, "policy serial 1 applied\n");
  s = status();
  EXPECT_EQ(s["verified"], true);
  EXPECT_EQ(s["serial"], 1);
  EXPECT_EQ(s["source"], "pushed");
  EXPECT_EQ(s["policy"]["restrictedHostMounts"], testPolicy(true).toJson()["restrictedHostMounts"]);

  // Three containers as eci-runc would create them; "c2" will be deleted while enforcerd is down.
  enforcer::Client client(control_);
  std::map<std::string, uint32_t> ranges;
  for (const char* id : {"c1", "c2", "c3"}) {
    auto g = client.create(id, bundleDir(id), runcRoot());
    ASSERT_TRUE(g.ok()) << g.error().str();
    EXPECT_TRUE(g->policyVerified);
    EXPECT_EQ(g->engineDataRoot, "/var/lib/docker-e2e");
    ranges[id] = g->range.start;
  }
  EXPECT_EQ(ranges,
            (std::map<std::string, uint32_t>{{"c1", 100000}, {"c2", 165536}, {"c3", 231072}}));

  const int st = stop(SIGKILL);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  std::filesystem::remove_all(dir_ / "bundles" / "c2");
  start();

  s = status();
  EXPECT_EQ(s["verified"], true);
  EXPECT_EQ(s["serial"], 1);
  EXPECT_EQ(s["source"], "persisted");
  std::map<std::string, uint32_t> live;
  for (const auto& a : s["allocations"]) live[a["id"]] = a["start"];
  EXPECT_EQ(live, (std::map<std::string, uint32_t>{{"c1", 100000}, {"c3", 231072}}));
  // A live range is never handed out twice; the freed one is reused, lowest first.
  auto g4 = client.create("c4", bundleDir("c4"), runcRoot());
  ASSERT_TRUE(g4.ok()) << g4.error().str();
  EXPECT_EQ(g4->range.start, 165536u);
  auto g5 = client.create("c5", bundleDir("c5"), runcRoot());
  ASSERT_TRUE(g5.ok());
  EXPECT_EQ(g5->range.start, 296608u);
  EXPECT_EQ(client.create("c1", bundleDir("c1"), runcRoot())->range.start, 100000u);

  // The replay of serial 1 is refused after the restart too.
  p = pushFile(b1, "b1.json");
  EXPECT_EQ(p.exitCode, 1);
  EXPECT_THAT(p.err,
              HasSubstr("refused: bundle serial 1 is not greater than the current serial 1"));
  p = pushFile(signedBundle(key_, testPolicy(false), 2), "b2.json");
  ASSERT_EQ(p.exitCode, 0) << p.err;
  s = status();
  EXPECT_EQ(s["eci"], "off");
  EXPECT_EQ(s["serial"], 2);
  auto off = client.create("c6", bundleDir("c6"), runcRoot());
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->range.size, 0u);

  ASSERT_TRUE(client.release("c1").ok());
  EXPECT_EQ(status()["allocations"].size(), 3u);
}

TEST_F(EnforcerdE2eTest, SigkillDuringConcurrentCreatesNeverHandsOutARangeTwice) {
  start();
  // 40 creates in flight when the daemon is killed: every grant a client received must be on
  // disk after the restart, and no range may be handed out twice afterwards.
  std::vector<std::thread> threads;
  std::vector<int64_t> granted(40, -1);
  std::atomic<int> done{0};
  for (int i = 0; i < 40; ++i) bundleDir("k" + std::to_string(i));
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      enforcer::Client c(control_);
      const std::string id = "k" + std::to_string(i);
      auto g = c.create(id, (dir_ / "bundles" / id).string(), runcRoot());
      if (g.ok()) granted[i] = g->range.start;
      ++done;
    });
  }
  while (done.load() < 3) std::this_thread::sleep_for(std::chrono::microseconds(200));
  const int killed = stop(SIGKILL);
  EXPECT_TRUE(WIFSIGNALED(killed));
  for (auto& t : threads) t.join();
  const auto received =
      std::count_if(granted.begin(), granted.end(), [](int64_t g) { return g >= 0; });
  EXPECT_GT(received, 0);
  EXPECT_LT(received, 40);  // the kill really interrupted the creates

  start();
  std::map<std::string, uint32_t> live;
  std::set<uint32_t> starts;
  const json recovered = status();  // not a temporary: the loop below walks into it
  for (const auto& a : recovered["allocations"]) {
    live[a["id"]] = a["start"];
    EXPECT_TRUE(starts.insert(a["start"].get<uint32_t>()).second) << "range listed twice";
  }
  for (int i = 0; i < 40; ++i) {
    if (granted[i] < 0) continue;
    const std::string id = "k" + std::to_string(i);
    ASSERT_TRUE(live.count(id)) << id << " got a grant that was not persisted";
    EXPECT_EQ(live[id], granted[i]) << id;
  }
  // Creates that failed: their clients saw an error (eci-runc fails the create, containerd removes
  // the bundle); the next reconcile frees whatever was persisted for them.
  for (int i = 0; i < 40; ++i) {
    if (granted[i] < 0) std::filesystem::remove_all(dir_ / "bundles" / ("k" + std::to_string(i)));
  }
  EXPECT_EQ(stop(SIGTERM), 0);
  start();
  auto s = status();
  EXPECT_EQ(s["allocations"].size(), static_cast<size_t>(received));
  enforcer::Client client(control_);
  auto fresh = client.create("after", bundleDir("after"), runcRoot());
  ASSERT_TRUE(fresh.ok()) << fresh.error().str();
  EXPECT_EQ(std::count(granted.begin(), granted.end(), static_cast<int64_t>(fresh->range.start)),
            0);
}

TEST_F(EnforcerdE2eTest, ForgedTruncatedAndTamperedBundlesAreRefusedByTheDaemon) {
  start();
  KeyPair attacker = makeKey();
  RunResult r = pushFile(signedBundle(attacker, testPolicy(false), 50), "forged.json");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("refused: bundle verification failed"));
  const std::string good = signedBundle(key_, testPolicy(false), 7);
  r = pushFile(good.substr(0, good.size() / 2), "truncated.json");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("refused: bundle verification failed"));
  json tampered = json::parse(signedBundle(key_, testPolicy(true), 8));
  tampered["policy"]["enabled"] = false;
  r = pushFile(tampered.dump(), "tampered.json");
  EXPECT_EQ(r.exitCode, 1);
  json s = status();
  EXPECT_EQ(s["eci"], "on");
  EXPECT_EQ(s["verified"], false);
  EXPECT_EQ(s["reason"], "no policy pushed yet");
  EXPECT_FALSE(std::filesystem::exists(state_ / "policy.bundle"));
}

TEST_F(EnforcerdE2eTest, CorruptedPersistedPolicyFailsClosedAfterRestart) {
  start();
  ASSERT_EQ(pushFile(signedBundle(key_, testPolicy(false), 3), "b.json").exitCode, 0);
  EXPECT_EQ(status()["eci"], "off");
  EXPECT_EQ(stop(SIGTERM), 0);
  json j = json::parse(readFile(state_ / "policy.bundle"));
  j["policy"]["restrictedHostMounts"] = json::array();
  writeFile(state_ / "policy.bundle", j.dump());
  start();
  json s = status();
  EXPECT_EQ(s["eci"], "on");
  EXPECT_EQ(s["verified"], false);
  EXPECT_THAT(s["reason"].get<std::string>(),
              ::testing::StartsWith("persisted policy failed verification: "));
  RunResult text = admin("status --control-socket " + control_.string());
  EXPECT_THAT(text.out, HasSubstr("next push must have a serial above 3"));
  enforcer::Client client(control_);
  auto g = client.create("c1", bundleDir("c1"), runcRoot());
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->policy.enabled);
  EXPECT_EQ(g->range.start, 100000u);
}

TEST_F(EnforcerdE2eTest, SigtermRemovesSocketsAndUnreachableIsReported) {
  start();
  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_FALSE(std::filesystem::exists(control_));
  EXPECT_FALSE(std::filesystem::exists(push_));
  RunResult r = admin("status --control-socket " + control_.string());
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot reach eci-enforcerd"));
  r = pushFile(signedBundle(key_, testPolicy(), 1), "b.json");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot reach eci-enforcerd"));
  EXPECT_THAT(readFile(dir_ / "enforcerd.log"), HasSubstr("shutting down"));
}

}  // namespace
}  // namespace eci::enforcerd
