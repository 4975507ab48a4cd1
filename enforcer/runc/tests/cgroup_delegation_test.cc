// Which cgroup directories and files a --privileged container gets (cgroup_delegation.h), from
// fixtures of /proc/<pid>/cgroup and the host's mountinfo; and the chown on a real directory.
#include "cgroup_delegation.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace eci::runc {
namespace {

// A hybrid host as this project's CI machine: v1 controllers, name=systemd, unified v2.
constexpr const char* kMountInfo =
    "25 1 0:22 / / rw - ext4 /dev/vda rw\n"
    "30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    "32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "34 30 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "35 30 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    // A bind of a sub-cgroup elsewhere must not be taken for the hierarchy.
    "36 25 0:30 /docker /mnt/mem rw - cgroup cgroup rw,memory\n";

std::vector<MountEntry> mounts() {
  auto t = parseMountInfo(kMountInfo);
  EXPECT_TRUE(t.ok());
  return t.ok() ? *t : std::vector<MountEntry>{};
}

TEST(CgroupDelegation, EachMountedHierarchyGivesTheContainersDirectoryAndProcessFiles) {
  const std::string procCgroup =
      "12:pids:/docker/abc\n"
      "4:memory:/docker/abc\n"
      "3:cpu,cpuacct:/docker/abc\n"
      "2:blkio:/docker/abc\n"  // not mounted on this host: skipped
      "1:name=systemd:/docker/abc\n"
      "0::/docker/abc\n";
  auto t = delegationTargets(procCgroup, mounts());
  ASSERT_TRUE(t.ok()) << t.error().str();
  ASSERT_EQ(t->size(), 5u);
  EXPECT_EQ((*t)[0].dir, "/sys/fs/cgroup/pids/docker/abc");
  EXPECT_EQ((*t)[1].dir, "/sys/fs/cgroup/memory/docker/abc");
  EXPECT_EQ((*t)[2].dir, "/sys/fs/cgroup/cpu,cpuacct/docker/abc");
  EXPECT_EQ((*t)[3].dir, "/sys/fs/cgroup/systemd/docker/abc");
  EXPECT_EQ((*t)[4].dir, "/sys/fs/cgroup/unified/docker/abc");
  // v1: only the files that move processes; v2: those and the controller switch. Never a limit.
  EXPECT_EQ((*t)[1].files, (std::vector<std::string>{"cgroup.procs", "tasks"}));
  EXPECT_EQ((*t)[4].files,
            (std::vector<std::string>{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}));
  for (const auto& d : *t) {
    for (const auto& f : d.files) {
      EXPECT_EQ(f.find("limit"), std::string::npos);
      EXPECT_EQ(f.find("max"), std::string::npos);
      EXPECT_NE(f, "release_agent");
    }
  }
}

// A unified (cgroup v2) host: cgroup2 at /sys/fs/cgroup, no v1 mount. As e2e_cgroup2 runs it
// (tests/e2e/cgroup2_test.sh), the init still lists the v1 hierarchies the kernel has, bound
// elsewhere or nowhere: they are not mounted here and get nothing.
TEST(CgroupDelegation, UnifiedHostGivesTheV2DirectoryAndItsThreeDelegationFiles) {
  auto table = parseMountInfo(
      "25 1 0:22 / / rw - ext4 /dev/vda rw\n"
      "52 25 0:38 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n");
  ASSERT_TRUE(table.ok());
  const std::string procCgroup =
      "9:name=systemd:/\n"
      "4:memory:/process_api/adc0\n"
      "0::/eci-e2e-cg2-1/abc\n";
  auto t = delegationTargets(procCgroup, *table);
  ASSERT_TRUE(t.ok()) << t.error().str();
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].dir, "/sys/fs/cgroup/eci-e2e-cg2-1/abc");
  // Exactly the kernel's delegation files (cgroup-v2.rst "Delegation Containment"): never
  // cgroup.max.depth/descendants, cgroup.freeze, cgroup.kill, cgroup.type or a controller's file.
  EXPECT_EQ((*t)[0].files,
            (std::vector<std::string>{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}));
  // systemd's cgroup driver: a scope below a slice, the same three files.
  auto scope = delegationTargets("0::/system.slice/docker-abc.scope\n", *table);
  ASSERT_TRUE(scope.ok());
  ASSERT_EQ(scope->size(), 1u);
  EXPECT_EQ((*scope)[0].dir, "/sys/fs/cgroup/system.slice/docker-abc.scope");
  // A process in the v2 root (a host process): nothing.
  auto root = delegationTargets("0::/\n", *table);
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->empty());
  // A cgroup2 bind of a sub-cgroup (root not "/") is not the hierarchy: its path would be shifted.
  auto bound = parseMountInfo("52 25 0:38 /docker /mnt/cg rw - cgroup2 cgroup2 rw\n");
  ASSERT_TRUE(bound.ok());
  auto none = delegationTargets("0::/docker/abc\n", *bound);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(CgroupDelegation, NeverAHierarchysRootNeverAPartialControllerMatch) {
  // A process in the root cgroup (a host process): nothing to delegate.
  auto root = delegationTargets("4:memory:/\n0::/\n", mounts());
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->empty());
  // "cpu" alone is not the "cpu,cpuacct" hierarchy's line, and vice versa by name only.
  auto cpu = delegationTargets("3:cpu:/docker/abc\n", mounts());
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ(cpu->size(), 1u);  // the cpu,cpuacct mount holds cpu
  auto net = delegationTargets("7:net_cls,net_prio:/docker/abc\n", mounts());
  ASSERT_TRUE(net.ok());
  EXPECT_TRUE(net->empty());
}

TEST(CgroupDelegation, MalformedLinesAndDotDotPathsAreErrors) {
  for (const char* bad : {"4:memory\n", "garbage\n", "4:memory:/docker/../..\n",
                          "4:memory:docker/abc\n", "4:memory:/docker/./abc\n", "0::\n"}) {
    EXPECT_FALSE(delegationTargets(bad, mounts()).ok()) << bad;
  }
}

TEST(CgroupDelegation, ChownsTheDirectoryAndItsProcessFilesOnly) {
  if (geteuid() != 0) GTEST_SKIP() << "chown to another uid needs root";
  char tmpl[] = "/tmp/eci-cgdeleg-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  for (const char* f : {"cgroup.procs", "tasks", "memory.limit_in_bytes"}) {
    std::ofstream(dir + "/" + f) << "";
  }
  // A symlink where a file should be is not followed.
  ASSERT_EQ(symlink("/etc/hostname", (dir + "/cgroup.threads").c_str()), 0);
  DelegatedCgroup d{dir, {"cgroup.procs", "tasks", "cgroup.threads", "cgroup.subtree_control"}};
  ASSERT_TRUE(delegateCgroups({d}, 100000, 100001).ok());
  auto owner = [](const std::string& p) {
    struct stat st {};
    EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
    return std::make_pair(st.st_uid, st.st_gid);
  };
  EXPECT_EQ(owner(dir), std::make_pair(uid_t{100000}, gid_t{100001}));
  EXPECT_EQ(owner(dir + "/cgroup.procs"), std::make_pair(uid_t{100000}, gid_t{100001}));
  EXPECT_EQ(owner(dir + "/tasks"), std::make_pair(uid_t{100000}, gid_t{100001}));
  EXPECT_EQ(owner(dir + "/memory.limit_in_bytes"), std::make_pair(uid_t{0}, gid_t{0}));
  struct stat host {};
  ASSERT_EQ(stat("/etc/hostname", &host), 0);
  EXPECT_EQ(host.st_uid, 0u);  // the symlink's target kept its owner
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace eci::runc
