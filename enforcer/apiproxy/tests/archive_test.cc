// decide() on docker cp (HEAD/GET/PUT /containers/{name}/archive): dockerd copies through the
// container's mounts as host root, so a container that mounts host files gets docker cp from
// root only; the rootfs and plain named volumes of every container keep it.
#include <gtest/gtest.h>

#include "eci/apiproxy/decide.h"
#include "helpers.h"

namespace eci::apiproxy {
namespace {

using namespace testing;  // NOLINT

class Archive : public ::testing::Test {
 protected:
  void SetUp() override {
    auto add = [&](const std::string& name, std::vector<ContainerFacts::Mount> mounts) {
      ContainerFacts c;
      c.id = name + "-id";
      c.image = kId1;
      c.imageName = "busybox";
      c.mounts = std::move(mounts);
      engine.containers[name] = c;
    };
    add("rootfs-only", {});
    add("named-volume", {{"volume", "/var/lib/docker/volumes/data/_data", "data", "local"}});
    add("host-bind", {{"bind", "/home/dev/src", "", ""}});
    add("bind-volume", {{"volume", "", "data", "local"}, {"volume", "", "alice", "local"}});
    add("device-volume", {{"volume", "", "disk", "local"}});
    add("plugin-volume", {{"volume", "", "remote", "some/plugin"}});
    add("own-socket", {{"bind", std::string(kSocketDir) + "/" + kToken + "/docker.sock", "", ""}});
    engine.volumes["data"] = {"data", "local", {}};
    engine.volumes["alice"] = {
        "alice", "local", {{"type", "none"}, {"o", "bind"}, {"device", "/home/alice"}}};
    engine.volumes["disk"] = {"disk", "local", {{"type", "ext4"}, {"device", "/dev/sdb1"}}};
    cfg = config();
    cfg.socketDir = kSocketDir;
    dev.uid = 1000;
    dev.gid = 1000;
    root.uid = 0;
    root.gid = 0;
  }
  Decision cp(const std::string& method, const std::string& container, const Caller& who) {
    return run(request(method, "/v1.41/containers/" + container + "/archive?path=%2Fx", "", ""),
               policy(), engine, fs, who, cfg);
  }

  static constexpr const char* kSocketDir = "/run/eci-apiproxy/sockets";
  FakeEngine engine;
  FakeFs fs;
  Config cfg;
  Caller dev;
  Caller root;
};

TEST_F(Archive, RootfsAndPlainVolumesKeepDockerCp) {
  for (const char* method : {"HEAD", "GET", "PUT"}) {
    for (const char* c : {"rootfs-only", "named-volume", "own-socket", "no-such-container"}) {
      EXPECT_EQ(cp(method, c, dev).verdict, Verdict::kAllow) << method << " " << c;
    }
  }
}

TEST_F(Archive, HostFilesRefusedForAnyoneButRoot) {
  for (const char* method : {"HEAD", "GET", "PUT"}) {
    for (const char* c : {"host-bind", "bind-volume", "device-volume", "plugin-volume"}) {
      const Decision d = cp(method, c, dev);
      EXPECT_EQ(d.verdict, Verdict::kRefuse) << method << " " << c;
      EXPECT_EQ(d.status, 403);
      EXPECT_NE(d.message.find("docker cp is not available for container \"" + std::string(c)),
                std::string::npos)
          << d.message;
      EXPECT_EQ(cp(method, c, root).verdict, Verdict::kAllow) << method << " " << c;
    }
  }
  EXPECT_NE(cp("PUT", "host-bind", dev).message.find("/home/dev/src"), std::string::npos);
  EXPECT_NE(cp("GET", "bind-volume", dev).message.find("volume alice"), std::string::npos);
}

TEST_F(Archive, OnAPerContainerSocketEvenRootIsRefused) {
  Caller inside = root;
  inside.perContainerSocket = true;
  inside.containerId = "holder-id";
  EXPECT_EQ(cp("PUT", "host-bind", inside).verdict, Verdict::kRefuse);
  EXPECT_EQ(cp("PUT", "rootfs-only", inside).verdict, Verdict::kAllow);
}

}  // namespace
}  // namespace eci::apiproxy
