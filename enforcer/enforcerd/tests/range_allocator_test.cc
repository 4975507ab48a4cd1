#include "eci/enforcerd/range_allocator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "test_util.h"

namespace eci::enforcerd {
namespace {

using namespace eci::enforcerd::testing;  // NOLINT
using ::testing::HasSubstr;

bool alwaysLive(const Allocation&) {
  return true;
}

class RangeAllocatorTest : public ::testing::Test {
 protected:
  std::filesystem::path file() const { return dir_ / "allocations.json"; }
  // A fake runtime: runc's root and containerd-style bundle dirs under the temp dir.
  std::string runcRoot() const { return (dir_ / "runc").string(); }
  std::string bundle(const std::string& id) const { return (dir_ / "bundles" / id).string(); }
  void makeBundle(const std::string& id) { std::filesystem::create_directories(bundle(id)); }
  void makeRuncState(const std::string& id) {
    std::filesystem::create_directories(std::filesystem::path(runcRoot()) / id);
    writeFile(std::filesystem::path(runcRoot()) / id / "state.json", "{}");
  }

  TempDir dir_;
};

TEST_F(RangeAllocatorTest, HandsOutConsecutiveExclusiveRanges) {
  RangeAllocator r(file(), 100000, 16, alwaysLive);
  ASSERT_TRUE(r.load().ok());
  std::vector<uint32_t> starts;
  for (const char* id : {"a", "b", "c"}) {
    bool fresh = false;
    auto a = r.allocate(id, "/b/" + std::string(id), "/run/runc", &fresh);
    ASSERT_TRUE(a.ok()) << a.error().str();
    EXPECT_TRUE(fresh);
    starts.push_back(a->start);
  }
  EXPECT_EQ(starts, (std::vector<uint32_t>{100000, 165536, 231072}));
  EXPECT_EQ(r.inUse(), 3u);
}

TEST_F(RangeAllocatorTest, SameIdGetsSameRange) {
  RangeAllocator r(file(), 100000, 16, alwaysLive);
  ASSERT_TRUE(r.load().ok());
  auto a1 = r.allocate("a", "/b/a", "/run/runc");
  bool fresh = true;
  auto a2 = r.allocate("a", "/b/a", "/run/runc", &fresh);
  ASSERT_TRUE(a1.ok() && a2.ok());
  EXPECT_EQ(a1->start, a2->start);
  EXPECT_FALSE(fresh);
  EXPECT_EQ(r.inUse(), 1u);
}

TEST_F(RangeAllocatorTest, ReleaseFreesAndLowestFreeIsReused) {
  RangeAllocator r(file(), 100000, 16, alwaysLive);
  ASSERT_TRUE(r.load().ok());
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(r.allocate(id, "/x", "").ok());
  auto rel = r.release("b");
  ASSERT_TRUE(rel.ok());
  EXPECT_TRUE(*rel);
  auto again = r.release("b");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(r.allocate("d", "/x", "")->start, 165536u);
  EXPECT_EQ(r.allocate("e", "/x", "")->start, 296608u);
  ASSERT_TRUE(r.release("a").ok());
  EXPECT_EQ(r.allocate("f", "/x", "")->start, 100000u);
}

TEST_F(RangeAllocatorTest, ExhaustionIsAnErrorNotASharedRange) {
  RangeAllocator r(file(), 100000, 2, alwaysLive);
  ASSERT_TRUE(r.load().ok());
  ASSERT_TRUE(r.allocate("a", "/x", "").ok());
  ASSERT_TRUE(r.allocate("b", "/x", "").ok());
  auto c = r.allocate("c", "/x", "");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind(), ErrorKind::kUnavailable);
  EXPECT_THAT(c.error().str(), HasSubstr("all 2 ranges are in use"));
}

TEST_F(RangeAllocatorTest, InvalidIdsAreRefused) {
  RangeAllocator r(file(), 100000, 2, alwaysLive);
  ASSERT_TRUE(r.load().ok());
  for (const char* id : {"", ".", "..", "../etc", "a/b", "a b", "a\nb"}) {
    EXPECT_FALSE(r.allocate(id, "/x", "").ok()) << id;
  }
  EXPECT_EQ(r.inUse(), 0u);
}

TEST_F(RangeAllocatorTest, AllocationIsOnDiskBeforeItIsReturned) {
  RangeAllocator r(file(), 100000, 16, alwaysLive);
  ASSERT_TRUE(r.load().ok());
  ASSERT_TRUE(r.allocate("a", "/bundles/a", "/run/runc").ok());
  // What a kill -9 right after the grant would leave: the file already holds the allocation.
  auto doc = nlohmann::json::parse(readFile(file()));
  ASSERT_EQ(doc["allocations"].size(), 1u);
  EXPECT_EQ(doc["allocations"][0]["id"], "a");
  EXPECT_EQ(doc["allocations"][0]["start"], 100000);
  EXPECT_EQ(doc["allocations"][0]["bundle"], "/bundles/a");
  EXPECT_EQ(doc["allocations"][0]["runcRoot"], "/run/runc");
  EXPECT_GT(doc["allocations"][0]["allocatedAt"].get<int64_t>(), 0);
  EXPECT_EQ(std::filesystem::status(file()).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(RangeAllocatorTest, SurvivesRestart) {
  {
    RangeAllocator r(file(), 100000, 16, alwaysLive);
    ASSERT_TRUE(r.load().ok());
    for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(r.allocate(id, "/x", "").ok());
    ASSERT_TRUE(r.release("a").ok());
  }
  RangeAllocator r(file(), 100000, 16, alwaysLive);
  ASSERT_TRUE(r.load().ok());
  EXPECT_EQ(r.inUse(), 2u);
  EXPECT_EQ(r.allocate("b", "/x", "")->start, 165536u);
  EXPECT_EQ(r.allocate("d", "/x", "")->start, 100000u);
  EXPECT_EQ(r.allocate("e", "/x", "")->start, 296608u);
}

TEST_F(RangeAllocatorTest, ReconcileWithFakeRuncStateKeepsLiveAndFreesGone) {
  {
    RangeAllocator r(file(), 100000, 16, runtimeHasContainer);
    ASSERT_TRUE(r.load().ok());
    for (const char* id : {"running", "creating", "gone", "deleted"}) {
      makeBundle(id);
      ASSERT_TRUE(r.allocate(id, bundle(id), runcRoot()).ok());
    }
  }
  // While the daemon was down: "running" has runc state (its bundle dir is gone to prove the
  // state file alone keeps it), "creating" only has its bundle (runc create not reached yet),
  // "gone" and "deleted" have neither.
  makeRuncState("running");
  std::filesystem::remove_all(bundle("running"));
  std::filesystem::remove_all(bundle("gone"));
  std::filesystem::remove_all(bundle("deleted"));

  RangeAllocator r(file(), 100000, 16, runtimeHasContainer);
  ASSERT_TRUE(r.load().ok());
  std::map<std::string, uint32_t> live;
  for (const auto& a : r.list()) live[a.id] = a.start;
  EXPECT_EQ(live, (std::map<std::string, uint32_t>{{"running", 100000}, {"creating", 165536}}));
  // The reconciled state was persisted.
  auto doc = nlohmann::json::parse(readFile(file()));
  EXPECT_EQ(doc["allocations"].size(), 2u);
  // Live ranges are never handed out again; freed ones are, lowest first.
  makeBundle("new1");
  makeBundle("new2");
  makeBundle("new3");
  EXPECT_EQ(r.allocate("new1", bundle("new1"), runcRoot())->start, 231072u);
  EXPECT_EQ(r.allocate("new2", bundle("new2"), runcRoot())->start, 296608u);
  EXPECT_EQ(r.allocate("new3", bundle("new3"), runcRoot())->start, 362144u);
}

TEST_F(RangeAllocatorTest, ExhaustedAllocatorReconcilesLazily) {
  RangeAllocator r(file(), 100000, 2, runtimeHasContainer, std::chrono::hours(1));
  ASSERT_TRUE(r.load().ok());
  makeBundle("a");
  makeBundle("b");
  makeBundle("c");
  ASSERT_TRUE(r.allocate("a", bundle("a"), runcRoot()).ok());
  ASSERT_TRUE(r.allocate("b", bundle("b"), runcRoot()).ok());
  EXPECT_FALSE(r.allocate("c", bundle("c"), runcRoot()).ok());
  // "a" was deleted without a release (e.g. eci-runc killed): its range comes back on demand.
  std::filesystem::remove_all(bundle("a"));
  auto c = r.allocate("c", bundle("c"), runcRoot());
  ASSERT_TRUE(c.ok()) << c.error().str();
  EXPECT_EQ(c->start, 100000u);
  EXPECT_EQ(r.inUse(), 2u);
}

TEST_F(RangeAllocatorTest, AllocationWithoutRuntimePathsIsKept) {
  Allocation a{"x", 100000, "", "", 0, ""};
  EXPECT_TRUE(runtimeHasContainer(a));
  a.bundle = (dir_ / "nope").string();
  EXPECT_FALSE(runtimeHasContainer(a));
}

TEST_F(RangeAllocatorTest, CorruptFileIsAnErrorNotAnEmptyAllocator) {
  writeFile(file(), "{\"format\":\"eci-allocations/1\",\"allocations\":[{\"id\":\"a\",");
  RangeAllocator r(file(), 100000, 16, alwaysLive);
  auto st = r.load();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().str(), HasSubstr("not a JSON object"));
}

TEST_F(RangeAllocatorTest, FileEntriesAreValidated) {
  struct Case {
    const char* allocations;
    const char* expect;
  };
  for (const Case& c : {
           Case{R"([{"id":"a","start":100001}])", "/allocations/0/start"},
           Case{R"([{"id":"a","start":50000}])", "/allocations/0/start"},
           Case{R"([{"id":"a","start":1148576}])", "is not a range of the configured geometry"},
           Case{R"([{"id":"../x","start":100000}])", "/allocations/0/id"},
           Case{R"([{"id":"a","start":100000},{"id":"a","start":165536}])", "duplicate"},
           Case{R"([{"id":"a","start":100000},{"id":"b","start":100000}])", "allocated twice"},
           Case{R"([{"id":"a"}])", "/allocations/0"},
           Case{R"({})", "/allocations: expected array"},
       }) {
    writeFile(file(),
              std::string(R"({"format":"eci-allocations/1","allocations":)") + c.allocations + "}");
    RangeAllocator r(file(), 100000, 16, alwaysLive);
    auto st = r.load();
    ASSERT_FALSE(st.ok()) << c.allocations;
    EXPECT_THAT(st.error().str(), HasSubstr(c.expect)) << c.allocations;
  }
}

TEST_F(RangeAllocatorTest, PersistFailureIsAnErrorAndTheRangeStaysReserved) {
  const auto stateDir = dir_ / "missing";
  RangeAllocator r(stateDir / "allocations.json", 100000, 16, alwaysLive);
  ASSERT_TRUE(r.load().ok());
  auto a = r.allocate("a", "/x", "");
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().str(), HasSubstr("persisting the allocation for 'a'"));
  // A retry for the same id is refused as long as the grant cannot be persisted ...
  EXPECT_FALSE(r.allocate("a", "/x", "").ok());
  // ... and its range is never handed to another container meanwhile.
  std::filesystem::create_directories(stateDir);
  EXPECT_EQ(r.allocate("b", "/x", "")->start, 165536u);
  auto again = r.allocate("a", "/x", "");
  ASSERT_TRUE(again.ok()) << again.error().str();
  EXPECT_EQ(again->start, 100000u);
  EXPECT_EQ(nlohmann::json::parse(readFile(stateDir / "allocations.json"))["allocations"].size(),
            2u);
}

TEST_F(RangeAllocatorTest, GeometryIsValidated) {
  EXPECT_TRUE(RangeAllocator::validateGeometry(100000, 4096).ok());
  EXPECT_FALSE(RangeAllocator::validateGeometry(0, 4).ok());
  EXPECT_FALSE(RangeAllocator::validateGeometry(100000, 0).ok());
  EXPECT_FALSE(RangeAllocator::validateGeometry(100000, 65535).ok());
}

TEST_F(RangeAllocatorTest, FiftyConcurrentAllocationsAreDistinct) {
  RangeAllocator r(file(), 100000, 4096, alwaysLive);
  ASSERT_TRUE(r.load().ok());
  std::vector<std::thread> threads;
  std::vector<uint32_t> starts(50);
  std::atomic<int> failures{0};
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      auto a = r.allocate("c" + std::to_string(i), "/x", "");
      if (!a.ok()) {
        ++failures;
        return;
      }
      starts[i] = a->start;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<uint32_t> distinct(starts.begin(), starts.end());
  EXPECT_EQ(distinct.size(), 50u);
  EXPECT_EQ(*distinct.begin(), 100000u);
  EXPECT_EQ(*distinct.rbegin(), 100000u + 49u * 65536u);
  RangeAllocator reloaded(file(), 100000, 4096, alwaysLive);
  ASSERT_TRUE(reloaded.load().ok());
  EXPECT_EQ(reloaded.inUse(), 50u);
}

TEST_F(RangeAllocatorTest, JoinersKeepTheRangeAcrossRestartsAndReconcile) {
  {
    RangeAllocator r(file(), 100000, 4, alwaysLive);
    ASSERT_TRUE(r.load().ok());
    ASSERT_TRUE(r.allocate("x", "/b/x", "/run/runc").ok());
    bool fresh = false;
    auto y = r.allocate("y", "/b/y", "/run/runc", &fresh, "x");
    ASSERT_TRUE(y.ok()) << y.error().str();
    EXPECT_TRUE(fresh);
    EXPECT_EQ(y->start, 100000u);
    EXPECT_EQ(y->joined, "x");
    ASSERT_TRUE(r.release("x").ok());
  }
  // Reloaded from disk: y still holds the range (and two joiners of one range load fine).
  RangeAllocator r(file(), 100000, 4, alwaysLive);
  ASSERT_TRUE(r.load().ok());
  ASSERT_TRUE(r.allocate("y2", "/b/y2", "/run/runc", nullptr, "y").ok());
  RangeAllocator again(file(), 100000, 4, alwaysLive);
  ASSERT_TRUE(again.load().ok());
  auto z = again.allocate("z", "/b/z", "/run/runc");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->start, 165536u);
  EXPECT_FALSE(again.allocate("v", "/b/v", "/run/runc", nullptr, "nosuch").ok());
}

TEST_F(RangeAllocatorTest, TwoOwnersOfOneRangeAreACorruptFile) {
  writeFile(file(), R"({"format":"eci-allocations/1","allocations":[
    {"id":"a","start":100000},{"id":"b","start":100000}]})");
  RangeAllocator r(file(), 100000, 4, alwaysLive);
  EXPECT_FALSE(r.load().ok());
  writeFile(file(), R"({"format":"eci-allocations/1","allocations":[
    {"id":"a","start":100000},{"id":"b","start":100000,"joined":"a"}]})");
  RangeAllocator r2(file(), 100000, 4, alwaysLive);
  EXPECT_TRUE(r2.load().ok());
}

// Allocations are written without fsync; a durable marker says which boot wrote them (load()).
const std::chrono::seconds kInterval(30);

TEST_F(RangeAllocatorTest, AllocationsOfThisBootSurviveARestart) {
  {
    RangeAllocator r(file(), 100000, 16, alwaysLive, kInterval, "boot-a");
    ASSERT_TRUE(r.load().ok());
    ASSERT_TRUE(r.allocate("c1", "", "").ok());
  }
  EXPECT_EQ(readFile(file().string() + ".boot"), "boot-a\n");
  RangeAllocator again(file(), 100000, 16, alwaysLive, kInterval, "boot-a");
  ASSERT_TRUE(again.load().ok());
  ASSERT_EQ(again.list().size(), 1u);
  EXPECT_EQ(again.list()[0].id, "c1");
}

TEST_F(RangeAllocatorTest, AnEarlierBootsAllocationsHoldNothingWhateverTheFileHolds) {
  {
    RangeAllocator r(file(), 100000, 16, alwaysLive, kInterval, "boot-a");
    ASSERT_TRUE(r.load().ok());
    ASSERT_TRUE(r.allocate("c1", "", "").ok());
  }
  RangeAllocator next(file(), 100000, 16, alwaysLive, kInterval, "boot-b");
  ASSERT_TRUE(next.load().ok());
  EXPECT_TRUE(next.list().empty());  // every process of boot-a is gone
  EXPECT_EQ(readFile(file().string() + ".boot"), "boot-b\n");
  EXPECT_EQ(nlohmann::json::parse(readFile(file()))["allocations"].size(), 0u);
  // After a power loss the unsynced file may hold anything: still voided, not an error.
  writeFile(file().string() + ".boot", "boot-b\n");
  writeFile(file(), std::string("\0\0garbage", 9));
  RangeAllocator afterPowerLoss(file(), 100000, 16, alwaysLive, kInterval, "boot-c");
  ASSERT_TRUE(afterPowerLoss.load().ok());
  EXPECT_TRUE(afterPowerLoss.list().empty());
}

TEST_F(RangeAllocatorTest, ACorruptFileOfThisBootIsStillAnError) {
  writeFile(file().string() + ".boot", "boot-a\n");
  writeFile(file(), "garbage");
  RangeAllocator r(file(), 100000, 16, alwaysLive, kInterval, "boot-a");
  EXPECT_FALSE(r.load().ok());  // the daemon must not guess which ranges are live
}

TEST_F(RangeAllocatorTest, NoMarkerMeansThisBoot) {
  // A daemon that wrote no marker, upgraded while its containers run: its file is trusted.
  {
    RangeAllocator old(file(), 100000, 16, alwaysLive, kInterval, "");
    ASSERT_TRUE(old.load().ok());
    ASSERT_TRUE(old.allocate("c1", "", "").ok());
  }
  ASSERT_FALSE(std::filesystem::exists(file().string() + ".boot"));
  RangeAllocator upgraded(file(), 100000, 16, alwaysLive, kInterval, "boot-a");
  ASSERT_TRUE(upgraded.load().ok());
  EXPECT_EQ(upgraded.list().size(), 1u);
  EXPECT_EQ(readFile(file().string() + ".boot"), "boot-a\n");
}

TEST_F(RangeAllocatorTest, TheBootIdIsTheKernels) {
  const std::string id = RangeAllocator::currentBootId();
  EXPECT_EQ(id.size(), 36u) << id;  // a UUID, without the newline
  EXPECT_EQ(id, RangeAllocator::currentBootId());
}

}  // namespace
}  // namespace eci::enforcerd
