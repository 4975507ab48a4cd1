#include "eci/fs_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace eci {
namespace {

class FsUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eci-fs-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

mode_t modeOf(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST_F(FsUtilTest, WriteAtomicThenReadBack) {
  const auto p = dir_ / "state.json";
  ASSERT_TRUE(fs::writeFileAtomic(p, "hello\n").ok());
  auto r = fs::readFile(p, 1024);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, "hello\n");
  EXPECT_EQ(modeOf(p), 0600u);
}

TEST_F(FsUtilTest, WriteAtomicReplacesAndLeavesNoTempFiles) {
  const auto p = dir_ / "state.json";
  ASSERT_TRUE(fs::writeFileAtomic(p, "old").ok());
  ASSERT_TRUE(fs::writeFileAtomic(p, "new content", 0644).ok());
  EXPECT_EQ(*fs::readFile(p, 1024), "new content");
  EXPECT_EQ(modeOf(p), 0644u);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(FsUtilTest, ModeIsExactDespiteUmask) {
  const mode_t old = ::umask(0077);
  const auto p = dir_ / "pub";
  auto s = fs::writeFileAtomic(p, "x", 0644);
  ::umask(old);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(modeOf(p), 0644u);
}

TEST_F(FsUtilTest, WriteIntoMissingDirectoryFailsNamingThePath) {
  auto s = fs::writeFileAtomic(dir_ / "nope" / "f", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ENOENT);
  EXPECT_NE(s.error().str().find("nope"), std::string::npos);
}

TEST_F(FsUtilTest, ReadFileIsBounded) {
  const auto p = dir_ / "big";
  std::ofstream(p) << std::string(5000, 'a');
  auto exact = fs::readFile(p, 5000);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->size(), 5000u);
  auto r = fs::readFile(p, 4999);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kTooLarge);
  EXPECT_NE(r.error().str().find("larger than 4999 bytes"), std::string::npos);
}

TEST_F(FsUtilTest, ReadMissingFileNamesIt) {
  auto r = fs::readFile(dir_ / "missing", 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ENOENT);
  EXPECT_NE(r.error().str().find("missing"), std::string::npos);
}

TEST_F(FsUtilTest, MakeDirsCreatesNestedWithMode) {
  const auto p = dir_ / "a" / "b" / "c";
  ASSERT_TRUE(fs::makeDirs(p, 0700).ok());
  EXPECT_TRUE(std::filesystem::is_directory(p));
  EXPECT_EQ(modeOf(dir_ / "a"), 0700u);
  // Existing directories are fine.
  EXPECT_TRUE(fs::makeDirs(p, 0700).ok());
}

TEST_F(FsUtilTest, MakeDirsThroughAFileFails) {
  std::ofstream(dir_ / "file") << "x";
  auto s = fs::makeDirs(dir_ / "file" / "sub");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ENOTDIR);
}

TEST_F(FsUtilTest, RealpathWithMissingTailFollowsSymlinksAndKeepsTheTail) {
  std::filesystem::create_directories(dir_ / "secret" / "sub");
  std::filesystem::create_symlink(dir_ / "secret", dir_ / "link");
  const std::string d = dir_.string();
  EXPECT_EQ(*fs::realpathWithMissingTail(d + "/link/sub"), d + "/secret/sub");
  EXPECT_EQ(*fs::realpathWithMissingTail(d + "/link/sub/missing/x"), d + "/secret/sub/missing/x");
  // `..` after a symlink is the kernel's (the symlink's target's parent).
  EXPECT_EQ(*fs::realpathWithMissingTail(d + "/link/../secret"), d + "/secret");
  EXPECT_EQ(*fs::realpathWithMissingTail("/"), "/");
}

TEST_F(FsUtilTest, RealpathWithMissingTailErrorsBeyondEnoentUnlessSkipped) {
  std::ofstream(dir_ / "file") << "x";
  std::filesystem::create_symlink(dir_ / "link", dir_ / "link");  // a loop: ELOOP
  const std::string d = dir_.string();
  auto notDir = fs::realpathWithMissingTail(d + "/file/x");
  ASSERT_FALSE(notDir.ok());
  EXPECT_EQ(notDir.error().code(), ENOTDIR);
  EXPECT_EQ(*fs::realpathWithMissingTail(d + "/file/x", /*skipUnresolvable=*/true), d + "/file/x");
  auto loop = fs::realpathWithMissingTail(d + "/link/y");
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.error().code(), ELOOP);
  EXPECT_EQ(*fs::realpathWithMissingTail(d + "/link/y", /*skipUnresolvable=*/true), d + "/link/y");
}

}  // namespace
}  // namespace eci
