// `eci-admin export --target jamf|intune|gpo|linux [--settings F] [--registry F] [-o DIR]`: the
// MDM artefacts for admin-settings.json / registry.json (eci/settings/mdm_export.h, the library the
// GUI's export uses too). Every export is read back with the project's own parsers before anything
// is written; a failed check writes nothing.
#include <cerrno>
#include <cstdio>
#include <string>

#include "commands.h"
#include "eci/fs_util.h"
#include "eci/settings/json_doc.h"
#include "eci/settings/mdm_export.h"

namespace eci::cli {
namespace {

struct ExportOptions {
  std::string target;
  std::string settingsFile;
  std::string registryFile;
  std::string outDir;
  std::string organization;
  std::string identifier = "com.example.docker";
  bool allowInvalid = false;
};

int runExport(const ExportOptions& o) {
  namespace mdm = settings::mdm;
  const auto target = mdm::parseTarget(o.target);
  if (!target) return 2;  // CLI11 already refused it
  if (o.settingsFile.empty() && o.registryFile.empty()) {
    (void)std::fprintf(stderr,
                       "eci-admin export: give --settings admin-settings.json and/or --registry "
                       "registry.json\n");
    return 2;
  }
  mdm::ExportInput in;
  in.organization = o.organization;
  in.identifierPrefix = o.identifier;
  in.allowInvalid = o.allowInvalid;
  const size_t maxBytes = settings::ParseLimits{}.maxBytes;
  for (auto [file, slot] :
       {std::pair{&o.settingsFile, &in.adminSettings}, std::pair{&o.registryFile, &in.registry}}) {
    if (file->empty()) continue;
    auto bytes = fs::readFile(*file, maxBytes);
    if (!bytes.ok()) {
      (void)std::fprintf(stderr, "eci-admin export: cannot read %s: %s\n", file->c_str(),
                         bytes.error().str().c_str());
      return 2;
    }
    *slot = std::move(*bytes);
  }
  auto ex = mdm::exportFor(*target, in);
  if (!ex.ok()) {
    (void)std::fprintf(stderr, "eci-admin export: %s\n", ex.error().str().c_str());
    return ex.error().kind() == ErrorKind::kInvalidInput ? 1 : 2;
  }
  // Read back with our own parsers before writing anything.
  if (auto ok = mdm::verifyExport(*ex, in); !ok.ok()) {
    (void)std::fprintf(stderr, "eci-admin export: %s; nothing written\n", ok.error().str().c_str());
    return 1;
  }
  const std::string dir = o.outDir.empty() ? std::string("eci-export-") + o.target : o.outDir;
  if (auto w = mdm::writeExport(*ex, dir); !w.ok()) {
    (void)std::fprintf(stderr, "eci-admin export: cannot write %s: %s\n", dir.c_str(),
                       w.error().str().c_str());
    return 2;
  }
  (void)std::printf("Exported for %s into %s (read back and checked):\n", o.target.c_str(),
                    dir.c_str());
  for (const auto& f : ex->files) {
    (void)std::printf("  %-26s %s\n", f.name.c_str(), f.what.c_str());
  }
  if (!ex->orgs.empty()) {
    std::string orgs;
    for (const auto& org : ex->orgs) orgs += (orgs.empty() ? "" : ", ") + org;
    (void)std::printf("allowedOrgs: %s\n", orgs.c_str());
  }
  return 0;
}

}  // namespace

void registerExport(CLI::App& app, int& exitCode) {
  auto opts = std::make_shared<ExportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write the MDM artefacts deploying admin-settings.json / registry.json (exit 0 written, 1 "
      "input invalid or refused, 2 usage or I/O error)");
  cmd->add_option("--target", opts->target,
                  "jamf: .mobileconfig + plist + policy script; intune / gpo: install.ps1, "
                  ".reg, ADMX/ADML (+ detect.ps1 for intune); linux: install script")
      ->required()
      ->check(CLI::IsMember({"jamf", "intune", "gpo", "linux"}));
  cmd->add_option("--settings", opts->settingsFile, "admin-settings.json to deploy");
  cmd->add_option("--registry", opts->registryFile, "registry.json (allowedOrgs) to deploy");
  cmd->add_option("-o,--output", opts->outDir, "Output directory (default eci-export-TARGET)");
  cmd->add_option("--organization", opts->organization,
                  "Your organisation's name, shown by the MDM (PayloadOrganization, ADML)");
  cmd->add_option("--identifier", opts->identifier,
                  "Reverse-DNS PayloadIdentifier of the profile (its payload adds .config)")
      ->default_str("com.example.docker");
  cmd->add_flag("--allow-invalid", opts->allowInvalid,
                "Export files that have validation errors anyway");
  cmd->callback([opts, &exitCode] { exitCode = runExport(*opts); });
}

}  // namespace eci::cli
