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

TEST(ErrorTest, KindedErrorHasNoErrnoAndNoStrerror) {
  Error e(ErrorKind::kInvalidInput, "seccomp state: /pid: missing", "re-register");
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
  EXPECT_EQ(e.code(), 0);
  EXPECT_FALSE(e.isSystem());
  // Before kinds this was Error(EINVAL, ...) and rendered ": Invalid argument" after the message.
  EXPECT_EQ(e.str(), "seccomp state: /pid: missing (re-register)");
}

TEST(ErrorTest, PlainMessageIsKindOther) {
  EXPECT_EQ(Error("x").kind(), ErrorKind::kOther);
  EXPECT_EQ(Error().kind(), ErrorKind::kOther);
}

TEST(ErrorTest, SystemErrorKindComesFromItsErrno) {
  EXPECT_EQ(Error(ENOENT, "open").kind(), ErrorKind::kNotFound);
  EXPECT_EQ(Error(EACCES, "open").kind(), ErrorKind::kDenied);
  EXPECT_EQ(Error(EPERM, "open").kind(), ErrorKind::kDenied);
  EXPECT_EQ(Error(EINVAL, "mount").kind(), ErrorKind::kInvalidInput);
  EXPECT_EQ(Error(EFBIG, "write").kind(), ErrorKind::kTooLarge);
  EXPECT_EQ(Error(ETIMEDOUT, "connect").kind(), ErrorKind::kTimeout);
  EXPECT_EQ(Error(EADDRINUSE, "bind").kind(), ErrorKind::kConflict);
  EXPECT_EQ(Error(EAGAIN, "fork").kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(Error(ENOSYS, "statmount").kind(), ErrorKind::kUnsupported);
  EXPECT_EQ(Error(ELOOP, "open").kind(), ErrorKind::kSystem);
  EXPECT_EQ(Error(EXDEV, "rename").kind(), ErrorKind::kSystem);
  errno = ENOENT;
  Error e = Error::fromErrno("stat");
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  EXPECT_TRUE(e.isSystem());
}

TEST(ErrorTest, ErrnoOrKeepsTheRealErrnoElseMapsTheKind) {
  EXPECT_EQ(Error(ELOOP, "open").errnoOr(EPERM), ELOOP);
  EXPECT_EQ(Error(EACCES, "open").errnoOr(EPERM), EACCES);  // the call's own, not the kind's EPERM
  EXPECT_EQ(Error(ErrorKind::kInvalidInput, "x").errnoOr(EPERM), EINVAL);
  EXPECT_EQ(Error(ErrorKind::kNotFound, "x").errnoOr(EPERM), ENOENT);
  EXPECT_EQ(Error(ErrorKind::kDenied, "x").errnoOr(EIO), EPERM);
  EXPECT_EQ(Error(ErrorKind::kTooLarge, "x").errnoOr(EPERM), EFBIG);
  EXPECT_EQ(Error(ErrorKind::kProtocol, "x").errnoOr(EPERM), EPROTO);
  EXPECT_EQ(Error(ErrorKind::kTimeout, "x").errnoOr(EPERM), ETIMEDOUT);
  EXPECT_EQ(Error(ErrorKind::kConflict, "x").errnoOr(EPERM), EEXIST);
  EXPECT_EQ(Error(ErrorKind::kUnavailable, "x").errnoOr(EPERM), EAGAIN);
  EXPECT_EQ(Error(ErrorKind::kUnsupported, "x").errnoOr(EPERM), ENOTSUP);
  EXPECT_EQ(Error(ErrorKind::kInternal, "x").errnoOr(EPERM), EIO);
  EXPECT_EQ(Error(ErrorKind::kCancelled, "x").errnoOr(EPERM), ECANCELED);
  EXPECT_EQ(Error("x").errnoOr(EPERM), EPERM);
  EXPECT_EQ(Error("x").errnoOr(EIO), EIO);
}

TEST(ErrorTest, WithMessageKeepsKindErrnoAndContext) {
  Error e(ErrorKind::kUnavailable, "GET https://idp: connection refused");
  e.wrap("refreshing the token");
  Error f = e.withMessage(e.message() + " (after 3 attempts)", "check the network");
  EXPECT_EQ(f.kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(f.str(),
            "refreshing the token: GET https://idp: connection refused (after 3 attempts) (check "
            "the network)");
  Error s(ENOENT, "open('/x')");
  EXPECT_EQ(s.withMessage("open('/x') again", "").code(), ENOENT);
}

TEST(ErrorTest, KindNames) {
  EXPECT_STREQ(kindName(ErrorKind::kInvalidInput), "invalid input");
  EXPECT_STREQ(kindName(ErrorKind::kSystem), "system error");
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
