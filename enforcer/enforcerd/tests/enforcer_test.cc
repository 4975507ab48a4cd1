#include "eci/enforcerd/enforcer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "test_util.h"

namespace eci::enforcerd {
namespace {

using namespace eci::enforcerd::testing;  // NOLINT
using nlohmann::json;
using ::testing::HasSubstr;

struct Recorder {
  std::mutex mu;
  std::vector<std::string> events;
  void add(std::string e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
  }
};

class FakeModule : public Module {
 public:
  FakeModule(std::string name, Recorder& rec, bool failStart = false, bool failCreate = false)
      : name_(std::move(name)), rec_(rec), failStart_(failStart), failCreate_(failCreate) {}
  const char* name() const override { return name_.c_str(); }
  Status start(const ModuleContext&) override {
    rec_.add("start " + name_);
    if (failStart_) return Error("cannot start");
    return {};
  }
  void stop() override { rec_.add("stop " + name_); }
  Status onCreate(const ContainerCreate& c, json& extra) override {
    rec_.add("create " + name_ + " " + c.id + " " + std::to_string(c.range.start));
    if (failCreate_) return Error("supervisor unavailable");
    extra = {{"listenerPath", "/run/eci/" + name_ + ".sock"}};
    return {};
  }
  void onRelease(const std::string& id) override { rec_.add("release " + name_ + " " + id); }
  json status() const override { return {{"containers", 0}}; }

 private:
  std::string name_;
  Recorder& rec_;
  bool failStart_, failCreate_;
};

class EnforcerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    trustKey(key_, cfg_.trustedKeysDir, "admin");
    std::filesystem::create_directories(dir_ / "bundles");
  }
  json create(Enforcer& e, const std::string& id) {
    std::filesystem::create_directories(dir_ / "bundles" / id);
    return e.handleControl({{"op", "create"},
                            {"id", id},
                            {"bundle", (dir_ / "bundles" / id).string()},
                            {"runcRoot", (dir_ / "runc").string()}});
  }
  json push(Enforcer& e, const std::string& bundle) {
    return e.handlePush({{"op", "push"}, {"bundle", bundle}});
  }

  TempDir dir_;
  KeyPair key_ = makeKey();
  Config cfg_ = [this] {
    Config c;
    c.stateDir = dir_ / "state";
    c.trustedKeysDir = dir_ / "keys";
    c.controlSocket = dir_ / "control.sock";
    c.pushSocket = dir_ / "push.sock";
    c.engineDataRoot = "/var/lib/docker-test";
    return c;
  }();
};

TEST_F(EnforcerTest, CreateWithoutPolicyFailsClosedWithARange) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  json r = create(e, "c1");
  ASSERT_TRUE(r["ok"]) << r.dump();
  EXPECT_EQ(r["verified"], false);
  EXPECT_EQ(r["reason"], "no policy pushed yet");
  EXPECT_EQ(r["policy"], Policy::failClosedDefaults().toJson());
  EXPECT_EQ(r["range"], (json{{"start", 100000}, {"size", 65536}}));
  EXPECT_EQ(r["engineDataRoot"], "/var/lib/docker-test");
  EXPECT_EQ(create(e, "c2")["range"]["start"], 165536);
  EXPECT_EQ(create(e, "c1")["range"]["start"], 100000);
}

TEST_F(EnforcerTest, VerifiedPolicyWithEciOffGrantsNoRange) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  json p = push(e, signedBundle(key_, testPolicy(false), 1));
  ASSERT_TRUE(p["ok"]) << p.dump();
  EXPECT_EQ(p["serial"], 1);
  json r = create(e, "c1");
  ASSERT_TRUE(r["ok"]) << r.dump();
  EXPECT_EQ(r["verified"], true);
  EXPECT_EQ(r["policy"]["enabled"], false);
  EXPECT_EQ(r["range"], (json{{"start", 0}, {"size", 0}}));
  EXPECT_FALSE(r.contains("reason"));
  EXPECT_EQ(e.ranges().inUse(), 0u);
  // Turning ECI back on applies to the next container.
  ASSERT_TRUE(push(e, signedBundle(key_, testPolicy(true), 2))["ok"]);
  EXPECT_EQ(create(e, "c2")["range"]["start"], 100000);
}

TEST_F(EnforcerTest, PushRefusalCarriesReasonAndSerial) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  ASSERT_TRUE(push(e, signedBundle(key_, testPolicy(), 4))["ok"]);
  json r = push(e, signedBundle(key_, testPolicy(), 4));
  EXPECT_EQ(r["ok"], false);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("not greater than the current serial 4"));
  EXPECT_EQ(r["serial"], 4);
  json forged = push(e, signedBundle(makeKey(), testPolicy(false), 5));
  EXPECT_EQ(forged["ok"], false);
  EXPECT_THAT(forged["error"].get<std::string>(), HasSubstr("verification failed"));
}

TEST_F(EnforcerTest, ReleaseIsIdempotent) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  ASSERT_TRUE(create(e, "c1")["ok"]);
  EXPECT_EQ(e.handleControl({{"op", "release"}, {"id", "c1"}}),
            (json{{"ok", true}, {"released", true}}));
  EXPECT_EQ(e.handleControl({{"op", "release"}, {"id", "c1"}}),
            (json{{"ok", true}, {"released", false}}));
  EXPECT_EQ(e.ranges().inUse(), 0u);
}

TEST_F(EnforcerTest, SetCallerIsInTheCreateReplySurvivesRestartAndGoesOnRelease) {
  {
    Enforcer e(cfg_);
    ASSERT_TRUE(e.init().ok());
    EXPECT_FALSE(create(e, "c0").contains("caller"));  // unknown caller: no field
    EXPECT_EQ(e.handleControl({{"op", "setCaller"}, {"id", "c1"}, {"uid", 1000}, {"gid", 1001}}),
              (json{{"ok", true}}));
  }
  // A restarted daemon (crash included: the record was fsync'd before the reply) still knows it.
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  json r = create(e, "c1");
  ASSERT_EQ(r["ok"], true) << r.dump();
  EXPECT_EQ(r["caller"], (json{{"uid", 1000}, {"gid", 1001}}));
  // The engine (dockerd's <data-root>/containers/<id>) does not have c1: release drops it.
  ASSERT_EQ(e.handleControl({{"op", "release"}, {"id", "c1"}})["ok"], true);
  EXPECT_FALSE(create(e, "c1").contains("caller"));
  EXPECT_EQ(e.callers().size(), 0u);
}

TEST_F(EnforcerTest, CallerOfAContainerTheEngineStillHasSurvivesRelease) {
  // docker stop deletes runc's container, docker start creates it again: same caller.
  cfg_.engineDataRoot = (dir_ / "engine").string();
  std::filesystem::create_directories(dir_ / "engine" / "containers" / "c1");
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  ASSERT_EQ(e.handleControl({{"op", "setCaller"}, {"id", "c1"}, {"uid", 7}, {"gid", 8}})["ok"],
            true);
  ASSERT_EQ(create(e, "c1")["caller"], (json{{"uid", 7}, {"gid", 8}}));
  ASSERT_EQ(e.handleControl({{"op", "release"}, {"id", "c1"}})["ok"], true);
  EXPECT_EQ(create(e, "c1")["caller"], (json{{"uid", 7}, {"gid", 8}}));
  std::filesystem::remove_all(dir_ / "engine" / "containers" / "c1");  // docker rm
  ASSERT_EQ(e.handleControl({{"op", "release"}, {"id", "c1"}})["ok"], true);
  EXPECT_FALSE(create(e, "c1").contains("caller"));
}

TEST_F(EnforcerTest, SetCallerRefusesMalformedRequests) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  for (const json& req : {json{{"op", "setCaller"}, {"id", "../x"}, {"uid", 1}, {"gid", 1}},
                          json{{"op", "setCaller"}, {"id", "c"}, {"uid", -1}, {"gid", 1}},
                          json{{"op", "setCaller"}, {"id", "c"}, {"uid", 1}},
                          json{{"op", "setCaller"}, {"id", "c"}, {"uid", "1"}, {"gid", 1}},
                          json{{"op", "setCaller"}, {"id", "c"}, {"uid", 4294967295u}, {"gid", 1}},
                          json{{"op", "setCaller"}, {"uid", 1}, {"gid", 1}}}) {
    json r = e.handleControl(req);
    EXPECT_EQ(r["ok"], false) << req.dump();
  }
  EXPECT_EQ(e.callers().size(), 0u);
}

TEST_F(EnforcerTest, CorruptCallersFileStopsStartup) {
  std::filesystem::create_directories(cfg_.stateDir);
  writeFile(cfg_.stateDir / Enforcer::kCallersFile,
            "{\"format\":\"eci-callers/1\",\"callers\":[{}]}");
  Enforcer e(cfg_);
  auto st = e.init();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().str(), HasSubstr("callers"));
}

TEST_F(EnforcerTest, StatusReportsPolicyAndAllocations) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  json s = e.handleControl({{"op", "status"}});
  EXPECT_EQ(s["ok"], true);
  EXPECT_EQ(s["eci"], "on");
  EXPECT_EQ(s["verified"], false);
  EXPECT_EQ(s["source"], "defaults");
  EXPECT_EQ(s["reason"], "no policy pushed yet");
  ASSERT_TRUE(push(e, signedBundle(key_, testPolicy(), 3))["ok"]);
  ASSERT_TRUE(create(e, "c1")["ok"]);
  s = e.handleControl({{"op", "status"}});
  EXPECT_EQ(s["verified"], true);
  EXPECT_EQ(s["source"], "pushed");
  EXPECT_EQ(s["serial"], 3);
  EXPECT_EQ(s["highestSerial"], 3);
  EXPECT_EQ(s["reason"], "");
  EXPECT_EQ(s["keyId"], key_.keyId());
  EXPECT_EQ(s["ranges"]["inUse"], 1);
  EXPECT_EQ(s["ranges"]["base"], 100000);
  EXPECT_EQ(s["ranges"]["count"], 4096);
  ASSERT_EQ(s["allocations"].size(), 1u);
  EXPECT_EQ(s["allocations"][0]["id"], "c1");
  EXPECT_EQ(s["allocations"][0]["start"], 100000);
  EXPECT_EQ(s["allocations"][0]["bundle"], (dir_ / "bundles" / "c1").string());
}

TEST_F(EnforcerTest, MalformedRequestsGetClearErrors) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  struct Case {
    json req;
    const char* expect;
  };
  for (const Case& c : {
           Case{json::array(), "expected a JSON object"},
           Case{json::object(), "request /op: missing"},
           Case{{{"op", 3}}, "request /op: expected string"},
           Case{{{"op", "push"}}, "unknown operation 'push' on the control socket"},
           Case{{{"op", "create"}}, "request /id: missing"},
           Case{{{"op", "create"}, {"id", "../../etc"}, {"bundle", "/b"}}, "invalid container id"},
           Case{{{"op", "create"}, {"id", "a"}}, "request /bundle: missing"},
           Case{{{"op", "create"}, {"id", "a"}, {"bundle", "rel/b"}}, "expected an absolute path"},
           Case{{{"op", "create"}, {"id", "a"}, {"bundle", "/b"}, {"runcRoot", 1}},
                "request /runcRoot: expected string"},
           Case{{{"op", "release"}, {"id", 7}}, "request /id: expected string"},
       }) {
    json r = e.handleControl(c.req);
    EXPECT_EQ(r["ok"], false) << c.req.dump();
    EXPECT_THAT(r["error"].get<std::string>(), HasSubstr(c.expect)) << c.req.dump();
  }
  json r = e.handlePush({{"op", "status"}});
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("on the push socket"));
  r = e.handlePush({{"op", "push"}, {"bundle", 5}});
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("request /bundle: expected string"));
  EXPECT_EQ(e.ranges().inUse(), 0u);
}

TEST_F(EnforcerTest, SecondDaemonOnTheSameStateDirIsRefused) {
  Enforcer a(cfg_);
  ASSERT_TRUE(a.init().ok());
  Enforcer b(cfg_);
  auto st = b.init();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().str(), HasSubstr("another eci-enforcerd uses this state dir"));
}

TEST_F(EnforcerTest, CorruptAllocationsFileStopsStartup) {
  std::filesystem::create_directories(cfg_.stateDir);
  writeFile(cfg_.stateDir / Enforcer::kAllocationsFile, "garbage");
  Enforcer e(cfg_);
  auto st = e.init();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().str(), HasSubstr("allocations"));
}

TEST_F(EnforcerTest, ModulesStartInOrderStopInReverseAndSeeContainers) {
  Recorder rec;
  {
    Enforcer e(cfg_);
    e.addModule(std::make_unique<FakeModule>("seccomp", rec));
    e.addModule(std::make_unique<FakeModule>("procfs", rec));
    ASSERT_TRUE(e.init().ok());
    ASSERT_TRUE(e.startModules().ok());
    json r = create(e, "c1");
    ASSERT_TRUE(r["ok"]) << r.dump();
    EXPECT_EQ(r["modules"]["procfs"]["listenerPath"], "/run/eci/procfs.sock");
    EXPECT_EQ(e.handleControl({{"op", "status"}})["modules"]["seccomp"]["containers"], 0);
    ASSERT_TRUE(e.handleControl({{"op", "release"}, {"id", "c1"}})["ok"]);
    e.stopModules();
    e.stopModules();  // idempotent
  }
  EXPECT_EQ(rec.events,
            (std::vector<std::string>{"start seccomp", "start procfs", "create seccomp c1 100000",
                                      "create procfs c1 100000", "release procfs c1",
                                      "release seccomp c1", "stop procfs", "stop seccomp"}));
}

TEST_F(EnforcerTest, ModuleStartFailureStopsTheOnesStarted) {
  Recorder rec;
  Enforcer e(cfg_);
  e.addModule(std::make_unique<FakeModule>("a", rec));
  e.addModule(std::make_unique<FakeModule>("b", rec, /*failStart=*/true));
  e.addModule(std::make_unique<FakeModule>("c", rec));
  ASSERT_TRUE(e.init().ok());
  auto st = e.startModules();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().str(), HasSubstr("starting module b"));
  EXPECT_EQ(rec.events, (std::vector<std::string>{"start a", "start b", "stop a"}));
}

TEST_F(EnforcerTest, ModuleCreateFailureFailsCreateAndReleasesRange) {
  Recorder rec;
  Enforcer e(cfg_);
  e.addModule(std::make_unique<FakeModule>("a", rec));
  e.addModule(std::make_unique<FakeModule>("b", rec, false, /*failCreate=*/true));
  ASSERT_TRUE(e.init().ok());
  ASSERT_TRUE(e.startModules().ok());
  json r = create(e, "c1");
  EXPECT_EQ(r["ok"], false);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("module b: supervisor unavailable"));
  EXPECT_EQ(e.ranges().inUse(), 0u);
  EXPECT_THAT(rec.events, ::testing::Contains("release a c1"));
}

TEST_F(EnforcerTest, SecondCreateOfALiveIdIsNotFreshAndItsFailureReleasesNothing) {
  // Issue 12 item 1: a second create with a live container's id must not tear down that
  // container's modules or range when it fails.
  Recorder rec;
  Enforcer e(cfg_);
  auto flaky = std::make_unique<FakeModule>("a", rec);
  e.addModule(std::move(flaky));
  ASSERT_TRUE(e.init().ok());
  ASSERT_TRUE(e.startModules().ok());
  json first = create(e, "c1");
  ASSERT_EQ(first["ok"], true);
  EXPECT_EQ(first["fresh"], true);
  json second = create(e, "c1");
  ASSERT_EQ(second["ok"], true);
  EXPECT_EQ(second["fresh"], false);
  EXPECT_EQ(second["range"], first["range"]);
  EXPECT_THAT(rec.events, ::testing::Not(::testing::Contains("release a c1")));
}

// Fails every onCreate after the first.
class FailsAfterFirst : public FakeModule {
 public:
  using FakeModule::FakeModule;
  Status onCreate(const ContainerCreate& c, json& extra) override {
    if (calls_++ > 0) return Error("busy");
    return FakeModule::onCreate(c, extra);
  }

 private:
  int calls_ = 0;
};

TEST_F(EnforcerTest, FailedCreateOfALiveIdLeavesItsModulesAndRange) {
  Recorder rec;
  Enforcer e(cfg_);
  e.addModule(std::make_unique<FakeModule>("a", rec));
  e.addModule(std::make_unique<FailsAfterFirst>("b", rec));
  ASSERT_TRUE(e.init().ok());
  ASSERT_TRUE(e.startModules().ok());
  ASSERT_EQ(create(e, "c1")["ok"], true);
  EXPECT_EQ(create(e, "c1")["ok"], false);  // not fresh: nothing of c1 is undone
  EXPECT_THAT(rec.events, ::testing::Not(::testing::Contains("release a c1")));
  EXPECT_EQ(e.ranges().inUse(), 1u);
}

TEST_F(EnforcerTest, JoinerSharesTheRangeUntilTheLastMemberIsReleased) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  json x = create(e, "x");
  ASSERT_EQ(x["ok"], true);
  std::filesystem::create_directories(dir_ / "bundles" / "y");
  json y = e.handleControl({{"op", "create"},
                            {"id", "y"},
                            {"bundle", (dir_ / "bundles" / "y").string()},
                            {"runcRoot", (dir_ / "runc").string()},
                            {"joins", "x"}});
  ASSERT_EQ(y["ok"], true) << y.dump();
  EXPECT_EQ(y["range"], x["range"]);
  EXPECT_EQ(y["fresh"], true);
  ASSERT_EQ(e.handleControl({{"op", "release"}, {"id", "x"}})["ok"], true);
  // x is gone, y still runs in x's user namespace: the range is not handed out again.
  json z = create(e, "z");
  EXPECT_NE(z["range"]["start"], x["range"]["start"]);
  ASSERT_EQ(e.handleControl({{"op", "release"}, {"id", "y"}})["ok"], true);
  EXPECT_EQ(create(e, "w")["range"]["start"], x["range"]["start"]);
  // Joining a container that holds no range is refused (never a range picked at random).
  json bad = e.handleControl({{"op", "create"},
                              {"id", "v"},
                              {"bundle", (dir_ / "bundles" / "w").string()},
                              {"joins", "nosuch"}});
  EXPECT_EQ(bad["ok"], false);
  json status = e.handleControl({{"op", "status"}});
  EXPECT_EQ(status["ranges"]["inUse"], 2);
}

// The audit op: eci-enforcerd is the one writer; other root processes send it records.
class AuditTest : public EnforcerTest {
 protected:
  void SetUp() override {
    EnforcerTest::SetUp();
    cfg_.auditLog = dir_ / "log" / "audit.log";
    cfg_.auditBurst = 5;
    cfg_.auditRatePerSec = 1;
  }
  static json refusal(const std::string& container, const std::string& rule = "privileged") {
    return {{"op", "audit"},
            {"record",
             {{"source", "eci-apiproxyd"},
              {"event", "refused"},
              {"container", container},
              {"name", "web"},
              {"image", "busybox:latest"},
              {"rule", rule},
              {"reason", "host pid namespace"}}}};
  }
  std::vector<audit::Record> lines() {
    auto all = audit::readAll(cfg_.auditLog, {}, cfg_.auditKeep);
    EXPECT_TRUE(all.ok());
    if (!all.ok()) return {};
    EXPECT_EQ(all->malformed, 0u);
    return all->records;
  }
};

TEST_F(AuditTest, RecordIsWrittenWithTheDaemonsTime) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  json req = refusal("0123456789abcdef");
  req["record"]["time"] = "1999-01-01T00:00:00Z";  // a sender's clock is not trusted
  json r = e.handleControl(req);
  ASSERT_TRUE(r["ok"]) << r.dump();
  EXPECT_EQ(r["written"], true);
  auto l = lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].container, "0123456789abcdef");
  EXPECT_EQ(l[0].image, "busybox:latest");
  EXPECT_EQ(l[0].rule, "privileged");
  EXPECT_NE(l[0].time.substr(0, 4), "1999");
}

TEST_F(AuditTest, InvalidRecordsAreRefused) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  const json bad[] = {
      {{"op", "audit"}},
      {{"op", "audit"}, {"record", "text"}},
      {{"op", "audit"}, {"record", {{"source", "eci-apiproxyd"}}}},
      {{"op", "audit"},
       {"record", {{"source", "eci-apiproxyd"}, {"event", "refused"}, {"rule", 1}}}},
      // eci-enforcerd's own records (policy pushes) cannot be forged by another process.
      {{"op", "audit"}, {"record", {{"source", "eci-enforcerd"}, {"event", "policy-accepted"}}}},
      {{"op", "audit"},
       {"record", {{"source", "eci-runc"}, {"event", "refused"}, {"container", "../x"}}}},
  };
  for (const auto& req : bad) {
    json r = e.handleControl(req);
    EXPECT_EQ(r["ok"], false) << req.dump();
  }
  EXPECT_FALSE(std::filesystem::exists(cfg_.auditLog));
}

TEST_F(AuditTest, OversizedFieldsAreCut) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  json req = refusal("c1");
  req["record"]["reason"] = std::string(1 << 20, 'x');
  ASSERT_TRUE(e.handleControl(req)["ok"]);
  auto l = lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].reason.size(), audit::kMaxFieldBytes);
  EXPECT_LT(std::filesystem::file_size(cfg_.auditLog), audit::kMaxLineBytes);
}

TEST_F(AuditTest, HammeringContainerIsBoundedOthersAreNot) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  int written = 0;
  for (int i = 0; i < 1000; ++i) written += e.handleControl(refusal("hammer"))["written"] ? 1 : 0;
  EXPECT_EQ(written, 5);  // the burst
  EXPECT_EQ(e.handleControl(refusal("quiet"))["written"], true);
  EXPECT_EQ(e.statusJson()["audit"]["suppressed"], 995);
  auto l = lines();
  EXPECT_EQ(l.size(), 6u);
}

TEST_F(AuditTest, PolicyPushesAcceptedAndRefusedAreAudited) {
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  ASSERT_TRUE(push(e, signedBundle(key_, testPolicy(), 3))["ok"]);
  ASSERT_FALSE(push(e, signedBundle(makeKey(), testPolicy(false), 4))["ok"]);
  auto l = lines();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].source, "eci-enforcerd");
  EXPECT_EQ(l[0].event, "policy-accepted");
  EXPECT_EQ(l[0].extra["serial"], 3);
  EXPECT_EQ(l[1].event, "policy-refused");
  EXPECT_THAT(l[1].reason, HasSubstr("verification failed"));
}

TEST_F(AuditTest, NoAuditLogConfiguredWritesNothing) {
  cfg_.auditLog.clear();
  Enforcer e(cfg_);
  ASSERT_TRUE(e.init().ok());
  json r = e.handleControl(refusal("c1"));
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["written"], false);
}

}  // namespace
}  // namespace eci::enforcerd
