// Readers for the MDM exports (mdm_export.h): what each artefact would make a Mac, a Windows PC
// or a Linux machine hold. verifyExport uses them on every export; tests and the fuzzer use them
// on hand-written and hostile input; the GUI can import an existing profile or script with them.
// The allowedOrgs readers themselves are the agent's (eci/settings/org_sources.h).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci::settings::mdm {

// One `install_file DEST OWNER MODE SHA256 "$VAR"` of a generated sh installer, with VAR's value.
struct ShInstalledFile {
  std::string dest;
  std::string owner;  // "uid:gid"
  std::string mode;   // octal digits
  std::string sha256;
  std::string content;
};
Result<std::vector<ShInstalledFile>> readShInstallScript(std::string_view script);

// What install.ps1 / detect.ps1 would write.
struct PsScript {
  std::map<std::string, std::string> files;   // install.ps1: name -> exact text written
  std::map<std::string, std::string> sha256;  // name -> the hash it checks
  std::vector<std::string> orgs;              // $AllowedOrgs
  bool setsOrgs = false;                      // install.ps1 calls Set-AllowedOrgs
  std::string policyKey;                      // $PolicyKey
  std::string folderLeaf;                     // Join-Path $env:ProgramData '<this>'
};
// Also checks the rules that matter on Windows and cannot be run here: pure ASCII, no BOM-writing
// cmdlet (Set-Content/Out-File/Add-Content/-Encoding), files written only with the BOM-less
// UTF8Encoding, the 64-bit re-launch, the Registry64 view and REG_MULTI_SZ.
Result<PsScript> readPsScript(std::string_view script, bool install);

struct ProfileInfo {
  std::vector<std::string> orgs;  // through the agent's parseConfigProfile
  std::string outerIdentifier, innerIdentifier, outerUuid, innerUuid, scope, type, innerType;
  std::string organization;  // "" when absent
  std::string outerOrganization;
};
// Also checks: PayloadScope System, identifiers and UUIDs present, distinct, UUIDs well-formed.
Result<ProfileInfo> readProfile(std::string_view text);

struct AdmxInfo {
  std::string key;        // policy key attribute
  std::string valueName;  // the multiText element's valueName
  std::string policyClass;
  std::string explain;  // the ADML explain text of the policy (unescaped)
};
// Checks the pair against each other: every $(string.X) / $(presentation.X) of the ADMX exists in
// the ADML, and the presentation's multiTextBox refers to the multiText element.
Result<AdmxInfo> readAdmxPair(std::string_view admx, std::string_view adml);

}  // namespace eci::settings::mdm
