// Pure helpers over JSON text and ordered JSON values that the GUI needs around the shared
// validator: positions (the validator's line:column is in bytes, Qt's cursor in UTF-16 units),
// the extent of a value in the text, JSON Pointer get/set/remove on nlohmann::ordered_json (which
// keeps the file's key order), a diff of two documents by JSON Pointer, and a three-way merge.
#pragma once

#include <QString>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/settings/finding.h"

namespace eci::gui {

using Json = nlohmann::ordered_json;

// UTF-16 offset (QString index) of a 1-based line and 1-based byte column in `text` (UTF-8).
// Positions past the end clamp to the end.
int offsetOf(const QString& text, eci::settings::Position pos);
// Length in UTF-16 units of the JSON token (string, number, literal, or a whole object/array)
// starting at `offset`; 0 when there is none.
int valueExtent(const QString& text, int offset);

// Parses ordered JSON; nullopt when it does not parse.
std::optional<Json> parseOrdered(std::string_view text);
// The document's canonical text: 2-space indent, UTF-8 (no \u escapes), final newline.
std::string dumpText(const Json& j);

const Json* at(const Json& root, const std::string& pointer);
// Sets the value at `pointer`, creating missing objects on the way (arrays must exist; index ==
// size appends). Returns false when the pointer cannot be set (e.g. a scalar on the way).
bool setAt(Json& root, const std::string& pointer, const Json& value);
bool removeAt(Json& root, const std::string& pointer);

std::vector<std::string> splitPointer(const std::string& pointer);
std::string joinPointer(const std::vector<std::string>& tokens);
std::string parentPointer(const std::string& pointer);

struct DiffEntry {
  enum class Kind { kAdded, kRemoved, kChanged };
  Kind kind = Kind::kChanged;
  std::string pointer;
  std::optional<Json> before;  // absent for kAdded
  std::optional<Json> after;   // absent for kRemoved
};
const char* diffKindName(DiffEntry::Kind k);  // "added" / "removed" / "changed"

// Leaf-level differences from `a` to `b`: objects by key, arrays by index, in document order.
std::vector<DiffEntry> diffJson(const Json& a, const Json& b);
// One line per entry: "changed /x/y: true -> false".
std::string formatDiff(const std::vector<DiffEntry>& diff);

struct MergeResult {
  Json merged;
  std::vector<std::string> applied;    // pointers taken from `theirs`
  std::vector<std::string> conflicts;  // pointers changed on both sides differently (mine kept)
};
// Applies theirs' changes since `base` onto `mine` where mine still has base's value.
MergeResult merge3(const Json& base, const Json& mine, const Json& theirs);

}  // namespace eci::gui
