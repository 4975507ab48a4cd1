#include "eci/paths.h"

#include <gtest/gtest.h>

#include "eci/mountinfo.h"

namespace eci {
namespace {

TEST(Paths, IsUnderIsComponentWise) {
  EXPECT_TRUE(paths::isUnder("/a/b", "/a"));
  EXPECT_TRUE(paths::isUnder("/a", "/a"));
  EXPECT_FALSE(paths::isUnder("/ab", "/a"));
  EXPECT_FALSE(paths::isUnder("/a", "/a/b"));
  EXPECT_TRUE(paths::isUnder("/anything", "/"));
  EXPECT_TRUE(paths::isUnder("/", "/"));
  EXPECT_FALSE(paths::isUnder("relative", "/"));
}

TEST(Paths, NormalizeIsLexical) {
  EXPECT_EQ(paths::normalize("/a/./b/../c/"), "/a/c");
  EXPECT_EQ(paths::normalize("//"), "/");
  EXPECT_EQ(paths::normalize("/../../etc"), "/etc");
  EXPECT_EQ(paths::normalize("/tmp/x/../../etc/docker"), "/etc/docker");
  EXPECT_EQ(paths::normalize(""), "/");
}

TEST(MountInfo, ParsesEscapesOptionalFieldsAndSuperOptions) {
  auto r = parseMountInfo(
      "36 35 98:0 /mnt1 /mnt\\040x rw,noatime master:1 shared:2 - ext3 /dev/root "
      "rw,errors=continue\n"
      "40 36 0:50 / /o rw - overlay overlay rw,lowerdir=/a\\072b:/c,upperdir=/u,workdir=/w\n");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].mountPoint, "/mnt x");
  EXPECT_EQ((*r)[0].root, "/mnt1");
  EXPECT_EQ((*r)[0].fstype, "ext3");
  EXPECT_EQ((*r)[0].superOptions, "rw,errors=continue");
  EXPECT_EQ((*r)[1].superOptions, "rw,lowerdir=/a\\072b:/c,upperdir=/u,workdir=/w");
  EXPECT_EQ(topMountAt(*r, "/o"), &(*r)[1]);
  EXPECT_EQ(mountOf(*r, "/o/deep/file"), &(*r)[1]);
  EXPECT_EQ(mountOf(*r, "/mnt x/f"), &(*r)[0]);
  EXPECT_EQ(mountOf(*r, "/elsewhere"), nullptr);
}

TEST(MountInfo, MalformedLinesAreErrorsNotPartialTables) {
  EXPECT_FALSE(parseMountInfo("1 0 0:1 / / rw tmpfs t rw\n").ok());
  EXPECT_FALSE(parseMountInfo("1 0 0:1 / / rw - tmpfs\n").ok());
  EXPECT_FALSE(parseMountInfo("x 0 0:1 / / rw - tmpfs t rw\n").ok());
  EXPECT_EQ(unescapeOctal("a\\040b\\"), "a b\\");
}

TEST(MountInfo, ReadsTheRealTable) {
  auto r = readMountInfo();
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_FALSE(r->empty());
  EXPECT_NE(mountOf(*r, "/"), nullptr);
}

}  // namespace
}  // namespace eci
