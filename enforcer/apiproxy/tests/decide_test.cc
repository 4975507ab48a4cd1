// decide(): every rule, through the daemon's two-phase loop against a fake engine and host: plain
// requests, create (bodies, socket mounts, runtime, volumes), builds, bind sources dockerd would
// create, logging drivers, plugins and services. Image matching and the start re-check are in
// decide_images_test.cc, per-container sockets in decide_container_socket_test.cc.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "decide_fixture.h"

namespace eci::apiproxy {
namespace {

using namespace testing;  // NOLINT
using nlohmann::json;

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

}  // namespace
}  // namespace eci::apiproxy
