// The fixture the decide() tests share (decide_test.cc, decide_images_test.cc,
// decide_container_socket_test.cc): a fake engine holding two pulled images, docker:cli and alpine.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "eci/apiproxy/decide.h"
#include "helpers.h"

namespace eci::apiproxy::testing {

inline constexpr const char* kDeniedDocker =
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

inline nlohmann::json bodyOf(const Decision& d) {
  return nlohmann::json::parse(d.body);
}

}  // namespace eci::apiproxy::testing
