#include "spec_rewrite.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace eci::runc {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// A spec shaped like the one dockerd 20.10 writes for `docker run busybox`.
json dockerSpec() {
  return json::parse(R"({
    "ociVersion": "1.0.2-dev",
    "process": {
      "user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/",
      "capabilities": {
        "bounding": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_CHROOT"],
        "effective": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_CHROOT"],
        "permitted": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_CHROOT"]
      },
      "apparmorProfile": "docker-default",
      "oomScoreAdj": 0
    },
    "root": {"path": "/var/lib/docker/overlay2/abc/merged"},
    "mounts": [
      {"destination": "/proc", "type": "proc", "source": "proc"},
      {"destination": "/dev/shm", "type": "bind",
       "source": "/var/lib/docker/containers/c1/mounts/shm", "options": ["rbind", "rprivate"]},
      {"destination": "/etc/resolv.conf", "type": "bind",
       "source": "/var/lib/docker/containers/c1/resolv.conf", "options": ["rbind", "rprivate"]},
      {"destination": "/etc/hostname", "type": "bind",
       "source": "/var/lib/docker/containers/c1/hostname", "options": ["rbind", "rprivate"]},
      {"destination": "/etc/hosts", "type": "bind",
       "source": "/var/lib/docker/containers/c1/hosts", "options": ["rbind", "rprivate"]}
    ],
    "linux": {
      "sysctl": {"net.ipv4.ip_unprivileged_port_start": "0",
                 "net.ipv4.ping_group_range": "0 2147483647"},
      "resources": {"devices": [{"allow": false, "access": "rwm"}]},
      "namespaces": [{"type": "mount"}, {"type": "network"}, {"type": "uts"}, {"type": "pid"},
                     {"type": "ipc"}],
      "maskedPaths": ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                      "/proc/sched_debug", "/proc/scsi", "/sys/firmware"],
      "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    }
  })");
}

SpecContext ctx() {
  SpecContext c;
  c.containerId = "c1";
  c.bundle = "/run/containerd/io.containerd.runtime.v2.task/moby/c1";
  c.policy = Policy::failClosedDefaults();
  c.rangeStart = 100000;
  c.engineDataRoot = "/var/lib/docker";
  c.hostCapBounding = ~0ULL;
  c.resolve = [](const std::string& p) { return normalizePath(p); };
  c.hostMounts = [] { return parseMountInfo("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"); };
  c.readFile = [](const std::string& p) -> Result<std::string> {
    return Error(ErrorKind::kNotFound, "no " + p);
  };
  c.isHostNamespace = [](const std::string&, const std::string& path) {
    return path.rfind("/proc/1/ns/", 0) == 0;
  };
  return c;
}

json mountOf(const std::string& src, const std::string& dst = "/mnt") {
  return {{"destination", dst}, {"type", "bind"}, {"source", src}, {"options", {"rbind"}}};
}

std::string refusal(const json& spec, const SpecContext& c = ctx()) {
  auto r = rewriteSpec(spec, c);
  if (r.ok()) return "<accepted>";
  return r.error().str();
}

// Makes the spec join an existing namespace of `type` by path (docker's --pid=container:X etc.).
void joinNamespacePath(json& spec, const std::string& type, const std::string& path) {
  for (auto& ns : spec["linux"]["namespaces"])
    if (ns["type"] == type) ns["path"] = path;
}

bool hasNs(const json& spec, const std::string& type) {
  for (const auto& ns : spec["linux"]["namespaces"]) {
    if (ns["type"] == type) return true;
  }
  return false;
}

json withoutNs(json spec, std::initializer_list<const char*> types) {
  json out = json::array();
  for (const auto& ns : spec["linux"]["namespaces"]) {
    bool drop = false;
    for (const char* t : types) drop |= ns["type"] == t;
    if (!drop) out.push_back(ns);
  }
  spec["linux"]["namespaces"] = out;
  return spec;
}

// ---------------------------------------------------------------------------------------------

TEST(SpecRewrite, AddsUserNamespaceWithAllocatedRange) {
  auto r = rewriteSpec(dockerSpec(), ctx());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(hasNs(r->spec, "user"));
  EXPECT_TRUE(hasNs(r->spec, "cgroup"));
  const json want = json::array({{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}});
  EXPECT_EQ(r->spec["linux"]["uidMappings"], want);
  EXPECT_EQ(r->spec["linux"]["gidMappings"], want);
}

TEST(SpecRewrite, SecondRangeIsUsedVerbatim) {
  auto c = ctx();
  c.rangeStart = 165536;
  auto r = rewriteSpec(dockerSpec(), c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spec["linux"]["uidMappings"][0]["hostID"], 165536);
}

TEST(SpecRewrite, EngineSuppliedMappingsAndUserNsPathAreReplaced) {
  auto s = dockerSpec();
  s["linux"]["namespaces"].push_back({{"type", "user"}, {"path", "/proc/1/ns/user"}});
  s["linux"]["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", 0}, {"size", 1}}});
  auto r = rewriteSpec(s, ctx());
  ASSERT_TRUE(r.ok());
  int users = 0;
  for (const auto& ns : r->spec["linux"]["namespaces"]) {
    if (ns["type"] == "user") {
      ++users;
      EXPECT_FALSE(ns.contains("path"));
    }
  }
  EXPECT_EQ(users, 1);
  EXPECT_EQ(r->spec["linux"]["uidMappings"][0]["hostID"], 100000);
}

TEST(SpecRewrite, HostCgroupNamespaceReplaced) {
  auto s = dockerSpec();
  s["linux"]["namespaces"].push_back({{"type", "cgroup"}, {"path", "/proc/1/ns/cgroup"}});
  auto r = rewriteSpec(s, ctx());
  ASSERT_TRUE(r.ok());
  for (const auto& ns : r->spec["linux"]["namespaces"]) {
    if (ns["type"] == "cgroup") EXPECT_FALSE(ns.contains("path"));
  }
}

TEST(SpecRewrite, RangeMissingWhileEciOnIsAnError) {
  auto c = ctx();
  c.rangeStart = 0;
  EXPECT_THAT(refusal(dockerSpec(), c), HasSubstr("no uid/gid range"));
}

TEST(SpecRewrite, HostPidRefusedWithSeedMessage) {
  EXPECT_EQ(refusal(withoutNs(dockerSpec(), {"pid"})),
            "invalid or unsupported container spec: containers can't share namespaces [pid] with "
            "the host (because they use the linux user-namespace for isolation)");
}

TEST(SpecRewrite, AllSharedNamespacesListed) {
  EXPECT_THAT(refusal(withoutNs(dockerSpec(), {"pid", "ipc", "uts"})),
              HasSubstr("can't share namespaces [pid ipc uts] with the host"));
  EXPECT_THAT(refusal(withoutNs(dockerSpec(), {"mount"})),
              HasSubstr("can't share namespaces [mount] with the host"));
}

TEST(SpecRewrite, HostNamespaceByPathRefused) {
  auto s = dockerSpec();
  joinNamespacePath(s, "ipc", "/proc/1/ns/ipc");
  EXPECT_THAT(refusal(s), HasSubstr("can't share namespaces [ipc] with the host"));
}

TEST(SpecRewrite, OtherEciContainersNamespaceJoinedWithItsRange) {
  auto s = dockerSpec();
  joinNamespacePath(s, "pid", "/proc/4242/ns/pid");
  auto c = ctx();
  c.joined = {{4242, "x"}};
  c.rangeStart = 300000;  // eci-runc sets X's range (read from X's user namespace)
  auto r = rewriteSpec(s, c);
  ASSERT_TRUE(r.ok()) << r.error().str();
  const json& lx = r->spec["linux"];
  EXPECT_EQ(lx["uidMappings"][0]["hostID"], 300000);
  EXPECT_EQ(lx["gidMappings"][0]["hostID"], 300000);
  EXPECT_EQ(lx["uidMappings"][0]["size"], 65536);
  EXPECT_TRUE(hasNs(r->spec, "user"));
  bool pidKept = false;
  for (const auto& ns : lx["namespaces"]) {
    if (ns["type"] == "pid") pidKept = ns.value("path", "") == "/proc/4242/ns/pid";
  }
  EXPECT_TRUE(pidKept);
  bool noted = false;
  for (const auto& n : r->notes) noted |= n.find("shared with container x") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(SpecRewrite, NamespaceOfProcessOutsideEciRefused) {
  // A /proc/<pid>/ns path eci-runc did not find to be another ECI container: an arbitrary
  // process's namespaces (its user namespace would have to be joined) are never used.
  for (const char* type : {"pid", "ipc", "network", "uts"}) {
    auto s = dockerSpec();
    joinNamespacePath(s, type, std::string("/proc/4242/ns/") + type);
    EXPECT_THAT(refusal(s), HasSubstr("can only share namespaces with other containers under "
                                      "Enhanced Container Isolation (process 4242 is not one)"))
        << type;
    auto c = ctx();
    c.joined = {{777, "x"}};  // another pid is known; this one still is not
    EXPECT_THAT(refusal(s, c), HasSubstr("process 4242 is not one")) << type;
  }
}

TEST(SpecRewrite, HostNamespaceRefusedEvenIfJoinedPidKnown) {
  auto s = dockerSpec();
  joinNamespacePath(s, "ipc", "/proc/1/ns/ipc");
  auto c = ctx();
  c.joined = {{1, "x"}};
  EXPECT_THAT(refusal(s, c), HasSubstr("can't share namespaces [ipc] with the host"));
}

TEST(SpecRewrite, JoinedNamespacePids) {
  auto s = dockerSpec();
  s["linux"]["namespaces"] = json::parse(R"([
    {"type": "mount"}, {"type": "pid", "path": "/proc/42/ns/pid"},
    {"type": "ipc", "path": "/proc/42/ns/ipc"}, {"type": "network", "path": "/proc/7/ns/net"},
    {"type": "user", "path": "/proc/99/ns/user"}, {"type": "uts", "path": "/var/run/netns/x"},
    {"type": "cgroup", "path": "/proc/8/ns/cgroup/extra"}, {"type": "time", "path": 5},
    {"type": "ipc", "path": "/proc/x1/ns/ipc"}, {"type": "ipc", "path": "/proc/0/ns/ipc"},
    {"type": "ipc", "path": "/proc/self/ns/ipc"}, "garbage"
  ])");
  EXPECT_EQ(joinedNamespacePids(s), (std::vector<int>{7, 42}));
  EXPECT_TRUE(joinedNamespacePids(dockerSpec()).empty());
  EXPECT_TRUE(joinedNamespacePids(json::array()).empty());
  EXPECT_TRUE(joinedNamespacePids(json{{"linux", {{"namespaces", 3}}}}).empty());
}

TEST(SpecRewrite, HostNetworkRefusedWithSeedMessage) {
  EXPECT_EQ(refusal(withoutNs(dockerSpec(), {"network"})),
            "invalid or unsupported container spec: containers can't share a network namespace "
            "with the host (because they use the linux user-namespace for isolation)");
  auto s = dockerSpec();
  joinNamespacePath(s, "network", "/proc/1/ns/net");
  EXPECT_THAT(refusal(s), HasSubstr("can't share a network namespace with the host"));
}

TEST(SpecRewrite, NamespaceListReportedBeforeNetwork) {
  EXPECT_THAT(refusal(withoutNs(dockerSpec(), {"network", "pid"})),
              HasSubstr("can't share namespaces [pid]"));
}

TEST(SpecRewrite, RealHostNamespaceCheckUsesInodes) {
  EXPECT_TRUE(isHostNamespacePath("pid", "/proc/self/ns/pid"));
  EXPECT_TRUE(isHostNamespacePath("network", "/proc/self/ns/net"));
  EXPECT_FALSE(isHostNamespacePath("network", "/proc/self/ns/pid"));
  EXPECT_FALSE(isHostNamespacePath("pid", "/nonexistent"));
  EXPECT_FALSE(isHostNamespacePath("bogus", "/proc/self/ns/pid"));
}

// --- restricted host mounts ---

TEST(SpecRewrite, RestrictedFileRefusedWithSeedMessage) {
  auto s = dockerSpec();
  s["mounts"].push_back(mountOf("/etc/docker/daemon.json", "/mnt/daemon.json"));
  EXPECT_EQ(refusal(s),
            "can't mount /etc/docker/daemon.json because it's configured as a restricted host "
            "mount");
}

TEST(SpecRewrite, ParentOfRestrictedRefused) {
  for (const char* src : {"/etc", "/", "/var/lib", "/run", "/var"}) {
    auto s = dockerSpec();
    s["mounts"].push_back(mountOf(src));
    EXPECT_EQ(refusal(s), std::string("can't mount ") + src +
                              " because it's configured as a restricted host mount")
        << src;
  }
}

TEST(SpecRewrite, SharedHostDirectoriesAllowed) {
  for (const char* src :
       {"/home/dev", "/tmp/x", "/srv/data", "/mnt/usb", "/media/cd", "/var/tmp/y", "/home"}) {
    auto s = dockerSpec();
    s["mounts"].push_back(mountOf(src));
    auto r = rewriteSpec(s, ctx());
    EXPECT_TRUE(r.ok()) << src << ": " << r.error().str();
  }
}

TEST(SpecRewrite, DotDotResolvedBeforeCheck) {
  auto s = dockerSpec();
  s["mounts"].push_back(mountOf("/tmp/../etc/docker"));
  EXPECT_EQ(refusal(s),
            "can't mount /tmp/../etc/docker because it's configured as a restricted host mount");
}

TEST(SpecRewrite, SymlinkResolvedBeforeCheck) {
  auto c = ctx();
  c.resolve = [](const std::string& p) {
    if (p == "/home/dev/innocent") return std::string("/etc/eci");
    return normalizePath(p);
  };
  auto s = dockerSpec();
  s["mounts"].push_back(mountOf("/home/dev/innocent"));
  EXPECT_EQ(refusal(s, c),
            "can't mount /home/dev/innocent because it's configured as a restricted host mount");
}

TEST(SpecRewrite, EngineSocketRefused) {
  for (const char* src : {"/var/run/docker.sock", "/run/docker.sock"}) {
    auto s = dockerSpec();
    s["mounts"].push_back(mountOf(src));
    EXPECT_THAT(refusal(s), HasSubstr("restricted host mount")) << src;
  }
}

TEST(SpecRewrite, PolicyAndExtraRestrictedPathsApplied) {
  auto c = ctx();
  c.policy.restrictedHostMounts.push_back("/srv/secrets");
  c.extraRestricted.push_back("/tmp/eci-test/docker.sock");
  auto s = dockerSpec();
  s["mounts"].push_back(mountOf("/srv/secrets/key"));
  EXPECT_THAT(refusal(s, c), HasSubstr("can't mount /srv/secrets/key"));
  s = dockerSpec();
  s["mounts"].push_back(mountOf("/tmp/eci-test/docker.sock"));
  EXPECT_THAT(refusal(s, c), HasSubstr("can't mount /tmp/eci-test/docker.sock"));
}

TEST(SpecRewrite, CustomDataRootRestrictedButOwnFilesAndVolumesAllowed) {
  auto c = ctx();
  c.engineDataRoot = "/tmp/t1/docker";
  auto s = dockerSpec();
  s["mounts"] = json::array({mountOf("/tmp/t1/docker/containers/c1/hosts", "/etc/hosts"),
                             mountOf("/tmp/t1/docker/containers/c1/mounts/shm", "/dev/shm"),
                             mountOf("/tmp/t1/docker/volumes/vol1/_data", "/data"),
                             mountOf("/tmp/t1/docker/volumes/vol1/_data/sub", "/data2")});
  auto r = rewriteSpec(s, c);
  ASSERT_TRUE(r.ok()) << r.error().str();

  for (const char* bad :
       {"/tmp/t1/docker", "/tmp/t1/docker/containers/other/config.v2.json",
        "/tmp/t1/docker/containers/other", "/tmp/t1/docker/containers/other/mounts",
        "/tmp/t1/docker/containers/c1/../other/config.v2.json", "/tmp/t1/docker/containers",
        "/tmp/t1/docker/volumes", "/tmp/t1/docker/volumes/vol1",
        "/tmp/t1/docker/volumes/metadata.db", "/tmp/t1/docker/overlay2", "/tmp/t1",
        "/tmp/t1/docker/volumes/_data"}) {
    auto s2 = dockerSpec();
    s2["mounts"] = json::array({mountOf(bad)});
    EXPECT_THAT(refusal(s2, c), HasSubstr("restricted host mount")) << bad;
  }
}

TEST(SpecRewrite, JoinedContainersNetworkAndIpcFilesAllowed) {
  // --network=container:X / --ipc=container:X bind X's files.
  auto c = ctx();
  c.engineDataRoot = "/tmp/t1/docker";
  c.joined = {{4242, "x"}};
  auto s = dockerSpec();
  joinNamespacePath(s, "network", "/proc/4242/ns/net");
  s["mounts"] = json::array({mountOf("/tmp/t1/docker/containers/x/hosts", "/etc/hosts"),
                             mountOf("/tmp/t1/docker/containers/x/hostname", "/etc/hostname"),
                             mountOf("/tmp/t1/docker/containers/x/resolv.conf", "/etc/resolv.conf"),
                             mountOf("/tmp/t1/docker/containers/x/mounts/shm", "/dev/shm")});
  auto r = rewriteSpec(s, c);
  EXPECT_TRUE(r.ok()) << r.error().str();

  // Only those names of X, and nothing of a container that is not joined.
  for (const char* bad :
       {"/tmp/t1/docker/containers/x/config.v2.json", "/tmp/t1/docker/containers/x",
        "/tmp/t1/docker/containers/x/mounts", "/tmp/t1/docker/containers/y/hosts",
        "/tmp/t1/docker/containers/y/mounts/shm", "/tmp/t1/docker/containers/x/../y/hosts"}) {
    auto s2 = s;
    s2["mounts"] = json::array({mountOf(bad)});
    EXPECT_THAT(refusal(s2, c), HasSubstr("restricted host mount")) << bad;
  }
  // Without a joined container, another container's files are closed too.
  auto s3 = dockerSpec();
  s3["mounts"] = json::array({mountOf("/tmp/t1/docker/containers/x/hosts", "/etc/hosts")});
  auto c3 = ctx();
  c3.engineDataRoot = "/tmp/t1/docker";
  EXPECT_THAT(refusal(s3, c3), HasSubstr("restricted host mount"));
}

TEST(SpecRewrite, VirtualFilesystemSourcesAreNamesNotPaths) {
  // tmpfs' source is only a name; it shows no host files.
  auto s = dockerSpec();
  s["mounts"].push_back({{"destination", "/x"}, {"type", "tmpfs"}, {"source", "/etc/docker"}});
  EXPECT_TRUE(rewriteSpec(s, ctx()).ok());
}

TEST(SpecRewrite, BindDetectedByOptionsToo) {
  auto s = dockerSpec();
  s["mounts"].push_back({{"destination", "/x"}, {"source", "/etc/eci"}, {"options", {"bind"}}});
  EXPECT_THAT(refusal(s), HasSubstr("can't mount /etc/eci"));
}

TEST(SpecRewrite, RelativeSourceIsRelativeToBundle) {
  auto c = ctx();
  c.bundle = "/etc/docker/bundle";
  auto s = dockerSpec();
  s["mounts"].push_back(mountOf("rel"));
  EXPECT_THAT(refusal(s, c), HasSubstr("can't mount rel because"));
}

TEST(SpecRewrite, RealResolverFollowsSymlinks) {
  char tmpl[] = "/tmp/eci-spec-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::filesystem::create_directories(dir + "/secret/sub");
  std::filesystem::create_symlink(dir + "/secret", dir + "/link");
  EXPECT_EQ(resolveHostPath(dir + "/link/sub"), dir + "/secret/sub");
  EXPECT_EQ(resolveHostPath(dir + "/link/sub/missing/x"), dir + "/secret/sub/missing/x");
  EXPECT_EQ(resolveHostPath(dir + "/link/../secret"), dir + "/secret");

  auto c = ctx();
  c.resolve = nullptr;  // the real one
  c.policy.restrictedHostMounts.push_back(dir + "/secret");
  c.hostMounts = nullptr;
  c.readFile = nullptr;
  auto s = dockerSpec();
  s["mounts"] = json::array({mountOf(dir + "/link/sub")});
  EXPECT_THAT(refusal(s, c), HasSubstr("can't mount " + dir + "/link/sub because"));
  std::filesystem::remove_all(dir);
}

TEST(SpecRewrite, NormalizePath) {
  EXPECT_EQ(normalizePath("/a/./b/../c/"), "/a/c");
  EXPECT_EQ(normalizePath("/../.."), "/");
  EXPECT_EQ(normalizePath("//etc//docker"), "/etc/docker");
  EXPECT_EQ(normalizePath("/"), "/");
}

// --- privileged containment ---

json privilegedSpec() {
  auto s = dockerSpec();
  s["linux"]["maskedPaths"] = json::array();
  s["linux"]["readonlyPaths"] = json::array();
  s["linux"]["resources"]["devices"] = json::array({{{"allow", true}, {"access", "rwm"}}});
  s["linux"]["devices"] =
      json::array({{{"path", "/dev/null"}, {"type", "c"}, {"major", 1}, {"minor", 3}},
                   {{"path", "/dev/sda"}, {"type", "b"}, {"major", 8}, {"minor", 0}},
                   {{"path", "/dev/mem"}, {"type", "c"}, {"major", 1}, {"minor", 1}},
                   {{"path", "/dev/null"}, {"type", "b"}, {"major", 8}, {"minor", 1}},
                   {{"path", "/dev/kmsg"}, {"type", "c"}, {"major", 1}, {"minor", 11}}});
  s["process"]["capabilities"]["bounding"] = {"CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"};
  s["process"]["capabilities"]["effective"] = {"CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"};
  s["linux"]["namespaces"].push_back({{"type", "user"}});  // irrelevant; replaced
  return s;
}

TEST(SpecRewrite, PrivilegedGetsMaskedAndReadonlyPathsBack) {
  auto r = rewriteSpec(privilegedSpec(), ctx());
  ASSERT_TRUE(r.ok()) << r.error().str();
  const auto& masked = r->spec["linux"]["maskedPaths"];
  for (const char* p : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                        "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/scsi"}) {
    EXPECT_NE(std::find(masked.begin(), masked.end(), p), masked.end()) << p;
  }
  const auto& ro = r->spec["linux"]["readonlyPaths"];
  for (const char* p : {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
    EXPECT_NE(std::find(ro.begin(), ro.end(), p), ro.end()) << p;
  }
}

TEST(SpecRewrite, MaskedPathsNotDuplicated) {
  auto r = rewriteSpec(dockerSpec(), ctx());
  ASSERT_TRUE(r.ok());
  const auto& masked = r->spec["linux"]["maskedPaths"];
  EXPECT_EQ(std::count(masked.begin(), masked.end(), "/proc/kcore"), 1);
  EXPECT_EQ(masked.size(), 11u);
}

TEST(SpecRewrite, PrivilegedHostDevicesDropped) {
  auto r = rewriteSpec(privilegedSpec(), ctx());
  ASSERT_TRUE(r.ok());
  const auto& devs = r->spec["linux"]["devices"];
  ASSERT_EQ(devs.size(), 1u);
  EXPECT_EQ(devs[0]["path"], "/dev/null");
  EXPECT_EQ(devs[0]["type"], "c");
  // Allow-all device cgroup replaced by deny-all + the standard set.
  const auto& rules = r->spec["linux"]["resources"]["devices"];
  ASSERT_GE(rules.size(), 2u);
  EXPECT_EQ(rules[0], json({{"allow", false}, {"access", "rwm"}}));
  for (const auto& rule : rules) {
    if (rule["allow"] == true) {
      EXPECT_TRUE(rule.contains("type"));
      if (rule["access"] != "m") EXPECT_TRUE(rule.contains("major"));
    }
  }
}

TEST(SpecRewrite, CapabilitiesMachineLacksDroppedWithNote) {
  auto c = ctx();
  c.hostCapBounding = 0x000001fffeffffffULL;  // this VM: no CAP_SYS_RESOURCE (24)
  auto r = rewriteSpec(privilegedSpec(), c);
  ASSERT_TRUE(r.ok());
  const auto& caps = r->spec["process"]["capabilities"];
  EXPECT_EQ(caps["bounding"], json({"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}));
  EXPECT_EQ(caps["effective"], json({"CAP_SYS_ADMIN"}));
  bool noted = false;
  for (const auto& n : r->notes) noted |= n.find("CAP_SYS_RESOURCE") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(SpecRewrite, CapabilityNumbers) {
  EXPECT_EQ(capabilityNumber("CAP_CHOWN"), 0);
  EXPECT_EQ(capabilityNumber("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(capabilityNumber("CAP_SYS_RESOURCE"), 24);
  EXPECT_EQ(capabilityNumber("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(capabilityNumber("CAP_NOPE"), -1);
  EXPECT_NE(readCapBounding(), 0u);
}

TEST(SpecRewrite, AppArmorClearedOnlyWhenUnavailable) {
  auto c = ctx();
  c.apparmorAvailable = false;
  auto r = rewriteSpec(dockerSpec(), c);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->spec["process"].contains("apparmorProfile"));
  c.apparmorAvailable = true;
  r = rewriteSpec(dockerSpec(), c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spec["process"]["apparmorProfile"], "docker-default");
}

// --- user-namespace fix-ups ---

TEST(SpecRewrite, PingGroupRangeClampedToMappedIds) {
  auto r = rewriteSpec(dockerSpec(), ctx());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spec["linux"]["sysctl"]["net.ipv4.ping_group_range"], "0 65535");
  EXPECT_EQ(r->spec["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"], "0");
}

TEST(SpecRewrite, PingGroupRangeGarbageRefusedWithPointer) {
  auto s = dockerSpec();
  s["linux"]["sysctl"]["net.ipv4.ping_group_range"] = "x";
  EXPECT_THAT(refusal(s), HasSubstr("/linux/sysctl/net.ipv4.ping_group_range"));
}

TEST(SpecRewrite, NegativeOomScoreAdjRaised) {
  auto s = dockerSpec();
  s["process"]["oomScoreAdj"] = -500;
  auto r = rewriteSpec(s, ctx());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spec["process"]["oomScoreAdj"], 0);
}

// --- ECI off ---

TEST(SpecRewrite, EciOffPassesSpecThroughUnchanged) {
  auto c = ctx();
  c.policy.enabled = false;
  c.rangeStart = 0;
  c.rangeSize = 0;
  for (const auto& s :
       {dockerSpec(), withoutNs(dockerSpec(), {"pid", "network"}), privilegedSpec()}) {
    auto s2 = s;
    s2["mounts"].push_back(mountOf("/etc/docker"));
    auto r = rewriteSpec(s2, c);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->spec, s2);
  }
}

// --- malformed input: clear errors, never a crash ---

TEST(SpecRewrite, MalformedSpecsGiveJsonPointers) {
  EXPECT_THAT(refusal(json::array()), HasSubstr("config.json /: expected object"));
  auto s = dockerSpec();
  s["linux"] = 3;
  EXPECT_THAT(refusal(s), HasSubstr("config.json /linux: expected object"));
  s = dockerSpec();
  s["linux"]["namespaces"][2] = "uts";
  EXPECT_THAT(refusal(s), HasSubstr("/linux/namespaces/2: expected object"));
  s = dockerSpec();
  s["mounts"][1]["source"] = 7;
  EXPECT_THAT(refusal(s), HasSubstr("/mounts/1/source: expected string"));
  s = dockerSpec();
  s["process"]["capabilities"]["bounding"] = {1};
  EXPECT_THAT(refusal(s), HasSubstr("/process/capabilities/bounding/0: expected string"));
  s = dockerSpec();
  s["linux"]["maskedPaths"] = {true};
  EXPECT_THAT(refusal(s), HasSubstr("/linux/maskedPaths/0"));
}

TEST(SpecRewrite, MinimalSpecGetsEverythingNeeded) {
  json s = {{"linux",
             {{"namespaces",
               {{{"type", "pid"}},
                {{"type", "ipc"}},
                {{"type", "uts"}},
                {{"type", "mount"}},
                {{"type", "network"}}}}}}};
  auto r = rewriteSpec(s, ctx());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(hasNs(r->spec, "user"));
  EXPECT_EQ(r->spec["linux"]["maskedPaths"].size(), 11u);
}

}  // namespace
}  // namespace eci::runc
