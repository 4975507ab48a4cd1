// The syscall wrappers against the real kernel. Creating mounts and user namespaces needs root
// (CAP_SYS_ADMIN in the initial namespace): these tests are labelled `root` and fail, not skip,
// without it.
#include "eci/sys.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace eci::sys {
namespace {

TEST(SysTest, OpenErrorNamesPath) {
  auto r = open("/nonexistent/eci-test", O_RDONLY);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ENOENT);
  EXPECT_EQ(r.error().str(),
            std::string("open('/nonexistent/eci-test'): ") + std::strerror(ENOENT));
}

TEST(SysTest, OpenIsCloexec) {
  auto r = open("/proc/self/status", O_RDONLY);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(::fcntl(r->get(), F_GETFD) & FD_CLOEXEC);
}

TEST(SysTest, OpenAtRelative) {
  auto dir = open("/proc/self", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dir.ok());
  auto f = openAt(dir->get(), "status", O_RDONLY);
  ASSERT_TRUE(f.ok()) << f.error().str();
  auto bad = openAt(dir->get(), "no-such", O_RDONLY);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().str().find("+ 'no-such'"), std::string::npos) << bad.error().str();
}

TEST(SysTest, PidfdOpenSelfAndMissing) {
  auto fd = pidfdOpen(::getpid());
  ASSERT_TRUE(fd.ok()) << fd.error().str();
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  auto bad = pidfdOpen(0x3fffffff);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ESRCH);
  EXPECT_NE(bad.error().str().find("pidfd_open(1073741823)"), std::string::npos);
}

TEST(SysTest, MountSetattrMessageNamesPathAndAttributes) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
  auto s = sys::mountSetattr(AT_FDCWD, "/nonexistent-eci", 0, attr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ENOENT);
  EXPECT_EQ(
      s.error().str(),
      std::string("mount_setattr('/nonexistent-eci', MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID): ") +
          std::strerror(ENOENT));
}

TEST(SysTest, OpenTreeMessageNamesFlags) {
  auto r = sys::openTree(AT_FDCWD, "/nonexistent-eci", OPEN_TREE_CLONE | AT_RECURSIVE);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      r.error().str().rfind("open_tree('/nonexistent-eci', OPEN_TREE_CLONE|AT_RECURSIVE): ", 0), 0u)
      << r.error().str();
}

TEST(SysTest, FsopenUnknownFilesystem) {
  auto r = sys::fsopen("no-such-fs-eci", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("fsopen('no-such-fs-eci')"), std::string::npos);
}

// --- root: real mounts ---

class SysRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (CAP_SYS_ADMIN) to create mounts";
    char tmpl[] = "/tmp/eci-sys-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::umount2(dir_.c_str(), MNT_DETACH);
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
};

TEST_F(SysRootTest, TmpfsThroughNewMountApi) {
  auto fs = sys::fsopen("tmpfs", 0);
  ASSERT_TRUE(fs.ok()) << fs.error().str();
  ASSERT_TRUE(sys::fsconfig(fs->get(), FSCONFIG_SET_STRING, "size", "1m", 0).ok());
  auto bad = sys::fsconfig(fs->get(), FSCONFIG_SET_STRING, "no-such-option", "1", 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().str().find("FSCONFIG_SET_STRING, 'no-such-option', '1'"), std::string::npos)
      << bad.error().str();
  ASSERT_TRUE(sys::fsconfig(fs->get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0).ok());
  auto mnt = sys::fsmount(fs->get(), 0, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
  ASSERT_TRUE(mnt.ok()) << mnt.error().str();
  ASSERT_TRUE(sys::moveMount(mnt->get(), "", AT_FDCWD, dir_, MOVE_MOUNT_F_EMPTY_PATH).ok());
  // The tmpfs really is there: a file written through the path lives on it.
  std::ofstream(dir_ / "f") << "x";
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line;
  bool found = false;
  while (std::getline(mounts, line)) {
    if (line.find(" " + dir_.string() + " ") != std::string::npos &&
        line.find(" - tmpfs ") != std::string::npos) {
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(SysRootTest, MountSetattrReadOnlyOnDetachedClone) {
  auto tree = sys::openTree(AT_FDCWD, dir_, OPEN_TREE_CLONE);
  ASSERT_TRUE(tree.ok()) << tree.error().str();
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  ASSERT_TRUE(sys::mountSetattr(tree->get(), "", AT_EMPTY_PATH, attr).ok());
  auto f = openAt(tree->get(), "new", O_WRONLY | O_CREAT, 0600);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code(), EROFS);
}

TEST_F(SysRootTest, ProbeIdmappedMountsOnThisKernel) {
  // Kernel >= 5.12 with tmpfs (>= 6.3) or the /var/tmp filesystem supporting ID-mapped mounts;
  // the project's isolation depends on it, so the probe must succeed here.
  EXPECT_TRUE(probeIdmappedMounts());
  EXPECT_TRUE(probeIdmappedMounts());  // cached
}

TEST_F(SysRootTest, IdmapWithBadUsernsFdIsNamed) {
  auto tree = sys::openTree(AT_FDCWD, dir_, OPEN_TREE_CLONE);
  ASSERT_TRUE(tree.ok());
  UniqueFd notUserns(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(notUserns.get());
  auto s = sys::mountSetattr(tree->get(), "", AT_EMPTY_PATH, attr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().str().find("mount_setattr(fd "), std::string::npos) << s.error().str();
  EXPECT_NE(s.error().str().find("MOUNT_ATTR_IDMAP"), std::string::npos);
}

// statmount's record of every mount we can reach equals its mountinfo line. This is also the
// check of the hand-written ABI (the 512-byte fixed part, string offsets): a wrong layout shows
// up as wrong roots, mount points or types here.
TEST(SysTest, StatMountMatchesMountinfo) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  int compared = 0;
  bool sawRoot = false, sawProc = false;
  while (std::getline(in, line)) {
    if (line.find('\\') != std::string::npos) continue;  // octal escapes: not worth decoding here
    std::istringstream f(line);
    uint32_t id = 0, parent = 0;
    std::string dev, root, point, opts, field, type;
    f >> id >> parent >> dev >> root >> point >> opts;
    while (f >> field && field != "-") {
    }
    f >> type;
    auto fd = open(point, O_PATH | O_NOFOLLOW);
    if (!fd.ok()) continue;
    struct statx sx {};
    ASSERT_EQ(statx(fd->get(), "", AT_EMPTY_PATH, STATX_MNT_ID, &sx), 0);
    if (sx.stx_mnt_id != id) continue;  // overmounted: the path shows another mount
    auto unique = uniqueMountId(fd->get());
    ASSERT_TRUE(unique.ok()) << unique.error().str();
    auto rec = statMount(*unique);
    ASSERT_TRUE(rec.ok()) << rec.error().str();
    EXPECT_EQ(rec->uniqueId, *unique);
    EXPECT_EQ(rec->id, id) << line;
    EXPECT_EQ(rec->parentId, parent) << line;
    EXPECT_EQ(std::to_string(rec->major) + ":" + std::to_string(rec->minor), dev) << line;
    EXPECT_EQ(rec->root, root) << line;
    EXPECT_EQ(rec->mountPoint, point) << line;
    EXPECT_EQ(rec->fstype, type) << line;
    EXPECT_EQ((rec->attr & MOUNT_ATTR_RDONLY) != 0, opts.rfind("ro", 0) == 0) << line;
    ++compared;
    sawRoot |= point == "/";
    sawProc |= point == "/proc";
  }
  EXPECT_TRUE(sawRoot && sawProc) << "compared " << compared << " mounts";
}

TEST(SysTest, StatMountUnknownIdNamesIt) {
  auto rec = statMount(1);  // unique ids start far above 1
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.error().str().find("statmount(1)"), std::string::npos);
}

// FUSE mounts carry a subtype ("fuse.eci" in mountinfo); statmount's FS_TYPE alone says "fuse".
// A record that says "fuse" would not match its mountinfo line, and eci's seccomp rules would take
// the /proc and /sys emulation mounts for mounts of the container's own (found in this very way).
// The mount is never served: nothing here sends it a request (O_PATH open, statx DONT_SYNC,
// statmount), and closing /dev/fuse aborts the connection.
TEST(SysTest, StatMountNamesTheFuseSubtypeAsMountinfoDoes) {
  auto dev = open("/dev/fuse", O_RDWR);
  ASSERT_TRUE(dev.ok()) << dev.error().str() << " (the fuse module is needed, as for eci-procfs)";
  char dir[] = "/tmp/eci-sys-fuse.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string opts =
      "fd=" + std::to_string(dev->get()) + ",rootmode=40000,user_id=0,group_id=0";
  ASSERT_EQ(::mount("eci-sys-test", dir, "fuse.ecisystest", MS_NOSUID | MS_NODEV, opts.c_str()), 0)
      << std::strerror(errno);
  auto root = open(dir, O_PATH | O_DIRECTORY);
  ASSERT_TRUE(root.ok()) << root.error().str();
  auto unique = uniqueMountId(root->get());
  ASSERT_TRUE(unique.ok()) << unique.error().str();
  auto rec = statMount(*unique);
  ::umount2(dir, MNT_DETACH);
  ::rmdir(dir);
  ASSERT_TRUE(rec.ok()) << rec.error().str();
  EXPECT_EQ(rec->fstype, "fuse.ecisystest");
  EXPECT_EQ(rec->mountPoint, dir);
}

// mkdirAllAs: what `mkdir -p` run by that user does, ownership and permission checks included.
TEST(SysTest, MkdirAllAsMakesTheUsersDirectoriesOnly) {
  char tmpl[] = "/tmp/eci-mkdiras-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string base = tmpl;
  ASSERT_EQ(::chmod(base.c_str(), 0755), 0);  // root's, 0755: nobody else may create in it
  const std::string open = base + "/open";
  ASSERT_EQ(::mkdir(open.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(open.c_str(), 0777), 0);

  // Made as 4242:4343 (umask 022), every new level theirs.
  ASSERT_TRUE(mkdirAllAs(open + "/a//b/c", 4242, 4343, {}).ok());
  for (const char* p : {"/a", "/a/b", "/a/b/c"}) {
    struct stat st {};
    ASSERT_EQ(::stat((open + p).c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, 4242u) << p;
    EXPECT_EQ(st.st_gid, 4343u) << p;
    EXPECT_EQ(st.st_mode & 07777, 0755u) << p;
  }
  // Existing levels are fine (also a symlink to a directory, as mkdir -p follows it).
  ASSERT_EQ(::symlink((open + "/a").c_str(), (open + "/link").c_str()), 0);
  EXPECT_TRUE(mkdirAllAs(open + "/link/b/d", 4242, 4343, {}).ok());
  EXPECT_TRUE(std::filesystem::is_directory(open + "/a/b/d"));

  // Where that user may not write: EACCES and nothing made (root could have).
  auto denied = mkdirAllAs(base + "/x/y", 4242, 4343, {});
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code(), EACCES);
  // The errno's text once (Error::str() adds it; the message itself does not repeat it).
  const std::string text = denied.error().str();
  const std::string reason = std::strerror(EACCES);
  EXPECT_NE(text.find("as uid 4242:4343: " + reason), std::string::npos) << text;
  EXPECT_EQ(text.find(reason), text.rfind(reason)) << text;
  EXPECT_FALSE(std::filesystem::exists(base + "/x"));
  // Supplementary groups count: a group-writable directory of group 4444.
  const std::string grp = base + "/grp";
  ASSERT_EQ(::mkdir(grp.c_str(), 0775), 0);
  ASSERT_EQ(::chown(grp.c_str(), 0, 4444), 0);
  ASSERT_EQ(::chmod(grp.c_str(), 0775), 0);
  EXPECT_FALSE(mkdirAllAs(grp + "/n", 4242, 4343, {}).ok());
  EXPECT_TRUE(mkdirAllAs(grp + "/n", 4242, 4343, {4444}).ok());

  // A component that is a file; a relative path.
  std::ofstream(open + "/file") << "x";
  EXPECT_FALSE(mkdirAllAs(open + "/file/sub", 4242, 4343, {}).ok());
  auto rel = mkdirAllAs("relative/path", 4242, 4343, {});
  ASSERT_FALSE(rel.ok());
  EXPECT_EQ(rel.error().kind(), ErrorKind::kInvalidInput);
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace eci::sys
