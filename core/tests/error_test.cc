#include "eci/error.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

namespace eci {
namespace {

TEST(ErrorTest, PlainMessageHasNoErrnoText) {
  Error e("policy /enabled: expected boolean");
  EXPECT_EQ(e.code(), 0);
  EXPECT_EQ(e.str(), "policy /enabled: expected boolean");
}

TEST(ErrorTest, SystemErrorAppendsStrerror) {
  Error e(EINVAL, "mount_setattr('/x', MOUNT_ATTR_IDMAP)");
  EXPECT_EQ(e.code(), EINVAL);
  EXPECT_EQ(e.str(),
            std::string("mount_setattr('/x', MOUNT_ATTR_IDMAP): ") + std::strerror(EINVAL));
}

TEST(ErrorTest, HintIsRenderedInParenthesesLast) {
  Error e(EINVAL, "mount_setattr('/x', IDMAP)", "overlayfs cannot be ID-mapped");
  EXPECT_EQ(e.str(), std::string("mount_setattr('/x', IDMAP): ") + std::strerror(EINVAL) +
                         " (overlayfs cannot be ID-mapped)");
}

TEST(ErrorTest, ContextRendersOutermostFirst) {
  Error e(ENOENT, "open('/etc/eci/x')");
  e.wrap("loading trusted keys");
  e.wrap("starting enforcer");
  ASSERT_EQ(e.context().size(), 2u);
  EXPECT_EQ(e.context()[0], "loading trusted keys");  // innermost first in storage
  EXPECT_EQ(e.str(), std::string("starting enforcer: loading trusted keys: open('/etc/eci/x'): ") +
                         std::strerror(ENOENT));
}

TEST(ErrorTest, FromErrnoCapturesErrno) {
  errno = EACCES;
  Error e = Error::fromErrno("open('/root/x')");
  EXPECT_EQ(e.code(), EACCES);
  EXPECT_NE(e.str().find(std::strerror(EACCES)), std::string::npos);
}

Status failing() {
  return Error(EPERM, "inner");
}
Status propagates() {
  ECI_TRY_CTX(failing(), "outer");
  return {};
}
Result<int> number(bool ok) {
  if (!ok) return Error("no number");
  return 42;
}
Result<int> doubled(bool ok) {
  ECI_ASSIGN_OR_RETURN(n, number(ok));
  return n * 2;
}

TEST(ResultTest, TryAddsContextAndPropagates) {
  Status s = propagates();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), EPERM);
  EXPECT_EQ(s.error().str(), std::string("outer: inner: ") + std::strerror(EPERM));
}

TEST(ResultTest, AssignOrReturn) {
  auto good = doubled(true);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 84);
  auto bad = doubled(false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().str(), "no number");
}

TEST(ResultTest, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  ASSERT_TRUE(r);
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(ResultTest, OkStatus) {
  Status s = okStatus();
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(static_cast<bool>(s));
}

}  // namespace
}  // namespace eci
