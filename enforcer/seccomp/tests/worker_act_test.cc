// The worker's reading of a caller's credentials (worker_act.h): what every emulated create and
// chmod is checked against. A misread id or umask would make files with the wrong owner or mode.
#include "../src/worker_act.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace eci::seccomp::worker {
namespace {

const char kStatus[] =
    "Name:\tsh\nUmask:\t0027\nState:\tS (sleeping)\nTgid:\t7\n"
    "Uid:\t1000\t1001\t1002\t1003\nGid:\t2000\t2001\t2002\t2003\n"
    "FDSize:\t64\nGroups:\t10 20 2003 \nCapInh:\t0000000000000000\n"
    "CapPrm:\t000001ffffffffff\nCapEff:\t00000000a80425fb\n";

TEST(CallerCredentials, TakesTheFileSystemIdsGroupsCapsAndUmask) {
  auto c = parseCallerCredentials(kStatus);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->fsuid, 1003u);  // the fourth Uid field: what file operations are checked against
  EXPECT_EQ(c->fsgid, 2003u);
  EXPECT_EQ(c->groups, (std::vector<gid_t>{10, 20, 2003}));
  EXPECT_EQ(c->effectiveCaps, 0xa80425fbULL);  // Docker's default set
  EXPECT_EQ(c->umask, 027u);
}

TEST(CallerCredentials, NoGroupsIsAnEmptyList) {
  std::string s = kStatus;
  s.replace(s.find("Groups:\t10 20 2003 \n"), 20, "Groups:\t\n");
  auto c = parseCallerCredentials(s);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->groups.empty());
}

TEST(CallerCredentials, AnythingMissingOrMalformedIsRefused) {
  auto without = [](const std::string& field) {
    std::string s = kStatus;
    const size_t at = s.find("\n" + field + ":");
    s.erase(at, s.find('\n', at + 1) - at);
    return s;
  };
  for (const char* f : {"Uid", "Gid", "Groups", "CapEff", "Umask"})
    EXPECT_FALSE(parseCallerCredentials(without(f)).has_value()) << f;
  auto with = [](const std::string& from, const std::string& to) {
    std::string s = kStatus;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  EXPECT_FALSE(parseCallerCredentials(with("1002\t1003", "1002")).has_value());  // 3 fields
  EXPECT_FALSE(parseCallerCredentials(with("1003", "10x3")).has_value());
  EXPECT_FALSE(parseCallerCredentials(with("1003", "4294967295")).has_value());  // (uid_t)-1
  EXPECT_FALSE(parseCallerCredentials(with("Umask:\t0027", "Umask:\t1777")).has_value());
  EXPECT_FALSE(parseCallerCredentials(with("a80425fb", "zz")).has_value());
  EXPECT_FALSE(parseCallerCredentials("").has_value());
}

// The kernel's own rendering, for this process: the parser must read what the kernel writes.
TEST(CallerCredentials, ReadsThisProcess) {
  const mode_t old = umask(023);
  std::ifstream in2("/proc/self/status");
  std::stringstream text2;
  text2 << in2.rdbuf();
  umask(old);
  auto c = parseCallerCredentials(text2.str());
  ASSERT_TRUE(c.has_value()) << text2.str();
  EXPECT_EQ(c->fsuid, geteuid());
  EXPECT_EQ(c->fsgid, getegid());
  EXPECT_EQ(c->umask, 023u);
}

}  // namespace
}  // namespace eci::seccomp::worker
