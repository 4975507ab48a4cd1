// `eci-admin policy`: the effective ECI policy derived from admin-settings.json (+ registry.json),
// exactly what eci-agent would sign and push. Its sign/verify/push subcommands live in
// cmd_sign.cc and cmd_push.cc.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "eci/policy.h"
#include "eci/settings/build_policy.h"
#include "eci/settings/validator.h"

namespace eci::cli {
namespace {

struct PolicyOptions {
  std::string settingsFile;
  std::string registryFile;
  std::string format = "text";
};

void printList(const char* title, const std::vector<std::string>& items) {
  (void)std::printf("%s:%s\n", title, items.empty() ? " (none)" : "");
  for (const auto& i : items) (void)std::printf("  %s\n", i.c_str());
}

void printText(const Policy& p) {
  (void)std::printf("ECI: %s%s\n", p.enabled ? "on" : "off",
                    p.locked ? " (locked)" : " (not locked: developers can change it)");
  (void)std::printf("Socket-mount images (allowDerivedImages: %s):%s\n",
                    p.allowDerivedImages ? "true" : "false",
                    p.socketMountImages.empty() ? " (none)" : "");
  for (const auto& i : p.socketMountImages) (void)std::printf("  %s\n", i.c_str());
  std::string cmds;
  for (const auto& c : p.commandList.commands) cmds += (cmds.empty() ? "" : ", ") + c;
  (void)std::printf("Command list: %s %s\n",
                    p.commandList.type == CommandList::Type::kAllow ? "allow" : "deny",
                    cmds.empty() ? "(none)" : cmds.c_str());
  printList("Restricted host mounts", p.restrictedHostMounts);
  printList("Allowed organisations", p.allowedOrgs);
  (void)std::printf("Inputs digest: %s\n", p.inputsDigest.c_str());
}

// Returns the exit code.
int load(const std::string& file, settings::FileKind kind, settings::Report& out) {
  auto r = settings::validateFile(file, kind);
  if (!r.ok()) {
    (void)std::fprintf(stderr, "eci-admin: cannot read %s: %s\n", file.c_str(),
                       r.error().str().c_str());
    return 2;
  }
  out = std::move(*r);
  if (!out.valid()) {
    for (const auto& f : out.findings) {
      if (f.severity == settings::Severity::kError) {
        (void)std::fprintf(stderr, "%s\n", settings::formatText(f).c_str());
      }
    }
    (void)std::fprintf(stderr, "eci-admin: %s is invalid; no policy derived from it\n",
                       file.c_str());
    return 1;
  }
  return 0;
}

int runPolicy(const PolicyOptions& o) {
  settings::Report s;
  settings::Report r;
  if (int rc = load(o.settingsFile, settings::FileKind::kAdminSettings, s); rc != 0) return rc;
  if (!o.registryFile.empty()) {
    if (int rc = load(o.registryFile, settings::FileKind::kRegistry, r); rc != 0) return rc;
  }
  auto policy = settings::buildPolicy(s, o.registryFile.empty() ? nullptr : &r);
  if (!policy.ok()) {
    (void)std::fprintf(stderr, "eci-admin: %s\n", policy.error().str().c_str());
    return 1;
  }
  if (o.format == "json") {
    (void)std::printf("%s\n", policy->toJson().dump(2).c_str());
  } else {
    printText(*policy);
  }
  return 0;
}

}  // namespace

void registerPolicy(CLI::App& app, int& exitCode) {
  auto opts = std::make_shared<PolicyOptions>();
  CLI::App* policy = app.add_subcommand(
      "policy", "Show the effective ECI policy derived from admin-settings.json and registry.json");
  policy->add_option("--settings", opts->settingsFile, "admin-settings.json");
  policy->add_option("--registry", opts->registryFile, "registry.json (optional)");
  policy->add_option("--format", opts->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
  registerPolicySigning(*policy, exitCode);
  registerPolicyPush(*policy, exitCode);
  policy->callback([policy, opts, &exitCode] {
    // `policy sign|verify|push` are handled by their own callbacks.
    if (!policy->get_subcommands().empty()) return;
    if (opts->settingsFile.empty()) {
      (void)std::fprintf(stderr,
                         "eci-admin policy: --settings FILE is required\nRun with --help for more "
                         "information.\n");
      exitCode = 2;
      return;
    }
    exitCode = runPolicy(*opts);
  });
}

}  // namespace eci::cli
