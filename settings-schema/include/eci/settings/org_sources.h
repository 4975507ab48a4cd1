// allowedOrgs readers for every place an admin can put it (the precedence between them is the
// agent's, eci/agent/org_sources.h):
//   Windows policy key (REG_MULTI_SZ) > macOS configuration profile (com.docker.config, one
//   ';'-joined string) > macOS desktop.plist (<array> of <string>) > registry.json.
// The XML parsers use pugixml; every parser is bounded and returns errors naming the source.
// Shared by eci-agent (what it enforces), eci-admin and the GUI (reading exports back).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci::settings {

constexpr size_t kMaxOrgSourceBytes = 1u << 20;

// nullopt: the source does not set allowedOrgs. Error: the source is malformed (with where).
// `origin` names the source in messages (a path or the registry key).
Result<std::optional<std::vector<std::string>>> parseRegistryJson(std::string_view text,
                                                                  const std::string& origin);
Result<std::optional<std::vector<std::string>>> parseDesktopPlist(std::string_view text,
                                                                  const std::string& origin);
// A .mobileconfig (PayloadContent array holding a com.docker.config payload), the managed-
// preferences plist macOS writes from it, or the bare <dict> some MDMs take.
Result<std::optional<std::vector<std::string>>> parseConfigProfile(std::string_view text,
                                                                   const std::string& origin);
// REG_MULTI_SZ: one org per line; the older documented form separates them with spaces.
Result<std::optional<std::vector<std::string>>> parsePolicyKeyValue(std::string_view text,
                                                                    const std::string& origin);

// Org names are lowercase and case-sensitive (eci-settings.md §2.2); anything else is an error
// rather than a silent mismatch at sign-in.
Status checkOrgName(const std::string& org, const std::string& origin);

}  // namespace eci::settings
