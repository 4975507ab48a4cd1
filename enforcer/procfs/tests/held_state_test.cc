// The state a container's /proc emulation keeps across a restart of eci-enforcerd, and the
// synthetic FUSE_INIT a resumed session is fed (held_state.h).
#include "eci/procfs/held_state.h"

#include <gtest/gtest.h>
#include <linux/fuse.h>

#include <cstring>
#include <nlohmann/json.hpp>

namespace eci::procfs {
namespace {

HeldState sample() {
  HeldState s;
  s.staticInit = {7, 38, 131072, 0x73fffffb, 0x1};
  s.knobsInit = {7, 38, 131072, 0x73fffffb, 0};
  s.rootUid = 100000;
  s.rootGid = 100000;
  s.startRealNs = 1'700'000'000'123'456'789;
  s.startBoottime = 1234.5678;
  s.hostIdleAtStart = 99.25;
  s.knobs = {{"kernel/panic", "77\n"}, {"kernel/core_pattern", "|/bin/pwn %p\n"}};
  return s;
}

TEST(HeldState, RoundTrips) {
  const HeldState s = sample();
  auto back = decodeHeldState(encodeHeldState(s));
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(*back, s);
}

TEST(HeldState, RefusesWhatIsNotAWholeState) {
  const std::string good = encodeHeldState(sample());
  EXPECT_FALSE(decodeHeldState("").ok());
  EXPECT_FALSE(decodeHeldState(good.substr(0, good.size() - 1)).ok());  // cut
  EXPECT_FALSE(decodeHeldState(good + "}").ok());                       // trailing garbage
  EXPECT_FALSE(decodeHeldState(std::string(kMaxHeldStateBytes + 1, ' ')).ok());
  auto without = [&](const char* key) {
    auto j = nlohmann::json::parse(good);
    j.erase(key);
    return j.dump();
  };
  for (const char* k : {"static", "knobs", "rootUid", "rootGid", "startRealNs", "startBoottime",
                        "hostIdleAtStart", "values"})
    EXPECT_FALSE(decodeHeldState(without(k)).ok()) << k;
  auto j = nlohmann::json::parse(good);
  j["static"]["minor"] = 30;  // older than anything we record
  EXPECT_FALSE(decodeHeldState(j.dump()).ok());
  j = nlohmann::json::parse(good);
  j["knobs"]["flags"] = -1;
  EXPECT_FALSE(decodeHeldState(j.dump()).ok());
  j = nlohmann::json::parse(good);
  j["values"]["kernel/panic"] = 77;  // values are texts
  EXPECT_FALSE(decodeHeldState(j.dump()).ok());
}

TEST(SyntheticInit, IsTheKernelsInitAgain) {
  const InitRecord r{7, 38, 131072, 0x73fffffb | FUSE_INIT_EXT, 0x3};
  const std::string req = syntheticInit(r);
  ASSERT_EQ(req.size(), sizeof(fuse_in_header) + sizeof(fuse_init_in));
  fuse_in_header h;
  std::memcpy(&h, req.data(), sizeof h);
  EXPECT_EQ(h.len, req.size());
  EXPECT_EQ(h.opcode, static_cast<uint32_t>(FUSE_INIT));
  // A unique the kernel never issues (its ids are even, counting up from 0), so the reply is
  // refused with ENOENT and touches no request.
  EXPECT_EQ(h.unique, kSyntheticInitUnique);
  EXPECT_NE(h.unique, 0u);  // 0 would be read as a notification
  auto back = initRecordOf(req.data(), req.size());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
}

TEST(SyntheticInit, RecordOfRefusesOtherRequests) {
  std::string req = syntheticInit({7, 38, 0, 0, 0});
  EXPECT_FALSE(initRecordOf(req.data(), sizeof(fuse_in_header) + 8).has_value());  // short
  fuse_in_header h;
  std::memcpy(&h, req.data(), sizeof h);
  h.opcode = FUSE_LOOKUP;
  std::memcpy(req.data(), &h, sizeof h);
  EXPECT_FALSE(initRecordOf(req.data(), req.size()).has_value());
  // flags2 only counts with FUSE_INIT_EXT, as in libfuse's do_init.
  const std::string noExt = syntheticInit({7, 38, 0, 0x1, 0xff});
  EXPECT_EQ(initRecordOf(noExt.data(), noExt.size())->flags2, 0u);
}

TEST(ResendNotification, IsABareNotifyHeaderWithCode7) {
  const std::string msg = resendNotification();
  // The exact bytes fs/fuse/dev.c expects: len == bytes written, unique 0 (a notification, not a
  // reply), error = FUSE_NOTIFY_RESEND (7), no payload.
  ASSERT_EQ(msg.size(), 16u);
  const unsigned char expected[16] = {16, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(0, std::memcmp(msg.data(), expected, sizeof expected));
  fuse_out_header h;
  std::memcpy(&h, msg.data(), sizeof h);
  EXPECT_EQ(h.len, msg.size());
  EXPECT_EQ(h.unique, 0u);
  EXPECT_EQ(h.error, kFuseNotifyResend);
  // The code follows FUSE_NOTIFY_DELETE (6), the last one Debian 12's headers know.
  EXPECT_EQ(kFuseNotifyResend, FUSE_NOTIFY_DELETE + 1);
}

TEST(ResendNotification, ResentUniquesAreNeverOursOrAnInterrupt) {
  // The resend bit is the top bit: a resent request's unique is never 0 (a notification), keeps
  // bit 0 clear (FUSE_INT_REQ_BIT: interrupts), and never equals the synthetic INIT's unique for
  // any id the kernel could have issued (its count would need 2^63 - 256 requests).
  EXPECT_EQ(kFuseUniqueResend, 0x8000'0000'0000'0000ull);
  const uint64_t resent = 42 | kFuseUniqueResend;
  EXPECT_NE(resent, 0u);
  EXPECT_EQ(resent & 1u, 0u);
  EXPECT_NE(resent, kSyntheticInitUnique);
}

TEST(ResendNotification, AdvertisedByFlags2Bit7OnlyWithInitExt) {
  EXPECT_TRUE(initAdvertisesResend({7, 45, 0, FUSE_INIT_EXT, 1u << 7}));
  EXPECT_FALSE(initAdvertisesResend({7, 45, 0, FUSE_INIT_EXT, 0}));
  EXPECT_FALSE(initAdvertisesResend({7, 38, 0, 0, 1u << 7}));  // flags2 ignored without INIT_EXT
  EXPECT_EQ(kFuseHasResend >> 32, 1u << 7);
}

}  // namespace
}  // namespace eci::procfs
