// allowedOrgs from every place an admin can put it, and the documented precedence between them:
//   Windows policy key > macOS configuration profile (com.docker.config, one ';'-joined string)
//   > macOS desktop.plist (<array> of <string>) > registry.json ({"allowedOrgs": [...]}).
// The parsers are the settings library's (eci/settings/org_sources.h); this header adds the
// precedence, which needs the platform.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/agent/platform.h"
#include "eci/error.h"
#include "eci/settings/org_sources.h"

namespace eci::agent {

// The parsers live in the settings library (shared with eci-admin and the GUI).
using settings::checkOrgName;
using settings::kMaxOrgSourceBytes;
using settings::parseConfigProfile;
using settings::parseDesktopPlist;
using settings::parsePolicyKeyValue;
using settings::parseRegistryJson;

struct AllowedOrgs {
  std::vector<std::string> orgs;      // empty: no source sets it
  std::string source;                 // "registry.json /usr/share/..." / "Windows policy key ..."
  std::vector<std::string> shadowed;  // lower-precedence sources that were present too
};

// Applies the precedence. `registryJsonText` is the already-read registry.json (nullopt if absent).
Result<AllowedOrgs> resolveAllowedOrgs(const Platform& platform, const Locations& loc,
                                       const std::optional<std::string>& registryJsonText);

}  // namespace eci::agent
