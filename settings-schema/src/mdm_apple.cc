// macOS / Jamf: the configuration profile (com.docker.config payload), the bare preference plist
// for Jamf "Upload" / MDMs that take only the dict, and the Jamf policy script for the JSON files.
#include "eci/settings/mdm_formats.h"
#include "mdm_internal.h"

namespace eci::settings::mdm::detail {
namespace {

constexpr const char* kPlistHead =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    "<plist version=\"1.0\">\n";

std::string joinOrgs(const std::vector<std::string>& orgs, const char* sep) {
  std::string out;
  for (size_t i = 0; i < orgs.size(); ++i) {
    if (i) out += sep;
    out += orgs[i];
  }
  return out;
}

std::string kv(const std::string& indent, const char* key, const std::string& element) {
  return indent + "<key>" + key + "</key>\n" + indent + element + "\n";
}

Result<std::string> str(std::string_view text) {
  ECI_ASSIGN_OR_RETURN(e, xmlEscape(text));
  return "<string>" + e + "</string>";
}

Result<std::string> profile(const Prepared& p) {
  // Org names are [a-z0-9._-] (checked by the registry.json reader), so ';' cannot occur in one.
  const std::string orgs = joinOrgs(p.orgs, ";");
  const std::string outerId = p.identifierPrefix;
  const std::string innerId = p.identifierPrefix + ".config";
  // Name-based UUIDs: the same input gives the same profile (GUI == CLI, reproducible, diffable
  // against what is deployed); a change of orgs or organization gives new UUIDs. The two names
  // differ, so the two UUIDs do.
  const std::string content = orgs + '\n' + p.organization;
  const std::string outerUuid = uuidV5("profile\n" + outerId + '\n' + content);
  const std::string innerUuid = uuidV5("payload\n" + innerId + '\n' + content);
  const std::string description =
      "Restricts Docker Desktop sign-in to the organizations: " + joinOrgs(p.orgs, ", ") + ".";

  std::string s = kPlistHead;
  s += "<dict>\n";
  const std::string i1 = "\t";
  const std::string i3 = "\t\t\t";
  s += i1 + "<key>PayloadContent</key>\n" + i1 + "<array>\n\t\t<dict>\n";
  s += kv(i3, "PayloadType", "<string>com.docker.config</string>");
  s += kv(i3, "PayloadVersion", "<integer>1</integer>");
  s += kv(i3, "PayloadIdentifier", "<string>" + innerId + "</string>");
  s += kv(i3, "PayloadUUID", "<string>" + innerUuid + "</string>");
  s += kv(i3, "PayloadDisplayName", "<string>Docker Desktop sign-in enforcement</string>");
  ECI_ASSIGN_OR_RETURN(desc, str(description));
  s += kv(i3, "PayloadDescription", desc);
  ECI_ASSIGN_OR_RETURN(org, str(p.organization));
  if (!p.organization.empty()) s += kv(i3, "PayloadOrganization", org);
  s += kv(i3, "allowedOrgs", "<string>" + orgs + "</string>");
  s += "\t\t</dict>\n" + i1 + "</array>\n";
  s += kv(i1, "PayloadDisplayName", "<string>Docker Desktop: allowed organizations</string>");
  s += kv(i1, "PayloadDescription", desc);
  s += kv(i1, "PayloadIdentifier", "<string>" + outerId + "</string>");
  if (!p.organization.empty()) s += kv(i1, "PayloadOrganization", org);
  // Apple's default scope is User; the sign-in restriction is for every user of the Mac.
  s += kv(i1, "PayloadScope", "<string>System</string>");
  s += kv(i1, "PayloadType", "<string>Configuration</string>");
  s += kv(i1, "PayloadUUID", "<string>" + outerUuid + "</string>");
  s += kv(i1, "PayloadVersion", "<integer>1</integer>");
  s += "</dict>\n</plist>\n";
  return s;
}

std::string barePlist(const Prepared& p) {
  std::string s = kPlistHead;
  s += "<dict>\n";
  s += kv("\t", "allowedOrgs", "<string>" + joinOrgs(p.orgs, ";") + "</string>");
  s += "</dict>\n</plist>\n";
  return s;
}

}  // namespace

Result<std::vector<ExportFile>> appleFiles(const Prepared& p) {
  std::vector<ExportFile> out;
  if (!p.orgs.empty()) {
    ECI_ASSIGN_OR_RETURN(prof, profile(p));
    out.push_back({kProfileName, std::move(prof), 0644,
                   "configuration profile (com.docker.config, PayloadScope System): upload to "
                   "Jamf Pro > Configuration Profiles; Docker Desktop 4.35 or later"});
    out.push_back({kBarePlistName, barePlist(p), 0644,
                   "the bare com.docker.config dict: Jamf Application & Custom Settings > "
                   "Upload, preference domain com.docker.config"});
  }
  std::vector<ShFile> files;
  const std::string dir = kMacDir;
  // admin-settings.json root:wheel, registry.json root:admin (Docker's documented owners), 0644.
  if (p.adminSettings)
    files.push_back({dir + "/admin-settings.json", "0:0", "644", &*p.adminSettings});
  if (p.registry) files.push_back({dir + "/registry.json", "0:80", "644", &*p.registry});
  ECI_ASSIGN_OR_RETURN(script, shInstallScript(Target::kJamf, files));
  out.push_back({kJamfScriptName, std::move(script), 0755,
                 "Jamf Pro policy script: installs the JSON files in " + dir +
                     " (root-owned, 0644) and checks them"});
  return out;
}

}  // namespace eci::settings::mdm::detail
