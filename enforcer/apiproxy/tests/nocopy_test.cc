// decide() on creates that mount a volume showing host files: the guard adds nocopy, so dockerd
// does not copy the image's files (root-owned, setuid bits kept) into the host directory.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "eci/apiproxy/decide.h"
#include "helpers.h"

namespace eci::apiproxy {
namespace {

using namespace testing;  // NOLINT
using nlohmann::json;

class NoCopy : public ::testing::Test {
 protected:
  void SetUp() override {
    engine.volumes["data"] = {"data", "local", {}};
    engine.volumes["bv"] = {
        "bv", "local", {{"type", "none"}, {"o", "bind"}, {"device", "/home/dev/src"}}};
  }
  // The create as dockerd will get it: the rewritten body, or the original when allowed as is.
  json created(const std::string& hostConfig) {
    const std::string body = createBody(hostConfig, "busybox");
    const Decision d = run(request("POST", "/v1.41/containers/create", body), policy(), engine, fs);
    EXPECT_TRUE(d.verdict == Verdict::kAllow || d.verdict == Verdict::kRewrite) << d.message;
    return json::parse(d.verdict == Verdict::kRewrite ? d.body : body);
  }
  FakeEngine engine;
  FakeFs fs;
};

TEST_F(NoCopy, BindsOfAHostBackedVolumeGetNocopy) {
  EXPECT_EQ(created(R"({"Binds":["bv:/opt"]})")["HostConfig"]["Binds"][0], "bv:/opt:nocopy");
  EXPECT_EQ(created(R"({"Binds":["bv:/opt:ro"]})")["HostConfig"]["Binds"][0], "bv:/opt:ro,nocopy");
  EXPECT_EQ(created(R"({"Binds":["bv:/opt:nocopy"]})")["HostConfig"]["Binds"][0], "bv:/opt:nocopy");
  // The legacy top-level form too.
  const json top = json::parse(
      run(request("POST", "/v1.41/containers/create", R"({"Image":"busybox","Binds":["bv:/opt"]})"),
          policy(), engine, fs)
          .body);
  EXPECT_EQ(top["Binds"][0], "bv:/opt:nocopy");
}

TEST_F(NoCopy, MountsOfAHostBackedVolumeGetNoCopy) {
  json b = created(R"({"Mounts":[{"Type":"volume","Source":"bv","Target":"/opt"}]})");
  EXPECT_EQ(b["HostConfig"]["Mounts"][0]["VolumeOptions"]["NoCopy"], true);
  // Created now from the request's options (docker run --mount volume-opt=...).
  b = created(R"({"Mounts":[{"Type":"volume","Source":"new","Target":"/opt","VolumeOptions":)"
              R"({"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind",)"
              R"("device":"/home/dev/src"}}}}]})");
  EXPECT_EQ(b["HostConfig"]["Mounts"][0]["VolumeOptions"]["NoCopy"], true);
  EXPECT_EQ(b["HostConfig"]["Mounts"][0]["VolumeOptions"]["DriverConfig"]["Options"]["device"],
            "/home/dev/src");
  // Go's case-folded keys are set where they are, never doubled.
  b = created(R"({"Mounts":[{"Type":"volume","Source":"bv","Target":"/opt",)"
              R"("volumeoptions":{"nocopy":false}}]})");
  const json& m = b["HostConfig"]["Mounts"][0];
  EXPECT_EQ(m["volumeoptions"]["nocopy"], true);
  EXPECT_FALSE(m.contains("VolumeOptions"));
  EXPECT_FALSE(m["volumeoptions"].contains("NoCopy"));
}

TEST_F(NoCopy, PlainVolumesAndBindsAreLeftAlone) {
  const std::string plain = R"({"Binds":["data:/opt","/home/dev/src:/src","/anon"]})";
  const Decision d = run(request("POST", "/v1.41/containers/create", createBody(plain, "busybox")),
                         policy(), engine, fs);
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  const json b = created(R"({"Mounts":[{"Type":"volume","Source":"data","Target":"/opt"}]})");
  EXPECT_FALSE(b["HostConfig"]["Mounts"][0].contains("VolumeOptions"));
}

}  // namespace
}  // namespace eci::apiproxy
