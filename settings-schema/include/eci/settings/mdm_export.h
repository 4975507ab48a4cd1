// MDM exports of admin-settings.json and registry.json: one library under `eci-admin export` and
// the GUI's export dialog, so both produce byte-identical files for the same input.
//
// Targets (formats and locations: shared/reference/eci-settings.md §2, gui-mdm-packaging.md §3):
//   jamf   — docker.mobileconfig (com.docker.config payload, allowedOrgs joined by ';',
//            PayloadScope System), com.docker.config.plist (the bare payload dict for Jamf
//            "Upload" / MDMs that take only the dict), install-admin-settings.sh (Jamf policy
//            script: installs the JSON files root-owned 0644 under
//            /Library/Application Support/com.docker.docker/ and checks them).
//   intune — install.ps1 (runs as SYSTEM in the 64-bit host, writes both JSON files UTF-8 without
//            BOM under C:\ProgramData\DockerDesktop with Docker's ACLs, allowedOrgs as REG_MULTI_SZ
//            in HKLM\SOFTWARE\Policies\Docker\Docker Desktop), detect.ps1 (Intune detection:
//            hashes + registry value), docker-desktop.admx/.adml (custom ADMX ingestion).
//   gpo    — install.ps1 (computer startup script), allowed-orgs.reg, docker-desktop.admx and
//            en-US/docker-desktop.adml (PolicyDefinitions).
//   linux  — install-admin-settings.sh: /usr/share/docker-desktop/admin-settings.json and
//            /usr/share/docker-desktop/registry/registry.json, root:root 0644.
//
// Every export is pure (bytes in, files out, no clock, no randomness): PayloadUUIDs are
// name-based (RFC 4122 v5) from the identifier and the exported content, so the same input always
// gives the same files (GUI == CLI, reproducible, diffable against what is deployed) while a
// changed content gives new UUIDs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci::settings::mdm {

enum class Target { kJamf, kIntune, kGpo, kLinux };
const char* targetName(Target t);  // "jamf" / "intune" / "gpo" / "linux"
std::optional<Target> parseTarget(std::string_view name);

struct ExportInput {
  // The exact bytes of each file (what gets installed, byte for byte). nullopt: not exported.
  // At least one must be present; registry.json is needed for the allowedOrgs artefacts
  // (profile, .reg, policy key).
  std::optional<std::string> adminSettings;
  std::optional<std::string> registry;
  // Free text shown by the MDM / GPO editor (PayloadOrganization, descriptions). Any Unicode is
  // fine; XML-forbidden control characters are refused.
  std::string organization = "";
  // Outer PayloadIdentifier of the profile; the com.docker.config payload gets "<this>.config".
  std::string identifierPrefix = "com.example.docker";
  // Export a file that has validation errors anyway (the caller has told the user).
  bool allowInvalid = false;
};

struct ExportFile {
  std::string name;     // relative path inside the output directory ("en-US/x.adml")
  std::string content;  // exact bytes
  unsigned mode = 0644;
  std::string what;  // one line for listings: what it is and how to deploy it
};

struct Export {
  Target target = Target::kLinux;
  std::vector<ExportFile> files;
  std::vector<std::string> orgs;  // allowedOrgs as exported (from registry.json)
};

// Builds every file of `target`. Errors: no input, an input file that does not validate (unless
// allowInvalid), a registry.json without allowedOrgs for a target that needs it, bad options.
Result<Export> exportFor(Target target, const ExportInput& in);

// Reads every exported file back with the project's own parsers (profile/plist/.reg/policy-value
// readers, script-literal readers) and checks it yields exactly the input bytes and orgs, plus the
// structural rules (unique PayloadUUIDs/identifiers, PayloadScope System, BOM-less writes, ...).
Status verifyExport(const Export& ex, const ExportInput& in);

// Writes the files under `dir` (created if missing) atomically, each with its mode.
Status writeExport(const Export& ex, const std::filesystem::path& dir);

}  // namespace eci::settings::mdm
