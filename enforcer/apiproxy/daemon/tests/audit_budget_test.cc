// Each caller's share of eci-apiproxyd's audit records (audit_budget.h), on a fake clock, and the
// records the guard makes of refusals, suppressed counts and failed re-serves (audit_refusal.h).
// The e2e part (a real flood on a container's socket while eci-enforcerd stalls; a restarted
// guard's failed re-serve) is in tests/e2e/apiproxy_test.sh and apiproxy_restart_test.sh.
#include "audit_budget.h"

#include <gtest/gtest.h>

#include <string>

#include "audit_refusal.h"
#include "eci/audit.h"

namespace eci::apiproxy {
namespace {

using namespace std::chrono_literals;
using Clock = AuditBudget::Clock;

const Clock::time_point t0 = Clock::time_point{} + 1000h;

AuditBudget::Options small() {
  AuditBudget::Options o;
  o.callerBurst = 3;
  o.callerRatePerSec = 1;
  o.callerInFlight = 2;
  o.globalBurst = 100;
  o.globalRatePerSec = 100;
  o.globalInFlight = 8;
  o.summaryEvery = 5s;
  return o;
}

// Admits and finishes one record at once (a fast eci-enforcerd): true if admitted.
bool sendNow(AuditBudget& b, const std::string& caller, Clock::time_point now) {
  auto t = b.admit(caller, now);
  if (t) b.sent(*t);
  return t.has_value();
}

TEST(AuditBudget, AFlooderGetsItsBurstAndOthersStillGetThrough) {
  AuditBudget b(small());
  int flooderSent = 0;
  for (int i = 0; i < 2000; ++i) flooderSent += sendNow(b, "uid:1000", t0 + i * 1ms);
  // 3 at once, then 1/s: one more in the two seconds the flood lasted.
  EXPECT_EQ(flooderSent, 4);
  EXPECT_TRUE(sendNow(b, "uid:0", t0 + 2s)) << "another caller's record must go through";
  EXPECT_TRUE(sendNow(b, "container:" + std::string(64, 'a'), t0 + 2s));
  EXPECT_EQ(b.suppressedTotal(), 1996u);
}

TEST(AuditBudget, TheShareRefillsAtItsRate) {
  AuditBudget b(small());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(sendNow(b, "uid:5", t0));
  EXPECT_FALSE(sendNow(b, "uid:5", t0));
  EXPECT_FALSE(sendNow(b, "uid:5", t0 + 900ms));
  EXPECT_TRUE(sendNow(b, "uid:5", t0 + 1100ms));
  EXPECT_FALSE(sendNow(b, "uid:5", t0 + 1100ms));
  EXPECT_TRUE(sendNow(b, "uid:5", t0 + 10s));  // never more than the burst saved up
  EXPECT_TRUE(sendNow(b, "uid:5", t0 + 10s));
  EXPECT_TRUE(sendNow(b, "uid:5", t0 + 10s));
  EXPECT_FALSE(sendNow(b, "uid:5", t0 + 10s));
}

// The defect of issue 14: records that stall (eci-enforcerd slow or stopped) held every sender,
// and the next caller's record was dropped. A caller now holds at most callerInFlight of them.
TEST(AuditBudget, AStalledFlooderHoldsAtMostItsInFlightShare) {
  auto o = small();
  o.callerBurst = 1000;  // only the in-flight share limits here
  AuditBudget b(o);
  int held = 0;
  for (int i = 0; i < 100; ++i) held += b.admit("uid:1000", t0).has_value();  // never sent()
  EXPECT_EQ(held, 2);
  EXPECT_EQ(b.inFlight(), 2);
  auto victim = b.admit("uid:0", t0);
  ASSERT_TRUE(victim.has_value());
  b.sent(*victim);
  // Once one of its records is through, the flooder may send the next.
  b.sent("uid:1000");
  EXPECT_TRUE(b.admit("uid:1000", t0).has_value());
}

TEST(AuditBudget, TheGlobalCapsHoldWhateverTheCallers) {
  auto o = small();
  o.globalInFlight = 4;
  o.globalBurst = 6;
  o.globalRatePerSec = 1;
  AuditBudget b(o);
  // In flight: 4 at most in all, across callers.
  std::vector<std::string> held;
  for (int c = 0; c < 10; ++c) {
    if (auto t = b.admit("uid:" + std::to_string(c), t0)) held.push_back(*t);
  }
  EXPECT_EQ(held.size(), 4u);
  for (const auto& t : held) b.sent(t);
  EXPECT_EQ(b.inFlight(), 0);
  // Rate: 6 at once in all (4 taken above), then 1/s.
  int more = 0;
  for (int c = 10; c < 20; ++c) more += sendNow(b, "uid:" + std::to_string(c), t0);
  EXPECT_EQ(more, 2);
  EXPECT_TRUE(sendNow(b, "uid:99", t0 + 1s));
}

TEST(AuditBudget, OneSummaryPerCallerPerInterval) {
  AuditBudget b(small());
  for (int i = 0; i < 3; ++i) sendNow(b, "uid:1000", t0);
  for (int i = 0; i < 7; ++i) sendNow(b, "uid:1000", t0 + 100ms);  // 7 not sent
  sendNow(b, "uid:0", t0);                                         // within its share: none
  EXPECT_TRUE(b.dueSummaries(t0 + 4s).empty()) << "not before the interval is over";
  auto due = b.dueSummaries(t0 + 5100ms);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].caller, "uid:1000");
  EXPECT_EQ(due[0].suppressed, 7u);
  EXPECT_EQ(due[0].over, 5000ms);
  b.summarySent();
  EXPECT_TRUE(b.dueSummaries(t0 + 20s).empty()) << "counted once, reported once";
  // A new flood: a new summary once its own interval is over.
  for (int i = 0; i < 10; ++i) sendNow(b, "uid:1000", t0 + 30s);
  EXPECT_TRUE(b.dueSummaries(t0 + 33s).empty());
  due = b.dueSummaries(t0 + 35s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].suppressed, 7u);
}

TEST(AuditBudget, ASummaryIgnoresTheCallersShareButNeedsASender) {
  auto o = small();
  o.globalInFlight = 2;
  AuditBudget b(o);
  // The flooder holds its whole in-flight share, and has a count.
  auto a = b.admit("uid:1000", t0);
  auto c = b.admit("uid:1000", t0);
  ASSERT_TRUE(a && c);
  EXPECT_FALSE(b.admit("uid:1000", t0).has_value());
  EXPECT_TRUE(b.dueSummaries(t0 + 6s).empty()) << "every sender busy: the summary waits";
  b.sent(*a);
  auto due = b.dueSummaries(t0 + 6s);
  ASSERT_EQ(due.size(), 1u) << "one sender free: the summary goes, over the caller's own share";
  EXPECT_EQ(due[0].suppressed, 1u);
  // Not handed to a sender after all: the count comes back for the next flush, with its age.
  b.summaryUnsent(due[0], t0 + 6s);
  due = b.dueSummaries(t0 + 6s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].suppressed, 1u);
  EXPECT_EQ(due[0].over, 6s);
}

TEST(AuditBudget, ARecordNotHandedToASenderIsCountedNotLost) {
  AuditBudget b(small());
  auto t = b.admit("uid:3", t0);
  ASSERT_TRUE(t);
  b.unsent(*t, t0);
  EXPECT_EQ(b.inFlight(), 0);
  EXPECT_EQ(b.suppressedTotal(), 1u);
  auto due = b.dueSummaries(t0 + 5s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].caller, "uid:3");
}

TEST(AuditBudget, TheCallerTableIsBounded) {
  auto o = small();
  o.maxCallers = 4;
  o.globalInFlight = 1000;
  o.globalBurst = 1e6;
  AuditBudget b(o);
  // Callers that owe nothing are forgotten once their bucket is full again.
  for (int c = 0; c < 4; ++c) sendNow(b, "uid:" + std::to_string(c), t0);
  EXPECT_TRUE(sendNow(b, "uid:100", t0 + 10s));
  EXPECT_LE(b.callersTracked(), 4u);
  // Callers that owe a summary stay; past the bound the rest share one entry.
  for (int c = 200; c < 210; ++c) {
    for (int i = 0; i < 5; ++i) sendNow(b, "uid:" + std::to_string(c), t0 + 20s);
  }
  EXPECT_LE(b.callersTracked(), 5u);
  bool overflow = false;
  for (const auto& s : b.dueSummaries(t0 + 30s)) overflow = overflow || s.caller == "*";
  EXPECT_TRUE(overflow);
}

TEST(AuditRecords, CallerKeysKeepUsersAndContainersApart) {
  Caller user;
  user.uid = 1000;
  EXPECT_EQ(auditCallerKey(user, ""), "uid:1000");
  Caller nobody;
  nobody.uid = static_cast<uid_t>(-1);
  EXPECT_EQ(auditCallerKey(nobody, ""), "uid:-1");
  Caller container;
  container.uid = 1000;  // the same user's container is another caller
  container.perContainerSocket = true;
  container.containerId = std::string(64, 'c');
  EXPECT_EQ(auditCallerKey(container, "0123456789abcdef0123456789abcdef"),
            "container:" + std::string(64, 'c'));
  container.containerId.clear();
  EXPECT_EQ(auditCallerKey(container, "0123456789abcdef0123456789abcdef"),
            "socket:0123456789abcdef0123456789abcdef");
}

// Each record must be one eci-enforcerd accepts (audit::fromJson), else it is lost there.
TEST(AuditRecords, SummariesNameTheCallerAndAreValidRecords) {
  auto u = suppressedRecord("uid:1000", 42, 5s);
  ASSERT_TRUE(audit::fromJson(u, false).ok());
  EXPECT_EQ(u["event"], "suppressed");
  EXPECT_EQ(u["rule"], "audit-share");
  EXPECT_EQ(u["container"], "");
  EXPECT_EQ(u["extra"]["uid"], 1000);  // eci-enforcerd's rate limit: the flooder's own bucket
  EXPECT_EQ(u["extra"]["count"], 42);
  EXPECT_NE(u["reason"].get<std::string>().find("42 refusals from uid 1000"), std::string::npos);

  const std::string id(64, 'd');
  auto c = suppressedRecord("container:" + id, 7, 6s);
  ASSERT_TRUE(audit::fromJson(c, false).ok());
  EXPECT_EQ(c["container"], id);
  EXPECT_FALSE(c["extra"].contains("uid"));

  const std::string token = "0123456789abcdef0123456789abcdef";
  auto s = suppressedRecord("socket:" + token, 1, 5s);
  ASSERT_TRUE(audit::fromJson(s, false).ok());
  EXPECT_EQ(s.dump().find(token), std::string::npos) << "the socket's secret name stays out";

  auto o = suppressedRecord(AuditBudget::kOverflowKey, 3, 5s);
  ASSERT_TRUE(audit::fromJson(o, false).ok());
}

TEST(AuditRecords, AFailedReserveNamesTheContainerAndWhy) {
  const std::string id(64, 'e');
  auto r = reserveFailureRecord(id, "trick", "dockercli:1", "not put back at /x/uptime: no");
  auto rec = audit::fromJson(r, false);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->source, "eci-apiproxyd");
  EXPECT_EQ(rec->event, "reserve-failed");
  EXPECT_EQ(rec->rule, "socket-reserve");
  EXPECT_EQ(rec->container, id);
  EXPECT_EQ(rec->name, "trick");
  EXPECT_EQ(rec->image, "dockercli:1");
  EXPECT_EQ(rec->reason, "not put back at /x/uptime: no");
}

}  // namespace
}  // namespace eci::apiproxy
