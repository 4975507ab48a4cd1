// What the GUI shows beside the editor, as pure functions (tested without widgets):
// - the effective policy, built by the same library call `eci-admin policy` makes
//   (eci::settings::buildPolicy) and rendered line for line as it prints it;
// - this platform's deployed location of each file (the agent's documented locations);
// - allowedOrgs imported from a .mobileconfig or desktop.plist with the settings library's readers
//   (the ones eci-agent uses).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"
#include "eci/policy.h"
#include "eci/settings/validator.h"

namespace eci::gui {

// Exactly the text `eci-admin policy` prints for `p` (without --format json).
std::string policyText(const eci::Policy& p);

struct PolicyPreview {
  bool ok = false;
  std::string text;  // policyText(), or why there is no policy
  std::string json;  // `eci-admin policy --format json` (ok only)
};
// `registry` may be null (no registry.json).
PolicyPreview previewPolicy(const eci::settings::Report& settings,
                            const eci::settings::Report* registry);

// Where Docker Desktop reads the file on the platform this is built for.
std::filesystem::path deployedPath(eci::settings::FileKind kind);

// allowedOrgs from a configuration profile (.mobileconfig, managed-preferences plist, bare dict)
// or a desktop.plist; an error names what was wrong with both readings.
eci::Result<std::vector<std::string>> importOrgs(std::string_view text, const std::string& origin);

}  // namespace eci::gui
