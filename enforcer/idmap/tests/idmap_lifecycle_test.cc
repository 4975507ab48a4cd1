// eci_idmap against the real kernel: what a failure leaves (nothing), cleanup and rollback, the
// engine's own overlay and volumes next to ours, the container directory's modes, shared
// namespaces. Needs root; without it every test fails (never skips).
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

#include "eci/idmap/idmap.h"
#include "idmap_fixture.h"

namespace eci::idmap {
namespace {

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
  StartedContainer c = start("c9", /*mountRootfs=*/false);
  ASSERT_TRUE(c.ready);
  const EngineLayout& e = c.engine;
  auto& cfs = c.cfs;
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
  StartedContainer c = start("c10");
  ASSERT_TRUE(c.ready);
  const EngineLayout& e = c.engine;
  auto& layout = c.layout;
  const std::string& root = c.root;
  c.cfs->commit();

  // Engine first, without MNT_DETACH: not busy because of us.
  ASSERT_EQ(::umount2(e.merged.c_str(), 0), 0) << std::strerror(errno);
  ASSERT_EQ(::rmdir(e.merged.c_str()), 0) << std::strerror(errno);
  EXPECT_TRUE(fsys::exists(root + "/etc/root-file")) << "our overlay does not depend on theirs";
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
  StartedContainer c = start("c12");
  ASSERT_TRUE(c.ready);
  const EngineLayout& e = c.engine;
  auto& cfs = c.cfs;
  EXPECT_TRUE(fsys::is_directory(e.workDir + ".eci"));

  // etc/ exists only in a lower layer: the engine's write needs a copy-up through its work dir.
  ASSERT_NO_THROW(testing::writeFile(e.merged + "/etc/copied-in", "cp\n"));
  const std::string r = c.root;
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
