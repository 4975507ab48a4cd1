#include "eci/settings/finding.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace eci::settings {

const char* severityName(Severity s) {
  return s == Severity::kError ? "error" : "warning";
}

std::string formatText(const Finding& f) {
  std::string out = severityName(f.severity);
  out += ": ";
  out += f.file;
  if (f.position.line != 0) {
    out += ':' + std::to_string(f.position.line) + ':' + std::to_string(f.position.column);
  }
  out += ": ";
  if (!f.pointer.empty()) {
    out += f.pointer;
    out += ": ";
  }
  out += f.reason;
  return out;
}

nlohmann::json toJson(const Finding& f) {
  nlohmann::json j = {{"severity", severityName(f.severity)},
                      {"file", f.file},
                      {"pointer", f.pointer},
                      {"reason", f.reason}};
  if (f.position.line != 0) {
    j["line"] = f.position.line;
    j["column"] = f.position.column;
  }
  return j;
}

bool hasErrors(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == Severity::kError; });
}

void appendPointerToken(std::string& pointer, std::string_view token) {
  pointer += '/';
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
}

}  // namespace eci::settings
