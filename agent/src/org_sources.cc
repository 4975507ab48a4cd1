// The documented precedence between the allowedOrgs sources; the parsers themselves live in the
// settings library (eci/settings/org_sources.h) so eci-admin and the GUI read exports with them
// without linking the agent.
#include "eci/agent/org_sources.h"

namespace eci::agent {

using Orgs = std::optional<std::vector<std::string>>;

Result<AllowedOrgs> resolveAllowedOrgs(const Platform& platform, const Locations& loc,
                                       const std::optional<std::string>& registryJsonText) {
  AllowedOrgs out;
  auto take = [&](Orgs orgs, std::string source) {
    if (!orgs) return;
    if (out.source.empty()) {
      out.orgs = std::move(*orgs);
      out.source = std::move(source);
    } else {
      out.shadowed.push_back(std::move(source));
    }
  };
  if (platform.os() == Os::kWindows && !loc.policyKey.empty()) {
    const std::string origin = "Windows policy key " + loc.policyKey + "\\" + loc.policyValue;
    ECI_ASSIGN_OR_RETURN(raw, platform.readPolicyKey(loc.policyKey, loc.policyValue));
    if (raw) {
      ECI_ASSIGN_OR_RETURN(orgs, parsePolicyKeyValue(*raw, origin));
      take(std::move(orgs), origin);
    }
  }
  if (platform.os() == Os::kMacOS) {
    if (!loc.managedProfile.empty()) {
      const std::string origin = "configuration profile " + loc.managedProfile.string();
      ECI_ASSIGN_OR_RETURN(raw, platform.readProtectedFile(loc.managedProfile));
      if (raw) {
        ECI_ASSIGN_OR_RETURN(orgs, parseConfigProfile(*raw, origin));
        take(std::move(orgs), origin);
      }
    }
    if (!loc.desktopPlist.empty()) {
      const std::string origin = "desktop.plist " + loc.desktopPlist.string();
      ECI_ASSIGN_OR_RETURN(raw, platform.readProtectedFile(loc.desktopPlist));
      if (raw) {
        ECI_ASSIGN_OR_RETURN(orgs, parseDesktopPlist(*raw, origin));
        take(std::move(orgs), origin);
      }
    }
  }
  if (registryJsonText) {
    const std::string origin = "registry.json " + loc.registryJson.string();
    ECI_ASSIGN_OR_RETURN(orgs, parseRegistryJson(*registryJsonText, origin));
    take(std::move(orgs), origin);
  }
  return out;
}

}  // namespace eci::agent
