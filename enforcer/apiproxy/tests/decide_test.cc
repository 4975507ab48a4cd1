// decide(): every rule, through the daemon's two-phase loop against a fake engine and host.
#include "eci/apiproxy/decide.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "helpers.h"

namespace eci::apiproxy {
namespace {

using namespace testing;  // NOLINT
using nlohmann::json;

const char* kDeniedDocker =
    "enhanced container isolation: docker socket mount denied for container with image "
    "\"docker.io/library/docker\"; image is not in the allowed list; if you wish to allow it, "
    "configure the docker socket image list in the Docker Desktop settings.";

class Guard : public ::testing::Test {
 protected:
  void SetUp() override {
    // docker:cli, pulled: its RepoDigest is the registry's current digest for the tag.
    dockerCli.id = kId1;
    dockerCli.repoTags = {"docker:cli"};
    dockerCli.repoDigests = {"docker@" + kD1};
    dockerCli.layers = {"sha256:l1", "sha256:l2"};
    engine.addImage(dockerCli, {"docker:cli", "docker.io/library/docker:cli"});
    engine.registry["docker.io/library/docker:cli"] = kD1;
    // alpine, pulled.
    alpine.id = kId2;
    alpine.repoTags = {"alpine:latest"};
    alpine.repoDigests = {"alpine@" + kD2};
    alpine.layers = {"sha256:a1"};
    engine.addImage(alpine, {"alpine", "alpine:latest"});
    engine.registry["docker.io/library/alpine:latest"] = kD2;
  }

  Decision create(const std::string& body, const Policy& p, const Caller& caller = {}) {
    return run(request("POST", "/v1.41/containers/create", body), p, engine, fs, caller);
  }

  FakeEngine engine;
  FakeFs fs;
  ImageFacts dockerCli, alpine;
};

json bodyOf(const Decision& d) {
  return json::parse(d.body);
}

// ---- ECI off, plain requests ----

TEST_F(Guard, EciOffPassesEverything) {
  Policy p = policy();
  p.enabled = false;
  auto d = create(createBody(R"({"Binds":["/var/run/docker.sock:/var/run/docker.sock"]})"), p);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  d = run(request("GET", "//weird/../path"), p, engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

TEST_F(Guard, PlainRequestsPassWithoutBodyOrFacts) {
  for (const char* t : {"/_ping", "/v1.41/version", "/v1.41/containers/json", "/v1.41/info"}) {
    Facts none;
    auto d = decide(request("GET", t), {}, policy(), config(), none, fs);
    EXPECT_EQ(d.verdict, Verdict::kAllow) << t;
  }
}

TEST_F(Guard, UnknownRouteIs404) {
  auto d = run(request("GET", "/v1.41/nope"), policy(), engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.status, 404);
  EXPECT_EQ(d.message, "page not found");
}

TEST_F(Guard, MalformedRequestIs400) {
  auto d = run(request("GET", "/v1.41/containers/../json"), policy(), engine, fs);
  EXPECT_EQ(d.status, 400);
  EXPECT_EQ(d.rule, "request");
}

TEST_F(Guard, DebugRoutesAreUnversionedOnly) {
  EXPECT_EQ(run(request("GET", "/debug/vars"), policy(), engine, fs).verdict, Verdict::kAllow);
  EXPECT_EQ(run(request("GET", "/v1.41/debug/vars"), policy(), engine, fs).status, 404);
}

TEST_F(Guard, TooManyRoundsFailsClosed) {
  Facts none;
  auto d = decide(request("GET", "/_ping"), {}, policy(), config(), none, fs, kMaxRounds + 1);
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.status, 500);
}

// ---- create: bodies ----

TEST_F(Guard, CreateAsksForTheBodyFirst) {
  Facts none;
  auto r = request("POST", "/containers/create");
  r.contentLength = 100;
  auto d = decide(r, {}, policy(), config(), none, fs);
  EXPECT_EQ(d.verdict, Verdict::kNeedBody);
  EXPECT_EQ(d.maxBody, kMaxInspectedBody);
}

TEST_F(Guard, OversizeCreateBodyIs413) {
  Facts none;
  auto r = request("POST", "/containers/create");
  r.contentLength = static_cast<int64_t>(kMaxInspectedBody) + 1;
  EXPECT_EQ(decide(r, {}, policy(), config(), none, fs).status, 413);
}

TEST_F(Guard, CreateWithoutMountsPasses) {
  auto d = create(R"({"Image":"alpine","Cmd":["true"]})", policy());
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  EXPECT_TRUE(d.recordsCaller);
  EXPECT_EQ(engine.rounds, 1);  // body only, no facts for a plain create
}

TEST_F(Guard, CreateWithHomeBindPasses) {
  auto d = create(createBody(R"({"Binds":["/home/dev/src:/src:ro"]})", "alpine"), policy());
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

TEST_F(Guard, MalformedCreateBodiesAre400) {
  for (const char* b : {
           R"({"Image":"a","HostConfig":{"Binds":"/run:/x"}})",
           R"({"Image":"a","HostConfig":{"Binds":[1]}})",
           R"({"Image":"a","HostConfig":{"Mounts":[{"Type":"Bind","Source":"/x","Target":"/y"}]}})",
           R"({"Image":"a","HostConfig":{"Binds":["/a:/b:/c:/d"]}})",
           R"({"Image":"a","HostConfig":{"Binds":[":/b"]}})",
           R"({"Image":"a","HostConfig":{"Binds":["/a:rw"]}})",
           R"({"Image":"a","HostConfig":{"Binds":["/a:/b:rw,ro"]}})",
           R"({"Image":1})",
           R"({"Image":"a","HostConfig":{"Runtime":5}})",
           R"([1,2])",
           R"({"Image":"a","HostConfig":{},"hostconfig":{}})",
       }) {
    auto d = create(b, policy());
    EXPECT_EQ(d.verdict, Verdict::kRefuse) << b;
    EXPECT_EQ(d.status, 400) << b;
  }
}

// ---- create: socket mounts refused ----

TEST_F(Guard, SocketBindWithEmptyListGetsTheEmptyListMessage) {
  auto d =
      create(createBody(R"({"Binds":["/var/run/docker.sock:/var/run/docker.sock"]})"), policy());
  ASSERT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.rule, "socket-mount");
  EXPECT_EQ(d.message,
            "enhanced container isolation: docker socket mount denied for container with image "
            "\"docker.io/library/docker\"; allowed image list is empty; if you wish to allow it, "
            "configure the docker socket image list in the Docker Desktop settings.");
}

TEST_F(Guard, SocketBindOfUnlistedImageGetsDockersMessage) {
  auto d = create(createBody(R"({"Binds":["/var/run/docker.sock:/s"]})"), policy({"alpine"}));
  ASSERT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.message, kDeniedDocker);
}

TEST_F(Guard, EverySpellingOfTheSocketIsFound) {
  for (const char* hc : {
           R"({"Binds":["/run/docker.sock:/s"]})",
           R"({"Binds":["/var/run/docker.sock:/s:ro"]})",
           R"({"Binds":["/run/../run/docker.sock:/s"]})",
           R"({"Binds":["//run//docker.sock/:/s"]})",
           R"({"Binds":["/var/run:/hostrun"]})",
           R"({"Binds":["/run:/hostrun"]})",
           R"({"Binds":["/:/host"]})",
           R"({"Mounts":[{"Type":"bind","Source":"/var/run/docker.sock","Target":"/s"}]})",
           R"({"mounts":[{"type":"bind","source":"/run","target":"/s"}]})",
           "{\"Bind\xC5\xBF\":[\"/run/docker.sock:/s\"]}",
       }) {
    auto d = create(createBody(hc), policy({"alpine"}));
    EXPECT_EQ(d.verdict, Verdict::kRefuse) << hc;
    EXPECT_EQ(d.message, kDeniedDocker) << hc;
  }
}

TEST_F(Guard, SymlinkedRunInsideABoundDirectoryStaysInTheContainer) {
  // /var/run -> /run is a symlink: inside a container that binds /var it points at the
  // container's own /run, not the host's.
  auto d = create(createBody(R"({"Binds":["/var:/v"]})", "alpine"), policy());
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

TEST_F(Guard, MountOfTheSocketDirectoryBelowABoundDirectoryIsFound) {
  // Binds are recursive: a bind mount of /run at /srv/state/run comes along with /srv.
  fs.dir("/srv");
  fs.dir("/srv/state");
  fs.mountAt("/srv/state/run", "/run");
  auto d = create(createBody(R"({"Binds":["/srv:/s"]})"), policy());
  EXPECT_EQ(d.rule, "socket-mount");
  fs.mountAt("/srv/state/sock", "/run/docker.sock");
  d = create(createBody(R"({"Binds":["/srv/state:/s"]})"), policy());
  EXPECT_EQ(d.rule, "socket-mount");
}

TEST_F(Guard, LexicalCleanBeforeSymlinksAsDockerdDoes) {
  // dockerd path.Clean()s "/var/run/../docker.sock" to "/var/docker.sock" (not the socket).
  auto d = create(createBody(R"({"Binds":["/var/run/../docker.sock:/s"]})", "alpine"), policy());
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

TEST_F(Guard, TopLevelLegacyHostConfigIsChecked) {
  auto d = create(R"({"Image":"docker:cli","Binds":["/var/run/docker.sock:/s"]})", policy());
  EXPECT_EQ(d.rule, "socket-mount");
  d = create(
      R"({"Image":"docker:cli","HostConfig":{},"Mounts":[{"Type":"bind","Source":"/run","Target":"/r"}]})",
      policy());
  EXPECT_EQ(d.rule, "socket-mount");
}

TEST_F(Guard, LowercaseHostConfigKeyIsTheHostConfig) {
  auto d =
      create(R"({"image":"docker:cli","hostconfig":{"binds":["/run/docker.sock:/s"]}})", policy());
  EXPECT_EQ(d.rule, "socket-mount");
}

TEST_F(Guard, SymlinkToTheSocketIsFound) {
  fs.link("/home/dev/sock", "/run/docker.sock");
  auto d = create(createBody(R"({"Binds":["/home/dev/sock:/s"]})"), policy());
  EXPECT_EQ(d.rule, "socket-mount");
}

TEST_F(Guard, HardLinkToTheSocketIsFound) {
  fs.hardlink("/run/user-link.sock", "/run/docker.sock");
  fs.hardlink("/tmp/x.sock", "/run/docker.sock");
  auto d = create(createBody(R"({"Binds":["/tmp/x.sock:/s"]})"), policy());
  EXPECT_EQ(d.rule, "socket-mount");
}

TEST_F(Guard, AnotherMountOfTheSocketDirectoryIsFound) {
  fs.alias("/tmp/runcopy", "/run");
  auto d = create(createBody(R"({"Binds":["/tmp/runcopy:/r"]})"), policy());
  EXPECT_EQ(d.rule, "socket-mount");
}

TEST_F(Guard, PrivateAndContainerdSocketsAreEngineSockets) {
  auto d = create(createBody(R"({"Binds":["/run/eci/dockerd.sock:/s"]})"), policy());
  EXPECT_EQ(d.rule, "socket-mount");
  d = create(createBody(R"({"Binds":["/run/containerd/containerd.sock:/s"]})"), policy());
  EXPECT_EQ(d.rule, "socket-mount");
}

TEST_F(Guard, UnresolvableBindSourceFailsClosed) {
  fs.link("/tmp/loop", "/tmp/loop");
  auto d = create(createBody(R"({"Binds":["/tmp/loop:/s"]})", "alpine"), policy());
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(Guard, SocketDirectoryBindsAreRefusedEvenForAllowedImages) {
  auto d = create(createBody(std::string(R"({"Binds":["/run/eci-apiproxy/sockets/)") + kToken +
                             R"(/docker.sock:/s"]})"),
                  policy({"docker:cli"}));
  EXPECT_EQ(d.rule, "socket-dir");
}

// ---- create: allowlisted images get their own socket ----

TEST_F(Guard, AllowedImageGetsAPerContainerSocket) {
  auto d = create(
      createBody(R"({"Binds":["/var/run/docker.sock:/var/run/docker.sock:ro"],"Runtime":"runc"})"),
      policy({"docker:cli"}));
  ASSERT_EQ(d.verdict, Verdict::kRewrite) << d.message;
  ASSERT_TRUE(d.socket.has_value());
  const std::string path = std::string("/run/eci-apiproxy/sockets/") + kToken + "/docker.sock";
  EXPECT_EQ(d.socket->path, path);
  EXPECT_EQ(d.socket->token, kToken);
  auto b = bodyOf(d);
  EXPECT_EQ(b["HostConfig"]["Binds"][0], path + ":/var/run/docker.sock:ro");
  EXPECT_FALSE(b["HostConfig"].contains("Runtime"));
  EXPECT_EQ(b["Image"], "docker:cli");
}

TEST_F(Guard, AllowedImageMountsFormIsRewrittenToo) {
  auto d = create(
      createBody(R"({"Mounts":[{"Type":"bind","Source":"/run/docker.sock","Target":"/s"}]})"),
      policy({"docker.io/library/docker:cli"}));
  ASSERT_EQ(d.verdict, Verdict::kRewrite);
  EXPECT_EQ(bodyOf(d)["HostConfig"]["Mounts"][0]["Source"], d.socket->path);
}

TEST_F(Guard, AllowedImageBindingTheParentDirectoryIsRefused) {
  auto d = create(createBody(R"({"Binds":["/var/run:/r"]})"), policy({"docker:cli"}));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.rule, "socket-mount-path");
}

TEST_F(Guard, AllowedImageBindingThePrivateSocketIsRefused) {
  auto d = create(createBody(R"({"Binds":["/run/eci/dockerd.sock:/s"]})"), policy({"docker:cli"}));
  EXPECT_EQ(d.rule, "socket-mount-path");
}

TEST_F(Guard, MissingTokenFailsClosed) {
  Config c = config();
  c.freshToken = "short";
  auto d =
      run(request("POST", "/containers/create", createBody(R"({"Binds":["/run/docker.sock:/s"]})")),
          policy({"docker:cli"}), engine, fs, {}, c);
  EXPECT_EQ(d.status, 500);
}

TEST_F(Guard, MissingImageIs404SoTheCliPulls) {
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "docker:dind"),
                  policy({"docker:dind"}));
  EXPECT_EQ(d.status, 404);
  EXPECT_EQ(d.message, "No such image: docker:dind");
}

// ---- image matching by digest ----

TEST_F(Guard, RetaggedImageIsRefused) {
  // `docker tag alpine docker:cli`: the name is allowed, the content is alpine's.
  engine.addImage(alpine, {"docker:cli"});
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})"), policy({"docker:cli"}));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.message, kDeniedDocker);
}

TEST_F(Guard, StaleTagIsRefused) {
  engine.registry["docker.io/library/docker:cli"] = kD2;  // the tag moved upstream
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})"), policy({"docker:cli"}));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(Guard, OfflineTagEntriesCannotBeVerified) {
  engine.registry.clear();
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})"), policy({"docker:cli"}));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(Guard, OfflinePinnedDigestMatches) {
  engine.registry.clear();
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})"), policy({"docker@" + kD1}));
  EXPECT_EQ(d.verdict, Verdict::kRewrite);
}

TEST_F(Guard, PinnedDigestOfAnotherRepoDoesNotMatch) {
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})"), policy({"alpine@" + kD1}));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(Guard, PinnedDigestMayNameALocalImageId) {
  ImageFacts built;
  built.id = kId3;
  built.repoTags = {"ci/tool:dev"};
  built.layers = {"sha256:z"};
  engine.addImage(built, {"ci/tool:dev"});
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "ci/tool:dev"),
                  policy({"ci/tool@" + kId3}));
  EXPECT_EQ(d.verdict, Verdict::kRewrite) << d.message;
  d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "ci/tool:dev"),
             policy({"ci/tool@" + kId1}));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(Guard, AnyTagEntryMatchesAnyRepoDigestOfTheRepo) {
  engine.registry.clear();  // needs no registry
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})"), policy({"docker:*"}));
  EXPECT_EQ(d.verdict, Verdict::kRewrite);
}

TEST_F(Guard, EverythingEntry) {
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "alpine"), policy({"*"}));
  EXPECT_EQ(d.verdict, Verdict::kRewrite);
}

TEST_F(Guard, PrefixWildcardDoesNotCrossSlash) {
  ImageFacts ryuk;
  ryuk.id = kId3;
  ryuk.repoDigests = {"testcontainers/ryuk@" + kD1};
  ryuk.layers = {"sha256:r"};
  engine.addImage(ryuk, {"testcontainers/ryuk:0.5"});
  ImageFacts deep;
  deep.id = "sha256:" + std::string(64, 'd');
  deep.repoDigests = {"testcontainers/x/y@" + kD2};
  deep.layers = {"sha256:y"};
  engine.addImage(deep, {"testcontainers/x/y:1"});
  const Policy p = policy({"testcontainers/*:*"});
  EXPECT_EQ(create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "testcontainers/ryuk:0.5"), p)
                .verdict,
            Verdict::kRewrite);
  EXPECT_EQ(
      create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "testcontainers/x/y:1"), p).verdict,
      Verdict::kRefuse);
}

TEST_F(Guard, DerivedLocalImageIsAllowedWhenItsLayersStartWithAnAllowedImage) {
  ImageFacts derived;
  derived.id = kId3;
  derived.repoTags = {"mytool:latest"};
  derived.layers = {"sha256:l1", "sha256:l2", "sha256:l3"};
  engine.addImage(derived, {"mytool"});
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "mytool"),
                  policy({"docker:cli"}, /*derived=*/true));
  EXPECT_EQ(d.verdict, Verdict::kRewrite) << d.message;
  d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "mytool"),
             policy({"docker:cli"}, /*derived=*/false));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(Guard, DerivedNeedsTheWholeParentChain) {
  ImageFacts other;
  other.id = kId3;
  other.layers = {"sha256:l1", "sha256:x"};
  engine.addImage(other, {"other"});
  auto d =
      create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "other"), policy({"docker:cli"}));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(Guard, PulledImagesAreNeverDerived) {
  ImageFacts pulled;
  pulled.id = kId3;
  pulled.repoDigests = {"evil/img@" + kD2};
  pulled.layers = {"sha256:l1", "sha256:l2", "sha256:l3"};
  engine.addImage(pulled, {"evil/img"});
  auto d = create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "evil/img"),
                  policy({"docker:cli"}));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(Guard, DerivedFromAStaleParentIsRefused) {
  engine.registry["docker.io/library/docker:cli"] = kD2;
  ImageFacts derived;
  derived.id = kId3;
  derived.layers = {"sha256:l1", "sha256:l2", "sha256:l3"};
  engine.addImage(derived, {"mytool"});
  auto d =
      create(createBody(R"({"Binds":["/run/docker.sock:/s"]})", "mytool"), policy({"docker:cli"}));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

// ---- runtime ----

TEST_F(Guard, RuntimeIsRewrittenAwayInBothPlaces) {
  auto d = create(R"({"Image":"alpine","Runtime":"crun","HostConfig":{"runtime":"runc.distrib"}})",
                  policy());
  ASSERT_EQ(d.verdict, Verdict::kRewrite);
  auto b = bodyOf(d);
  EXPECT_FALSE(b.contains("Runtime"));
  EXPECT_FALSE(b["HostConfig"].contains("runtime"));
  EXPECT_EQ(b["Image"], "alpine");
  EXPECT_FALSE(d.socket.has_value());
}

TEST_F(Guard, RuntimeRewriteKeepsTheRestOfTheBody) {
  auto d = create(
      R"({"Image":"alpine","Labels":{"a":"1"},"HostConfig":{"Runtime":"x","Privileged":true,"Memory":123456789012}})",
      policy());
  ASSERT_EQ(d.verdict, Verdict::kRewrite);
  auto b = bodyOf(d);
  EXPECT_EQ(b["HostConfig"]["Privileged"], true);
  EXPECT_EQ(b["HostConfig"]["Memory"], 123456789012LL);
  EXPECT_EQ(b["Labels"]["a"], "1");
}

// ---- volumes and volumes-from ----

TEST_F(Guard, NamedLocalBindVolumeReachingTheSocketIsRefused) {
  engine.volumes["runvol"] = {
      "runvol", "local", {{"type", "none"}, {"o", "bind"}, {"device", "/run"}}};
  auto d = create(createBody(R"({"Binds":["runvol:/r"]})"), policy());
  EXPECT_EQ(d.rule, "socket-mount");
  d = create(createBody(R"({"Mounts":[{"Type":"volume","Source":"runvol","Target":"/r"}]})"),
             policy({"docker:cli"}));
  EXPECT_EQ(d.rule, "socket-mount-path");
}

TEST_F(Guard, HarmlessNamedVolumePasses) {
  engine.volumes["data"] = {"data", "local", {}};
  auto d = create(createBody(R"({"Binds":["data:/data"]})", "alpine"), policy());
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

TEST_F(Guard, NewVolumeWithBindOptionsInTheMountIsChecked) {
  auto d = create(createBody(R"({"Mounts":[{"Type":"volume","Source":"newvol","Target":"/r",
      "VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/var/run"}}}}]})"),
                  policy());
  EXPECT_EQ(d.rule, "socket-mount");
  // Anonymous volumes are created with the request's options too.
  d = create(createBody(R"({"Mounts":[{"Type":"volume","Target":"/r",
      "VolumeOptions":{"DriverConfig":{"Options":{"o":"rbind","device":"/"}}}}]})"),
             policy());
  EXPECT_EQ(d.rule, "socket-mount");
}

TEST_F(Guard, VolumeDeviceOnARestrictedPathIsRefused) {
  Policy p = policy();
  p.restrictedHostMounts = {"/etc/docker"};
  auto d = create(createBody(R"({"Mounts":[{"Type":"volume","Source":"v","Target":"/r",
      "VolumeOptions":{"DriverConfig":{"Options":{"o":"bind","device":"/etc"}}}}]})",
                             "alpine"),
                  p);
  EXPECT_EQ(d.rule, "volume-options");
}

TEST_F(Guard, VolumesFromASocketContainerIsRefused) {
  ContainerFacts holder;
  holder.id = "c1";
  holder.image = kId1;
  holder.mounts = {{"bind", "/run/docker.sock", "", ""}};
  engine.containers["holder"] = holder;
  auto d = create(createBody(R"({"VolumesFrom":["holder:ro"]})", "alpine"), policy());
  EXPECT_EQ(d.rule, "socket-mount");
  ContainerFacts granted;
  granted.id = "c2";
  granted.mounts = {
      {"bind", std::string("/run/eci-apiproxy/sockets/") + kToken + "/docker.sock", "", ""}};
  engine.containers["granted"] = granted;
  d = create(createBody(R"({"VolumesFrom":["granted"]})", "alpine"), policy({"docker:cli"}));
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(Guard, VolumesFromAPlainContainerPasses) {
  ContainerFacts plain;
  plain.id = "c3";
  plain.mounts = {{"bind", "/home/dev/src", "", ""}, {"volume", "", "data", "local"}};
  engine.containers["plain"] = plain;
  engine.volumes["data"] = {"data", "local", {}};
  auto d = create(createBody(R"({"VolumesFrom":["plain"]})", "alpine"), policy());
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

// ---- POST /volumes/create ----

Decision volumeCreate(FakeEngine& e, FakeFs& fs, const std::string& body, Policy p = policy()) {
  return run(request("POST", "/v1.41/volumes/create", body), p, e, fs);
}

TEST_F(Guard, VolumeCreateBindingTheSocketIsRefused) {
  auto d = volumeCreate(
      engine, fs,
      R"({"Name":"v","Driver":"local","DriverOpts":{"type":"none","o":"bind","device":"/var/run"}})");
  EXPECT_EQ(d.rule, "volume-socket");
  d = volumeCreate(engine, fs,
                   R"({"Name":"v","DriverOpts":{"o":"bind","device":"/run/docker.sock"}})");
  EXPECT_EQ(d.rule, "volume-socket");
}

TEST_F(Guard, VolumeCreateRestrictedAndDevicesAreRefused) {
  Policy p = policy();
  p.restrictedHostMounts = {"/etc/docker"};
  EXPECT_EQ(volumeCreate(engine, fs,
                         R"({"Name":"v","DriverOpts":{"o":"bind","device":"/etc/docker"}})", p)
                .rule,
            "volume-options");
  EXPECT_EQ(volumeCreate(engine, fs,
                         R"({"Name":"v","DriverOpts":{"o":"bind","device":"/var/lib/docker/x"}})")
                .rule,
            "volume-options");
  EXPECT_EQ(
      volumeCreate(engine, fs, R"({"Name":"v","DriverOpts":{"type":"ext4","device":"/dev/sda1"}})")
          .rule,
      "volume-options");
  EXPECT_EQ(volumeCreate(engine, fs,
                         R"({"Name":"v","DriverOpts":{"type":"overlay","o":"lowerdir=/etc"}})")
                .rule,
            "volume-options");
  EXPECT_EQ(
      volumeCreate(engine, fs, R"({"Name":"v","DriverOpts":{"o":"remount","device":"x"}})").rule,
      "volume-options");
  EXPECT_EQ(
      volumeCreate(engine, fs, R"({"Name":"v","DriverOpts":{"o":"bind","device":"relative"}})")
          .rule,
      "volume-options");
}

TEST_F(Guard, VolumeCreateHarmlessOptionsPass) {
  for (const char* b :
       {R"({"Name":"v"})",
        R"({"Name":"v","DriverOpts":{"type":"tmpfs","device":"tmpfs","o":"size=10m"}})",
        R"({"Name":"v","DriverOpts":{"type":"nfs","o":"addr=10.0.0.1","device":":/export"}})",
        R"({"Name":"v","DriverOpts":{"type":"cifs","device":"//srv/share"}})",
        R"({"Name":"v","DriverOpts":{"o":"bind","device":"/home/dev/src"}})",
        R"({"Name":"v","Driver":"someplugin","DriverOpts":{"device":"/run"}})", ""}) {
    EXPECT_EQ(volumeCreate(engine, fs, b).verdict, Verdict::kAllow) << b;
  }
}

TEST_F(Guard, VolumeCreateKeysAreMatchedLikeGo) {
  auto d = volumeCreate(engine, fs, R"({"name":"v","driveropts":{"o":"bind","device":"/run"}})");
  EXPECT_EQ(d.rule, "volume-socket");
  d = volumeCreate(engine, fs,
                   R"({"Name":"v","DriverOpts":{},"driverOpts":{"o":"bind","device":"/run"}})");
  EXPECT_EQ(d.status, 400);
}

// ---- start / restart re-check ----

class StartCheck : public Guard {
 protected:
  void SetUp() override {
    Guard::SetUp();
    ContainerFacts c;
    c.id = "abc";
    c.image = kId1;
    c.imageName = "docker:cli";
    c.mounts = {
        {"bind", std::string("/run/eci-apiproxy/sockets/") + kToken + "/docker.sock", "", ""}};
    engine.containers["abc"] = c;
  }
};

TEST_F(StartCheck, StillAllowedImageStarts) {
  auto d = run(request("POST", "/v1.41/containers/abc/start", "", ""), policy({"docker:cli"}),
               engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kAllow) << d.message;
}

TEST_F(StartCheck, ImageNoLongerAllowedIsRefusedAtStart) {
  auto d =
      run(request("POST", "/v1.41/containers/abc/start", "", ""), policy({"alpine"}), engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.message, kDeniedDocker);
}

TEST_F(StartCheck, MovedTagIsRefusedAtStart) {
  // The container's image ID no longer carries the registry's current digest for the tag.
  engine.registry["docker.io/library/docker:cli"] = kD2;
  auto d = run(request("POST", "/v1.41/containers/abc/start", "", ""), policy({"docker:cli"}),
               engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(StartCheck, RestartIsCheckedToo) {
  auto d = run(request("POST", "/containers/abc/restart", "", ""), policy({"alpine"}), engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
}

TEST_F(StartCheck, DirectEngineSocketIsRefusedAtStartEvenIfAllowed) {
  ContainerFacts c = engine.containers["abc"];
  c.mounts = {{"bind", "/var/run/docker.sock", "", ""}};
  engine.containers["old"] = c;
  auto d =
      run(request("POST", "/containers/old/start", "", ""), policy({"docker:cli"}), engine, fs);
  EXPECT_EQ(d.rule, "socket-mount-path");
}

TEST_F(StartCheck, PlainContainerStartsWithoutImageFacts) {
  ContainerFacts c;
  c.id = "p";
  c.image = kId2;
  engine.containers["p"] = c;
  auto d = run(request("POST", "/containers/p/start", "", ""), policy(), engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

TEST_F(StartCheck, LegacyStartBodiesAreRefused) {
  auto r = request("POST", "/v1.23/containers/abc/start", R"({"Binds":["/:/host"]})");
  Facts none;
  auto d = decide(r, {}, policy(), config(), none, fs);
  EXPECT_EQ(d.status, 400);
  EXPECT_EQ(d.rule, "start-body");
  r = request("POST", "/containers/abc/start", "", "");
  r.contentLength = -1;  // chunked
  EXPECT_EQ(decide(r, {}, policy(), config(), none, fs).rule, "start-body");
  r.contentLength = 2;  // "{}" is fine
  EXPECT_NE(decide(r, {}, policy(), config(), none, fs).rule, "start-body");
}

TEST_F(StartCheck, UnknownContainerIsLeftToDockerd) {
  auto d = run(request("POST", "/containers/nope/start", "", ""), policy(), engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

// ---- builds ----

TEST_F(Guard, BuildHostNetworkIsRefusedInEverySpelling) {
  for (const char* t : {"/v1.41/build?networkmode=host", "/build?networkmode=HOST",
                        "/build?networkmode=ho%73t", "/build?version=2&networkmode=host",
                        "/build?networkmode=container:abc", "/build?t=x&networkmode=Host"}) {
    auto d = run(request("POST", t, "", "application/x-tar"), policy(), engine, fs);
    EXPECT_EQ(d.verdict, Verdict::kRefuse) << t;
    EXPECT_EQ(d.status, 403) << t;
  }
  auto d =
      run(request("POST", "/build?networkmode=default&networkmode=host", "", "application/x-tar"),
          policy(), engine, fs);
  EXPECT_EQ(d.status, 400);
  d = run(request("POST", "/build?networkmode=host", "", "application/x-www-form-urlencoded"),
          policy(), engine, fs);
  EXPECT_EQ(d.status, 400);
}

TEST_F(Guard, OrdinaryBuildsPass) {
  for (const char* t : {"/v1.41/build?t=x", "/build?networkmode=default", "/build?networkmode=none",
                        "/build?networkmode=bridge"}) {
    EXPECT_EQ(run(request("POST", t, "", "application/x-tar"), policy(), engine, fs).verdict,
              Verdict::kAllow)
        << t;
  }
}

// ---- bind sources dockerd would create as root ----

TEST_F(Guard, MissingBindSourcesAreListedForTheCallerToCreate) {
  // -v binds and --mount with CreateMountpoint: dockerd creates a missing source at start.
  auto d = create(
      R"({"Image":"alpine","HostConfig":{"Binds":["/home/dev/new/dir/:/a","/home/dev/src:/b","/tmp/../tmp/x:/c:ro"],
          "Mounts":[{"Type":"bind","Source":"/home/dev/made","Target":"/d","BindOptions":{"CreateMountpoint":true}},
                    {"Type":"bind","Source":"/home/dev/absent","Target":"/e"}]}})",
      policy());
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  EXPECT_EQ(d.missingBindSources,
            (std::vector<std::string>{"/home/dev/new/dir", "/tmp/x", "/home/dev/made"}));
  // Existing sources, volumes and tmpfs ask for nothing.
  d = create(createBody(R"({"Binds":["/home/dev/src:/b","vol:/v"]})", "alpine"), policy());
  EXPECT_TRUE(d.missingBindSources.empty());
  // A malformed BindOptions is dockerd's 400.
  d = create(
      R"({"Image":"a","HostConfig":{"Mounts":[{"Type":"bind","Source":"/x","Target":"/x","BindOptions":{"CreateMountpoint":"yes"}}]}})",
      policy());
  EXPECT_EQ(d.status, 400);
}

TEST_F(Guard, StartListsABindSourceThatWentAway) {
  ContainerFacts ct;
  ct.id = "c1";
  ct.image = kId2;
  ct.mounts = {{"bind", "/home/dev/gone", "", ""}, {"bind", "/home/dev/src", "", ""}};
  engine.containers["c1"] = ct;
  auto d = run(request("POST", "/v1.41/containers/c1/start"), policy(), engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  EXPECT_EQ(d.missingBindSources, (std::vector<std::string>{"/home/dev/gone"}));
}

// ---- logging drivers ----

TEST_F(Guard, LogAddressesNamingHostUnixSocketsAreRefused) {
  // dockerd connects to these as root: every spelling of a unix scheme, in both HostConfigs.
  for (const char* opt : {R"("syslog-address":"unix:///run/eci/control.sock")",
                          R"("syslog-address":"unixgram:///dev/log")",
                          R"("syslog-address":"UNIX:///run/containerd/containerd.sock")",
                          R"("syslog-address":"unix:/run/docker.sock")",
                          R"("fluentd-address":"unix:///var/run/docker.sock")",
                          R"("any-future-address":"Unixpacket:///x")"}) {
    for (const std::string& body :
         {std::string(
              R"({"Image":"alpine","HostConfig":{"LogConfig":{"Type":"syslog","Config":{)") +
              opt + "}}}}",
          std::string(R"({"Image":"alpine","LogConfig":{"Type":"fluentd","Config":{)") + opt +
              "}}}"}) {
      auto d = create(body, policy());
      EXPECT_EQ(d.verdict, Verdict::kRefuse) << body;
      EXPECT_EQ(d.status, 403) << body;
      EXPECT_EQ(d.rule, "log-socket") << body;
      EXPECT_NE(d.message.find("host unix socket"), std::string::npos) << d.message;
    }
  }
}

TEST_F(Guard, NetworkLogAddressesAndPlainLogOptionsPass) {
  for (const char* opt :
       {R"("syslog-address":"udp://10.0.0.1:514")", R"("fluentd-address":"localhost:24224")",
        R"("gelf-address":"tcp://graylog:12201")", R"("splunk-url":"https://splunk:8088")",
        R"("tag":"{{.Name}}:unix://x")", R"("max-size":"10m")", R"("labels":"unix")"}) {
    const std::string body =
        std::string(R"({"Image":"alpine","HostConfig":{"LogConfig":{"Type":"x","Config":{)") + opt +
        "}}}}";
    EXPECT_EQ(create(body, policy()).verdict, Verdict::kAllow) << body;
  }
}

TEST_F(Guard, MalformedLogConfigIs400) {
  for (const char* b : {R"({"Image":"a","HostConfig":{"LogConfig":"syslog"}})",
                        R"({"Image":"a","HostConfig":{"LogConfig":{"Config":[]}}})",
                        R"({"Image":"a","HostConfig":{"LogConfig":{"Config":{"k":1}}}})"}) {
    auto d = create(b, policy());
    EXPECT_EQ(d.status, 400) << b;
  }
}

TEST_F(Guard, ServiceLogDriverSocketAddressesAreRefused) {
  for (const char* t : {"/v1.41/services/create", "/v1.41/services/abc/update?version=3"}) {
    auto d = run(
        request(
            "POST", t,
            R"({"TaskTemplate":{"LogDriver":{"Name":"syslog","Options":{"syslog-address":"unix:///run/eci/x.sock"}},"ContainerSpec":{"Image":"alpine"}}})"),
        policy(), engine, fs);
    EXPECT_EQ(d.rule, "log-socket") << t;
    EXPECT_EQ(d.status, 403) << t;
  }
}

// ---- plugins, services ----

TEST_F(Guard, PluginInstallIsRefusedWhileEciIsOn) {
  for (const char* t : {"/v1.41/plugins/pull?remote=x", "/plugins/x/enable", "/plugins/create",
                        "/plugins/x/set", "/plugins/x/upgrade"}) {
    EXPECT_EQ(run(request("POST", t, "[]"), policy(), engine, fs).rule, "plugin") << t;
  }
  EXPECT_EQ(run(request("GET", "/plugins"), policy(), engine, fs).verdict, Verdict::kAllow);
}

TEST_F(Guard, ServicesGetHostFilesOnlyFromRoot) {
  // Task containers are made by dockerd without a caller record: root's access to host files.
  VolumeFacts hostVol{
      "hostvol", "local", {{"type", "none"}, {"o", "bind"}, {"device", "/home/dev"}}};
  VolumeFacts plainVol{"plain", "local", {}};
  engine.volumes["hostvol"] = hostVol;
  engine.volumes["plain"] = plainVol;
  Caller dev;
  dev.uid = 4242;
  dev.gid = 4343;
  Caller root;
  root.uid = 0;
  root.gid = 0;
  const std::string pre = R"({"TaskTemplate":{"ContainerSpec":{"Image":"alpine","Mounts":[)";
  for (
      const std::string& m :
      {std::string(R"({"Type":"bind","Source":"/home/dev","Target":"/s"})"),
       std::string(R"({"Type":"volume","Source":"hostvol","Target":"/s"})"),
       std::string(
           R"({"Type":"volume","Source":"new","Target":"/s","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/home/dev"}}}})"),
       std::string(
           R"({"Type":"volume","Source":"p","Target":"/s","VolumeOptions":{"DriverConfig":{"Name":"sshfs"}}})")}) {
    for (const char* t : {"/v1.41/services/create", "/v1.41/services/x/update?version=2"}) {
      auto d = run(request("POST", t, pre + m + "]}}}"), policy(), engine, fs, dev);
      EXPECT_EQ(d.rule, "service-host-files") << m;
      EXPECT_EQ(d.status, 403) << m;
      EXPECT_EQ(run(request("POST", t, pre + m + "]}}}"), policy(), engine, fs, root).verdict,
                Verdict::kAllow)
          << m;
    }
  }
  // Plain named volumes, tmpfs and no mounts pass for anyone.
  for (const std::string& m : {std::string(R"({"Type":"volume","Source":"plain","Target":"/v"})"),
                               std::string(R"({"Type":"volume","Source":"absent","Target":"/v"})"),
                               std::string(R"({"Type":"tmpfs","Target":"/t"})")}) {
    auto d =
        run(request("POST", "/v1.41/services/create", pre + m + "]}}}"), policy(), engine, fs, dev);
    EXPECT_EQ(d.verdict, Verdict::kAllow) << m;
  }
}

TEST_F(Guard, ServiceSocketMountsAreRefused) {
  auto d = run(
      request(
          "POST", "/v1.41/services/create",
          R"({"TaskTemplate":{"ContainerSpec":{"Image":"docker:cli","Mounts":[{"Type":"bind","Source":"/var/run/docker.sock","Target":"/s"}]}}})"),
      policy({"*"}), engine, fs);
  EXPECT_EQ(d.rule, "service-socket");
  d = run(
      request(
          "POST", "/v1.41/services/create",
          R"({"TaskTemplate":{"ContainerSpec":{"Image":"alpine","Mounts":[{"Type":"bind","Source":"/home/dev","Target":"/s"}]}}})"),
      policy(), engine, fs, Caller{0, 0, 1, false, {}, {}, {}});  // root's (see below)
  EXPECT_EQ(d.verdict, Verdict::kAllow);
}

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
