// Where the admin's files live on each desktop OS, and the one small interface through which the
// agent reads the OS-specific allowedOrgs sources (Windows policy key, macOS configuration profile
// and desktop.plist). Only Linux is live on this machine; the macOS and Windows path and precedence
// logic runs in unit tests through the same code with a fake for the OS calls.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "eci/error.h"

namespace eci::agent {

enum class Os { kLinux, kMacOS, kWindows };
const char* osName(Os os);

struct Locations {
  std::filesystem::path adminSettings;
  std::filesystem::path registryJson;
  // macOS only (empty elsewhere).
  std::filesystem::path desktopPlist;
  // macOS: where an installed configuration profile's com.docker.config payload is materialised
  // (managed preferences). Empty elsewhere.
  std::filesystem::path managedProfile;
  // Windows only: HKLM key and value name holding allowedOrgs (REG_MULTI_SZ).
  std::string policyKey;
  std::string policyValue;
};

// The documented locations (eci-settings.md §2.1), overridden by --settings / --registry.
Locations defaultLocations(Os os);

class Platform {
 public:
  virtual ~Platform() = default;
  virtual Os os() const = 0;
  // Windows: the policy key's allowedOrgs value as text, one string per line (REG_MULTI_SZ
  // entries joined by '\n'); nullopt when the key or value does not exist.
  virtual Result<std::optional<std::string>> readPolicyKey(const std::string& key,
                                                           const std::string& value) const = 0;
  // Reads a file if it exists (nullopt when absent). Implementations apply the locked-file check.
  virtual Result<std::optional<std::string>> readProtectedFile(
      const std::filesystem::path& path) const = 0;
};

// The live platform of this build (Linux here): files through eci::readLockedFile, no registry.
std::unique_ptr<Platform> hostPlatform();

}  // namespace eci::agent
