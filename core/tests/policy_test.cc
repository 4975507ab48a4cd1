#include "eci/policy.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>

namespace eci {
namespace {

using nlohmann::json;

Policy samplePolicy() {
  Policy p;
  p.enabled = true;
  p.locked = true;
  p.socketMountImages = {"docker.io/library/docker:cli", "docker.io/myorg/*"};
  p.allowDerivedImages = false;
  p.commandList.type = CommandList::Type::kAllow;
  p.commandList.commands = {"container*", "image*"};
  p.restrictedHostMounts = {"/etc/docker", "/srv/secrets"};
  p.allowedOrgs = {"myorg", "otherorg"};
  p.inputsDigest = "sha256:00ff";
  return p;
}

TEST(PolicyTest, RoundTrip) {
  const Policy p = samplePolicy();
  auto back = Policy::fromJson(p.toJson());
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(*back, p);
}

TEST(PolicyTest, RoundTripThroughText) {
  const Policy p = samplePolicy();
  auto back = Policy::fromJson(json::parse(p.toJson().dump()));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, p);
}

TEST(PolicyTest, CanonicalDumpHasSortedKeysAndNoWhitespace) {
  const std::string s = Policy::failClosedDefaults().toJson().dump();
  EXPECT_EQ(s.find(' '), std::string::npos);
  EXPECT_LT(s.find("\"allowedOrgs\""), s.find("\"commandList\""));
  EXPECT_LT(s.find("\"commandList\""), s.find("\"enabled\""));
  EXPECT_LT(s.find("\"locked\""), s.find("\"restrictedHostMounts\""));
}

TEST(PolicyTest, FailClosedDefaults) {
  const Policy p = Policy::failClosedDefaults();
  EXPECT_TRUE(p.enabled);
  EXPECT_TRUE(p.locked);
  EXPECT_TRUE(p.socketMountImages.empty());
  EXPECT_EQ(p.restrictedHostMounts, builtinRestrictedHostMounts());
  bool hasDockerSock = false;
  for (const auto& m : p.restrictedHostMounts) hasDockerSock |= m == "/var/run/docker.sock";
  EXPECT_TRUE(hasDockerSock);
}

// Each mutation of a valid policy must fail with the JSON Pointer of the offending value.
struct BadCase {
  const char* name;
  std::function<void(json&)> mutate;
  const char* pointer;
  const char* reason;
};

// gtest would otherwise print the struct's bytes in test names and failures.
void PrintTo(const BadCase& c, std::ostream* os) {
  *os << c.name;
}

class PolicyStrictTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(PolicyStrictTest, RejectsWithPointer) {
  json j = samplePolicy().toJson();
  GetParam().mutate(j);
  auto r = Policy::fromJson(j);
  ASSERT_FALSE(r.ok()) << GetParam().name;
  const std::string msg = r.error().str();
  EXPECT_NE(msg.find(std::string("policy ") + GetParam().pointer + ": "), std::string::npos) << msg;
  EXPECT_NE(msg.find(GetParam().reason), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PolicyStrictTest,
    ::testing::Values(
        BadCase{"unknownTop", [](json& j) { j["extra"] = 1; }, "/extra", "unknown key"},
        BadCase{"enabledString", [](json& j) { j["enabled"] = "yes"; }, "/enabled",
                "expected boolean"},
        BadCase{"lockedMissing", [](json& j) { j.erase("locked"); }, "/locked", "missing"},
        BadCase{"socketMountNotObject", [](json& j) { j["socketMount"] = json::array(); },
                "/socketMount", "expected object"},
        BadCase{"socketMountUnknown", [](json& j) { j["socketMount"]["x"] = true; },
                "/socketMount/x", "unknown key"},
        BadCase{"imageNotString", [](json& j) { j["socketMount"]["images"][1] = 5; },
                "/socketMount/images/1", "expected string"},
        BadCase{"derivedMissing", [](json& j) { j["socketMount"].erase("allowDerivedImages"); },
                "/socketMount/allowDerivedImages", "missing"},
        BadCase{"commandType", [](json& j) { j["commandList"]["type"] = "block"; },
                "/commandList/type", "\"allow\" or \"deny\""},
        BadCase{"commandsNotArray", [](json& j) { j["commandList"]["commands"] = "push"; },
                "/commandList/commands", "expected array"},
        BadCase{"relativeMount", [](json& j) { j["restrictedHostMounts"][1] = "etc/x"; },
                "/restrictedHostMounts/1", "absolute path"},
        BadCase{"emptyMount", [](json& j) { j["restrictedHostMounts"][0] = ""; },
                "/restrictedHostMounts/0", "absolute path"},
        BadCase{"orgsMissing", [](json& j) { j.erase("allowedOrgs"); }, "/allowedOrgs", "missing"},
        BadCase{"digestNumber", [](json& j) { j["inputsDigest"] = 3; }, "/inputsDigest",
                "expected string"}),
    [](const ::testing::TestParamInfo<BadCase>& p) { return std::string(p.param.name); });

TEST(PolicyTest, NonObjectRejected) {
  auto r = Policy::fromJson(json::array());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("expected object"), std::string::npos);
}

}  // namespace
}  // namespace eci
