#include "eci/file_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace eci {
namespace {

class FileLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "file_lock tests chown files to other uids and must run as root";
    char tmpl[] = "/tmp/eci-file-lock-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::filesystem::path& p, mode_t mode, uid_t uid = 0,
                              gid_t gid = 0) {
    std::ofstream(p) << R"({"configurationFileVersion": 2})";
    EXPECT_EQ(::chmod(p.c_str(), mode), 0);
    EXPECT_EQ(::chown(p.c_str(), uid, gid), 0);
    return p;
  }
  LockReport check(const std::filesystem::path& p) {
    auto r = checkFileLocked(p);
    EXPECT_TRUE(r.ok()) << r.error().str();
    return r.ok() ? *r : LockReport{};
  }

  std::filesystem::path dir_;
};

TEST_F(FileLockTest, RootOwned0644IsLocked) {
  auto f = write(dir_ / "admin-settings.json", 0644);
  auto rep = check(f);
  EXPECT_TRUE(rep.locked()) << rep.str();
  auto content = readLockedFile(f, 1 << 20);
  ASSERT_TRUE(content.ok()) << content.error().str();
  EXPECT_EQ(*content, R"({"configurationFileVersion": 2})");
}

TEST_F(FileLockTest, GroupWritableNamesTheGroup) {
  // Debian's "staff" group is gid 50.
  auto f = write(dir_ / "admin-settings.json", 0664, 0, 50);
  auto rep = check(f);
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_EQ(rep.str(), f.string() +
                           ": writable by group 50 (staff); MDM-deployed settings must be "
                           "writable by root only");
  auto content = readLockedFile(f, 1 << 20);
  ASSERT_FALSE(content.ok());
  EXPECT_EQ(content.error().kind(), ErrorKind::kDenied);
  EXPECT_NE(content.error().str().find("writable by group 50 (staff)"), std::string::npos);
}

TEST_F(FileLockTest, GroupWithoutNameIsNumeric) {
  auto f = write(dir_ / "a.json", 0620, 0, 54321);
  auto rep = check(f);
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_EQ(rep.problems[0].reason, "writable by group 54321");
}

TEST_F(FileLockTest, OtherWritable) {
  auto f = write(dir_ / "a.json", 0646);
  auto rep = check(f);
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_EQ(rep.problems[0].reason, "writable by all users (mode 0646)");
}

TEST_F(FileLockTest, OwnedByUser) {
  auto f = write(dir_ / "a.json", 0644, 1000, 1000);
  auto rep = check(f);
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_EQ(rep.problems[0].path, f.string());
  EXPECT_NE(rep.problems[0].reason.find("owned by uid 1000"), std::string::npos);
  EXPECT_NE(rep.problems[0].reason.find("not root"), std::string::npos);
}

TEST_F(FileLockTest, SymlinkToUserOwnedFileRefused) {
  auto target = write(dir_ / "user.json", 0644, 1000, 1000);
  auto link = dir_ / "admin-settings.json";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto rep = check(link);
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_EQ(rep.problems[0].path, link.string());
  EXPECT_NE(rep.problems[0].reason.find("is a symlink (to " + target.string() + ")"),
            std::string::npos);
  EXPECT_FALSE(readLockedFile(link, 1 << 20).ok());
}

TEST_F(FileLockTest, SymlinkedParentDirectoryRefused) {
  auto real = dir_ / "real";
  ASSERT_EQ(::mkdir(real.c_str(), 0755), 0);
  write(real / "a.json", 0644);
  ASSERT_EQ(::symlink(real.c_str(), (dir_ / "via").c_str()), 0);
  auto rep = check(dir_ / "via" / "a.json");
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_EQ(rep.problems[0].path, (dir_ / "via").string());
}

TEST_F(FileLockTest, UserOwnedParentDirectoryRefused) {
  auto sub = dir_ / "sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(::chown(sub.c_str(), 1000, 1000), 0);
  auto f = write(sub / "a.json", 0644);
  auto rep = check(f);
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_EQ(rep.problems[0].path, sub.string());
  EXPECT_NE(rep.problems[0].reason.find("directory owned by uid 1000"), std::string::npos);
}

TEST_F(FileLockTest, WorldWritableParentNeedsSticky) {
  auto sub = dir_ / "sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(sub.c_str(), 0777), 0);
  auto f = write(sub / "a.json", 0644);
  auto rep = check(f);
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_EQ(rep.problems[0].reason, "directory writable by all users (mode 0777)");
  // Sticky: users may add entries but cannot rename or unlink root's file.
  ASSERT_EQ(::chmod(sub.c_str(), 01777), 0);
  EXPECT_TRUE(check(f).locked());
}

TEST_F(FileLockTest, GroupWritableParent) {
  auto sub = dir_ / "sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0775), 0);
  ASSERT_EQ(::chmod(sub.c_str(), 0775), 0);
  ASSERT_EQ(::chown(sub.c_str(), 0, 50), 0);
  auto f = write(sub / "a.json", 0644);
  auto rep = check(f);
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_EQ(rep.problems[0].reason, "directory writable by group 50 (staff)");
}

TEST_F(FileLockTest, SeveralProblemsAllReported) {
  auto f = write(dir_ / "a.json", 0664, 1000, 50);
  auto rep = check(f);
  EXPECT_EQ(rep.problems.size(), 2u) << rep.str();
}

TEST_F(FileLockTest, NotARegularFile) {
  auto fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  auto rep = check(fifo);
  ASSERT_FALSE(rep.locked());
  EXPECT_EQ(rep.problems[0].reason, "is not a regular file");
  // Must not hang on open.
  EXPECT_FALSE(readLockedFile(fifo, 100).ok());
}

TEST_F(FileLockTest, MissingFileIsAnError) {
  auto r = checkFileLocked(dir_ / "nope.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ENOENT);
  EXPECT_NE(r.error().str().find("nope.json"), std::string::npos);
}

TEST_F(FileLockTest, OversizedFileRefused) {
  auto f = write(dir_ / "a.json", 0644);
  auto r = readLockedFile(f, 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kTooLarge);
}

TEST_F(FileLockTest, RelativePathIsResolvedAgainstCwd) {
  write(dir_ / "a.json", 0644);
  auto old = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  auto rep = check("a.json");
  std::filesystem::current_path(old);
  EXPECT_EQ(rep.file, dir_ / "a.json");
  EXPECT_TRUE(rep.locked());
}

}  // namespace
}  // namespace eci
