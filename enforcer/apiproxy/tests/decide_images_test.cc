// decide(): the socket-mount image allowlist (tags, digests, wildcards, derived images) and its
// re-check at start and restart.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "decide_fixture.h"

namespace eci::apiproxy {
namespace {

using namespace testing;  // NOLINT
using nlohmann::json;

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

}  // namespace
}  // namespace eci::apiproxy
