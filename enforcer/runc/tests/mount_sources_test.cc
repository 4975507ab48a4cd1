// The bind-source allowlist and the every-mount-by-its-paths rule (mount_sources.h).
#include "mount_sources.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace eci::runc {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// A host: root fs on 8:1, /home on 8:2, a tmpfs /tmp, the engine under /var/lib/docker.
constexpr const char* kHostTable =
    "20 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
    "21 20 8:2 / /home rw - ext4 /dev/sda2 rw\n"
    "22 20 0:30 / /tmp rw - tmpfs tmpfs rw\n"
    "23 20 0:5 / /proc rw - proc proc rw\n";

struct Host {
  std::string table = kHostTable;
  std::map<std::string, std::string> files;  // readFile
  std::map<std::string, std::string> links;  // resolve: exact path -> target
  std::vector<std::string> sockets;
};

SpecContext ctxFor(const Host& h) {
  SpecContext c;
  c.containerId = "c1";
  c.bundle = "/run/containerd/io.containerd.runtime.v2.task/moby/c1";
  c.policy = Policy::failClosedDefaults();
  c.rangeStart = 100000;
  c.engineDataRoot = "/var/lib/docker";
  c.guardSocketDir = "/run/eci-apiproxy/sockets";
  c.resolve = [links = h.links](const std::string& p) {
    std::string n = normalizePath(p);
    // Longest linked prefix wins, as a kernel walk would (one level is enough for the tests).
    for (const auto& [from, to] : links) {
      if (n == from || n.rfind(from + "/", 0) == 0)
        return normalizePath(to + n.substr(from.size()));
    }
    return n;
  };
  c.hostMounts = [t = h.table] { return parseMountInfo(t); };
  c.readFile = [files = h.files](const std::string& p) -> Result<std::string> {
    auto it = files.find(p);
    if (it == files.end()) return Error(ErrorKind::kNotFound, "no " + p);
    return it->second;
  };
  c.isSocket = [s = h.sockets](const std::string& p) {
    return std::find(s.begin(), s.end(), p) != s.end();
  };
  return c;
}

json bindOf(const std::string& src, const std::string& type = "bind",
            std::vector<std::string> opts = {"rbind"}) {
  return {{"destination", "/x"}, {"type", type}, {"source", src}, {"options", opts}};
}

std::string check(const json& mount, const SpecContext& c) {
  auto st = checkMountSources(json{{"mounts", json::array({mount})}}, c);
  return st.ok() ? "ok" : st.error().str();
}

const std::string kRefused = "because it's configured as a restricted host mount";

TEST(MountSources, SystemDirectoriesRefusedWithDockersMessage) {
  const Host h;
  for (const char* src : {"/", "/usr", "/usr/local/bin", "/proc", "/sys", "/dev", "/boot",
                          "/var/lib", "/run", "/etc", "/etc/passwd", "/opt", "/root", "/var/log",
                          "/lib/modules", "/dev/sda1", "/sys/kernel/security"}) {
    EXPECT_EQ(check(bindOf(src), ctxFor(h)), "can't mount " + std::string(src) + " " + kRefused)
        << src;
  }
}

TEST(MountSources, UserAreasAndAdminSharesAllowed) {
  const Host h;
  auto c = ctxFor(h);
  c.policy.fileSharingAllowedDirectories = {"/opt/shared", "/data"};
  for (const char* src : {"/home/dev/project", "/tmp/x", "/var/tmp/y", "/mnt/usb", "/media/cd",
                          "/srv/www", "/opt/shared/sub", "/data"}) {
    EXPECT_EQ(check(bindOf(src), c), "ok") << src;
  }
  // A sibling with a common prefix is no share.
  EXPECT_THAT(check(bindOf("/opt/sharedx"), c), HasSubstr(kRefused));
  EXPECT_THAT(check(bindOf("/homer"), c), HasSubstr(kRefused));
}

TEST(MountSources, RestrictedStillWinsInsideAShareAndParentsOfRestrictedAreRefused) {
  const Host h;
  auto c = ctxFor(h);
  c.extraRestricted = {"/tmp/eci-t/docker.sock"};
  c.policy.restrictedHostMounts.push_back("/home/shared/keys");
  for (const char* src :
       {"/tmp", "/tmp/eci-t", "/tmp/eci-t/docker.sock", "/home/shared", "/home/shared/keys/id"}) {
    EXPECT_THAT(check(bindOf(src), c), HasSubstr(kRefused)) << src;
  }
  EXPECT_EQ(check(bindOf("/tmp/other"), c), "ok");
}

TEST(MountSources, SymlinksDotDotAndProcIndirectionsResolvedFirst) {
  Host h;
  h.links = {{"/home/dev/etc-link", "/etc"}, {"/proc/self/root", "/"},
             {"/proc/1/root", "/"},          {"/proc/self/fd/3", "/etc/docker"},
             {"/dev/fd", "/proc/self/fd"},   {"/tmp/dir-link", "/usr/local"}};
  const auto c = ctxFor(h);
  for (const char* src :
       {"/home/dev/etc-link", "/home/dev/etc-link/shadow", "/proc/self/root/etc",
        "/proc/1/root/usr/bin", "/proc/self/fd/3", "/dev/fd/3", "/tmp/../etc",
        "/home/dev/../../usr/local/bin", "/tmp/dir-link/bin", "/proc/self/root/tmp/../etc"}) {
    EXPECT_EQ(check(bindOf(src), c), "can't mount " + std::string(src) + " " + kRefused) << src;
  }
  // An indirection that ends in a share is fine.
  EXPECT_EQ(check(bindOf("/proc/self/root/tmp/x"), c), "ok");
}

TEST(MountSources, EveryBindFormIsChecked) {
  const Host h;
  const auto c = ctxFor(h);
  EXPECT_THAT(check(bindOf("/etc", "bind", {}), c), HasSubstr(kRefused));
  EXPECT_THAT(check(bindOf("/etc", "none", {"rbind", "ro"}), c), HasSubstr(kRefused));
  EXPECT_THAT(check(bindOf("/etc", "", {"bind"}), c), HasSubstr(kRefused));
  EXPECT_THAT(check(json{{"destination", "/x"}, {"source", "/etc"}, {"options", {"rbind"}}}, c),
              HasSubstr(kRefused));
}

TEST(MountSources, OverlayLayersAreCheckedLikeBindSources) {
  const Host h;
  const auto c = ctxFor(h);
  auto ov = [](std::vector<std::string> opts) {
    return json{
        {"destination", "/x"}, {"type", "overlay"}, {"source", "overlay"}, {"options", opts}};
  };
  EXPECT_EQ(check(ov({"lowerdir=/tmp/a:/home/b", "upperdir=/tmp/u", "workdir=/tmp/w"}), c), "ok");
  EXPECT_THAT(check(ov({"lowerdir=/tmp/a:/etc"}), c), HasSubstr("can't mount /etc " + kRefused));
  EXPECT_THAT(check(ov({"lowerdir=/etc/docker"}), c), HasSubstr(kRefused));
  EXPECT_THAT(check(ov({"lowerdir=/tmp/a", "upperdir=/usr/local/bin", "workdir=/tmp/w"}), c),
              HasSubstr(kRefused));
  EXPECT_THAT(check(ov({"lowerdir=/tmp/a", "upperdir=/tmp/u", "workdir=/var/lib/w"}), c),
              HasSubstr(kRefused));
  EXPECT_THAT(check(ov({"lowerdir=/tmp/a\\:b:/tmp/../etc"}), c), HasSubstr(kRefused));
  EXPECT_THAT(check(ov({"lowerdir=/tmp/a::/etc"}), c), HasSubstr(kRefused));  // data-only layer
  EXPECT_THAT(check(ov({"lowerdir=relative/dir"}), c), HasSubstr("relative"));
  EXPECT_THAT(check(ov({"lowerdir=/tmp/a", "datadir+=/etc"}), c), HasSubstr(kRefused));
  // An escaped colon is part of a name; an escaped backslash before a colon is not an escape.
  EXPECT_EQ(check(ov({"lowerdir=/tmp/a\\:/etc"}), c), "ok");
  EXPECT_THAT(check(ov({"lowerdir=/tmp/a\\\\:/etc"}), c), HasSubstr(kRefused));
  EXPECT_THAT(check(ov({"lowerdir=::"}), c), HasSubstr("no layer"));
}

TEST(MountSources, UnknownTypesWithPathSourcesRefusedPathOptionsChecked) {
  const Host h;
  const auto c = ctxFor(h);
  EXPECT_THAT(check(bindOf("/dev/sda1", "ext4", {}), c), HasSubstr(kRefused));
  EXPECT_THAT(check(bindOf("/home/dev/disk.img", "squashfs", {"loop"}), c), HasSubstr(kRefused));
  EXPECT_EQ(check(bindOf("server:/export", "nfs", {"addr=10.0.0.1"}), c), "ok");
  EXPECT_THAT(check(bindOf("none", "fuse.x", {"loop=/etc/shadow"}), c), HasSubstr(kRefused));
  EXPECT_THAT(check(bindOf("tmpfs", "tmpfs", {"x=/etc"}), c), HasSubstr(kRefused));
  EXPECT_EQ(check(bindOf("proc", "proc", {"nosuid"}), c), "ok");
}

TEST(MountSources, EngineFilesAndPlainNamedVolumesAllowed) {
  const Host h;
  const auto c = ctxFor(h);
  for (const char* src :
       {"/var/lib/docker/containers/c1/hosts", "/var/lib/docker/containers/c1/mounts/shm",
        "/var/lib/docker/volumes/v/_data", "/var/lib/docker/volumes/v/_data/s"}) {
    EXPECT_EQ(check(bindOf(src), c), "ok") << src;
  }
  for (const char* src : {"/var/lib/docker/containers/c2/hosts", "/var/lib/docker/volumes/v",
                          "/var/lib/docker/volumes/v/opts.json", "/var/lib/docker/image"}) {
    EXPECT_THAT(check(bindOf(src), c), HasSubstr(kRefused)) << src;
  }
  EXPECT_EQ(classifyBindSource("/var/lib/docker/volumes/v/_data", c), SourceKind::kNamedVolume);
  EXPECT_EQ(classifyBindSource("/var/lib/docker/containers/c1/hosts", c), SourceKind::kEngineFile);
  EXPECT_EQ(classifyBindSource("/home/dev", c), SourceKind::kHost);
}

TEST(MountSources, LocalVolumeBindingAHostPathGetsTheSameRuleFromTheKernelsTable) {
  Host h;
  // docker volume create -o type=none -o o=bind -o device=/etc/docker v: the local driver bound
  // /etc/docker (root fs 8:1) at v/_data. No opts.json: the kernel's view alone decides.
  h.table += "40 20 8:1 /etc/docker /var/lib/docker/volumes/v/_data rw - ext4 /dev/sda1 rw\n";
  EXPECT_THAT(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(h)),
              HasSubstr("can't mount /etc/docker " + kRefused));
  // device=/home/dev/src (on 8:2, mounted at /home) is shared.
  Host ok;
  ok.table += "40 20 8:2 /dev/src /var/lib/docker/volumes/v/_data rw - ext4 /dev/sda2 rw\n";
  EXPECT_EQ(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(ok)), "ok");
  // A tmpfs volume shows no host files.
  Host t;
  t.table += "40 20 0:77 / /var/lib/docker/volumes/v/_data rw - tmpfs tmpfs rw,size=1m\n";
  EXPECT_EQ(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(t)), "ok");
  // A block device mounted only there: its path decides (/dev is not shared).
  Host b;
  b.table += "40 20 8:3 / /var/lib/docker/volumes/v/_data rw - ext4 /dev/sdb1 rw\n";
  EXPECT_THAT(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(b)), HasSubstr(kRefused));
  // An overlay volume with lowerdir=/etc.
  Host o;
  o.table +=
      "40 20 0:78 / /var/lib/docker/volumes/v/_data rw - overlay overlay "
      "rw,lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w\n";
  EXPECT_THAT(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(o)), HasSubstr(kRefused));
}

TEST(MountSources, AVolumeShowingHostFilesIsClassifiedAsAHostBind) {
  const std::string data = "/var/lib/docker/volumes/v/_data";
  Host plain;  // a plain named volume: a directory under the data root, nothing mounted there
  EXPECT_EQ(classifyBindSource(data, ctxFor(plain)), SourceKind::kNamedVolume);
  Host tmpfs;  // type=tmpfs: no host files
  tmpfs.table += "40 20 0:77 / " + data + " rw - tmpfs tmpfs rw,size=1m\n";
  EXPECT_EQ(classifyBindSource(data, ctxFor(tmpfs)), SourceKind::kNamedVolume);
  // o=bind device=/home/alice (8:2 mounted at /home): container root must act as the caller there.
  Host bound;
  bound.table += "40 20 8:2 /alice " + data + " rw - ext4 /dev/sda2 rw\n";
  EXPECT_EQ(classifyBindSource(data, ctxFor(bound)), SourceKind::kHost);
  EXPECT_EQ(classifyBindSource(data + "/sub", ctxFor(bound)), SourceKind::kHost);
  Host overlay;
  overlay.table += "40 20 0:78 / " + data +
                   " rw - overlay overlay rw,lowerdir=/home/a,upperdir=/home/u,workdir=/home/w\n";
  EXPECT_EQ(classifyBindSource(data, ctxFor(overlay)), SourceKind::kHost);
  Host device;  // a host block device mounted only there
  device.table += "40 20 8:3 / " + data + " rw - ext4 /dev/sdb1 rw\n";
  EXPECT_EQ(classifyBindSource(data, ctxFor(device)), SourceKind::kHost);
  // Not mounted (yet): opts.json decides; unreadable or unparsable counts as host.
  Host opts;
  opts.files["/var/lib/docker/volumes/v/opts.json"] =
      R"({"MountType":"none","MountOpts":"bind","MountDevice":"/home/alice"})";
  EXPECT_EQ(classifyBindSource(data, ctxFor(opts)), SourceKind::kHost);
  opts.files["/var/lib/docker/volumes/v/opts.json"] = "not json";
  EXPECT_EQ(classifyBindSource(data, ctxFor(opts)), SourceKind::kHost);
  opts.files["/var/lib/docker/volumes/v/opts.json"] =
      R"({"MountType":"tmpfs","MountOpts":"size=1m","MountDevice":"tmpfs"})";
  EXPECT_EQ(classifyBindSource(data, ctxFor(opts)), SourceKind::kNamedVolume);
}

TEST(MountSources, LocalVolumeOptsJsonIsASecondOpinion) {
  Host h;
  h.files["/var/lib/docker/volumes/v/opts.json"] =
      R"({"MountType":"none","MountOpts":"bind","MountDevice":"/etc/docker","Quota":{}})";
  EXPECT_THAT(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(h)),
              HasSubstr("can't mount /etc/docker " + kRefused));
  h.files["/var/lib/docker/volumes/v/opts.json"] =
      R"({"MountType":"none","MountOpts":"rbind","MountDevice":"/tmp/eci-x/..","Quota":{}})";
  auto c = ctxFor(h);
  c.extraRestricted = {"/tmp/eci-x/docker.sock"};
  EXPECT_THAT(check(bindOf("/var/lib/docker/volumes/v/_data"), c), HasSubstr(kRefused));
  h.files["/var/lib/docker/volumes/v/opts.json"] =
      R"({"MountType":"overlay","MountOpts":"lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w"})";
  EXPECT_THAT(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(h)), HasSubstr(kRefused));
  h.files["/var/lib/docker/volumes/v/opts.json"] =
      R"({"MountType":"tmpfs","MountOpts":"size=1m","MountDevice":"tmpfs"})";
  EXPECT_EQ(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(h)), "ok");
  h.files["/var/lib/docker/volumes/v/opts.json"] =
      R"({"MountType":"none","MountOpts":"bind","MountDevice":"/home/dev/src"})";
  EXPECT_EQ(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(h)), "ok");
  h.files["/var/lib/docker/volumes/v/opts.json"] = "{not json";
  EXPECT_THAT(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(h)), HasSubstr(kRefused));
}

TEST(MountSources, GuardSocketOnlyAtTokenDepthAndOnlyASocket) {
  Host h;
  const std::string tok = "0123456789abcdef0123456789abcdef";
  const std::string dir = "/run/eci-apiproxy/sockets";
  h.sockets = {dir + "/" + tok + "/docker.sock"};
  const auto c = ctxFor(h);
  EXPECT_EQ(check(bindOf(dir + "/" + tok + "/docker.sock"), c), "ok");
  EXPECT_EQ(classifyBindSource(dir + "/" + tok + "/docker.sock", c), SourceKind::kGuardSocket);
  for (const std::string& bad :
       {dir, dir + "/" + tok, dir + "/" + tok + "/other.sock", dir + "/x/docker.sock",
        dir + "/" + tok + "0/docker.sock", dir + "/" + tok + "/docker.sock/x",
        std::string("/run/eci-apiproxy"), dir + "/ABCDEF6789abcdef0123456789abcdef/docker.sock"}) {
    EXPECT_THAT(check(bindOf(bad), c), HasSubstr(kRefused)) << bad;
  }
  Host notSock;  // the right name but not a socket
  EXPECT_THAT(check(bindOf(dir + "/" + tok + "/docker.sock"), ctxFor(notSock)),
              HasSubstr(kRefused));
  // Under a shared directory (the test harness), the socket dir and its parents are still closed.
  auto c2 = ctxFor(h);
  c2.guardSocketDir = "/tmp/eci-t/apiproxy/sockets";
  EXPECT_THAT(check(bindOf("/tmp/eci-t/apiproxy"), c2), HasSubstr(kRefused));
  EXPECT_THAT(check(bindOf("/tmp/eci-t/apiproxy/sockets/" + tok), c2), HasSubstr(kRefused));
}

TEST(MountSources, DockerInitBinaryAllowedOnlyInItsShape) {
  const Host h;
  const auto c = ctxFor(h);
  auto init = [](const std::string& src, const std::string& dst, std::vector<std::string> o) {
    return json{{"destination", dst}, {"type", "bind"}, {"source", src}, {"options", o}};
  };
  EXPECT_EQ(check(init("/usr/bin/docker-init", "/sbin/docker-init", {"bind", "ro"}), c), "ok");
  EXPECT_THAT(check(init("/usr/bin/docker-init", "/sbin/docker-init", {"bind"}), c),
              HasSubstr(kRefused));  // writable
  EXPECT_THAT(check(init("/usr/bin", "/sbin/docker-init", {"bind", "ro"}), c), HasSubstr(kRefused));
  EXPECT_THAT(check(init("/etc/docker-init", "/sbin/docker-init", {"bind", "ro"}), c),
              HasSubstr(kRefused));
  EXPECT_THAT(check(init("/usr/bin/docker-init", "/x", {"bind", "ro"}), c), HasSubstr(kRefused));
}

TEST(MountSources, OverlayPathsParser) {
  auto r = overlayPaths("rw,lowerdir=/a\\072b:/c\\040d,upperdir=/u,workdir=/w,index=off,xino=auto",
                        /*fromMountinfo=*/true);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, (std::vector<std::string>{"/a:b", "/c d", "/u", "/w"}));
  EXPECT_FALSE(overlayPaths("upperdir=rel").ok());
  EXPECT_FALSE(overlayPaths("workdir=").ok());
  auto v = parseVolumeOpts(R"({"MountType":"none","MountOpts":"bind,loop=/x","MountDevice":"/d"})");
  ASSERT_TRUE(v.ok());
  auto p = volumeOptsPaths(*v);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (std::vector<std::string>{"/x", "/d"}));
  EXPECT_FALSE(parseVolumeOpts(R"({"MountDevice": 3})").ok());
  EXPECT_FALSE(parseVolumeOpts("[]").ok());
}

TEST(MountSources, HostPathOfABindFromTheTable) {
  auto t =
      parseMountInfo(std::string(kHostTable) +
                     "40 20 8:2 /dev/x /var/lib/docker/volumes/v/_data rw - ext4 /dev/sda2 rw\n"
                     "41 20 0:30 /sub /mnt/t rw - tmpfs tmpfs rw\n");
  ASSERT_TRUE(t.ok());
  using V = std::vector<std::string>;
  EXPECT_EQ(hostPathsOfMount(*t, (*t)[4]), V{"/home/dev/x"});
  EXPECT_EQ(hostPathsOfMount(*t, (*t)[5]), V{"/tmp/sub"});
  EXPECT_EQ(hostPathsOfMount(*t, (*t)[2]), V{});  // /tmp itself: mounted only there
}

TEST(MountSources, ASecondMountOfTheDiskDoesNotMakeASystemPathLookShared) {
  Host h;
  // The root disk is mounted again at /mnt/alt (shared); /etc/docker bound at _data is still
  // /etc/docker.
  h.table +=
      "30 20 8:1 / /mnt/alt rw - ext4 /dev/sda1 rw\n"
      "40 20 8:1 /etc/docker /var/lib/docker/volumes/v/_data rw - ext4 /dev/sda1 rw\n";
  EXPECT_THAT(check(bindOf("/var/lib/docker/volumes/v/_data"), ctxFor(h)), HasSubstr(kRefused));
}

}  // namespace
}  // namespace eci::runc
