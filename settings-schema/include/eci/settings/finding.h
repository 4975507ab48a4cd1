// A finding of the settings validator: one problem in one file, located by JSON Pointer and
// line:column, with a plain-language reason. Shared by eci-admin, eci-agent and the GUI.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace eci::settings {

enum class Severity { kWarning, kError };

// 1-based; line 0 means "no position" (e.g. the file is too large to be parsed at all).
struct Position {
  uint32_t line = 0;
  uint32_t column = 0;  // in bytes from the start of the line
  bool operator==(const Position&) const = default;
};

struct Finding {
  Severity severity = Severity::kError;
  std::string file;     // as the user named it
  std::string pointer;  // RFC 6901 JSON Pointer; "" = the whole document
  Position position;
  std::string reason;  // plain language, no internal names

  bool operator==(const Finding&) const = default;
};

const char* severityName(Severity s);  // "error" / "warning"

// "error: admin-settings.json:7:14: /enhancedContainerIsolation/value: expected boolean, got
// string \"yes\"". Without a position the ":line:col" part is left out.
std::string formatText(const Finding& f);
// {"severity":..,"file":..,"pointer":..,"line":..,"column":..,"reason":..}
nlohmann::json toJson(const Finding& f);

bool hasErrors(const std::vector<Finding>& findings);

// Appends one RFC 6901 reference token ("~" -> "~0", "/" -> "~1") to a pointer.
void appendPointerToken(std::string& pointer, std::string_view token);

}  // namespace eci::settings
