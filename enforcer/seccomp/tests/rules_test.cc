// The seccomp worker's rules (rules.h): mountinfo, remounts, unmounts, covers, new filesystems,
// fresh proc/sysfs trees, namespace files, the new mount API, and failing closed. Propagation is in
// rules_propagation_test.cc, set-id bits in rules_setid_test.cc.
#include <gtest/gtest.h>

#include "rules_fixture.h"

namespace eci::seccomp {
namespace {

using namespace eci::seccomp::testing;  // NOLINT(google-build-using-namespace): the fixture

TEST(MountInfo, ParsesEscapesAndOptionalFields) {
  auto r = parseMountInfo(
      "36 35 98:0 /mnt\\040dir /x\\134y rw,noatime master:1 shared:2 - ext3 /dev/root rw\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  const auto& e = (*r)[0];
  EXPECT_EQ(e.id, 36);
  EXPECT_EQ(e.parent, 35);
  EXPECT_EQ(e.major, 98u);
  EXPECT_EQ(e.root, "/mnt dir");
  EXPECT_EQ(e.mountPoint, "/x\\y");
  EXPECT_EQ(e.fstype, "ext3");
  EXPECT_FALSE(e.readOnly());
}

TEST(MountInfo, RejectsMalformedLinesWithTheirNumber) {
  auto r = parseMountInfo("1 0 0:1 / / rw - tmpfs t rw\n2 1 zz / /x rw - tmpfs t rw\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("line 2"), std::string::npos);
  EXPECT_FALSE(parseMountInfo("1 0 0:1 / / rw tmpfs t rw\n").ok());  // no separator
}

TEST_F(RulesTest, RemountRwOfInitialReadOnlyIsRefused) {
  auto d = mountCall("/mnt", "/mnt", nullptr, MS_REMOUNT);
  EXPECT_EQ(d.action, Action::kError);
  EXPECT_EQ(d.err, EPERM);
  // With the MS_MGC_VAL magic busybox and old callers add.
  EXPECT_EQ(mountCall(nullptr, "/mnt", nullptr, 0xC0ED0000 | MS_REMOUNT | MS_BIND).err, EPERM);
  // /sys (ro sysfs) and /proc/sys (ro bind of proc) too.
  EXPECT_EQ(mountCall(nullptr, "/sys", nullptr, MS_REMOUNT).err, EPERM);
  EXPECT_EQ(mountCall(nullptr, "/proc/sys", nullptr, MS_REMOUNT | MS_BIND).err, EPERM);
}

TEST_F(RulesTest, RemountReadOnlyContinues) {
  EXPECT_EQ(mountCall(nullptr, "/mnt", nullptr, MS_REMOUNT | MS_RDONLY).action, Action::kContinue);
  EXPECT_EQ(mountCall(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_BIND).action,
            Action::kContinue);
}

TEST_F(RulesTest, BindCopyOfReadOnlyStaysLocked) {
  // mount --bind /mnt /x: allowed (the copy keeps ro) ...
  env.table.push_back(parse("600 500 8:1 /home/u /x ro,relatime - ext4 /dev/sda1 rw\n")[0]);
  // ... but remount,bind,rw of the copy is matched to /mnt by device + root.
  auto d = mountCall(nullptr, "/x", nullptr, MS_REMOUNT | MS_BIND);
  EXPECT_EQ(d.err, EPERM) << d.reason;
  // A bind of a subdirectory of the ro volume too.
  env.table.push_back(parse("601 500 8:1 /home/u/sub /y ro - ext4 /dev/sda1 rw\n")[0]);
  EXPECT_EQ(mountCall(nullptr, "/y", nullptr, MS_REMOUNT).err, EPERM);
  // The rw volume nested below the ro one's root stays free (closest initial mount decides).
  env.table.push_back(parse("602 500 8:1 /home/u/rw /z ro - ext4 /dev/sda1 rw\n")[0]);
  EXPECT_EQ(mountCall(nullptr, "/z", nullptr, MS_REMOUNT).action, Action::kReplayMount);
}

TEST_F(RulesTest, CopiesInANewMountNamespaceAreLockedToo) {
  // unshare -m: new ids, same devices and roots.
  env.table = parse(
      "900 800 0:50 / / rw - overlay overlay rw\n"
      "904 900 8:1 /home/u /mnt ro - ext4 /dev/sda1 rw\n");
  EXPECT_EQ(mountCall(nullptr, "/mnt", nullptr, MS_REMOUNT).err, EPERM);
}

TEST_F(RulesTest, OwnMountsRemountFreely) {
  env.table.push_back(parse("610 500 0:90 / /root/tmpfs ro,relatime - tmpfs tmpfs ro\n")[0]);
  EXPECT_EQ(mountCall(nullptr, "/root/tmpfs", nullptr, MS_REMOUNT).action, Action::kReplayMount);
  EXPECT_EQ(mountCall(nullptr, "/root/tmpfs", nullptr, MS_REMOUNT | MS_RDONLY).action,
            Action::kContinue);
  EXPECT_EQ(umountCall("/root/tmpfs").action, Action::kUmount);
}

TEST_F(RulesTest, ProtectedMountsCannotBeUnmounted) {
  for (const char* p : {"/", "/proc", "/sys", "/proc/sys", "/proc/kcore", "/proc/uptime"}) {
    auto d = umountCall(p);
    EXPECT_EQ(d.action, Action::kError) << p;
    EXPECT_EQ(d.err, EPERM) << p;
  }
  EXPECT_EQ(umountCall("/proc", MNT_DETACH).err, EPERM);
  EXPECT_EQ(umountCall("/mnt").action, Action::kUmount);  // a volume may go (sysbox default)
  EXPECT_EQ(umountCall("/etc").err, EINVAL);              // not a mount point
  EXPECT_EQ(umountCall("/proc", 0x80).err, EINVAL);       // unknown flag
}

// Only the policy's own refusals reach the audit log; what the kernel would have answered the
// caller anyway (same errno) is answered without a record (Decision::audited).
TEST_F(RulesTest, OnlyThePolicysRefusalsAreAudited) {
  const Decision notMount = umountCall("/etc");
  EXPECT_EQ(notMount.err, EINVAL);
  EXPECT_FALSE(notMount.audited);
  EXPECT_NE(notMount.reason.find("/etc"), std::string::npos) << notMount.reason;
  for (int err : {ENOENT, ENOTDIR}) {
    PathInfo missing;
    missing.err = err;
    env.overrides["/gone"] = missing;
    const Decision d = umountCall("/gone");
    EXPECT_EQ(d.err, err);
    EXPECT_FALSE(d.audited) << d.reason;
  }
  // A walk that leaves the caller's root or meets a magic link is refused by eci: audited.
  for (int err : {EXDEV, ELOOP}) {
    PathInfo escaping;
    escaping.err = err;
    env.overrides["/esc"] = escaping;
    const Decision d = umountCall("/esc");
    EXPECT_EQ(d.action, Action::kError);
    EXPECT_TRUE(d.audited) << d.reason;
  }
  // A mount root the caller's table does not hold: not what the kernel would say; audited.
  PathInfo stray;
  stray.mountRoot = true;
  env.overrides["/stray"] = stray;
  const Decision strayD = umountCall("/stray");
  EXPECT_EQ(strayD.err, EINVAL);
  EXPECT_TRUE(strayD.audited);
  const Decision protectedD = umountCall("/proc");
  EXPECT_EQ(protectedD.err, EPERM);
  EXPECT_TRUE(protectedD.audited);
  EXPECT_TRUE(umountCall("/proc", 0x80).audited);  // unknown flag: eci's rule
}

TEST_F(RulesTest, ProtectedMountsCannotBeOvermountedOrMoved) {
  EXPECT_EQ(mountCall("tmpfs", "/proc", "tmpfs", 0).err, EPERM);
  EXPECT_EQ(mountCall("tmpfs", "/", "tmpfs", 0).err, EPERM);
  EXPECT_EQ(mountCall("/tmp", "/sys", nullptr, MS_BIND).err, EPERM);
  EXPECT_EQ(mountCall("/tmp", "/proc/uptime", nullptr, MS_BIND).err, EPERM);
  EXPECT_EQ(mountCall("/proc", "/x", nullptr, MS_MOVE).err, EPERM);
  // Stacking elsewhere is fine.
  EXPECT_EQ(mountCall("tmpfs", "/tmp/x", "tmpfs", 0).action, Action::kReplayMount);
}

// eci-runc binds the /proc/sys knobs after runc created the container, possibly after the
// snapshot of its mounts: known by type (fuse.eci), they are protected all the same.
TEST_F(RulesTest, EmulationMountsMadeAfterTheSnapshotAreProtected) {
  auto later = parse(
      "601 506 0:71 /kernel/panic /proc/sys/kernel/panic rw,nosuid - fuse.eci eci-procfs rw\n"
      "602 500 0:72 / /root/own rw - tmpfs own rw\n"
      "603 602 0:71 /kernel/panic /root/own/k rw,nosuid - fuse.eci eci-procfs rw\n");
  for (auto& m : later) env.table.push_back(m);
  EXPECT_EQ(umountCall("/proc/sys/kernel/panic").err, EPERM);
  EXPECT_EQ(umountCall("/proc/sys/kernel/panic", MNT_DETACH).err, EPERM);
  EXPECT_EQ(mountCall("/etc/hostname", "/proc/sys/kernel/panic", nullptr, MS_BIND).err, EPERM);
  // As for an initial emulation mount: a copy the container made outside /proc and /sys is its
  // own to remove, and so is a mount of its own made after the snapshot.
  EXPECT_EQ(umountCall("/root/own/k").action, Action::kUmount);
  EXPECT_EQ(umountCall("/root/own").action, Action::kUmount);
}

TEST_F(RulesTest, NewFilesystems) {
  EXPECT_EQ(mountCall("none", "/tmp/x", "tmpfs", 0, "size=1m").action, Action::kReplayMount);
  EXPECT_EQ(
      mountCall("overlay", "/tmp/x", "overlay", 0, "lowerdir=/a,upperdir=/b,workdir=/c").action,
      Action::kReplayMount);
  EXPECT_EQ(mountCall("/dev/sda1", "/tmp/x", "ext4", 0).err, EPERM);
  EXPECT_EQ(mountCall("x", "/tmp/x", "nfs", 0).err, EPERM);
  PathInfo blk;
  blk.blockDevice = true;
  env.overrides["/dev/loop0"] = blk;
  EXPECT_EQ(mountCall("/dev/loop0", "/tmp/x", "tmpfs", 0).err, EPERM);  // a block device source
  // proc and sysfs: served as masked clones of the container's own trees.
  EXPECT_EQ(mountCall("proc", "/tmp/p", "proc", 0).action, Action::kCloneTree);
  EXPECT_EQ(mountCall("sysfs", "/tmp/s", "sysfs", 0).action, Action::kCloneTree);
  // A nested pid (net) namespace gets a fresh superblock of its own with the masks on it.
  env.pidns = false;
  EXPECT_EQ(mountCall("proc", "/tmp/p", "proc", 0).action, Action::kFreshTree);
  EXPECT_EQ(mountCall("sysfs", "/tmp/s", "sysfs", 0).action, Action::kCloneTree);
  env.netns = false;
  EXPECT_EQ(mountCall("sysfs", "/tmp/s", "sysfs", MS_RDONLY).action, Action::kFreshTree);
  EXPECT_EQ(mountCall("none", "/tmp/x", nullptr, 0).err, EINVAL);
}

TEST_F(RulesTest, FreshTreesForNestedNamespaces) {
  env.pidns = env.netns = false;
  // Options that only narrow what proc shows pass; anything else is not passed on.
  EXPECT_EQ(mountCall("proc", "/tmp/p", "proc", 0, "hidepid=2,subset=pid").action,
            Action::kFreshTree);
  EXPECT_EQ(mountCall("proc", "/tmp/p", "proc", 0, "pidns=/proc/1/ns/pid").err, EINVAL);
  EXPECT_EQ(mountCall("proc", "/tmp/p", "proc", 0, "hidepid").err, EINVAL);
  EXPECT_EQ(mountCall("sysfs", "/tmp/s", "sysfs", 0, "gid=0").err, EINVAL);
  // In a mount namespace of its own it may cover the container's /proc (`unshare -pfm
  // --mount-proc`): masked on masked. Not in the first one, where the templates are.
  EXPECT_EQ(mountCall("proc", "/proc", "proc", 0).err, EPERM);
  EXPECT_EQ(mountCall("sysfs", "/sys", "sysfs", 0).err, EPERM);
  env.mntns = false;
  EXPECT_EQ(mountCall("proc", "/proc", "proc", 0).action, Action::kFreshTree);
  EXPECT_EQ(mountCall("sysfs", "/sys", "sysfs", 0).action, Action::kFreshTree);
  // There, covering anything reveals nothing; in the first namespace neither a mask, nor `/`,
  // nor a tree of the other type may be covered.
  EXPECT_EQ(mountCall("proc", "/proc/kcore", "proc", 0).action, Action::kFreshTree);
  env.mntns = true;
  EXPECT_EQ(mountCall("proc", "/proc/kcore", "proc", 0).err, EPERM);
  EXPECT_EQ(mountCall("proc", "/proc/uptime", "proc", 0).err, EPERM);
  EXPECT_EQ(mountCall("proc", "/", "proc", 0).err, EPERM);
  EXPECT_EQ(mountCall("proc", "/sys", "proc", 0).err, EPERM);
  // A clone (same namespace) still may not cover /proc.
  env.pidns = true;
  EXPECT_EQ(mountCall("proc", "/proc", "proc", 0).err, EPERM);
  EXPECT_EQ(mountCall("proc", "/tmp/p", "proc", 0).action, Action::kCloneTree);
}

// A fresh proc at /tmp/f (a superblock of its own, 0:99) with clones of the container's masks on
// it, as worker_fresh.cc builds it.
TEST_F(RulesTest, MasksOnAFreshTreeStayButMayBeCovered) {
  for (auto& m : parse("700 500 0:99 / /tmp/f rw - proc proc rw\n"
                       "701 700 0:5 /null /tmp/f/kcore rw,nosuid - devtmpfs udev rw\n"
                       "702 700 0:60 /sys /tmp/f/sys ro,nosuid - proc proc rw\n"
                       "703 700 0:70 / /tmp/f/uptime rw,nosuid - fuse.eci-procfs eci rw\n"
                       "704 702 0:71 /kernel/panic /tmp/f/sys/kernel/panic rw - fuse.eci eci rw\n"))
    env.table.push_back(m);
  EXPECT_TRUE(container.isFreshTree(env.table[env.table.size() - 5]));
  EXPECT_FALSE(container.isFreshTree(env.table[1]));  // the container's /proc
  // The masks cannot go, move or be bound without them.
  for (const char* p : {"/tmp/f/kcore", "/tmp/f/sys", "/tmp/f/uptime", "/tmp/f/sys/kernel/panic"})
    EXPECT_EQ(umountCall(p, MNT_DETACH).err, EPERM) << p;
  EXPECT_EQ(mountCall("/tmp/f/sys", "/x", nullptr, MS_MOVE).err, EPERM);
  EXPECT_EQ(mountCall("/tmp/f", "/tmp/q", nullptr, MS_BIND).err, EPERM);
  EXPECT_EQ(mountCall(nullptr, "/tmp/f/sys", nullptr, MS_REMOUNT | MS_BIND).err, EPERM);
  // What runc does in each container it starts: /dev/null or a read-only tmpfs over a mask, a
  // read-only path bound onto itself. Covering hides the mask and reveals nothing.
  EXPECT_EQ(mountCall("/dev/null", "/tmp/f/kcore", nullptr, MS_BIND).action, Action::kReplayMount);
  EXPECT_EQ(mountCall("tmpfs", "/tmp/f/uptime", "tmpfs", MS_RDONLY).action, Action::kReplayMount);
  EXPECT_EQ(mountCall("/tmp/f/sys", "/tmp/f/sys", nullptr, MS_BIND | MS_REC).action,
            Action::kReplayMount);
  // Deeper than the fresh tree's own masks (a knob inside the cloned /proc/sys), and the
  // container's own tree: still protected.
  EXPECT_EQ(mountCall("/dev/null", "/tmp/f/sys/kernel/panic", nullptr, MS_BIND).err, EPERM);
  EXPECT_EQ(mountCall("/dev/null", "/proc/kcore", nullptr, MS_BIND).err, EPERM);
  EXPECT_EQ(mountCall("tmpfs", "/proc/uptime", "tmpfs", 0).err, EPERM);
  // Unreadable table: no exception (fail closed).
  env.tableReadable = false;
  EXPECT_EQ(mountCall("/dev/null", "/tmp/f/kcore", nullptr, MS_BIND).err, EPERM);
}

// What runc does in the mount namespace of every container an inner runtime starts.
TEST_F(RulesTest, OutsideTheFirstNamespaceCoversAndWholeTreesMayGo) {
  EXPECT_EQ(mountCall("tmpfs", "/proc/uptime", "tmpfs", 0).err, EPERM);
  EXPECT_EQ(umountCall("/", MNT_DETACH).err, EPERM);
  env.mntns = false;
  // Covers (runc's maskedPaths, readonlyPaths, its cgroup tmpfs over a cloned /sys).
  EXPECT_EQ(mountCall("/dev/null", "/proc/kcore", nullptr, MS_BIND).action, Action::kReplayMount);
  EXPECT_EQ(mountCall("tmpfs", "/proc/uptime", "tmpfs", MS_RDONLY).action, Action::kReplayMount);
  EXPECT_EQ(mountCall("/proc/sys", "/proc/sys", nullptr, MS_BIND | MS_REC).action,
            Action::kReplayMount);
  // pivot_root's old root, /proc, /sys: lazily, whole.
  EXPECT_EQ(umountCall("/", MNT_DETACH).action, Action::kUmount);
  EXPECT_EQ(umountCall("/proc", MNT_DETACH).action, Action::kUmount);
  EXPECT_EQ(umountCall("/sys", MNT_DETACH).action, Action::kUmount);
  EXPECT_EQ(umountCall("/proc").err, EPERM);  // not lazily: refused (it would be EBUSY anyway)
  // Never a single mask, read-only path or emulation mount on a tree.
  for (const char* p : {"/proc/kcore", "/proc/uptime", "/proc/sys"})
    EXPECT_EQ(umountCall(p, MNT_DETACH).err, EPERM) << p;
  env.tableReadable = false;
  EXPECT_EQ(umountCall("/", MNT_DETACH).err, EPERM);  // cannot tell: refused
}

// cgroup2 is the container's own cgroup (made from its cgroup namespace); a v1 mount could be the
// host's whole hierarchy (the container is at the root of those it was not put in): refused.
TEST(NewFsTypes, Cgroup2ButNeverCgroupV1) {
  EXPECT_TRUE(isAllowedNewFsType("cgroup2"));
  EXPECT_TRUE(isAllowedNewFsType("mqueue"));
  EXPECT_FALSE(isAllowedNewFsType("cgroup"));
  EXPECT_FALSE(isAllowedNewFsType("cgroup1"));
  EXPECT_FALSE(isAllowedNewFsType("ext4"));
}

TEST(ProcNsPath, NamesOfNamespaceFiles) {
  auto p = procNsPath("/proc/self/ns/net");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pid, "self");
  EXPECT_EQ(p->task, "");
  EXPECT_EQ(p->ns, "net");
  p = procNsPath("/proc/42/task/43/ns/ipc");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pid, "42");
  EXPECT_EQ(p->task, "43");
  EXPECT_EQ(p->ns, "ipc");
  EXPECT_TRUE(procNsPath("/proc/thread-self/ns/pid_for_children"));
  EXPECT_TRUE(procNsPath("/proc/self/task/7/ns/net"));
  for (const char* bad :
       {"/proc/self/ns/", "/proc/self/ns/net/", "/proc/self/ns/bogus", "/proc/self/fd/3",
        "/proc/self/exe", "/proc/01/ns/net", "/proc/1/task/x/ns/net", "/proc/../1/ns/net",
        "/proc/self/ns/../ns/net", "/proc/thread-self/task/1/ns/net", "/proc//ns/net",
        "proc/self/ns/net", "/proc/self/root/proc/self/ns/net", "/proc/12345678901/ns/net"})
    EXPECT_FALSE(procNsPath(bad)) << bad;
}

TEST_F(RulesTest, NamespaceFilesMayBePinned) {
  PathInfo ns;
  ns.mountRoot = true;
  ns.nsFile = true;
  env.overrides["/proc/self/ns/net"] = ns;
  EXPECT_EQ(mountCall("/proc/self/ns/net", "/tmp/netns", nullptr, MS_BIND).action,
            Action::kReplayMount);
  // Below a shared mount too (`ip netns add` makes /run/netns shared): a file carries no tree.
  env.table.push_back(parse("600 500 0:90 / /run/netns rw shared:5 - tmpfs tmpfs rw\n")[0]);
  EXPECT_EQ(mountCall("/proc/self/ns/net", "/run/netns/x", nullptr, MS_BIND).action,
            Action::kReplayMount);
}

TEST(FreshTreeOptions, OnlyNarrowingProcOptions) {
  auto o = freshTreeOptions(true, "hidepid=invisible,,subset=pid,gid=5");
  ASSERT_TRUE(o);
  ASSERT_EQ(o->size(), 3u);
  EXPECT_EQ((*o)[0], std::make_pair(std::string("hidepid"), std::string("invisible")));
  EXPECT_EQ((*o)[2], std::make_pair(std::string("gid"), std::string("5")));
  EXPECT_TRUE(freshTreeOptions(true, "") && freshTreeOptions(true, "")->empty());
  EXPECT_TRUE(freshTreeOptions(false, "") && freshTreeOptions(false, "")->empty());
  EXPECT_FALSE(freshTreeOptions(false, "hidepid=2"));
  EXPECT_FALSE(freshTreeOptions(true, "hidepid="));
  EXPECT_FALSE(freshTreeOptions(true, "rw"));
  EXPECT_FALSE(freshTreeOptions(true, "pidns=3"));
}

TEST_F(RulesTest, MasksInsideAProcCloneStayProtected) {
  // After `mount -t proc proc /tmp/p` (a recursive clone): /tmp/p/kcore is a mask.
  env.table.push_back(parse("700 500 0:60 / /tmp/p rw - proc proc rw\n")[0]);
  env.table.push_back(parse("701 700 0:5 /null /tmp/p/kcore rw - devtmpfs udev rw\n")[0]);
  env.table.push_back(parse("702 700 0:60 /sys /tmp/p/sys ro - proc proc rw\n")[0]);
  EXPECT_EQ(umountCall("/tmp/p/kcore").err, EPERM);
  EXPECT_EQ(mountCall(nullptr, "/tmp/p/sys", nullptr, MS_REMOUNT | MS_BIND).err, EPERM);
  EXPECT_EQ(umountCall("/tmp/p", MNT_DETACH).action, Action::kUmount);  // the clone itself may go
  // Non-recursive binds of a proc tree would drop its masks.
  EXPECT_EQ(mountCall("/proc", "/tmp/q", nullptr, MS_BIND).err, EPERM);
  EXPECT_EQ(mountCall("/proc", "/tmp/q", nullptr, MS_BIND | MS_REC).action, Action::kReplayMount);
}

// A table that cannot be read (or has more than kMaxMountEntries mounts) is never "no mounts".
TEST_F(RulesTest, UnreadableTableFailsClosed) {
  env.table.push_back(parse("700 500 0:60 / /mnt/p rw - proc proc rw\n")[0]);
  env.table.push_back(parse("701 700 0:5 /null /mnt/p/kcore rw - devtmpfs udev rw\n")[0]);
  env.table.push_back(parse("710 500 0:91 / /t rw shared:9 - tmpfs t rw\n")[0]);
  env.tableReadable = false;
  EXPECT_EQ(umountCall("/mnt/p/kcore").err, EPERM);  // needs the parent: unknown = protected
  EXPECT_EQ(mountCall(nullptr, "/t", nullptr, MS_SHARED | MS_REC).err, EPERM);
  EXPECT_EQ(mountCall("/mnt", "/t/m", nullptr, MS_BIND | MS_REC).err, EPERM);
  EXPECT_EQ(setattrCall("/t", 0, MOUNT_ATTR_RDONLY, AT_RECURSIVE).err, EPERM);
  // Calls that never need the table are unaffected (the hot path).
  EXPECT_EQ(mountCall("none", "/tmp/x", "tmpfs", 0).action, Action::kReplayMount);
}

TEST_F(RulesTest, WithoutSysAdminNothingIsEmulated) {
  env.sysAdmin = false;
  EXPECT_EQ(mountCall("none", "/tmp/x", "tmpfs", 0).err, EPERM);
  EXPECT_EQ(umountCall("/mnt").err, EPERM);
  EXPECT_EQ(setattrCall("/tmp", 0, MOUNT_ATTR_RDONLY).err, EPERM);
}

TEST_F(RulesTest, MountSetattr) {
  EXPECT_EQ(setattrCall("/mnt", 0, MOUNT_ATTR_RDONLY).err, EPERM);
  EXPECT_EQ(setattrCall("/proc/sys", 0, MOUNT_ATTR_RDONLY).err, EPERM);
  EXPECT_EQ(setattrCall("/mnt", MOUNT_ATTR_RDONLY, 0).action, Action::kMountSetattr);
  EXPECT_EQ(setattrCall("/mnt", MOUNT_ATTR_NOSUID, 0).action, Action::kMountSetattr);
  EXPECT_EQ(setattrCall("/data", 0, MOUNT_ATTR_RDONLY).action, Action::kMountSetattr);
  EXPECT_EQ(setattrCall("/data", MOUNT_ATTR_IDMAP, 0).err, EPERM);
  // Recursive rw from / would unlock /mnt below it.
  EXPECT_EQ(setattrCall("/", 0, MOUNT_ATTR_RDONLY, AT_RECURSIVE).err, EPERM);
  // A detached clone of the ro volume (not in the table): locked by device.
  PathInfo detached;
  detached.attached = false;
  detached.major = 8;
  detached.minor = 1;
  env.overrides["/detached"] = detached;
  EXPECT_EQ(setattrCall("/detached", 0, MOUNT_ATTR_RDONLY).err, EPERM);
}

TEST_F(RulesTest, NewMountApi) {
  FakeMemory mem;
  mem.strings[0x1000] = "tmpfs";
  mem.strings[0x1100] = "proc";
  mem.strings[0x1200] = "ext4";
  mem.strings[0x2000] = "/proc";
  mem.strings[0x2100] = "/tmp/own";
  auto run = [&](Call c, std::initializer_list<uint64_t> a) {
    uint64_t args[6] = {};
    size_t i = 0;
    for (auto v : a) args[i++] = v;
    decoded = decode(c, args, mem);
    env.d = &decoded;
    return decide(decoded, container, env);
  };
  EXPECT_EQ(run(Call::kFsopen, {0x1000, 0}).action, Action::kFsopen);
  EXPECT_EQ(run(Call::kFsopen, {0x1100, 0}).err, EPERM);
  EXPECT_EQ(run(Call::kFsopen, {0x1200, 0}).err, EPERM);
  EXPECT_EQ(run(Call::kFsconfig, {3, 0, 0, 0, 0}).action, Action::kContinue);
  EXPECT_EQ(run(Call::kFsmount, {3, 0, 0}).action, Action::kContinue);
  EXPECT_EQ(run(Call::kOpenTree, {static_cast<uint64_t>(AT_FDCWD), 0x2000, 0}).action,
            Action::kContinue);
  EXPECT_EQ(run(Call::kOpenTree, {static_cast<uint64_t>(AT_FDCWD), 0x2100, OPEN_TREE_CLONE}).err,
            EPERM);
  EXPECT_EQ(run(Call::kOpenTree, {static_cast<uint64_t>(AT_FDCWD), 0x2000, OPEN_TREE_CLONE}).err,
            EPERM);
  EXPECT_EQ(run(Call::kOpenTree,
                {static_cast<uint64_t>(AT_FDCWD), 0x2000, OPEN_TREE_CLONE | AT_RECURSIVE})
                .action,
            Action::kContinue);
  EXPECT_EQ(run(Call::kFspick, {static_cast<uint64_t>(AT_FDCWD), 0x2000, 0}).err, EPERM);
  // move_mount of /proc away, and onto /proc.
  EXPECT_EQ(run(Call::kMoveMount, {static_cast<uint64_t>(AT_FDCWD), 0x2000,
                                   static_cast<uint64_t>(AT_FDCWD), 0x2100, 0})
                .err,
            EPERM);
  EXPECT_EQ(run(Call::kMoveMount, {static_cast<uint64_t>(AT_FDCWD), 0x2100,
                                   static_cast<uint64_t>(AT_FDCWD), 0x2000, 0})
                .err,
            EPERM);
}

TEST_F(RulesTest, GarbageIsRefusedNotCrashed) {
  FakeMemory mem;  // nothing readable
  for (Call c : {Call::kMount, Call::kUmount2, Call::kFsopen, Call::kMoveMount, Call::kOpenTree,
                 Call::kMountSetattr, Call::kFspick}) {
    uint64_t args[6] = {0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef};
    decoded = decode(c, args, mem);
    env.d = &decoded;
    auto d = decide(decoded, container, env);
    EXPECT_EQ(d.action, Action::kError) << callName(c);
    EXPECT_EQ(d.err, EFAULT) << callName(c);
    uint64_t zero[6] = {};
    decoded = decode(c, zero, mem);
    d = decide(decoded, container, env);
    EXPECT_NE(d.action, Action::kReplayMount) << callName(c);
  }
  EXPECT_EQ(decide(decode(Call::kUnknown, decoded.args, mem), container, env).err, EPERM);
}

TEST_F(RulesTest, UnterminatedStringIsUnreadable) {
  FakeMemory mem;
  mem.strings[0x2000] = std::string(kMaxPath, 'a');  // no NUL within PATH_MAX
  uint64_t args[6] = {0, 0x2000, 0, MS_REMOUNT, 0, 0};
  decoded = decode(Call::kMount, args, mem);
  EXPECT_TRUE(decoded.badPointer);
}
// runc mounts onto a target it pinned as /proc/self/fd/<n>; the worker takes the caller's fd.
TEST(ProcSelfFd, OnlyTheCallersOwnFdPaths) {
  EXPECT_EQ(procSelfFd("/proc/self/fd/6"), 6);
  EXPECT_EQ(procSelfFd("/proc/thread-self/fd/0"), 0);
  EXPECT_EQ(procSelfFd("/proc/self/fd/2147483647"), 2147483647);
  for (const char* other :
       {"/proc/self/fd/", "/proc/self/fd/06", "/proc/self/fd/6/x", "/proc/self/fd/-1",
        "/proc/self/fd/2147483648", "/proc/self/fd/99999999999", "/proc/1/fd/6", "proc/self/fd/6",
        "/proc/self/root/etc", "/proc/self/fdx/6", "/proc//self/fd/6", "/mnt/proc/self/fd/6"}) {
    EXPECT_FALSE(procSelfFd(other).has_value()) << other;
  }
}

}  // namespace
}  // namespace eci::seccomp
