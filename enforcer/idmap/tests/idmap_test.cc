// eci_idmap against the real kernel: user namespaces, ID-mapped clones, overlayfs over them.
// Needs root; without it every test fails (never skips).
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

#include "test_util.h"

namespace eci::idmap {
namespace {

using testing::EngineLayout;
using testing::TempDir;
namespace fsys = std::filesystem;

constexpr IdRange kRange{100000, 65536};

std::string statUid(const std::string& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return std::string("error: ") + std::strerror(errno);
  return std::to_string(st.st_uid);
}

class IdmapTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::geteuid(), 0u) << "these tests need root"; }
  TempDir tmp_;
  std::string runDir() const { return tmp_.path() + "/run"; }
};

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
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  auto layout = Layout::make(runDir(), "c1");
  ASSERT_TRUE(layout.ok());
  auto cfs = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(cfs.ok()) << cfs.error().str();
  auto opts = overlayOptionsAt(e.merged);
  ASSERT_TRUE(opts.ok()) << opts.error().str();
  auto root = cfs->mountRootfs(*opts);
  ASSERT_TRUE(root.ok()) << root.error().str();
  const std::string r = *root;
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
  // Contract 4: container root acts on the bind as uid 1234 / gid 4321, nothing else is mapped.
  const std::string share = tmp_.path() + "/share";
  ASSERT_EQ(::mkdir(share.c_str(), 0755), 0);
  ASSERT_EQ(::chown(share.c_str(), 1234, 4321), 0);
  testing::writeFile(share + "/mine", "m\n", 1234, 4321);
  ASSERT_EQ(::chmod((share + "/mine").c_str(), 0600), 0);
  testing::writeFile(share + "/roots", "r\n");
  ASSERT_EQ(::chmod((share + "/roots").c_str(), 0600), 0);
  const std::string rootDir = share + "/rootdir";
  ASSERT_EQ(::mkdir(rootDir.c_str(), 0755), 0);
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
    return out;
  });
  EXPECT_EQ(failures, "");
  EXPECT_EQ(testing::owner(share + "/written"), "1234:4321");
  EXPECT_FALSE(fsys::exists(rootDir + "/nope"));
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

TEST_F(IdmapTest, FailureMidwayLeavesNothing) {
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  const std::string vol = tmp_.path() + "/vol";
  ASSERT_EQ(::mkdir(vol.c_str(), 0755), 0);
  auto layout = Layout::make(runDir(), "c5");
  ASSERT_TRUE(layout.ok());
  {
    auto cfs = ContainerFs::begin(*layout, kRange, kRange);
    ASSERT_TRUE(cfs.ok()) << cfs.error().str();
    ASSERT_TRUE(cfs->addBind(vol).ok());
    // The second lower layer is the engine's overlay itself: overlayfs refuses to be ID-mapped,
    // after the first layer was already cloned.
    auto opts = overlayOptionsAt(e.merged);
    ASSERT_TRUE(opts.ok());
    opts->lowerDirs.insert(opts->lowerDirs.begin() + 1, e.merged);
    auto root = cfs->mountRootfs(*opts);
    ASSERT_FALSE(root.ok());
    EXPECT_EQ(root.error().code(), EINVAL) << root.error().str();
    // A missing layer fails too.
    opts->lowerDirs[1] = tmp_.path() + "/missing";
    EXPECT_FALSE(cfs->mountRootfs(*opts).ok());
    EXPECT_TRUE(testing::isMounted(layout->usernsPath()));
  }
  auto left = mountsUnder(tmp_.path() + "/run");
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty()) << left->front();
  EXPECT_FALSE(fsys::exists(layout->containerDir()));
  EXPECT_TRUE(testing::isMounted(e.merged));
}

TEST_F(IdmapTest, BeginRefusesLeftoverStateAndKeepsIt) {
  auto layout = Layout::make(runDir(), "c6");
  ASSERT_TRUE(layout.ok());
  auto first = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(first.ok());
  first->commit();
  auto second = ContainerFs::begin(*layout, {165536, 65536}, {165536, 65536});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), EEXIST);
  EXPECT_TRUE(testing::isMounted(layout->usernsPath())) << "the failed begin removed live state";
  EXPECT_TRUE(cleanup(*layout).ok());
  EXPECT_TRUE(cleanup(*layout).ok()) << "cleanup is idempotent";
  EXPECT_FALSE(fsys::exists(layout->containerDir()));
}

TEST_F(IdmapTest, CleanupTakesEverythingOfACommittedContainer) {
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  const std::string vol = tmp_.path() + "/vol";
  ASSERT_EQ(::mkdir(vol.c_str(), 0755), 0);
  testing::writeFile(vol + "/keep", "data\n");
  auto layout = Layout::make(runDir(), "c7");
  ASSERT_TRUE(layout.ok());
  {
    auto cfs = ContainerFs::begin(*layout, kRange, kRange);
    ASSERT_TRUE(cfs.ok());
    auto opts = overlayOptionsAt(e.merged);
    ASSERT_TRUE(opts.ok());
    ASSERT_TRUE(cfs->mountRootfs(*opts).ok());
    ASSERT_TRUE(cfs->addBind(vol).ok());
    ASSERT_TRUE(cfs->addBind(vol).ok());
    cfs->commit();
  }
  auto before = mountsUnder(layout->containerDir());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->size(), 4u);  // userns pin, rootfs, two binds
  ASSERT_TRUE(cleanup(*layout).ok());
  auto after = mountsUnder(layout->containerDir());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  EXPECT_FALSE(fsys::exists(layout->containerDir()));
  EXPECT_EQ(testing::readFileOr(vol + "/keep"), "data\n") << "cleanup must not touch bind data";
}

TEST_F(IdmapTest, RootfsUnderAnUnsearchableDirIsRefusedWithTheReason) {
  const std::string closed = tmp_.path() + "/closed";
  ASSERT_EQ(::mkdir(closed.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(closed.c_str(), 0700), 0);
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  auto layout = Layout::make(closed + "/run", "c8");
  ASSERT_TRUE(layout.ok());
  auto cfs = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(cfs.ok());
  auto opts = overlayOptionsAt(e.merged);
  ASSERT_TRUE(opts.ok());
  auto root = cfs->mountRootfs(*opts);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.error().kind(), ErrorKind::kDenied);
  EXPECT_NE(root.error().str().find(closed), std::string::npos) << root.error().str();
}

TEST_F(IdmapTest, ReadOnlyOverlayWithoutUpper) {
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  auto layout = Layout::make(runDir(), "c9");
  ASSERT_TRUE(layout.ok());
  auto cfs = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(cfs.ok());
  OverlayOptions o;
  o.lowerDirs = {e.lower1, e.lower0};
  auto root = cfs->mountRootfs(o);
  ASSERT_TRUE(root.ok()) << root.error().str();
  EXPECT_EQ(testing::owner(*root + "/etc/root-file"), "100000:100000");
  EXPECT_FALSE(fsys::exists(*root + "/opq/old"));
}

// The engine keeps its own overlay and tears it down on its own schedule (Docker: one
// umount2(merged) + rmdir; containerd: unmount <bundle>/rootfs until EINVAL), before or after
// eci-runc's delete; neither side blocks the other, and the layer dirs can go afterwards.
TEST_F(IdmapTest, EngineTearsDownItsOverlayIndependently) {
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  auto layout = Layout::make(runDir(), "c10");
  ASSERT_TRUE(layout.ok());
  auto cfs = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(cfs.ok());
  auto opts = overlayOptionsAt(e.merged);
  ASSERT_TRUE(opts.ok());
  auto root = cfs->mountRootfs(*opts);
  ASSERT_TRUE(root.ok()) << root.error().str();
  cfs->commit();

  // Engine first, without MNT_DETACH: not busy because of us.
  ASSERT_EQ(::umount2(e.merged.c_str(), 0), 0) << std::strerror(errno);
  ASSERT_EQ(::rmdir(e.merged.c_str()), 0) << std::strerror(errno);
  EXPECT_TRUE(fsys::exists(*root + "/etc/root-file")) << "our overlay does not depend on theirs";
  auto mounts = mountsUnder(layout->containerDir());
  ASSERT_TRUE(mounts.ok());
  EXPECT_EQ(mounts->size(), 2u);

  ASSERT_TRUE(cleanup(*layout).ok());
  std::error_code ec;
  fsys::remove_all(e.dataRoot + "/U", ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(fsys::exists(layout->containerDir()));
}

TEST_F(IdmapTest, BadRangeOrMissingBindSourceLeavesNothing) {
  auto layout = Layout::make(runDir(), "c11");
  ASSERT_TRUE(layout.ok());
  auto bad = ContainerFs::begin(*layout, {0xffff0000u, 65536u * 2}, kRange);
  ASSERT_FALSE(bad.ok());
  EXPECT_FALSE(fsys::exists(layout->containerDir()));
  auto empty = ContainerFs::begin(*layout, kRange, {100000, 0});
  ASSERT_FALSE(empty.ok());
  EXPECT_FALSE(fsys::exists(layout->containerDir()));

  auto cfs = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(cfs.ok());
  auto b = cfs->addBind(tmp_.path() + "/does-not-exist");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code(), ENOENT);
  EXPECT_NE(b.error().str().find("does-not-exist"), std::string::npos) << b.error().str();
  auto left = mountsUnder(layout->bindsDir());
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  std::error_code ec;
  EXPECT_TRUE(fsys::is_empty(layout->bindsDir(), ec));
}

TEST(SearchableTest, NamesTheFirstClosedDirectory) {
  EXPECT_TRUE(checkSearchableBy("/", 100000, 100000).ok());
  EXPECT_TRUE(checkSearchableBy("/usr/bin", 100000, 100000).ok());
  TempDir t;
  const std::string closed = t.path() + "/a";
  ASSERT_EQ(::mkdir(closed.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(closed.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((closed + "/b").c_str(), 0755), 0);
  auto st = checkSearchableBy(closed + "/b", 100000, 100000);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().str().find("'" + closed + "' (mode 0700, 0:0)"), std::string::npos)
      << st.error().str();
  // Group search for the range's root group only.
  ASSERT_EQ(::chown(closed.c_str(), 0, 100000), 0);
  ASSERT_EQ(::chmod(closed.c_str(), 0710), 0);
  EXPECT_TRUE(checkSearchableBy(closed + "/b", 100000, 100000).ok());
  EXPECT_FALSE(checkSearchableBy(closed + "/b", 165536, 165536).ok());
  EXPECT_FALSE(checkSearchableBy("relative", 0, 0).ok());
}

// `docker cp` writes as host root through the engine's overlay. Both overlays share the upper dir
// but not the work dir (overlayfs empties its work dir at mount, which used to break the engine's
// copy-ups with ENOENT), so the engine's copy-up works and the file shows as root inside.
TEST_F(IdmapTest, EngineOverlayKeepsWorkingWhileOursIsMounted) {
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  auto layout = Layout::make(runDir(), "c12");
  ASSERT_TRUE(layout.ok());
  auto cfs = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(cfs.ok());
  auto opts = overlayOptionsAt(e.merged);
  ASSERT_TRUE(opts.ok());
  auto root = cfs->mountRootfs(*opts);
  ASSERT_TRUE(root.ok()) << root.error().str();
  EXPECT_TRUE(fsys::is_directory(e.workDir + ".eci"));

  // etc/ exists only in a lower layer: the engine's write needs a copy-up through its work dir.
  ASSERT_NO_THROW(testing::writeFile(e.merged + "/etc/copied-in", "cp\n"));
  const std::string r = *root;
  const std::string failures = testing::runAsNamespaceRoot(cfs->userns().fd(), [&] {
    if (testing::readFileOr(r + "/etc/copied-in") != "cp\n") return std::string("not visible");
    return statUid(r + "/etc/copied-in") == "0" ? std::string()
                                                : "uid " + statUid(r + "/etc/copied-in");
  });
  EXPECT_EQ(failures, "");
  // And the container's own copy-ups keep working next to it.
  EXPECT_EQ(testing::runAsNamespaceRoot(cfs->userns().fd(),
                                        [&] {
                                          std::ofstream(r + "/etc/root-file", std::ios::app) << "x";
                                          return testing::readFileOr(r + "/etc/root-file") ==
                                                         "root\nx"
                                                     ? std::string()
                                                     : std::string("copy-up in ours failed");
                                        }),
            "");
}

// A named volume written by one container is read and written by the next one, which has a
// different range: on disk it is 0-65535, not either range.
TEST_F(IdmapTest, VolumeIsSharedAcrossRanges) {
  const std::string vol = tmp_.path() + "/volume";
  ASSERT_EQ(::mkdir(vol.c_str(), 0755), 0);
  auto la = Layout::make(runDir(), "a");
  auto lb = Layout::make(runDir(), "b");
  ASSERT_TRUE(la.ok() && lb.ok());
  auto a = ContainerFs::begin(*la, kRange, kRange);
  auto b = ContainerFs::begin(*lb, {165536, 65536}, {165536, 65536});
  ASSERT_TRUE(a.ok() && b.ok());
  auto va = a->addBind(vol);
  auto vb = b->addBind(vol);
  ASSERT_TRUE(va.ok() && vb.ok());
  const std::string pa = va->mount.path(), pb = vb->mount.path();
  EXPECT_EQ(testing::runAsNamespaceRoot(a->userns().fd(),
                                        [&] {
                                          std::ofstream(pa + "/f") << "from a\n";
                                          return ::chmod((pa + "/f").c_str(), 0600) == 0
                                                     ? std::string()
                                                     : std::string("chmod failed");
                                        }),
            "");
  EXPECT_EQ(testing::owner(vol + "/f"), "0:0");
  EXPECT_EQ(testing::runAsNamespaceRoot(b->userns().fd(),
                                        [&] {
                                          if (statUid(pb + "/f") != "0")
                                            return "uid " + statUid(pb + "/f");
                                          std::ofstream(pb + "/f", std::ios::app) << "from b\n";
                                          return testing::readFileOr(pb + "/f") ==
                                                         "from a\nfrom b\n"
                                                     ? std::string()
                                                     : std::string("b could not read+append");
                                        }),
            "");
  EXPECT_EQ(testing::owner(vol + "/f"), "0:0");
  auto ids = listContainerIds(runDir());
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<std::string>{"a", "b"}));
}

// Sockets (an allowlisted engine socket) and device nodes come in too: a socket on an ID-mappable
// filesystem is ID-mapped; /dev/null (devtmpfs cannot be ID-mapped) falls back to a plain bind.
TEST_F(IdmapTest, BindsOfSocketsAndDeviceNodes) {
  const std::string sock = tmp_.path() + "/s.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto layout = Layout::make(runDir(), "c13");
  ASSERT_TRUE(layout.ok());
  auto cfs = ContainerFs::begin(*layout, kRange, kRange);
  ASSERT_TRUE(cfs.ok());
  auto s = cfs->addBind(sock);
  ::close(fd);
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_TRUE(s->idmapped);
  struct stat st {};
  ASSERT_EQ(::lstat(s->mount.path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_uid, 100000u);

  auto dev = cfs->addBind("/dev/null", {.allowPlain = true});
  ASSERT_TRUE(dev.ok()) << dev.error().str();
  ASSERT_EQ(::lstat(dev->mount.path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

// A create that got everything mounted but whose runc step failed: dropping the uncommitted
// ContainerFs undoes it all.
TEST_F(IdmapTest, UncommittedSuccessIsRolledBack) {
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  auto layout = Layout::make(runDir(), "c14");
  ASSERT_TRUE(layout.ok());
  {
    auto cfs = ContainerFs::begin(*layout, kRange, kRange);
    ASSERT_TRUE(cfs.ok());
    auto opts = overlayOptionsAt(e.merged);
    ASSERT_TRUE(opts.ok());
    ASSERT_TRUE(cfs->mountRootfs(*opts).ok());
    ASSERT_TRUE(cfs->addBind(tmp_.path()).ok());
    std::optional<ContainerFs> moved;
    moved.emplace(std::move(*cfs));  // as eci-runc holds it
    auto m = mountsUnder(layout->containerDir());
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->size(), 3u);
  }
  auto m = mountsUnder(layout->containerDir());
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->empty());
  EXPECT_FALSE(fsys::exists(layout->containerDir()));
  EXPECT_TRUE(testing::isMounted(e.merged));
}

// The container's directory lets its own root through (runc's init) and nobody else: not a host
// user, not the root of another container.
TEST_F(IdmapTest, ContainerDirIsClosedToOthers) {
  EngineLayout e = testing::makeEngineLayout(tmp_.path());
  auto la = Layout::make(runDir(), "own");
  auto lb = Layout::make(runDir(), "other");
  ASSERT_TRUE(la.ok() && lb.ok());
  auto a = ContainerFs::begin(*la, kRange, kRange);
  auto b = ContainerFs::begin(*lb, {165536, 65536}, {165536, 65536});
  ASSERT_TRUE(a.ok() && b.ok());
  auto opts = overlayOptionsAt(e.merged);
  ASSERT_TRUE(opts.ok());
  auto root = a->mountRootfs(*opts);
  ASSERT_TRUE(root.ok()) << root.error().str();
  EXPECT_EQ(testing::owner(la->containerDir()), "0:100000");
  const std::string file = *root + "/etc/root-file";
  EXPECT_EQ(testing::runAsNamespaceRoot(a->userns().fd(),
                                        [&] {
                                          return testing::readFileOr(file) == "root\n"
                                                     ? std::string()
                                                     : std::string("own root cannot read");
                                        }),
            "");
  EXPECT_EQ(testing::runAsNamespaceRoot(b->userns().fd(),
                                        [&] {
                                          return ::access(file.c_str(), F_OK) != 0 &&
                                                         errno == EACCES
                                                     ? std::string()
                                                     : std::string("other container got in");
                                        }),
            "");
  // A host user (uid 1000, no capabilities).
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(1000, 1000, 1000) != 0 ||
        ::setresuid(1000, 1000, 1000) != 0) {
      _exit(2);
    }
    _exit(::access(file.c_str(), F_OK) != 0 && errno == EACCES ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a host user got in";
}

// --pid/--ipc/--network container:X: the second container lives in X's user namespace (same
// ranges, own pin), so runc can join X's namespaces; each pin lives independently.
TEST_F(IdmapTest, SharedNamespaceForContainerModes) {
  auto lx = Layout::make(runDir(), "x");
  auto ly = Layout::make(runDir(), "y");
  ASSERT_TRUE(lx.ok() && ly.ok());
  auto x = ContainerFs::begin(*lx, {165536, 65536}, {231072, 65536});
  ASSERT_TRUE(x.ok());
  auto y = ContainerFs::beginShared(*ly, lx->usernsPath());
  ASSERT_TRUE(y.ok()) << y.error().str();
  EXPECT_EQ(y->userns().uids().hostStart, 165536u);
  EXPECT_EQ(y->userns().uids().size, 65536u);
  EXPECT_EQ(y->userns().gids().hostStart, 231072u);
  EXPECT_EQ(testing::owner(ly->containerDir()), "0:231072");
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(lx->usernsPath().c_str(), &a), 0);
  ASSERT_EQ(::stat(ly->usernsPath().c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "not the same namespace";
  x->commit();
  ASSERT_TRUE(cleanup(*lx).ok());
  EXPECT_TRUE(testing::isMounted(ly->usernsPath())) << "y's pin must outlive x";

  // Not a user namespace: refused.
  auto lz = Layout::make(runDir(), "z");
  ASSERT_TRUE(lz.ok());
  auto z = ContainerFs::beginShared(*lz, "/proc/self/ns/net");
  ASSERT_FALSE(z.ok());
  EXPECT_FALSE(fsys::exists(lz->containerDir()));
}

}  // namespace
}  // namespace eci::idmap
