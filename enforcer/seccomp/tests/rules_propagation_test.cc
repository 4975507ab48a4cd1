// The seccomp worker's rules (rules.h): propagation (shared, slave, peer groups) and detached
// clones.
#include <gtest/gtest.h>

#include "rules_fixture.h"

namespace eci::seccomp {
namespace {

using namespace eci::seccomp::testing;  // NOLINT(google-build-using-namespace): the fixture

TEST(MountInfo, PropagationGroupsAndBound) {
  auto r = parseMountInfo(
      "36 35 98:0 / /x rw shared:7 master:3 - ext3 /dev/root rw\n"
      "37 36 98:0 / /y rw - ext3 /dev/root rw\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].sharedGroup, 7u);
  EXPECT_EQ((*r)[0].masterGroup, 3u);
  EXPECT_EQ((*r)[1].sharedGroup, 0u);
  std::string big;
  for (size_t i = 0; i <= kMaxMountEntries; ++i)
    big += std::to_string(i + 2) + " 1 0:1 / /m" + std::to_string(i) + " rw - tmpfs t rw\n";
  auto over = parseMountInfo(big);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().kind(), ErrorKind::kTooLarge);
}

// mount --make-rshared /proc; mount --rbind /proc /mnt/p; umount -l /mnt/p: the unmount of the
// copy propagates into /proc's masks only if /proc is in a peer group, which is refused.
TEST_F(RulesTest, ProtectedMountsNeverBecomeShared) {
  for (const char* p : {"/", "/proc", "/sys", "/proc/sys", "/proc/kcore", "/proc/uptime"}) {
    EXPECT_EQ(mountCall(nullptr, p, nullptr, MS_SHARED).err, EPERM) << p;
    EXPECT_EQ(mountCall(nullptr, p, nullptr, MS_SHARED | MS_REC).err, EPERM) << p;
  }
  // A copy of /proc elsewhere is a proc tree: its masks are protected, so it stays private too.
  env.table.push_back(parse("700 500 0:60 / /mnt/p rw - proc proc rw\n")[0]);
  env.table.push_back(parse("701 700 0:70 / /mnt/p/uptime rw - fuse.eci-procfs eci rw\n")[0]);
  EXPECT_EQ(mountCall(nullptr, "/mnt/p", nullptr, MS_SHARED).err, EPERM);
  // The container's own mounts may be shared, but not recursively over a proc copy.
  env.table.push_back(parse("710 500 0:91 / /t rw - tmpfs t rw\n")[0]);
  env.table.push_back(parse("711 710 0:60 / /t/p rw - proc proc rw\n")[0]);
  EXPECT_EQ(mountCall(nullptr, "/t", nullptr, MS_SHARED).action, Action::kReplayMount);
  EXPECT_EQ(mountCall(nullptr, "/t", nullptr, MS_SHARED | MS_REC).err, EPERM);
  EXPECT_EQ(mountCall(nullptr, "/t/nomount", nullptr, MS_SHARED).err, EINVAL);
  // Cutting propagation is always fine (and race-free to CONTINUE).
  EXPECT_EQ(mountCall(nullptr, "/", nullptr, MS_REC | MS_PRIVATE).action, Action::kContinue);
  EXPECT_EQ(mountCall(nullptr, "/proc", nullptr, MS_REC | MS_SLAVE).action, Action::kContinue);
  EXPECT_EQ(mountCall(nullptr, "/proc", nullptr, MS_UNBINDABLE).action, Action::kContinue);
  env.sysAdmin = false;
  EXPECT_EQ(mountCall(nullptr, "/t", nullptr, MS_SHARED).err, EPERM);
}

TEST_F(RulesTest, MountSetattrPropagationAndSetGroup) {
  mount_attr a{};
  EXPECT_EQ(setattrCall("/proc", 0, 0).action, Action::kMountSetattr);
  // mount_setattr's propagation field is the same make-shared.
  FakeMemory mem;
  a.propagation = MS_SHARED;
  mem.strings[0x2000] = "/";
  mem.strings[0x5000] = std::string(reinterpret_cast<char*>(&a), sizeof(a));
  uint64_t args[6] = {static_cast<uint64_t>(AT_FDCWD), 0x2000, AT_RECURSIVE, 0x5000, sizeof(a), 0};
  decoded = decode(Call::kMountSetattr, args, mem);
  env.d = &decoded;
  EXPECT_EQ(decide(decoded, container, env).err, EPERM);
  env.table.push_back(parse("710 500 0:91 / /t rw - tmpfs t rw\n")[0]);
  mem.strings[0x2000] = "/t";
  decoded = decode(Call::kMountSetattr, args, mem);
  EXPECT_EQ(decide(decoded, container, env).action, Action::kMountSetattr);
  // Detached: cannot look inside.
  PathInfo detached;
  detached.attached = false;
  detached.major = 0;
  detached.minor = 91;
  env.overrides["/detached"] = detached;
  mem.strings[0x2000] = "/detached";
  decoded = decode(Call::kMountSetattr, args, mem);
  EXPECT_EQ(decide(decoded, container, env).err, EPERM);
  // move_mount(MOVE_MOUNT_SET_GROUP) puts the target in the source's peer group.
  mem.strings[0x2100] = "/t";
  mem.strings[0x2200] = "/proc";
  uint64_t mv[6] = {static_cast<uint64_t>(AT_FDCWD), 0x2100,
                    static_cast<uint64_t>(AT_FDCWD), 0x2200,
                    0x100 /*MOVE_MOUNT_SET_GROUP*/,  0};
  decoded = decode(Call::kMoveMount, mv, mem);
  EXPECT_EQ(decide(decoded, container, env).err, EPERM);
  env.table.push_back(parse("720 500 0:92 / /u rw - tmpfs u rw\n")[0]);
  mem.strings[0x2200] = "/u";
  decoded = decode(Call::kMoveMount, mv, mem);
  EXPECT_EQ(decide(decoded, container, env).action, Action::kMoveMount);
}

// A copy attached below a shared mount becomes shared with the copies the kernel propagates to
// the parent's peers: no proc/sysfs tree may be attached there.
TEST_F(RulesTest, NoProcCopyBelowASharedMount) {
  env.table.push_back(parse("710 500 0:91 / /t rw shared:9 - tmpfs t rw\n")[0]);
  EXPECT_EQ(mountCall("/proc", "/t/p", nullptr, MS_BIND | MS_REC).err, EPERM);
  EXPECT_EQ(mountCall("/", "/t/r", nullptr, MS_BIND | MS_REC).err, EPERM);  // holds /proc
  EXPECT_EQ(mountCall("proc", "/t/p", "proc", 0).err, EPERM);               // a masked clone
  // Plain binds of the container's own things and new file systems are fine there.
  EXPECT_EQ(mountCall("/etc", "/t/e", nullptr, MS_BIND).action, Action::kReplayMount);
  EXPECT_EQ(mountCall("/mnt", "/t/m", nullptr, MS_BIND | MS_REC).action, Action::kReplayMount);
  EXPECT_EQ(mountCall("none", "/t/x", "tmpfs", 0).action, Action::kReplayMount);
  // Moving a proc copy there, or attaching a detached tree with move_mount.
  env.table.push_back(parse("730 500 0:60 / /q rw - proc proc rw\n")[0]);
  EXPECT_EQ(mountCall("/q", "/t/q", nullptr, MS_MOVE).err, EPERM);
  PathInfo detached;
  detached.attached = false;
  env.overrides["/detached"] = detached;
  FakeMemory mem;
  mem.strings[0x2100] = "/detached";
  mem.strings[0x2200] = "/t/d";
  uint64_t mv[6] = {
      static_cast<uint64_t>(AT_FDCWD), 0x2100, static_cast<uint64_t>(AT_FDCWD), 0x2200, 0, 0};
  decoded = decode(Call::kMoveMount, mv, mem);
  env.d = &decoded;
  EXPECT_EQ(decide(decoded, container, env).err, EPERM);
  mem.strings[0x2200] = "/tmp/d";  // below a private mount: fine
  decoded = decode(Call::kMoveMount, mv, mem);
  EXPECT_EQ(decide(decoded, container, env).action, Action::kMoveMount);
}

// The row: open_tree(/t, CLONE|AT_RECURSIVE) of a tree holding an rbind of a ro volume,
// then mount_setattr(fd, "", AT_EMPTY_PATH|AT_RECURSIVE, clear RDONLY).
TEST_F(RulesTest, RecursiveRwOfADetachedCloneIsRefused) {
  PathInfo clone;  // the clone's root: the container's own tmpfs, not in any table
  clone.attached = false;
  clone.major = 0;
  clone.minor = 91;
  env.overrides["/clone"] = clone;
  EXPECT_EQ(setattrCall("/clone", 0, MOUNT_ATTR_RDONLY, AT_RECURSIVE).err, EPERM);
  // Non-recursive on the clone's own (free) root stays allowed; on an ro volume's device not.
  EXPECT_EQ(setattrCall("/clone", 0, MOUNT_ATTR_RDONLY).action, Action::kMountSetattr);
  // Attached: every submount is checked.
  env.table.push_back(parse("710 500 0:91 / /t rw - tmpfs t rw\n")[0]);
  env.table.push_back(parse("711 710 8:1 /home/u /t/d ro - ext4 /dev/sda1 rw\n")[0]);
  EXPECT_EQ(setattrCall("/t", 0, MOUNT_ATTR_RDONLY, AT_RECURSIVE).err, EPERM);
  EXPECT_EQ(setattrCall("/t", 0, MOUNT_ATTR_RDONLY).action, Action::kMountSetattr);
  EXPECT_EQ(mountCall(nullptr, "/t/d", nullptr, MS_REMOUNT | MS_BIND).err, EPERM);
}

}  // namespace
}  // namespace eci::seccomp
