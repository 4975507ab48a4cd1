// The knobs connection's file handles (knob_handles.h): what a handle the kernel sends back can
// reach, in particular one from before a restart of eci-enforcerd.
#include "eci/procfs/knob_handles.h"

#include <gtest/gtest.h>

#include <string>

namespace eci::procfs {
namespace {

constexpr uint64_t kPanic = 5, kPrintk = 6, kDir = 2;

TEST(KnobHandles, OpenReadRelease) {
  KnobHandles h(100);
  const uint64_t fh = h.open(kPanic, "77\n");
  int renders = 0;
  auto render = [&] { return ++renders, std::string("never\n"); };
  const std::string* s = h.find(fh, kPanic, true, true, render);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(*s, "77\n");
  EXPECT_EQ(renders, 0);  // a known handle keeps its open-time snapshot
  h.release(fh, kPanic);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.adopted(), 0u);
}

TEST(KnobHandles, AKnownHandleIsValidOnlyOnItsNode) {
  KnobHandles h(100);
  const uint64_t fh = h.open(kPanic, "77\n");
  // The same number on another node (a previous process's handle that collides with ours) finds
  // nothing, never the other file's text, and is not adopted over it.
  EXPECT_EQ(h.find(fh, kPrintk, true, true, [] { return std::string("4 4 1 7\n"); }), nullptr);
  h.release(fh, kPrintk);  // a mismatched release leaves ours open
  ASSERT_NE(h.find(fh, kPanic, true, true, [] { return std::string(); }), nullptr);
  EXPECT_EQ(*h.find(fh, kPanic, true, true, [] { return std::string(); }), "77\n");
}

TEST(KnobHandles, UnknownHandleOnAKnobInAResumedSessionIsAFreshSnapshot) {
  KnobHandles h(100);
  std::string current = "78\n";
  int renders = 0;
  auto render = [&] { return ++renders, current; };
  const uint64_t old = 0xdead'beef'0000'0001ull;  // the previous process's handle
  const std::string* s = h.find(old, kPanic, true, true, render);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(*s, "78\n");
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(h.adopted(), 1u);
  // Later requests on it read that snapshot, as after an open (a write in between does not
  // change what this handle reads, exactly as for a fresh open).
  current = "79\n";
  EXPECT_EQ(*h.find(old, kPanic, true, true, render), "78\n");
  EXPECT_EQ(renders, 1);
  // Our own new opens never hand out an adopted number.
  KnobHandles g(old);
  ASSERT_NE(g.find(old, kPanic, true, true, render), nullptr);
  EXPECT_NE(g.open(kPanic, "x"), old);
  h.release(old, kPanic);
  EXPECT_EQ(h.size(), 0u);
}

TEST(KnobHandles, UnknownHandleElsewhereFindsNothing) {
  KnobHandles h(100);
  int renders = 0;
  auto render = [&] { return ++renders, std::string("77\n"); };
  EXPECT_EQ(h.find(7, kDir, false, true, render), nullptr);    // not a knob (a dir, no node)
  EXPECT_EQ(h.find(7, kPanic, true, false, render), nullptr);  // not resumed: never adopted
  EXPECT_EQ(h.find(0, kPanic, true, true, render), nullptr);   // 0 is no handle
  EXPECT_EQ(renders, 0);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.adopted(), 0u);
}

TEST(KnobHandles, NeverHandsOutZero) {
  KnobHandles h(0);
  EXPECT_NE(h.open(kPanic, "1"), 0u);
  KnobHandles w(~0ull);
  EXPECT_EQ(w.open(kPanic, "1"), ~0ull);
  EXPECT_NE(w.open(kPanic, "2"), 0u);  // wrapped past 0
}

}  // namespace
}  // namespace eci::procfs
