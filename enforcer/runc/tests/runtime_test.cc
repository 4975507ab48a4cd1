// Contract 1: where eci-runc finds the real runc, and that it never execs itself.
#include "runtime.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace eci::runc {
namespace {

TEST(RealRunc, GivenPathIsUsed) {
  auto r = resolveRealRunc("/bin/sh");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, "/bin/sh");
}

TEST(RealRunc, DefaultIsTheDivertedRuncElseSbinRunc) {
  auto r = resolveRealRunc("");
  std::error_code ec;
  const bool diverted = std::filesystem::exists(kDivertedRunc, ec);
  if (r.ok()) {
    EXPECT_EQ(*r, diverted ? kDivertedRunc : kDefaultRunc);
  } else {
    EXPECT_FALSE(diverted);  // only a missing /usr/sbin/runc may fail
  }
}

TEST(RealRunc, RefusesItself) {
  // The test binary plays eci-runc: a symlink to it (what a PATH entry `runc -> eci-runc` is)
  // and the binary itself are refused.
  const auto dir =
      std::filesystem::temp_directory_path() / ("eci-runc-self-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto link = dir / "runc";
  std::filesystem::create_symlink(std::filesystem::read_symlink("/proc/self/exe"), link);
  auto r = resolveRealRunc(link.string());
  EXPECT_FALSE(r.ok());
  if (!r.ok()) {
    EXPECT_NE(r.error().str().find("eci-runc itself"), std::string::npos);
  }
  EXPECT_FALSE(resolveRealRunc("/proc/self/exe").ok());
  // A different executable with `self` naming it is refused too.
  EXPECT_FALSE(resolveRealRunc("/bin/sh", "/bin/sh").ok());
  std::filesystem::remove_all(dir);
}

TEST(RealRunc, MissingIsAnError) {
  EXPECT_FALSE(resolveRealRunc("/nonexistent/runc").ok());
}

TEST(ParseCall, EnvironmentThenFlags) {
  ::setenv("ECI_RUNC_REAL_RUNC", "/env/runc", 1);
  ::setenv("ECI_RUNC_RESTRICT", "/a::/b", 1);
  auto c = parseCall({"--eci-restrict", "/c", "-root", "/r", "--log=/l", "state", "x"});
  ::unsetenv("ECI_RUNC_REAL_RUNC");
  ::unsetenv("ECI_RUNC_RESTRICT");
  ASSERT_TRUE(c.ok()) << c.error().str();
  EXPECT_EQ(c->eci.realRunc, "/env/runc");
  EXPECT_EQ(c->eci.restrict, (std::vector<std::string>{"/c"}));
  EXPECT_EQ(c->root, "/r");
  EXPECT_EQ(c->log, "/l");
  EXPECT_EQ(c->originalArgv(), (std::vector<std::string>{"-root", "/r", "--log=/l", "state", "x"}));
}

}  // namespace
}  // namespace eci::runc
