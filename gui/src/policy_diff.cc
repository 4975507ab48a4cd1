#include "policy_diff.h"

#include <nlohmann/json.hpp>

#include "eci/agent/platform.h"
#include "eci/settings/build_policy.h"
#include "eci/settings/org_sources.h"

namespace eci::gui {
namespace {

void appendf(std::string& out, const std::string& s) {
  out += s + "\n";
}

void list(std::string& out, const char* title, const std::vector<std::string>& items) {
  appendf(out, std::string(title) + ":" + (items.empty() ? " (none)" : ""));
  for (const auto& i : items) appendf(out, "  " + i);
}

}  // namespace

std::string policyText(const eci::Policy& p) {
  // Mirrors cli/cmd_policy.cc printText(); gui_tests compares the two on the same files.
  std::string out;
  appendf(out, std::string("ECI: ") + (p.enabled ? "on" : "off") +
                   (p.locked ? " (locked)" : " (not locked: developers can change it)"));
  appendf(out, std::string("Socket-mount images (allowDerivedImages: ") +
                   (p.allowDerivedImages ? "true" : "false") +
                   "):" + (p.socketMountImages.empty() ? " (none)" : ""));
  for (const auto& i : p.socketMountImages) appendf(out, "  " + i);
  std::string cmds;
  for (const auto& c : p.commandList.commands) cmds += (cmds.empty() ? "" : ", ") + c;
  appendf(out, std::string("Command list: ") +
                   (p.commandList.type == eci::CommandList::Type::kAllow ? "allow" : "deny") + " " +
                   (cmds.empty() ? "(none)" : cmds));
  list(out, "Restricted host mounts", p.restrictedHostMounts);
  list(out, "Allowed organisations", p.allowedOrgs);
  appendf(out, "Inputs digest: " + p.inputsDigest);
  return out;
}

PolicyPreview previewPolicy(const eci::settings::Report& settings,
                            const eci::settings::Report* registry) {
  PolicyPreview out;
  auto policy = eci::settings::buildPolicy(settings, registry);
  if (!policy.ok()) {
    out.text = "No policy: " + policy.error().str() + "\n";
    return out;
  }
  out.ok = true;
  out.text = policyText(*policy);
  out.json = policy->toJson().dump(2) + "\n";
  return out;
}

std::filesystem::path deployedPath(eci::settings::FileKind kind) {
#if defined(__APPLE__)
  const auto os = eci::agent::Os::kMacOS;
#elif defined(_WIN32)
  const auto os = eci::agent::Os::kWindows;
#else
  const auto os = eci::agent::Os::kLinux;
#endif
  const auto loc = eci::agent::defaultLocations(os);
  return kind == eci::settings::FileKind::kRegistry ? loc.registryJson : loc.adminSettings;
}

eci::Result<std::vector<std::string>> importOrgs(std::string_view text, const std::string& origin) {
  auto profile = eci::settings::parseConfigProfile(text, origin);
  if (profile.ok() && profile->has_value()) return **profile;
  auto plist = eci::settings::parseDesktopPlist(text, origin);
  if (plist.ok() && plist->has_value()) return **plist;
  std::string why = origin + " sets no allowedOrgs";
  if (!profile.ok()) why += "; as a configuration profile: " + profile.error().str();
  if (!plist.ok()) why += "; as a desktop.plist: " + plist.error().str();
  return eci::Error(why);
}

}  // namespace eci::gui
