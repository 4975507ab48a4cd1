#include "eci/agent/org_sources.h"

#include <gtest/gtest.h>

namespace eci::agent {
namespace {

using Orgs = std::vector<std::string>;

const char* kPlistHead =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">)";

TEST(RegistryJson, ReadsOrgs) {
  auto r = parseRegistryJson(R"({"allowedOrgs": ["myorg1", "myorg2"]})", "registry.json");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, (Orgs{"myorg1", "myorg2"}));
}

TEST(RegistryJson, AbsentKeyIsNotSet) {
  auto r = parseRegistryJson(R"({})", "registry.json");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(RegistryJson, ErrorsNameFileAndPointer) {
  auto r = parseRegistryJson(R"({"allowedOrgs": ["ok", 3]})", "/x/registry.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().str(), "/x/registry.json: /allowedOrgs/1: must be a string");
  r = parseRegistryJson(R"({"allowedOrgs": "myorg"})", "f");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("/allowedOrgs: must be an array"), std::string::npos);
  r = parseRegistryJson(R"({"allowedOrgs": [)", "f");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("invalid JSON"), std::string::npos);
}

TEST(RegistryJson, UppercaseOrgRefused) {
  auto r = parseRegistryJson(R"({"allowedOrgs": ["MyOrg"]})", "f");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("org name 'MyOrg' is invalid"), std::string::npos);
}

TEST(DesktopPlist, ArrayOfStrings) {
  std::string x = std::string(kPlistHead) + R"(<dict>
  <key>other</key><true/>
  <key>allowedOrgs</key>
  <array>
    <string>myorg1</string>
    <string>myorg2</string>
  </array>
</dict></plist>)";
  auto r = parseDesktopPlist(x, "desktop.plist");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, (Orgs{"myorg1", "myorg2"}));
}

TEST(DesktopPlist, WrongShapes) {
  auto r = parseDesktopPlist(
      std::string(kPlistHead) + "<dict><key>allowedOrgs</key><string>a</string></dict></plist>",
      "p");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("must be an <array> of <string>, found <string>"),
            std::string::npos);
  r = parseDesktopPlist(std::string(kPlistHead) +
                            "<dict><key>allowedOrgs</key><array><integer>1</integer></array>"
                            "</dict></plist>",
                        "p");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("allowedOrgs[0] must be a <string>"), std::string::npos);
  r = parseDesktopPlist("<plist><dict><key>x</key>", "p");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("p:1:"), std::string::npos) << r.error().str();
  EXPECT_NE(r.error().str().find("not well-formed XML"), std::string::npos);
  r = parseDesktopPlist("<plist><array/></plist>", "p");
  ASSERT_FALSE(r.ok());
}

TEST(DesktopPlist, NoKeyIsNotSet) {
  auto r = parseDesktopPlist(std::string(kPlistHead) + "<dict/></plist>", "p");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(DesktopPlist, EntitiesAreNotExpanded) {
  // A billion-laughs style DTD must not be interpreted.
  std::string x = R"(<?xml version="1.0"?>
<!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<plist><dict><key>allowedOrgs</key><array><string>&b;</string></array></dict></plist>)";
  auto r = parseDesktopPlist(x, "p");
  // Either refused or the entity is left unexpanded (then the org name is invalid).
  if (r.ok() && r->has_value()) {
    for (const auto& o : **r) EXPECT_EQ(o.find("aaaaaaaaaa"), std::string::npos);
  }
}

TEST(ConfigProfile, MobileconfigPayload) {
  std::string x = std::string(kPlistHead) + R"(<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>PayloadType</key><string>com.apple.other</string>
      <key>allowedOrgs</key><string>wrong</string>
    </dict>
    <dict>
      <key>PayloadType</key><string>com.docker.config</string>
      <key>allowedOrgs</key><string>myorg1; myorg2;</string>
    </dict>
  </array>
  <key>PayloadType</key><string>Configuration</string>
</dict></plist>)";
  auto r = parseConfigProfile(x, "profile");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, (Orgs{"myorg1", "myorg2"}));
}

TEST(ConfigProfile, BareDictAndManagedPreferences) {
  auto r = parseConfigProfile("<dict><key>allowedOrgs</key><string>a;b</string></dict>", "bare");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(**r, (Orgs{"a", "b"}));
  r = parseConfigProfile(
      std::string(kPlistHead) + "<dict><key>allowedOrgs</key><string>solo</string></dict></plist>",
      "managed");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, (Orgs{"solo"}));
}

TEST(ConfigProfile, ArrayInsteadOfStringRefused) {
  auto r = parseConfigProfile(
      "<dict><key>allowedOrgs</key><array><string>a</string></array></dict>", "prof");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("must be a <string> of orgs separated by ';'"), std::string::npos);
}

TEST(ConfigProfile, OtherPayloadIsNotSet) {
  auto r = parseConfigProfile(std::string(kPlistHead) +
                                  "<dict><key>PayloadContent</key><array><dict><key>PayloadType"
                                  "</key><string>x</string></dict></array></dict></plist>",
                              "p");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(PolicyKey, LinesAndSpaces) {
  auto r = parsePolicyKeyValue("myorg1\nmyorg2\n", "key");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, (Orgs{"myorg1", "myorg2"}));
  r = parsePolicyKeyValue("myorg1 myorg2", "key");  // the older documented form
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, (Orgs{"myorg1", "myorg2"}));
  r = parsePolicyKeyValue(std::string("a\0b\0", 4), "key");  // raw REG_MULTI_SZ
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, (Orgs{"a", "b"}));
  r = parsePolicyKeyValue("  \n", "key");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  r = parsePolicyKeyValue("Bad", "key");
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace eci::agent
