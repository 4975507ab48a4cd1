// End to end through Debian's runc (/usr/sbin/runc, 1.1.5): the container joins the pinned user
// namespace by path (with the mappings runc requires alongside), its rootfs is the ID-mapped
// overlay over a Docker-like layer layout, and a host directory comes in as an ID-mapped bind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "eci/idmap/idmap.h"
#include "idmap_fixture.h"

namespace eci::idmap {
namespace {

constexpr const char* kRunc = "/usr/sbin/runc";

nlohmann::json spec(const std::string& rootfs, const UserNamespace& ns,
                    const std::vector<std::string>& args) {
  nlohmann::json s = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", args},
        {"env", {"PATH=/bin"}},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID", "CAP_SETGID"}},
          {"effective",
           {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID", "CAP_SETGID"}},
          {"permitted",
           {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID", "CAP_SETGID"}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", rootfs}, {"readonly", false}}},
      {"hostname", "idmap-e2e"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}}}},
      {"linux",
       {{"namespaces",
         {{{"type", "pid"}},
          {{"type", "ipc"}},
          {{"type", "uts"}},
          {{"type", "mount"}},
          {{"type", "network"}},
          {{"type", "user"}, {"path", ns.path()}}}},
        {"uidMappings",
         {{{"containerID", 0}, {"hostID", ns.uids().hostStart}, {"size", ns.uids().size}}}},
        {"gidMappings",
         {{{"containerID", 0}, {"hostID", ns.gids().hostStart}, {"size", ns.gids().size}}}}}}};
  return s;
}

TEST(RuncE2E, ContainerRunsInPinnedNamespaceOnIdmappedRootfs) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root";
  ASSERT_TRUE(fsys::exists(kRunc)) << kRunc << " missing (Debian package runc)";
  ASSERT_TRUE(fsys::exists("/bin/busybox")) << "/bin/busybox missing (busybox-static)";

  testing::TempDir tmp;
  StartedContainer c =
      startContainer(tmp.path(), tmp.path() + "/run", "e2e1", /*withBusybox=*/true);
  ASSERT_TRUE(c.ready);
  const testing::EngineLayout& e = c.engine;
  auto& layout = c.layout;
  auto& cfs = c.cfs;
  const std::string vol = tmp.path() + "/vol";
  ASSERT_EQ(::mkdir(vol.c_str(), 0755), 0);
  testing::writeFile(vol + "/by-1234", "u\n", 1234, 1234);
  auto bind = cfs->addBind(vol);
  ASSERT_TRUE(bind.ok()) << bind.error().str();

  const std::string bundle = tmp.path() + "/bundle";
  ASSERT_EQ(::mkdir(bundle.c_str(), 0711), 0);
  nlohmann::json s = spec(
      c.root, cfs->userns(),
      {"sh", "-c",
       "cat /proc/self/uid_map; stat -c 'busybox=%u' /bin/busybox; stat -c 'user-file=%u' "
       "/etc/user-file; stat -c 'vol=%u' /vol/by-1234; echo hi > /written && stat -c 'written=%u' "
       "/written; echo v > /vol/from-container; id -u"});
  s["mounts"].push_back({{"destination", "/vol"},
                         {"type", "bind"},
                         {"source", bind->mount.path()},
                         {"options", {"rbind", "rw"}}});
  std::ofstream(bundle + "/config.json") << s.dump(1);

  const std::string state = tmp.path() + "/runc-state";
  std::string out;
  const int rc = testing::run(std::string(kRunc) + " --root " + state + " run --bundle " + bundle +
                                  " idmap-e2e-1 </dev/null",
                              &out);
  ASSERT_EQ(rc, 0) << out;
  std::cout << "container output:\n" << out;
  EXPECT_NE(out.find("         0     100000      65536"), std::string::npos) << out;
  EXPECT_NE(out.find("busybox=0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("user-file=1000\n"), std::string::npos) << out;
  EXPECT_NE(out.find("vol=1234\n"), std::string::npos) << out;
  EXPECT_NE(out.find("written=0\n"), std::string::npos) << out;

  // On disk: the engine's upper dir and the volume got 0, not 100000.
  EXPECT_EQ(testing::owner(e.upperDir + "/written"), "0:0");
  EXPECT_EQ(testing::readFileOr(e.upperDir + "/written"), "hi\n");
  EXPECT_EQ(testing::owner(vol + "/from-container"), "0:0");
  // The engine still sees the container's writes through its own overlay (docker cp/diff path).
  EXPECT_EQ(testing::readFileOr(e.merged + "/written"), "hi\n");

  cfs->commit();
  testing::run(std::string(kRunc) + " --root " + state + " delete -f idmap-e2e-1");
  ASSERT_TRUE(cleanup(*layout).ok());
  auto left = mountsUnder(layout->runDir());
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  EXPECT_FALSE(fsys::exists(layout->containerDir()));
  EXPECT_TRUE(testing::isMounted(e.merged));
}

// runc 1.1.5 refuses a user namespace path without mappings: eci-runc must always send both.
TEST(RuncE2E, RuncNeedsMappingsWithANamespacePath) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root";
  testing::TempDir tmp;
  StartedContainer c =
      startContainer(tmp.path(), tmp.path() + "/run", "e2e2", /*withBusybox=*/true);
  ASSERT_TRUE(c.ready);
  const std::string bundle = tmp.path() + "/bundle";
  ASSERT_EQ(::mkdir(bundle.c_str(), 0711), 0);
  nlohmann::json s = spec(c.root, c.cfs->userns(), {"true"});
  s["linux"].erase("uidMappings");
  s["linux"].erase("gidMappings");
  std::ofstream(bundle + "/config.json") << s.dump(1);
  std::string out;
  const int rc = testing::run(std::string(kRunc) + " --root " + tmp.path() +
                                  "/state run --bundle " + bundle + " idmap-e2e-2 </dev/null",
                              &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("no uid mappings found"), std::string::npos) << out;
}

// docker run --pid container:X: runc can only join X's pid namespace from inside X's user
// namespace. With a namespace of its own (another range) runc fails; with beginShared it works.
TEST(RuncE2E, PidContainerModeNeedsTheOwnersUserNamespace) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root";
  testing::TempDir tmp;
  testing::EngineLayout e = testing::makeEngineLayout(tmp.path(), /*withBusybox=*/true);
  const std::string runc = std::string(kRunc) + " --root " + tmp.path() + "/state ";
  auto lx = Layout::make(tmp.path() + "/run", "x");
  ASSERT_TRUE(lx.ok());
  auto x = ContainerFs::begin(*lx, {100000, 65536}, {100000, 65536});
  ASSERT_TRUE(x.ok()) << x.error().str();
  auto opts = overlayOptionsAt(e.merged);
  ASSERT_TRUE(opts.ok());
  auto xroot = x->mountRootfs(*opts);
  ASSERT_TRUE(xroot.ok()) << xroot.error().str();
  const std::string bx = tmp.path() + "/bx";
  ASSERT_EQ(::mkdir(bx.c_str(), 0711), 0);
  std::ofstream(bx + "/config.json")
      << spec(*xroot, x->userns(), {"busybox", "sleep", "100"}).dump();
  std::string out;
  ASSERT_EQ(testing::run(runc + "run -d --bundle " + bx + " idmap-x </dev/null >" + tmp.path() +
                             "/x.out; rc=$?; cat " + tmp.path() + "/x.out; exit $rc",
                         &out),
            0)
      << out;
  ASSERT_EQ(testing::run(runc + "state idmap-x", &out), 0) << out;
  const int xpid = nlohmann::json::parse(out, nullptr, false).value("pid", 0);
  ASSERT_GT(xpid, 0) << out;
  const std::string pidns = "/proc/" + std::to_string(xpid) + "/ns/pid";

  // The second container's rootfs: the image's layers, read-only.
  OverlayOptions ro;
  ro.lowerDirs = opts->lowerDirs;
  auto runY = [&](ContainerFs& y, const std::string& name) {
    auto root = y.mountRootfs(ro);
    if (!root.ok()) return "mount: " + root.error().str();
    const std::string by = tmp.path() + "/b" + name;
    ::mkdir(by.c_str(), 0711);
    nlohmann::json s = spec(*root, y.userns(), {"sh", "-c", "cat /proc/1/cmdline; echo"});
    s["root"]["readonly"] = true;
    for (auto& n : s["linux"]["namespaces"]) {
      if (n["type"] == "pid") n["path"] = pidns;
    }
    std::ofstream(by + "/config.json") << s.dump();
    std::string o;
    const int rc = testing::run(runc + "run --bundle " + by + " idmap-" + name + " </dev/null", &o);
    return "rc=" + std::to_string(rc) + " " + o;
  };

  {
    auto ly = Layout::make(tmp.path() + "/run", "own");
    ASSERT_TRUE(ly.ok());
    auto y = ContainerFs::begin(*ly, {165536, 65536}, {165536, 65536});
    ASSERT_TRUE(y.ok());
    const std::string r = runY(*y, "own");
    EXPECT_EQ(r.rfind("rc=0", 0), std::string::npos) << "joined a foreign pid ns: " << r;
    testing::run(runc + "delete -f idmap-own");
  }
  {
    auto ly = Layout::make(tmp.path() + "/run", "shared");
    ASSERT_TRUE(ly.ok());
    auto y = ContainerFs::beginShared(*ly, lx->usernsPath());
    ASSERT_TRUE(y.ok()) << y.error().str();
    const std::string r = runY(*y, "shared");
    EXPECT_EQ(r.rfind("rc=0", 0), 0u) << r;
    EXPECT_NE(r.find("sleep"), std::string::npos) << "does not see X's pid 1: " << r;
  }
  testing::run(runc + "delete -f idmap-x");
  x->commit();
  ASSERT_TRUE(cleanup(*lx).ok());
  auto left = mountsUnder(tmp.path() + "/run");
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

}  // namespace
}  // namespace eci::idmap
