#include "eci/enforcerd/policy_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace eci::enforcerd {
namespace {

using namespace eci::enforcerd::testing;  // NOLINT
using ::testing::HasSubstr;

class PolicyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    trustKey(key_, keys_, "admin");
    std::filesystem::create_directories(state_);
  }

  TempDir dir_;
  std::filesystem::path keys_ = dir_ / "trusted-keys";
  std::filesystem::path state_ = dir_ / "state";
  KeyPair key_ = makeKey();
};

TEST_F(PolicyStoreTest, NoPolicyFailsClosedWithReason) {
  PolicyStore s(state_, keys_);
  s.load();
  auto cur = s.current();
  EXPECT_FALSE(cur->verified);
  EXPECT_TRUE(cur->policy.enabled);
  EXPECT_EQ(cur->policy, Policy::failClosedDefaults());
  EXPECT_EQ(cur->source, PolicySource::kDefaults);
  EXPECT_EQ(cur->reason, "no policy pushed yet");
}

TEST_F(PolicyStoreTest, VerifiedPushIsAppliedAndPersisted) {
  PolicyStore s(state_, keys_);
  s.load();
  const std::string bundle = signedBundle(key_, testPolicy(), 7);
  auto out = s.push(bundle);
  ASSERT_TRUE(out.applied) << out.reason;
  EXPECT_EQ(out.serial, 7u);
  auto cur = s.current();
  EXPECT_TRUE(cur->verified);
  EXPECT_EQ(cur->serial, 7u);
  EXPECT_EQ(cur->source, PolicySource::kPushed);
  EXPECT_EQ(cur->policy, testPolicy());
  EXPECT_EQ(cur->keyId, key_.keyId());
  EXPECT_TRUE(cur->reason.empty());
  EXPECT_EQ(readFile(state_ / PolicyStore::kBundleFile), bundle);
  EXPECT_EQ(std::filesystem::status(state_ / PolicyStore::kBundleFile).permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(PolicyStoreTest, ForgedBundleSignedByUntrustedKeyIsRefused) {
  PolicyStore s(state_, keys_);
  s.load();
  KeyPair attacker = makeKey();
  auto out = s.push(signedBundle(attacker, testPolicy(false), 100));
  EXPECT_FALSE(out.applied);
  EXPECT_THAT(out.reason, HasSubstr("bundle verification failed"));
  EXPECT_FALSE(s.current()->verified);
  EXPECT_TRUE(s.current()->policy.enabled);
  EXPECT_FALSE(std::filesystem::exists(state_ / PolicyStore::kBundleFile));
}

TEST_F(PolicyStoreTest, TruncatedBundleIsRefused) {
  PolicyStore s(state_, keys_);
  s.load();
  const std::string bundle = signedBundle(key_, testPolicy(false), 3);
  for (size_t len : {size_t{0}, size_t{1}, bundle.size() / 2, bundle.size() - 2}) {
    auto out = s.push(bundle.substr(0, len));
    EXPECT_FALSE(out.applied) << "length " << len;
    EXPECT_THAT(out.reason, HasSubstr("bundle verification failed"));
  }
  EXPECT_FALSE(s.current()->verified);
}

TEST_F(PolicyStoreTest, TamperedPolicyIsRefused) {
  PolicyStore s(state_, keys_);
  s.load();
  auto j = nlohmann::json::parse(signedBundle(key_, testPolicy(true), 3));
  j["policy"]["enabled"] = false;  // the attacker turns ECI off but cannot re-sign
  auto out = s.push(j.dump());
  EXPECT_FALSE(out.applied);
  EXPECT_THAT(out.reason, HasSubstr("bundle verification failed"));
  auto j2 = nlohmann::json::parse(signedBundle(key_, testPolicy(true), 3));
  j2["serial"] = 99;  // a bumped serial is covered by the signature too
  EXPECT_FALSE(s.push(j2.dump()).applied);
  EXPECT_TRUE(s.current()->policy.enabled);
  EXPECT_FALSE(s.current()->verified);
}

TEST_F(PolicyStoreTest, ReplayedOrStaleSerialIsRefused) {
  PolicyStore s(state_, keys_);
  s.load();
  const std::string b5 = signedBundle(key_, testPolicy(false), 5);
  const std::string b4 = signedBundle(key_, testPolicy(true), 4);
  ASSERT_TRUE(s.push(b5).applied);
  auto replay = s.push(b5);
  EXPECT_FALSE(replay.applied);
  EXPECT_EQ(replay.reason,
            "bundle serial 5 is not greater than the current serial 5 (a replayed or stale "
            "bundle)");
  auto stale = s.push(b4);
  EXPECT_FALSE(stale.applied);
  EXPECT_THAT(stale.reason, HasSubstr("serial 4 is not greater than the current serial 5"));
  EXPECT_EQ(s.current()->serial, 5u);
  EXPECT_FALSE(s.current()->policy.enabled);
  EXPECT_EQ(readFile(state_ / PolicyStore::kBundleFile), b5);
}

TEST_F(PolicyStoreTest, RestartKeepsLastGoodPolicyAndRefusesReplay) {
  const std::string b1 = signedBundle(key_, testPolicy(true), 1);
  const std::string b2 = signedBundle(key_, testPolicy(false), 2);
  {
    PolicyStore s(state_, keys_);
    s.load();
    ASSERT_TRUE(s.push(b1).applied);
    ASSERT_TRUE(s.push(b2).applied);
    EXPECT_FALSE(s.push(signedBundle(makeKey(), testPolicy(true), 3)).applied);
  }
  PolicyStore s(state_, keys_);
  s.load();
  auto cur = s.current();
  EXPECT_TRUE(cur->verified);
  EXPECT_EQ(cur->serial, 2u);
  EXPECT_EQ(cur->source, PolicySource::kPersisted);
  EXPECT_FALSE(cur->policy.enabled);
  EXPECT_FALSE(s.push(b1).applied);
  EXPECT_TRUE(s.push(signedBundle(key_, testPolicy(true), 3)).applied);
}

TEST_F(PolicyStoreTest, CorruptedPersistedBundleFailsClosedAndKeepsHighestSerial) {
  {
    PolicyStore s(state_, keys_);
    s.load();
    ASSERT_TRUE(s.push(signedBundle(key_, testPolicy(false), 9)).applied);
  }
  std::string text = readFile(state_ / PolicyStore::kBundleFile);
  auto j = nlohmann::json::parse(text);
  j["policy"]["enabled"] = true;
  writeFile(state_ / PolicyStore::kBundleFile, j.dump());

  PolicyStore s(state_, keys_);
  s.load();
  auto cur = s.current();
  EXPECT_FALSE(cur->verified);
  EXPECT_EQ(cur->policy, Policy::failClosedDefaults());
  EXPECT_THAT(cur->reason, ::testing::StartsWith("persisted policy failed verification: "));
  EXPECT_EQ(cur->highestSerial, 9u);
  // An older, validly signed bundle cannot be slipped in after corrupting the file.
  auto out = s.push(signedBundle(key_, testPolicy(false), 8));
  EXPECT_FALSE(out.applied);
  EXPECT_THAT(out.reason, HasSubstr("not greater than the current serial 9"));
  EXPECT_TRUE(s.push(signedBundle(key_, testPolicy(false), 10)).applied);
  EXPECT_TRUE(s.current()->verified);
}

TEST_F(PolicyStoreTest, GarbagePersistedFileFailsClosed) {
  writeFile(state_ / PolicyStore::kBundleFile, "{\"format\": \"eci-policy-bun");
  PolicyStore s(state_, keys_);
  s.load();
  EXPECT_FALSE(s.current()->verified);
  EXPECT_TRUE(s.current()->policy.enabled);
  EXPECT_THAT(s.current()->reason, ::testing::StartsWith("persisted policy failed verification"));
}

TEST_F(PolicyStoreTest, RemovedTrustedKeyFailsClosedAtRestart) {
  {
    PolicyStore s(state_, keys_);
    s.load();
    ASSERT_TRUE(s.push(signedBundle(key_, testPolicy(false), 1)).applied);
  }
  std::filesystem::remove(keys_ / "admin.pub");
  trustKey(makeKey(), keys_, "other");
  PolicyStore s(state_, keys_);
  s.load();
  EXPECT_FALSE(s.current()->verified);
  EXPECT_TRUE(s.current()->policy.enabled);
  EXPECT_THAT(s.current()->reason, ::testing::StartsWith("persisted policy failed verification"));
}

TEST_F(PolicyStoreTest, NoTrustedKeysRefusesEveryPush) {
  std::filesystem::remove(keys_ / "admin.pub");
  PolicyStore s(state_, keys_);
  s.load();
  auto out = s.push(signedBundle(key_, testPolicy(), 1));
  EXPECT_FALSE(out.applied);
  EXPECT_THAT(out.reason, HasSubstr("cannot verify bundles"));
}

TEST_F(PolicyStoreTest, KeyAddedAfterStartIsUsedWithoutRestart) {
  PolicyStore s(state_, keys_);
  s.load();
  KeyPair second = makeKey();
  EXPECT_FALSE(s.push(signedBundle(second, testPolicy(), 1)).applied);
  trustKey(second, keys_, "second");
  EXPECT_TRUE(s.push(signedBundle(second, testPolicy(), 1)).applied);
}

TEST_F(PolicyStoreTest, OversizedBundleIsRefusedBeforeParsing) {
  PolicyStore s(state_, keys_);
  s.load();
  auto out = s.push(std::string(PolicyStore::kMaxBundleBytes + 1, ' '));
  EXPECT_FALSE(out.applied);
  EXPECT_THAT(out.reason, HasSubstr("larger than"));
}

TEST_F(PolicyStoreTest, UnpersistablePushIsRefusedAndNotApplied) {
  PolicyStore s(dir_ / "no-such-dir", keys_);
  s.load();
  auto out = s.push(signedBundle(key_, testPolicy(false), 1));
  EXPECT_FALSE(out.applied);
  EXPECT_THAT(out.reason, HasSubstr("cannot persist the policy"));
  EXPECT_TRUE(s.current()->policy.enabled);
  EXPECT_FALSE(s.current()->verified);
}

}  // namespace
}  // namespace eci::enforcerd
