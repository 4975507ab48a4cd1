#include "eci/agent/platform.h"

#include "eci/file_lock.h"

namespace eci::agent {

const char* osName(Os os) {
  switch (os) {
    case Os::kLinux:
      return "linux";
    case Os::kMacOS:
      return "macos";
    case Os::kWindows:
      return "windows";
  }
  return "?";
}

Locations defaultLocations(Os os) {
  Locations l;
  switch (os) {
    case Os::kLinux:
      l.adminSettings = "/usr/share/docker-desktop/admin-settings.json";
      l.registryJson = "/usr/share/docker-desktop/registry/registry.json";
      break;
    case Os::kMacOS: {
      const std::filesystem::path dir = "/Library/Application Support/com.docker.docker";
      l.adminSettings = dir / "admin-settings.json";
      l.registryJson = dir / "registry.json";
      l.desktopPlist = dir / "desktop.plist";
      // macOS materialises an installed profile's payload here; SIP protects the directory.
      l.managedProfile = "/Library/Managed Preferences/com.docker.config.plist";
      break;
    }
    case Os::kWindows:
      // Generic separators so the same path type works in tests on Linux; Windows accepts '/'.
      l.adminSettings = "C:/ProgramData/DockerDesktop/admin-settings.json";
      l.registryJson = "C:/ProgramData/DockerDesktop/registry.json";
      l.policyKey = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Docker\\Docker Desktop";
      l.policyValue = "allowedOrgs";
      break;
  }
  return l;
}

namespace {

class LinuxPlatform : public Platform {
 public:
  Os os() const override { return Os::kLinux; }
  Result<std::optional<std::string>> readPolicyKey(const std::string&,
                                                   const std::string&) const override {
    return std::optional<std::string>();
  }
  Result<std::optional<std::string>> readProtectedFile(
      const std::filesystem::path& path) const override {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
      return std::optional<std::string>();
    }
    ECI_ASSIGN_OR_RETURN(text, readLockedFile(path, 4u << 20));
    return std::optional<std::string>(std::move(text));
  }
};

}  // namespace

std::unique_ptr<Platform> hostPlatform() {
  return std::make_unique<LinuxPlatform>();
}

}  // namespace eci::agent
