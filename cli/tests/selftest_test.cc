// The selftest's judging: every check passes only on the evidence of isolation, and fails on the
// outputs an unprotected engine gives.
#include "selftest.h"

#include <gtest/gtest.h>

namespace eci::cli::selftest {
namespace {

const Check& byName(const std::string& name) {
  for (const auto& c : checks()) {
    if (c.name == name) return c;
  }
  static const Check kNone{"missing", "", {}};
  ADD_FAILURE() << "no check " << name;
  return kNone;
}

HostFacts cleanHost() {
  HostFacts h;
  h.hostUptime = 5000;
  h.probeText = kProbeText;
  h.probeDirHasOnlyProbe = true;
  return h;
}

TEST(Selftest, EveryCheckHasAJudge) {
  for (const auto& c : checks()) {
    // An unknown check would say "unknown check"; every listed one must be judged for real.
    EXPECT_NE(judge(c, {0, ""}, cleanHost()).detail, "unknown check") << c.name;
  }
  EXPECT_EQ(judge(Check{"nope", "", {}}, {0, "x"}, cleanHost()).ok, false);
}

TEST(Selftest, ParsesUidMap) {
  unsigned long long in = 9, out = 9, len = 9;
  ASSERT_TRUE(parseUidMapLine("         0     100000      65536\n", in, out, len));
  EXPECT_EQ(in, 0u);
  EXPECT_EQ(out, 100000u);
  EXPECT_EQ(len, 65536u);
  EXPECT_FALSE(parseUidMapLine("0 100000\n", in, out, len));
  EXPECT_FALSE(parseUidMapLine("0 100000 65536 extra\n", in, out, len));
  EXPECT_FALSE(parseUidMapLine("", in, out, len));
}

TEST(Selftest, RemappedPassesOnlyForAContainerRange) {
  for (const char* name : {"remapped-range", "privileged-remapped", "runtime-runc-remapped"}) {
    const Check& c = byName(name);
    EXPECT_TRUE(judge(c, {0, "0 165536 65536\n"}, cleanHost()).ok) << name;
    // What runc without eci shows.
    EXPECT_FALSE(judge(c, {0, "         0          0 4294967295\n"}, cleanHost()).ok) << name;
    EXPECT_FALSE(judge(c, {0, "0 0 65536\n"}, cleanHost()).ok) << name;
    EXPECT_FALSE(judge(c, {0, "0 100000 1000000\n"}, cleanHost()).ok) << name;
    EXPECT_FALSE(judge(c, {125, "docker: Error response from daemon"}, cleanHost()).ok) << name;
    EXPECT_FALSE(judge(c, {0, "garbage"}, cleanHost()).ok) << name;
  }
}

TEST(Selftest, RefusalsMustBeEcisOwn) {
  const Check& pid = byName("host-pid-refused");
  const std::string ecimsg =
      "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: "
      "error in the container spec: invalid or unsupported container spec: containers can't "
      "share namespaces [pid] with the host (because they use the linux user-namespace for "
      "isolation): unknown.";
  EXPECT_TRUE(judge(pid, {125, ecimsg}, cleanHost()).ok);
  EXPECT_FALSE(judge(pid, {0, ""}, cleanHost()).ok);  // it ran: not protected
  EXPECT_FALSE(judge(pid, {125, "Unable to find image 'busybox:latest' locally"}, cleanHost()).ok);
  EXPECT_FALSE(judge(pid, {-1, ecimsg}, cleanHost()).ok);  // killed at the deadline

  const Check& mnt = byName("restricted-mount-refused");
  EXPECT_TRUE(judge(mnt,
                    {125,
                     "can't mount /var/lib/docker because it's configured as a restricted "
                     "host mount: unknown"},
                    cleanHost())
                  .ok);
  EXPECT_FALSE(judge(mnt, {0, ""}, cleanHost()).ok);
  EXPECT_FALSE(judge(mnt, {125, "bind source path does not exist"}, cleanHost()).ok);
}

TEST(Selftest, ReadOnlyBindJudgedOnTheHostFiles) {
  const Check& c = byName("readonly-bind");
  EXPECT_TRUE(judge(c, {0, "started\n"}, cleanHost()).ok);
  HostFacts changed = cleanHost();
  changed.probeText = "changed\n";
  EXPECT_FALSE(judge(c, {0, "started\n"}, changed).ok);
  HostFacts created = cleanHost();
  created.probeDirHasOnlyProbe = false;
  EXPECT_FALSE(judge(c, {0, "started\n"}, created).ok);
  // The container never ran its attempts: nothing was shown.
  EXPECT_FALSE(judge(c, {125, "error"}, cleanHost()).ok);
  EXPECT_FALSE(judge(c, {0, ""}, cleanHost()).ok);
}

TEST(Selftest, UptimeMustBeTheContainers) {
  const Check& c = byName("emulated-uptime");
  EXPECT_TRUE(judge(c, {0, "0.52 0.40\n"}, cleanHost()).ok);
  EXPECT_FALSE(judge(c, {0, "4999.10 9000.00\n"}, cleanHost()).ok);  // the host's
  HostFacts fresh = cleanHost();
  fresh.hostUptime = 20;  // cannot tell
  EXPECT_FALSE(judge(c, {0, "0.52 0.40\n"}, fresh).ok);
  EXPECT_FALSE(judge(c, {0, "cat: can't open"}, cleanHost()).ok);
  EXPECT_FALSE(judge(c, {1, ""}, cleanHost()).ok);
}

TEST(Selftest, RenderCountsFailures) {
  std::vector<Result> rs = {{"a", "A", {true, "fine"}}, {"b", "B", {false, "bad"}}};
  const auto j = renderJson(rs);
  EXPECT_EQ(j["passed"], 1);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_EQ(j["checks"][1]["ok"], false);
  const std::string text = renderText(rs);
  EXPECT_NE(text.find("FAIL"), std::string::npos);
  EXPECT_NE(text.find("1 of 2 checks passed"), std::string::npos);
}

}  // namespace
}  // namespace eci::cli::selftest
