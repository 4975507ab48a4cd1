// Shared between the MDM export sources (mdm_export.cc, mdm_apple.cc, mdm_windows.cc,
// mdm_verify.cc); not installed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "eci/settings/mdm_export.h"

namespace eci::settings::mdm::detail {

// The documented locations (shared/reference/eci-settings.md §2.1).
inline constexpr const char* kMacDir = "/Library/Application Support/com.docker.docker";
inline constexpr const char* kLinuxAdminSettings = "/usr/share/docker-desktop/admin-settings.json";
inline constexpr const char* kLinuxRegistry = "/usr/share/docker-desktop/registry/registry.json";
inline constexpr const char* kPolicyKey = "SOFTWARE\\Policies\\Docker\\Docker Desktop";
inline constexpr const char* kPolicyKeyHklm =
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Docker\\Docker Desktop";
inline constexpr const char* kPolicyValue = "allowedOrgs";

// File names inside the export directory.
inline constexpr const char* kProfileName = "docker.mobileconfig";
inline constexpr const char* kBarePlistName = "com.docker.config.plist";
inline constexpr const char* kJamfScriptName = "install-admin-settings.sh";
inline constexpr const char* kLinuxScriptName = "install-admin-settings.sh";
inline constexpr const char* kPsInstallName = "install.ps1";
inline constexpr const char* kPsDetectName = "detect.ps1";
inline constexpr const char* kRegName = "allowed-orgs.reg";
inline constexpr const char* kAdmxName = "docker-desktop.admx";
inline constexpr const char* kAdmlName = "en-US/docker-desktop.adml";

// The validated input, with the orgs read by the agent's own registry.json reader.
struct Prepared {
  std::optional<std::string> adminSettings;
  std::optional<std::string> registry;
  std::vector<std::string> orgs;  // empty: registry.json absent or without allowedOrgs
  std::string organization;
  std::string identifierPrefix;
};

// One file a shell script installs.
struct ShFile {
  std::string dest;   // absolute path
  std::string owner;  // numeric "uid:gid" (root:wheel and root:admin are 0:0 / 0:80 on macOS)
  std::string mode;   // octal, e.g. "644"
  const std::string* content;
};

// A POSIX sh installer (Jamf policy script on macOS, root script on Linux).
Result<std::string> shInstallScript(Target target, const std::vector<ShFile>& files);

Result<std::vector<ExportFile>> appleFiles(const Prepared& p);
Result<std::vector<ExportFile>> windowsFiles(const Prepared& p, Target target);
Result<std::vector<ExportFile>> linuxFiles(const Prepared& p);

// Name-based (RFC 4122 version 5, SHA-1) UUID of `name` in eci's export namespace.
std::string uuidV5(std::string_view name);

}  // namespace eci::settings::mdm::detail
