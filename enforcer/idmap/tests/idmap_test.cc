// eci_idmap against the real kernel: user namespaces, ID-mapped clones, overlayfs over them.
// Needs root; without it every test fails (never skips). Failure, rollback, cleanup and the
// engine's side are in idmap_lifecycle_test.cc.
#include "eci/idmap/idmap.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "../src/internal.h"
#include "idmap_fixture.h"

namespace eci::idmap {
namespace {

// ---- pure parsing ------------------------------------------------------------------------------

TEST(LayoutTest, RefusesIdsThatCouldEscape) {
  EXPECT_TRUE(Layout::make("/run/eci/idmap", "abc123").ok());
  for (const char* bad : {"", ".", "..", "a/b", "../x", "a b", "x\n"}) {
    EXPECT_FALSE(Layout::make("/run/eci/idmap", bad).ok()) << bad;
  }
  EXPECT_FALSE(Layout::make("relative", "abc").ok());
  EXPECT_FALSE(Layout::make("/run/../etc", "abc").ok());
  auto l = Layout::make("/run//eci/idmap/", "c1");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->rootfsPath(), "/run/eci/idmap/c1/rootfs");
  EXPECT_EQ(l->usernsPath(), "/run/eci/idmap/c1/userns");
}

TEST(CallerMapTest, OneIdToContainerRootTheRestToItselfBesideTheRange) {
  const IdRange r{100000, 65536};
  EXPECT_EQ(detail::callerMapText(1000, r),
            "1000 100000 1\n0 0 1000\n1001 1001 98999\n165536 165536 4294801759\n");
  EXPECT_EQ(detail::callerMapText(0, r), "0 100000 1\n1 1 99999\n165536 165536 4294801759\n");
  // An id above the range, one inside it, the last id there is.
  EXPECT_EQ(detail::callerMapText(200000, r),
            "200000 100000 1\n0 0 100000\n165536 165536 34464\n200001 200001 4294767294\n");
  EXPECT_EQ(detail::callerMapText(100005, r),
            "100005 100000 1\n0 0 100000\n165536 165536 4294801759\n");
  EXPECT_EQ(detail::callerMapText(4294967294u, r),
            "4294967294 100000 1\n0 0 100000\n165536 165536 4294801758\n");
}

TEST(OverlayOptionsTest, ParsesEngineOptions) {
  auto o = parseOverlayOptions(
      "rw,lowerdir=/d/l/A:/d/l/B,upperdir=/d/c/diff,workdir=/d/c/work,index=off,xino=off");
  ASSERT_TRUE(o.ok()) << o.error().str();
  EXPECT_EQ(o->lowerDirs, (std::vector<std::string>{"/d/l/A", "/d/l/B"}));
  EXPECT_EQ(o->upperDir, "/d/c/diff");
  EXPECT_EQ(o->workDir, "/d/c/work");
  EXPECT_EQ(o->extra, (std::vector<std::string>{"index=off", "xino=off"}));
}

TEST(OverlayOptionsTest, DecodesEscapesAndResolvesRelativeLayers) {
  auto o = parseOverlayOptions("lowerdir=l/A\\072x:l/B\\:y,upperdir=c\\040d/diff,workdir=c/work",
                               "/var/lib/docker/overlay2");
  ASSERT_TRUE(o.ok()) << o.error().str();
  EXPECT_EQ(o->lowerDirs, (std::vector<std::string>{"/var/lib/docker/overlay2/l/A:x",
                                                    "/var/lib/docker/overlay2/l/B:y"}));
  EXPECT_EQ(o->upperDir, "/var/lib/docker/overlay2/c d/diff");
}

TEST(OverlayOptionsTest, RefusesWhatItCannotReproduce) {
  EXPECT_FALSE(parseOverlayOptions("lowerdir=l/A,upperdir=/u,workdir=/w").ok());  // relative
  EXPECT_FALSE(parseOverlayOptions("upperdir=/u,workdir=/w").ok());               // no lower
  EXPECT_FALSE(parseOverlayOptions("lowerdir=/a,upperdir=/u").ok());              // no work
  EXPECT_FALSE(parseOverlayOptions("lowerdir=/a,userxattr").ok());
  EXPECT_FALSE(parseOverlayOptions("lowerdir=/a::/b").ok());  // data-only layers
  EXPECT_FALSE(parseOverlayOptions("lowerdir=/a/../etc").ok());
  auto ro = parseOverlayOptions("lowerdir=/a:/b");
  ASSERT_TRUE(ro.ok());
  EXPECT_TRUE(ro->upperDir.empty());
}

// ---- kernel ------------------------------------------------------------------------------------

TEST_F(IdmapTest, UserNamespaceIsPinnedAndUnpinned) {
  ASSERT_EQ(::mkdir(runDir().c_str(), 0711), 0);
  const std::string pin = runDir() + "/ns";
  {
    auto ns = UserNamespace::create(pin, kRange, {200000, 1000});
    ASSERT_TRUE(ns.ok()) << ns.error().str();
    EXPECT_TRUE(testing::isMounted(pin));
    // The holder is gone; the namespace lives on through the pin.
    auto fd = ::open(pin.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const std::string maps = testing::runAsNamespaceRoot(fd, [] {
      return testing::readFileOr("/proc/self/uid_map") + "|" +
             testing::readFileOr("/proc/self/gid_map");
    });
    ::close(fd);
    EXPECT_EQ(maps, "         0     100000      65536\n|         0     200000       1000\n");
  }
  EXPECT_FALSE(testing::isMounted(pin));
  EXPECT_FALSE(fsys::exists(pin));
}

TEST_F(IdmapTest, CommittedNamespaceSurvivesItsObject) {
  ASSERT_EQ(::mkdir(runDir().c_str(), 0711), 0);
  const std::string pin = runDir() + "/ns";
  {
    auto ns = UserNamespace::create(pin, kRange, kRange);
    ASSERT_TRUE(ns.ok()) << ns.error().str();
    ns->commit();
  }
  EXPECT_TRUE(testing::isMounted(pin));
  ASSERT_EQ(::umount2(pin.c_str(), MNT_DETACH), 0);
}

TEST_F(IdmapTest, OverlayOptionsAtReadsTheEngineMount) {
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  auto o = overlayOptionsAt(e.merged);
  ASSERT_TRUE(o.ok()) << o.error().str();
  EXPECT_EQ(o->lowerDirs, (std::vector<std::string>{e.lower1, e.lower0}));
  EXPECT_EQ(o->upperDir, e.upperDir);
  EXPECT_EQ(o->workDir, e.workDir);
  EXPECT_FALSE(overlayOptionsAt(tmp_.path()).ok());  // not a mount point
}

TEST_F(IdmapTest, RootfsKeepsOwnersInsideAndWritesLandAsZero) {
  StartedContainer c = start("c1");
  ASSERT_TRUE(c.ready);
  const EngineLayout& e = c.engine;
  auto& layout = c.layout;
  auto& cfs = c.cfs;
  const std::string r = c.root;
  EXPECT_EQ(r, layout->rootfsPath());

  // Host view: the range.
  EXPECT_EQ(testing::owner(r + "/etc/root-file"), "100000:100000");
  EXPECT_EQ(testing::owner(r + "/etc/user-file"), "101000:101000");

  const std::string failures = testing::runAsNamespaceRoot(cfs->userns().fd(), [&]() {
    std::string f;
    if (statUid(r + "/etc/root-file") != "0")
      f += "root-file uid " + statUid(r + "/etc/root-file") + "; ";
    if (statUid(r + "/etc/user-file") != "1000")
      f += "user-file uid " + statUid(r + "/etc/user-file") + "; ";
    // Copy-up of a root-owned lower file, a new file, a new dir, a whiteout.
    {
      std::ofstream out(r + "/etc/root-file", std::ios::app);
      out << "more\n";
      if (!out) f += "append root-file failed; ";
    }
    {
      std::ofstream out(r + "/new-file");
      out << "new\n";
      if (!out) f += "create new-file failed; ";
    }
    if (::mkdir((r + "/new-dir").c_str(), 0755) != 0)
      f += std::string("mkdir: ") + std::strerror(errno) + "; ";
    if (::unlink((r + "/etc/user-file").c_str()) != 0)
      f += std::string("unlink: ") + std::strerror(errno) + "; ";
    if (::chown((r + "/new-file").c_str(), 1000, 1000) != 0)
      f += std::string("chown: ") + std::strerror(errno) + "; ";
    // The engine's opaque dir and whiteout (trusted.overlay.* in a lower layer) are honoured.
    if (fsys::exists(r + "/opq/old")) f += "opaque dir leaks lower content; ";
    if (!fsys::exists(r + "/opq/new")) f += "opq/new missing; ";
    if (fsys::exists(r + "/gone/old")) f += "whiteout ignored; ";
    return f;
  });
  EXPECT_EQ(failures, "");

  // On disk, in the engine's upper dir: 0-65535.
  EXPECT_EQ(testing::owner(e.upperDir + "/etc/root-file"), "0:0");
  EXPECT_EQ(testing::readFileOr(e.upperDir + "/etc/root-file"), "root\nmore\n");
  EXPECT_EQ(testing::owner(e.upperDir + "/new-file"), "1000:1000");
  EXPECT_EQ(testing::owner(e.upperDir + "/new-dir"), "0:0");
  struct stat wh {};
  ASSERT_EQ(::lstat((e.upperDir + "/etc/user-file").c_str(), &wh), 0);
  EXPECT_TRUE(S_ISCHR(wh.st_mode) && wh.st_rdev == makedev(0, 0)) << "whiteout expected";
  // Lower layers untouched.
  EXPECT_EQ(testing::readFileOr(e.lower0 + "/etc/root-file"), "root\n");
  EXPECT_EQ(testing::owner(e.lower0 + "/etc/user-file"), "1000:1000");

  cfs->commit();
  ASSERT_TRUE(cleanup(*layout).ok());
  auto left = mountsUnder(layout->containerDir());
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  EXPECT_FALSE(fsys::exists(layout->containerDir()));
  EXPECT_TRUE(testing::isMounted(e.merged)) << "the engine's own overlay must stay";
}

TEST_F(IdmapTest, BindShowsHostOwnersAndWritesLandAsZero) {
  const std::string vol = tmp_.path() + "/vol";
  ASSERT_EQ(::mkdir(vol.c_str(), 0755), 0);
  testing::writeFile(vol + "/by-root", "r\n");
  testing::writeFile(vol + "/by-1234", "u\n", 1234, 1234);
  testing::writeFile(tmp_.path() + "/hostname", "box\n");
  auto layout = Layout::make(runDir(), "c2");
  ASSERT_TRUE(layout.ok());
  std::optional<Result<ContainerFs>> holder(ContainerFs::begin(*layout, kRange, kRange));
  auto& cfs = *holder;
  ASSERT_TRUE(cfs.ok()) << cfs.error().str();
  auto b = cfs->addBind(vol);
  ASSERT_TRUE(b.ok()) << b.error().str();
  EXPECT_TRUE(b->idmapped);
  EXPECT_EQ(b->resolvedSource, vol);
  const std::string t = b->mount.path();
  EXPECT_EQ(t, layout->bindsDir() + "/0");
  auto f = cfs->addBind(tmp_.path() + "/hostname");
  ASSERT_TRUE(f.ok()) << f.error().str();
  const std::string tf = f->mount.path();

  const std::string failures = testing::runAsNamespaceRoot(cfs->userns().fd(), [&]() {
    std::string out;
    if (statUid(t + "/by-root") != "0") out += "by-root " + statUid(t + "/by-root") + "; ";
    if (statUid(t + "/by-1234") != "1234") out += "by-1234 " + statUid(t + "/by-1234") + "; ";
    std::ofstream w(t + "/written");
    w << "x";
    w.close();
    if (!w) out += "write failed; ";
    if (statUid(tf) != "0") out += "file bind uid " + statUid(tf) + "; ";
    if (testing::readFileOr(tf) != "box\n") out += "file bind content; ";
    return out;
  });
  EXPECT_EQ(failures, "");
  EXPECT_EQ(testing::owner(vol + "/written"), "0:0");

  // Undone on destruction (not committed).
  holder.reset();
  EXPECT_FALSE(fsys::exists(layout->containerDir()));
  EXPECT_EQ(testing::owner(vol + "/by-1234"), "1234:1234");
}

TEST_F(IdmapTest, CallerMappedBindActsWithTheCallersRights) {
  // Contract 4: container root acts on the bind as uid 1234 / gid 4321, and on anyone else's files
  // as "other", exactly as uid 1234 would on the host.
  const std::string share = tmp_.path() + "/share";
  ASSERT_EQ(::mkdir(share.c_str(), 0755), 0);
  ASSERT_EQ(::chown(share.c_str(), 1234, 4321), 0);
  testing::writeFile(share + "/mine", "m\n", 1234, 4321);
  ASSERT_EQ(::chmod((share + "/mine").c_str(), 0600), 0);
  testing::writeFile(share + "/roots", "r\n");
  ASSERT_EQ(::chmod((share + "/roots").c_str(), 0600), 0);
  const std::string rootDir = share + "/rootdir";
  ASSERT_EQ(::mkdir(rootDir.c_str(), 0755), 0);
  // Root's world-writable directory and file: writable for uid 1234 on the host, so for the
  // container too. Root's sticky directory holds files of root and of a third user (5555).
  const std::string openDir = share + "/open";
  ASSERT_EQ(::mkdir(openDir.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(openDir.c_str(), 0777), 0);  // past the umask
  testing::writeFile(share + "/shared", "s\n");
  ASSERT_EQ(::chmod((share + "/shared").c_str(), 0666), 0);
  const std::string sticky = share + "/sticky";
  ASSERT_EQ(::mkdir(sticky.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(sticky.c_str(), 01777), 0);
  testing::writeFile(sticky + "/roots", "r\n");
  ASSERT_EQ(::chmod((sticky + "/roots").c_str(), 0666), 0);
  testing::writeFile(sticky + "/third", "t\n", 5555, 5555);
  ASSERT_EQ(::chmod((sticky + "/third").c_str(), 0666), 0);
  auto layout = Layout::make(runDir(), "c8");
  ASSERT_TRUE(layout.ok());
  auto cfs = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(cfs.ok()) << cfs.error().str();
  auto ns = callerMapping(kRange, 1234, 4321);
  ASSERT_TRUE(ns.ok()) << ns.error().str();
  auto b = cfs->addBind(share, BindOptions{.allowPlain = false, .usernsFd = ns->get()});
  ASSERT_TRUE(b.ok()) << b.error().str();
  const std::string t = b->mount.path();
  const std::string failures = testing::runAsNamespaceRoot(cfs->userns().fd(), [&]() {
    std::string out;
    if (statUid(t + "/mine") != "0") out += "mine shows as " + statUid(t + "/mine") + "; ";
    if (testing::readFileOr(t + "/mine") != "m\n") out += "cannot read own file; ";
    if (testing::readFileOr(t + "/roots", "<denied>") != "<denied>") out += "read root's 0600; ";
    std::ofstream w(t + "/written");
    w << "x";
    w.close();
    if (!w) out += "write failed; ";
    std::ofstream w2(t + "/rootdir/nope");
    w2 << "x";
    w2.close();
    if (w2) out += "wrote into root's 0755 dir; ";
    // Container root is the caller here: chown to it changes nothing on disk; to any other id
    // (unmapped on this mount) it fails.
    if (::chown((t + "/written").c_str(), 0, 0) != 0) out += "chown to self failed; ";
    if (::chown((t + "/written").c_str(), 1, 1) == 0) out += "chown to another id worked; ";
    // What uid 1234 may do with root's files, and no more.
    std::ofstream w3(t + "/open/made");
    w3 << "x";
    w3.close();
    if (!w3) out += "cannot write into root's 0777 dir; ";
    std::ofstream w4(t + "/shared", std::ios::app);
    w4 << "y";
    w4.close();
    if (!w4) out += "cannot append to root's 0666 file; ";
    if (::chmod((t + "/shared").c_str(), 04666) == 0) out += "made root's file set-id; ";
    if (::chown((t + "/shared").c_str(), 0, 0) == 0) out += "took root's file; ";
    if (::unlink((t + "/sticky/roots").c_str()) == 0)
      out += "removed root's file from a sticky dir; ";
    if (::unlink((t + "/sticky/third").c_str()) == 0) out += "removed a third user's file; ";
    if (statUid(t + "/open/made") != "0") out += "new file shows as " + statUid(t + "/open/made");
    return out;
  });
  EXPECT_EQ(failures, "");
  EXPECT_EQ(testing::owner(share + "/written"), "1234:4321");
  EXPECT_FALSE(fsys::exists(rootDir + "/nope"));
  EXPECT_EQ(testing::owner(openDir + "/made"), "1234:4321");
  EXPECT_EQ(testing::readFileOr(share + "/shared"), "s\ny");
  EXPECT_EQ(testing::owner(share + "/shared"), "0:0");
  EXPECT_TRUE(fsys::exists(sticky + "/roots"));
  EXPECT_TRUE(fsys::exists(sticky + "/third"));
}

TEST_F(IdmapTest, RecursiveBindKeepsSubmountsIdMappedAndLeavesOutExcluded) {
  // Issue 12 item 5: an rbind source's submounts are part of it.
  const std::string vol = tmp_.path() + "/rvol";
  ASSERT_EQ(::mkdir(vol.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((vol + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((vol + "/hidden").c_str(), 0755), 0);
  ASSERT_EQ(::mount("tmpfs", (vol + "/sub").c_str(), "tmpfs", 0, "mode=0755"), 0);
  ASSERT_EQ(::mount("tmpfs", (vol + "/hidden").c_str(), "tmpfs", 0, "mode=0755"), 0);
  testing::writeFile(vol + "/sub/by-1234", "u\n", 1234, 1234);
  testing::writeFile(vol + "/hidden/secret", "s\n");
  auto layout = Layout::make(runDir(), "crb");
  ASSERT_TRUE(layout.ok());
  {
    auto cfs = ContainerFs::begin(*layout, kRange, kRange);
    ASSERT_TRUE(cfs.ok()) << cfs.error().str();
    auto plain = cfs->addBind(vol);
    ASSERT_TRUE(plain.ok()) << plain.error().str();
    EXPECT_FALSE(fsys::exists(plain->mount.path() + "/sub/by-1234")) << "bind is not recursive";
    BindOptions o;
    o.recursive = true;
    o.excludeUnder = {vol + "/hidden"};
    auto b = cfs->addBind(vol, o);
    ASSERT_TRUE(b.ok()) << b.error().str();
    const std::string t = b->mount.path();
    EXPECT_FALSE(fsys::exists(t + "/hidden/secret")) << "an excluded submount showed through";
    const std::string failures = testing::runAsNamespaceRoot(cfs->userns().fd(), [&]() {
      std::string out;
      if (statUid(t + "/sub/by-1234") != "1234") out += "sub uid " + statUid(t + "/sub/by-1234");
      return out;
    });
    EXPECT_EQ(failures, "") << "the submount must be ID-mapped too";
  }
  auto left = mountsUnder(layout->containerDir());
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty()) << "rolled back with its submounts";
  ::umount2((vol + "/sub").c_str(), MNT_DETACH);
  ::umount2((vol + "/hidden").c_str(), MNT_DETACH);
}

TEST_F(IdmapTest, BindOfAnOverlayPathSaysWhyAndCanFallBack) {
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  auto layout = Layout::make(runDir(), "c3");
  ASSERT_TRUE(layout.ok());
  auto cfs = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(cfs.ok()) << cfs.error().str();
  auto b = cfs->addBind(e.merged + "/etc");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code(), EINVAL);
  EXPECT_NE(b.error().str().find("overlay filesystem"), std::string::npos) << b.error().str();
  EXPECT_FALSE(fsys::exists(layout->bindsDir() + "/0"));

  auto plain = cfs->addBind(e.merged + "/etc", {.allowPlain = true});
  ASSERT_TRUE(plain.ok()) << plain.error().str();
  EXPECT_FALSE(plain->idmapped);
  EXPECT_TRUE(testing::isMounted(plain->mount.path()));
}

TEST_F(IdmapTest, BindResolvesSymlinksAtOpen) {
  const std::string real = tmp_.path() + "/real";
  ASSERT_EQ(::mkdir(real.c_str(), 0755), 0);
  ASSERT_EQ(::symlink(real.c_str(), (tmp_.path() + "/link").c_str()), 0);
  auto layout = Layout::make(runDir(), "c4");
  ASSERT_TRUE(layout.ok());
  auto cfs = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(cfs.ok()) << cfs.error().str();
  auto b = cfs->addBind(tmp_.path() + "/link");
  ASSERT_TRUE(b.ok()) << b.error().str();
  EXPECT_EQ(b->resolvedSource, real);
}

}  // namespace
}  // namespace eci::idmap
