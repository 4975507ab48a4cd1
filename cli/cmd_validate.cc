// `eci-admin validate`: checks admin-settings.json / registry.json files and prints every finding
// with file, line:column, JSON Pointer and a plain reason.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "eci/file_lock.h"
#include "eci/settings/validator.h"

namespace eci::cli {
namespace {

struct ValidateOptions {
  std::string format = "text";
  bool strict = false;
  std::string kind;  // "", "settings", "registry"
  bool checkPermissions = false;
  std::vector<std::string> files;
};

settings::FileKind parseKind(const std::string& k) {
  if (k == "settings") return settings::FileKind::kAdminSettings;
  if (k == "registry") return settings::FileKind::kRegistry;
  return settings::FileKind::kUnknown;
}

// The process ends right after validating: freeing a 10,000-image document node by node would
// only add to `eci-admin validate`'s run time, so the reports stay reachable until exit.
void keepUntilExit(settings::Report&& r) {
  static auto* kept = new std::vector<settings::Report>();
  kept->push_back(std::move(r));
}

int runValidate(const ValidateOptions& o) {
  const bool json = o.format == "json";
  bool anyInvalid = false;
  bool anyIoError = false;
  nlohmann::json out = {{"files", nlohmann::json::array()}};
  for (const auto& file : o.files) {
    auto report = settings::validateFile(file, parseKind(o.kind));
    if (!report.ok()) {
      anyIoError = true;
      const std::string why = report.error().str();
      if (json) {
        out["files"].push_back({{"file", file}, {"error", why}});
      } else {
        (void)std::fprintf(stderr, "eci-admin: cannot read %s: %s\n", file.c_str(), why.c_str());
      }
      continue;
    }
    settings::Report& r = *report;
    if (o.checkPermissions) {
      auto lock = eci::checkFileLocked(file);
      if (!lock.ok()) {
        anyIoError = true;
        const std::string why = lock.error().str();
        if (json) {
          out["files"].push_back({{"file", file}, {"error", why}});
        } else {
          (void)std::fprintf(stderr, "eci-admin: cannot check the permissions of %s: %s\n",
                             file.c_str(), why.c_str());
        }
        continue;
      }
      for (const auto& p : lock->problems) {
        r.findings.push_back(
            settings::Finding{settings::Severity::kError, r.file, "", {}, p.str()});
      }
    }
    if (o.strict) {
      for (auto& f : r.findings) f.severity = settings::Severity::kError;
    }
    size_t errors = 0;
    size_t warnings = 0;
    for (const auto& f : r.findings) {
      (f.severity == settings::Severity::kError ? errors : warnings)++;
    }
    const bool valid = errors == 0;
    anyInvalid = anyInvalid || !valid;
    if (json) {
      nlohmann::json findings = nlohmann::json::array();
      for (const auto& f : r.findings) findings.push_back(settings::toJson(f));
      out["files"].push_back({{"file", r.file},
                              {"kind", settings::fileKindName(r.kind)},
                              {"valid", valid},
                              {"errors", errors},
                              {"warnings", warnings},
                              {"findings", std::move(findings)}});
      continue;
    }
    for (const auto& f : r.findings) (void)std::printf("%s\n", settings::formatText(f).c_str());
    (void)std::printf("%s: %s (%s; %zu error%s, %zu warning%s)\n", r.file.c_str(),
                      valid ? "valid" : "invalid", settings::fileKindName(r.kind), errors,
                      errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    keepUntilExit(std::move(r));
  }
  const int rc = anyIoError ? 2 : anyInvalid ? 1 : 0;
  if (json) {
    out["valid"] = rc == 0;
    (void)std::printf("%s\n",
                      out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  return rc;
}

}  // namespace

void registerValidate(CLI::App& app, int& exitCode) {
  auto opts = std::make_shared<ValidateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check admin-settings.json and registry.json files (exit 0 valid, 1 invalid, 2 usage or "
      "I/O error)");
  cmd->add_option("--format", opts->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
  cmd->add_flag("--strict", opts->strict, "Treat warnings as errors");
  cmd->add_option("--kind", opts->kind,
                  "Kind of every FILE (default: detected from its content and name)")
      ->check(CLI::IsMember({"settings", "registry"}));
  cmd->add_flag("--check-permissions", opts->checkPermissions,
                "Also report files a non-root user could change (owner, mode, parent "
                "directories, symlinks): an MDM-deployed file must be locked");
  cmd->add_option("FILE", opts->files, "admin-settings.json and/or registry.json files")
      ->required();
  cmd->callback([opts, &exitCode] { exitCode = runValidate(*opts); });
}

}  // namespace eci::cli
