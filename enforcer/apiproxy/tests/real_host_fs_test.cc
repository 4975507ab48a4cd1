// RealHostFs against a real temporary directory (symlinks, hard links, sockets, missing tails).
#include "eci/apiproxy/real_host_fs.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

namespace eci::apiproxy {
namespace {

namespace stdfs = std::filesystem;

class RealFs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eci-hostfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = stdfs::canonical(tmpl).string();
    stdfs::create_directory(dir + "/run");
    // A real unix socket, as dockerd's.
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(s, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string p = dir + "/run/docker.sock";
    ASSERT_LT(p.size(), sizeof(a.sun_path));
    p.copy(a.sun_path, p.size());
    ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    close(s);
    stdfs::create_symlink(dir + "/run", dir + "/varrun");
  }
  void TearDown() override { stdfs::remove_all(dir); }
  std::string dir;
  RealHostFs fs;
};

TEST_F(RealFs, ResolvesSymlinksAndKeepsMissingTails) {
  EXPECT_EQ(*fs.resolve(dir + "/varrun/docker.sock"), dir + "/run/docker.sock");
  EXPECT_EQ(*fs.resolve(dir + "/varrun/new/dir"), dir + "/run/new/dir");
  EXPECT_EQ(*fs.resolve(dir + "/varrun/../varrun/docker.sock"), dir + "/run/docker.sock");
  EXPECT_FALSE(fs.resolve("relative").ok());
}

TEST_F(RealFs, StatSeesSocketsDirectoriesAndHardLinks) {
  auto s = fs.stat(dir + "/varrun/docker.sock");
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->isSocket);
  EXPECT_TRUE(fs.stat(dir + "/run")->isDir);
  EXPECT_FALSE(fs.stat(dir + "/nope").has_value());
  // A hard link of the socket (we own it, so protected_hardlinks allows it): same inode.
  if (link((dir + "/run/docker.sock").c_str(), (dir + "/l.sock").c_str()) == 0) {
    EXPECT_EQ(fs.stat(dir + "/l.sock")->ino, s->ino);
  }
}

TEST(MountInfo, MountPointsAreDecoded) {
  const auto mps = mountPointsOf(
      "22 1 0:21 / /run rw,nosuid - tmpfs tmpfs rw\n"
      "23 1 0:22 / /srv/with\\040space rw - ext4 /dev/sda rw\n"
      "bad line\n");
  ASSERT_EQ(mps.size(), 2u);
  EXPECT_EQ(mps[0], "/run");
  EXPECT_EQ(mps[1], "/srv/with space");
}

}  // namespace
}  // namespace eci::apiproxy
