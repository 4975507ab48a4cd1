// Validation of admin-settings.json and registry.json: bounded parse, JSON Schema (valijson, the
// schemas under settings-schema/schemas compiled in), then semantic checks the schema cannot
// express (image references, docker commands, org names, contradictions between settings).
//
// Severity rules: anything that changes or breaks what Docker Desktop / eci would enforce is an
// error; things that are legal but probably not what the admin meant (an unknown top-level key, an
// image list while ECI is off, `locked: false`) are warnings.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"
#include "eci/settings/finding.h"
#include "eci/settings/json_doc.h"

namespace eci::settings {

enum class FileKind { kUnknown, kAdminSettings, kRegistry };
const char* fileKindName(FileKind k);  // "settings" / "registry" / "unknown"

struct Report {
  std::string file;  // label used in findings
  FileKind kind = FileKind::kUnknown;
  std::vector<Finding> findings;
  bool parsed = false;  // root() is the parsed document
  nlohmann::json root;  // null unless parsed
  std::string bytes;    // the exact input (policy digests are computed over it)

  bool valid() const { return parsed && !hasErrors(findings); }
};

// Which file this is: by content (configurationFileVersion vs allowedOrgs), else by file name.
FileKind detectKind(const nlohmann::json& root, std::string_view fileName);

// kind == kUnknown: detect. Never throws.
Report validateBytes(std::string bytes, std::string_view fileLabel,
                     FileKind kind = FileKind::kUnknown, const ParseLimits& limits = {});

// Reads the file (bounded) and validates it. An error only when the file cannot be read at all;
// an oversized file is a finding, not an I/O error.
Result<Report> validateFile(const std::filesystem::path& path, FileKind kind = FileKind::kUnknown,
                            const ParseLimits& limits = {});

// The embedded schemas, for tools that want to print or export them.
std::string_view adminSettingsSchemaText();
std::string_view registrySchemaText();

}  // namespace eci::settings
