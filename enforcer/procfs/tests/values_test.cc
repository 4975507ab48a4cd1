#include "eci/procfs/values.h"

#include <gtest/gtest.h>

#include <set>

namespace eci::procfs {
namespace {

SysctlValue host(const char* path, const char* text) {
  const auto* spec = findSysctl(path);
  EXPECT_NE(spec, nullptr) << path;
  auto v = SysctlValue::fromHost(*spec, text);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().str());
  return std::move(v).value();
}

TEST(Sysctl, TableLeavesOutNamespacedKnobs) {
  EXPECT_EQ(findSysctl("net/core/somaxconn"), nullptr);  // per netns
  EXPECT_EQ(findSysctl("kernel/hostname"), nullptr);     // per UTS ns
  EXPECT_EQ(findSysctl("kernel/pid_max"), nullptr);      // per pid ns since 6.14
  for (const char* p :
       {"kernel/core_pattern", "kernel/panic", "kernel/panic_on_oops", "kernel/printk",
        "kernel/kptr_restrict", "kernel/dmesg_restrict", "fs/nr_open", "fs/protected_hardlinks",
        "fs/protected_symlinks", "vm/overcommit_memory", "vm/mmap_min_addr"})
    EXPECT_NE(findSysctl(p), nullptr) << p;
}

TEST(Sysctl, IntReadBackAndRange) {
  auto v = host("vm/overcommit_memory", "0\n");
  EXPECT_EQ(v.render(), "0\n");
  EXPECT_EQ(v.write("2\n", 0), 0);
  EXPECT_EQ(v.render(), "2\n");
  EXPECT_EQ(v.write("3\n", 0), EINVAL);  // kernel range 0..2
  EXPECT_EQ(v.write("-1", 0), EINVAL);
  EXPECT_EQ(v.render(), "2\n");  // unchanged after a rejected write
}

TEST(Sysctl, KernelNumberSyntax) {
  auto v = host("kernel/panic", "0\n");
  EXPECT_EQ(v.write("0x10\n", 0), 0);
  EXPECT_EQ(v.render(), "16\n");
  EXPECT_EQ(v.write("010", 0), 0);  // octal, like simple_strtoul(base 0)
  EXPECT_EQ(v.render(), "8\n");
  EXPECT_EQ(v.write("-5", 0), 0);
  EXPECT_EQ(v.render(), "-5\n");
  EXPECT_EQ(v.write("  7  \n", 0), 0);
  EXPECT_EQ(v.render(), "7\n");
  EXPECT_EQ(v.write("abc", 0), EINVAL);
  EXPECT_EQ(v.write("12abc", 0), EINVAL);
  EXPECT_EQ(v.write("", 0), EINVAL);
  EXPECT_EQ(v.write("\n", 0), EINVAL);
  EXPECT_EQ(v.write("2147483648", 0), EINVAL);  // > INT_MAX
  EXPECT_EQ(v.write("99999999999999999999999", 0), EINVAL);
  EXPECT_EQ(v.render(), "7\n");
}

TEST(Sysctl, NonZeroOffsetIgnoredForNumbers) {
  auto v = host("kernel/panic", "1\n");
  EXPECT_EQ(v.write("5", 3), 0);  // sysctl_writes_strict: accepted, ignored
  EXPECT_EQ(v.render(), "1\n");
}

TEST(Sysctl, BooleanKnobs) {
  for (const char* p :
       {"fs/protected_hardlinks", "fs/protected_symlinks", "kernel/dmesg_restrict"}) {
    auto v = host(p, "1\n");
    EXPECT_EQ(v.write("0", 0), 0) << p;
    EXPECT_EQ(v.write("2", 0), EINVAL) << p;
    EXPECT_EQ(v.render(), "0\n") << p;
  }
  auto k = host("kernel/kptr_restrict", "0\n");
  EXPECT_EQ(k.write("2", 0), 0);
  EXPECT_EQ(k.write("3", 0), EINVAL);
}

TEST(Sysctl, NrOpenBounds) {
  auto v = host("fs/nr_open", "1048576\n");
  EXPECT_EQ(v.write("63", 0), EINVAL);
  EXPECT_EQ(v.write("64", 0), 0);
  EXPECT_EQ(v.write("2147483584", 0), 0);
  EXPECT_EQ(v.write("2147483585", 0), EINVAL);
  EXPECT_EQ(v.render(), "2147483584\n");
}

TEST(Sysctl, PrintkVectorPartialWrite) {
  auto v = host("kernel/printk", "4\t4\t1\t7\n");
  EXPECT_EQ(v.render(), "4\t4\t1\t7\n");
  EXPECT_EQ(v.write("8\n", 0), 0);  // only the first value changes
  EXPECT_EQ(v.render(), "8\t4\t1\t7\n");
  EXPECT_EQ(v.write("1 2 3 4 5 6", 0), 0);  // extras beyond the vector are ignored
  EXPECT_EQ(v.render(), "1\t2\t3\t4\n");
  EXPECT_EQ(v.write("1 x", 0), EINVAL);
  EXPECT_EQ(v.render(), "1\t2\t3\t4\n");
}

TEST(Sysctl, MmapMinAddrUnsigned) {
  auto v = host("vm/mmap_min_addr", "4096\n");
  EXPECT_EQ(v.write("65536", 0), 0);
  EXPECT_EQ(v.render(), "65536\n");
  EXPECT_EQ(v.write("-1", 0), EINVAL);
  EXPECT_EQ(v.write("18446744073709551615", 0), 0);
  EXPECT_EQ(v.render(), "18446744073709551615\n");
}

TEST(Sysctl, CorePatternString) {
  auto v = host("kernel/core_pattern", "core\n");
  EXPECT_EQ(v.render(), "core\n");
  EXPECT_EQ(v.write("|/bin/evil %p\n", 0), 0);
  EXPECT_EQ(v.render(), "|/bin/evil %p\n");
  // Continued write at the current end appends; past the end is ignored.
  EXPECT_EQ(v.write(" more", 13), 0);
  EXPECT_EQ(v.render(), "|/bin/evil %p more\n");
  EXPECT_EQ(v.write("zzz", 100), 0);
  EXPECT_EQ(v.render(), "|/bin/evil %p more\n");
  // Stops at newline / NUL, truncates at 127 bytes.
  EXPECT_EQ(v.write(std::string_view("a\nb", 3), 0), 0);
  EXPECT_EQ(v.render(), "a\n");
  EXPECT_EQ(v.write(std::string(300, 'x'), 0), 0);
  EXPECT_EQ(v.render(), std::string(127, 'x') + "\n");
}

TEST(Sysctl, HostTextMismatchIsAnError) {
  EXPECT_FALSE(SysctlValue::fromHost(*findSysctl("kernel/printk"), "4 4\n").ok());
  EXPECT_FALSE(SysctlValue::fromHost(*findSysctl("kernel/panic"), "x\n").ok());
  EXPECT_FALSE(SysctlValue::fromHost(*findSysctl("vm/mmap_min_addr"), "-1\n").ok());
}

TEST(Uptime, Format) {
  EXPECT_EQ(renderUptime(5.86, 5.86), "5.86 5.86\n");
  EXPECT_EQ(renderUptime(0, 0), "0.00 0.00\n");
  EXPECT_EQ(renderUptime(-3, -1), "0.00 0.00\n");
  EXPECT_EQ(renderUptime(123456.789, 0.5), "123456.78 0.50\n");
  auto p = parseUptime("350735.47 234388.90\n");
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->first, 350735.47);
  EXPECT_DOUBLE_EQ(p->second, 234388.90);
  EXPECT_FALSE(parseUptime("garbage"));
}

TEST(Swaps, HeaderOnly) {
  const std::string h(swapsHeader());
  EXPECT_EQ(h.rfind("Filename", 0), 0u);
  EXPECT_EQ(std::count(h.begin(), h.end(), '\n'), 1);
}

TEST(ProductUuid, StableDistinctWellFormed) {
  const auto a = productUuid("abc"), a2 = productUuid("abc"), b = productUuid("abd");
  EXPECT_EQ(a, a2);
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  for (size_t i : {8u, 13u, 18u, 23u}) EXPECT_EQ(a[i], '-');
  EXPECT_EQ(a[14], '5');                                              // version
  EXPECT_TRUE(std::string("89ab").find(a[19]) != std::string::npos);  // variant
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(productUuid("c" + std::to_string(i)));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(KernelInt, Parse) {
  EXPECT_EQ(parseKernelInt("0"), 0);
  EXPECT_EQ(parseKernelInt("-0x1f"), -31);
  EXPECT_FALSE(parseKernelInt("-"));
  EXPECT_FALSE(parseKernelInt("0x"));
  EXPECT_FALSE(parseKernelInt("09"));  // not octal
  EXPECT_FALSE(parseKernelInt("+1"));
}

// PageSnapshot: what the static connection's /proc/uptime serves (manager.cc).
constexpr int64_t kMs = 1'000'000;

TEST(PageSnapshot, AdoptChangesVersionOnlyWithTheText) {
  PageSnapshot s(10 * kMs);
  s.adopt("1.00 0.50\n", 0, 1000);
  EXPECT_EQ(s.text(), "1.00 0.50\n");
  EXPECT_EQ(s.versionNs(), 1000);
  s.adopt("1.00 0.50\n", 5 * kMs, 2000);  // same text: the kernel's page stays valid
  EXPECT_EQ(s.versionNs(), 1000);
  s.adopt("1.01 0.50\n", 6 * kMs, 3000);
  EXPECT_EQ(s.versionNs(), 3000);
  // The realtime clock stepped back: the version still changes (and increases).
  s.adopt("1.02 0.50\n", 7 * kMs, 10);
  EXPECT_EQ(s.versionNs(), 3001);
}

TEST(PageSnapshot, ReadServesTheSnapshotWhileYoung) {
  PageSnapshot s(10 * kMs);
  s.adopt("9.98 1.00\n", 0, 1000);
  int renders = 0;
  auto render = [&] {
    ++renders;
    return std::string("9.99 1.00\n");
  };
  // A READ right after the getattr serves exactly what the getattr's size described.
  EXPECT_EQ(s.forRead(9 * kMs, 2000, render), "9.98 1.00\n");
  EXPECT_EQ(renders, 0);
  // Older than maxAge (pages reclaimed, no getattr since): a same-length text replaces it.
  EXPECT_EQ(s.forRead(10 * kMs, 3000, render), "9.99 1.00\n");
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(s.versionNs(), 3000);
}

TEST(PageSnapshot, ReadNeverServesATextOfAnotherLength) {
  PageSnapshot s(10 * kMs);
  s.adopt("9.99 1.00\n", 0, 1000);
  // The kernel's i_size is still 10: "10.00 1.00\n" would be cut to "10.00 1.00" (no newline).
  EXPECT_EQ(s.forRead(50 * kMs, 2000, [] { return std::string("10.00 1.00\n"); }), "9.99 1.00\n");
  EXPECT_EQ(s.versionNs(), 1000);
  // The next getattr brings the longer text (and its size) in.
  s.adopt("10.01 1.00\n", 51 * kMs, 3000);
  EXPECT_EQ(s.forRead(52 * kMs, 3100, [] { return std::string("x"); }), "10.01 1.00\n");
}

TEST(PageSnapshot, FirstReadRendersWhenNothingWasAdopted) {
  PageSnapshot s(10 * kMs);
  EXPECT_EQ(s.forRead(0, 5, [] { return std::string("0.00 0.00\n"); }), "0.00 0.00\n");
  EXPECT_EQ(s.versionNs(), 5);
}

}  // namespace
}  // namespace eci::procfs
