// decide(): requests on a per-container socket (the command list, siblings bound to the
// container's own paths), and the inspect parsers.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "decide_fixture.h"

namespace eci::apiproxy {
namespace {

using namespace testing;  // NOLINT
using nlohmann::json;

// ---- per-container sockets ----

class ContainerSocket : public Guard {
 protected:
  Caller caller() const {
    Caller c;
    c.perContainerSocket = true;
    c.containerId = "parent";
    c.imageId = kId1;
    c.containerBindSources = {"/home/dev/src",
                              std::string("/run/eci-apiproxy/sockets/") + kToken + "/docker.sock"};
    return c;
  }
  Policy withCommands(CommandList::Type t, std::vector<std::string> cmds) {
    Policy p = policy({"docker:cli"});
    p.commandList = {t, std::move(cmds)};
    return p;
  }
};

TEST_F(ContainerSocket, DeniedCommandQuotesThePathAsSent) {
  auto p = withCommands(CommandList::Type::kDeny, {"push"});
  const std::string target = "/v1.41/images/myimage/push?tag=latest";
  auto d = run(request("POST", target, "", ""), p, engine, fs, caller());
  ASSERT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.rule, "command-list");
  EXPECT_EQ(
      d.message,
      "enhanced container isolation: docker command \"/v1.41/images/myimage/push?tag=latest\" "
      "is blocked; if you wish to allow it, configure the docker socket command list in the "
      "Docker Desktop settings.");
  // Percent-encoded spellings are the same route, quoted as sent.
  d = run(request("POST", "/v1.41/images/myimage%2Fpush?tag=latest", "", ""), p, engine, fs,
          caller());
  EXPECT_EQ(d.rule, "command-list");
  EXPECT_NE(d.message.find("\"/v1.41/images/myimage%2Fpush?tag=latest\""), std::string::npos);
}

TEST_F(ContainerSocket, CommandListDoesNotApplyOnThePublicSocket) {
  auto p = withCommands(CommandList::Type::kDeny, {"push"});
  auto d = run(request("POST", "/v1.41/images/myimage/push?tag=latest", "", ""), p, engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

TEST_F(ContainerSocket, AllowListPermitsOnlyItsRequests) {
  auto p = withCommands(CommandList::Type::kAllow, {"ps"});
  EXPECT_EQ(run(request("GET", "/v1.41/containers/json"), p, engine, fs, caller()).verdict,
            Verdict::kAllow);
  EXPECT_EQ(run(request("GET", "/_ping"), p, engine, fs, caller()).verdict, Verdict::kAllow);
  EXPECT_EQ(run(request("GET", "/v1.41/version"), p, engine, fs, caller()).verdict,
            Verdict::kAllow);
  EXPECT_EQ(run(request("POST", "/v1.41/containers/create", R"({"Image":"alpine"})"), p, engine, fs,
                caller())
                .rule,
            "command-list");
}

TEST_F(ContainerSocket, ImportAndPullAreDistinguishedByFromImage) {
  auto p = withCommands(CommandList::Type::kDeny, {"import"});
  EXPECT_EQ(run(request("POST", "/images/create?fromImage=alpine&tag=latest", "", ""), p, engine,
                fs, caller())
                .verdict,
            Verdict::kAllow);
  EXPECT_EQ(run(request("POST", "/images/create?fromSrc=-", "", ""), p, engine, fs, caller()).rule,
            "command-list");
}

TEST_F(ContainerSocket, SwarmPluginsDebugAndOptionsAreNeverAvailable) {
  auto p = withCommands(CommandList::Type::kDeny, {});
  for (auto [m, t] :
       std::vector<std::pair<const char*, const char*>>{{"POST", "/v1.41/swarm/init"},
                                                        {"GET", "/v1.41/services"},
                                                        {"GET", "/plugins"},
                                                        {"POST", "/plugins/pull"},
                                                        {"GET", "/debug/pprof/heap"},
                                                        {"OPTIONS", "/v1.41/info"},
                                                        {"POST", "/services/create"}}) {
    auto d = run(request(m, t, "{}"), p, engine, fs, caller());
    EXPECT_EQ(d.rule, "container-socket") << m << " " << t;
    EXPECT_NE(d.message.find(std::string("\"") + t + "\""), std::string::npos);
  }
}

TEST_F(ContainerSocket, SiblingMayBindOnlyWhatTheContainerHas) {
  auto p = withCommands(CommandList::Type::kDeny, {});
  auto d = run(request("POST", "/containers/create",
                       createBody(R"({"Binds":["/home/dev/src/sub:/w"]})", "alpine")),
               p, engine, fs, caller());
  EXPECT_EQ(d.verdict, Verdict::kAllow) << d.message;
  d = run(
      request("POST", "/containers/create", createBody(R"({"Binds":["/home/dev:/w"]})", "alpine")),
      p, engine, fs, caller());
  EXPECT_EQ(d.rule, "container-socket-binds");
  d = run(request("POST", "/containers/create", createBody(R"({"Binds":["/etc:/w"]})", "alpine")),
          p, engine, fs, caller());
  EXPECT_EQ(d.rule, "container-socket-binds");
  // Its own per-container socket is not a path it may hand on.
  d = run(request("POST", "/containers/create",
                  createBody(std::string(R"({"Binds":["/run/eci-apiproxy/sockets/)") + kToken +
                                 R"(/docker.sock:/s"]})",
                             "alpine")),
          p, engine, fs, caller());
  EXPECT_EQ(d.rule, "socket-dir");
}

TEST_F(ContainerSocket, SiblingVolumesFromIsBoundToTheContainersPaths) {
  auto p = withCommands(CommandList::Type::kDeny, {});
  ContainerFacts hostEtc;
  hostEtc.id = "e";
  hostEtc.mounts = {{"bind", "/etc", "", ""}};
  engine.containers["hostetc"] = hostEtc;
  auto d = run(
      request("POST", "/containers/create", createBody(R"({"VolumesFrom":["hostetc"]})", "alpine")),
      p, engine, fs, caller());
  EXPECT_EQ(d.rule, "container-socket-binds");
  // The same request on the public socket is the host user's own business.
  d = run(
      request("POST", "/containers/create", createBody(R"({"VolumesFrom":["hostetc"]})", "alpine")),
      p, engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

TEST_F(ContainerSocket, SiblingSocketMountNeedsItsOwnAllowlisting) {
  auto p = withCommands(CommandList::Type::kDeny, {});
  auto d = run(request("POST", "/containers/create",
                       createBody(R"({"Binds":["/var/run/docker.sock:/s"]})", "alpine")),
               p, engine, fs, caller());
  EXPECT_EQ(d.rule, "socket-mount");
  d = run(request("POST", "/containers/create",
                  createBody(R"({"Binds":["/var/run/docker.sock:/s"]})", "docker:cli")),
          p, engine, fs, caller());
  EXPECT_EQ(d.verdict, Verdict::kRewrite);
}

TEST_F(ContainerSocket, SiblingVolumeCreateIsBoundToTheContainersPaths) {
  auto p = withCommands(CommandList::Type::kDeny, {});
  auto d = run(request("POST", "/volumes/create",
                       R"({"Name":"v","DriverOpts":{"o":"bind","device":"/home/dev"}})"),
               p, engine, fs, caller());
  EXPECT_EQ(d.rule, "container-socket-binds");
}

TEST_F(ContainerSocket, PrivilegedRunIsAllowed) {
  auto p = withCommands(CommandList::Type::kDeny, {});
  auto d = run(request("POST", "/containers/create",
                       R"({"Image":"alpine","HostConfig":{"Privileged":true}})"),
               p, engine, fs, caller());
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

// ---- inspect parsers ----

TEST(Parsers, ImageInspect) {
  auto f = parseImageInspect(
      R"({"Id":"sha256:aa","RepoTags":["docker:cli"],"RepoDigests":["docker@sha256:bb"],"RootFS":{"Type":"layers","Layers":["sha256:l1"]}})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->id, "sha256:aa");
  EXPECT_EQ(f->repoDigests.at(0), "docker@sha256:bb");
  EXPECT_EQ(f->layers.at(0), "sha256:l1");
  EXPECT_FALSE(parseImageInspect("{}").ok());
  EXPECT_FALSE(parseImageInspect("[").ok());
}

TEST(Parsers, ImageList) {
  auto l = parseImageList(R"([{"Id":"sha256:a","RepoDigests":["x@sha256:b"]},{"Id":""},3])");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].repoDigests.at(0), "x@sha256:b");
}

TEST(Parsers, ContainerInspect) {
  auto c = parseContainerInspect(
      R"({"Id":"abc","Image":"sha256:i","Config":{"Image":"docker:cli"},
          "Mounts":[{"Type":"bind","Source":"/run/x","Destination":"/x"},{"Type":"volume","Name":"v","Source":"/var/lib/docker/volumes/v/_data","Driver":"local"}],
          "HostConfig":{"Binds":["/home:/h","vol2:/v2"]}})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->image, "sha256:i");
  EXPECT_EQ(c->imageName, "docker:cli");
  ASSERT_EQ(c->mounts.size(), 4u);
  EXPECT_EQ(c->mounts[1].name, "v");
  EXPECT_EQ(c->mounts[2].source, "/home");
  EXPECT_EQ(c->mounts[3].name, "vol2");
}

TEST(Parsers, VolumeInspect) {
  auto v =
      parseVolumeInspect(R"({"Name":"v","Driver":"local","Options":{"device":"/run","o":"bind"}})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->options.at("device"), "/run");
}

}  // namespace
}  // namespace eci::apiproxy
