#include "eci/agent/platform.h"

#include <gtest/gtest.h>

#include <map>

#include "eci/agent/org_sources.h"

namespace eci::agent {
namespace {

// Stands in for the macOS / Windows OS calls; the precedence logic under test is the real one.
class FakePlatform : public Platform {
 public:
  explicit FakePlatform(Os os) : os_(os) {}
  Os os() const override { return os_; }
  Result<std::optional<std::string>> readPolicyKey(const std::string& key,
                                                   const std::string& value) const override {
    EXPECT_EQ(key, "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Docker\\Docker Desktop");
    EXPECT_EQ(value, "allowedOrgs");
    return policyKey;
  }
  Result<std::optional<std::string>> readProtectedFile(
      const std::filesystem::path& path) const override {
    auto it = files.find(path.string());
    if (it == files.end()) return std::optional<std::string>();
    if (it->second == "UNLOCKED")
      return Error(ErrorKind::kDenied, path.string() + ": writable by group 20");
    return std::optional<std::string>(it->second);
  }
  std::optional<std::string> policyKey;
  std::map<std::string, std::string> files;

 private:
  Os os_;
};

const std::string kProfile = "/Library/Managed Preferences/com.docker.config.plist";
const std::string kPlist = "/Library/Application Support/com.docker.docker/desktop.plist";
const std::string kRegistryJson = R"({"allowedOrgs": ["fromjson"]})";

TEST(Locations, Linux) {
  auto l = defaultLocations(Os::kLinux);
  EXPECT_EQ(l.adminSettings, "/usr/share/docker-desktop/admin-settings.json");
  EXPECT_EQ(l.registryJson, "/usr/share/docker-desktop/registry/registry.json");
  EXPECT_TRUE(l.desktopPlist.empty());
  EXPECT_TRUE(l.policyKey.empty());
}

TEST(Locations, MacOS) {
  auto l = defaultLocations(Os::kMacOS);
  EXPECT_EQ(l.adminSettings, "/Library/Application Support/com.docker.docker/admin-settings.json");
  EXPECT_EQ(l.registryJson, "/Library/Application Support/com.docker.docker/registry.json");
  EXPECT_EQ(l.desktopPlist, kPlist);
  EXPECT_EQ(l.managedProfile, kProfile);
}

TEST(Locations, Windows) {
  auto l = defaultLocations(Os::kWindows);
  EXPECT_EQ(l.adminSettings, "C:/ProgramData/DockerDesktop/admin-settings.json");
  EXPECT_EQ(l.registryJson, "C:/ProgramData/DockerDesktop/registry.json");
  EXPECT_EQ(l.policyKey, "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Docker\\Docker Desktop");
  EXPECT_EQ(l.policyValue, "allowedOrgs");
}

TEST(Precedence, WindowsKeyBeatsRegistryJson) {
  FakePlatform p(Os::kWindows);
  p.policyKey = "keyorg1\nkeyorg2";
  auto r = resolveAllowedOrgs(p, defaultLocations(Os::kWindows), kRegistryJson);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->orgs, (std::vector<std::string>{"keyorg1", "keyorg2"}));
  EXPECT_NE(r->source.find("Windows policy key"), std::string::npos);
  ASSERT_EQ(r->shadowed.size(), 1u);
  EXPECT_NE(r->shadowed[0].find("registry.json"), std::string::npos);
}

TEST(Precedence, WindowsWithoutKeyUsesRegistryJson) {
  FakePlatform p(Os::kWindows);
  auto r = resolveAllowedOrgs(p, defaultLocations(Os::kWindows), kRegistryJson);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->orgs, (std::vector<std::string>{"fromjson"}));
}

TEST(Precedence, MacProfileBeatsPlistBeatsJson) {
  FakePlatform p(Os::kMacOS);
  p.files[kProfile] = "<dict><key>allowedOrgs</key><string>prof1;prof2</string></dict>";
  p.files[kPlist] =
      "<plist><dict><key>allowedOrgs</key><array><string>plist1</string></array></dict></plist>";
  auto loc = defaultLocations(Os::kMacOS);
  auto r = resolveAllowedOrgs(p, loc, kRegistryJson);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->orgs, (std::vector<std::string>{"prof1", "prof2"}));
  EXPECT_EQ(r->shadowed.size(), 2u);

  p.files.erase(kProfile);
  r = resolveAllowedOrgs(p, loc, kRegistryJson);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->orgs, (std::vector<std::string>{"plist1"}));
  EXPECT_NE(r->source.find("desktop.plist"), std::string::npos);

  p.files.erase(kPlist);
  r = resolveAllowedOrgs(p, loc, kRegistryJson);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->orgs, (std::vector<std::string>{"fromjson"}));
}

TEST(Precedence, MacPlistWithoutKeyFallsThrough) {
  FakePlatform p(Os::kMacOS);
  p.files[kPlist] = "<plist><dict><key>other</key><true/></dict></plist>";
  auto r = resolveAllowedOrgs(p, defaultLocations(Os::kMacOS), kRegistryJson);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->orgs, (std::vector<std::string>{"fromjson"}));
}

TEST(Precedence, UnlockedSourceIsAnErrorNotSkipped) {
  // Falling through to a lower-precedence source would let a user who can break the plist pick
  // the orgs; an unlocked higher source fails the whole resolution.
  FakePlatform p(Os::kMacOS);
  p.files[kPlist] = "UNLOCKED";
  auto r = resolveAllowedOrgs(p, defaultLocations(Os::kMacOS), kRegistryJson);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("writable by group"), std::string::npos);
}

TEST(Precedence, LinuxIgnoresMacAndWindowsSources) {
  FakePlatform p(Os::kLinux);
  p.policyKey = "keyorg";
  p.files[kPlist] =
      "<plist><dict><key>allowedOrgs</key><array><string>x</string></array></dict></plist>";
  auto loc = defaultLocations(Os::kLinux);
  loc.desktopPlist = kPlist;
  auto r = resolveAllowedOrgs(p, loc, kRegistryJson);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->orgs, (std::vector<std::string>{"fromjson"}));
}

TEST(Precedence, NothingSetAnywhere) {
  FakePlatform p(Os::kLinux);
  auto r = resolveAllowedOrgs(p, defaultLocations(Os::kLinux), std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->orgs.empty());
  EXPECT_TRUE(r->source.empty());
}

TEST(HostPlatform, IsLinuxAndMissingFileIsAbsent) {
  auto p = hostPlatform();
  EXPECT_EQ(p->os(), Os::kLinux);
  auto r = p->readProtectedFile("/nonexistent/eci/desktop.plist");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

}  // namespace
}  // namespace eci::agent
