// The form's skeleton, generated from the JSON Schemas the validator itself compiles in
// (eci::settings::adminSettingsSchemaText / registrySchemaText), so the form cannot drift from
// what is validated: one node per documented setting, with its description, type, enum, range,
// in the schema's own order (parsed as ordered JSON).
//
// Docker's "locked setting" shape ({"value": ..., "locked": bool}) becomes one row whose value is
// `<ptr>/value` and whose lock is `<ptr>/locked`; any object with a `locked` member gets the lock
// as its own toggle, and its sub-settings show that lock as inherited.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eci/settings/validator.h"

namespace eci::gui {

struct SchemaNode {
  enum class Kind {
    kCategory,  // a visual group of top-level settings (no pointer of its own)
    kObject,    // an object with sub-settings (may also have a value and a lock)
    kBool,
    kInteger,
    kString,
    kEnum,
    kStringList,  // array of strings (images, commands, orgs, paths)
    kObjectList,  // array of objects (filesharingAllowedDirectories)
    kStringOrList,
  };
  enum class ListRole { kNone, kImages, kCommands, kOrgs, kPaths };

  Kind kind = Kind::kObject;
  std::string key;          // member name ("" for categories)
  std::string title;        // what the row shows
  std::string description;  // from the schema (or the category's blurb)
  std::string pointer;      // JSON Pointer of the setting itself
  // For Docker's {value, locked} shape and objects that carry a value: the pointer of the value
  // and its kind; empty when the node has no value of its own.
  std::string valuePointer;
  Kind valueKind = Kind::kObject;
  std::string lockPointer;  // "<pointer>/locked" when the object has a lock, else ""
  std::vector<nlohmann::ordered_json> enumValues;
  std::optional<long long> minimum, maximum;
  bool required = false;
  ListRole listRole = ListRole::kNone;
  nlohmann::ordered_json itemSchema;  // for kObjectList: the item's schema (resolved)
  SchemaNode* parent = nullptr;
  std::vector<std::unique_ptr<SchemaNode>> children;

  bool hasValue() const { return !valuePointer.empty(); }
  // The lock that applies to this node: its own, else the closest ancestor's ("" when none).
  std::string effectiveLockPointer() const;
};

// Builds the tree of the schema of `kind`. For admin-settings.json the top-level settings are
// grouped into categories; registry.json has one setting.
std::unique_ptr<SchemaNode> buildSchemaTree(eci::settings::FileKind kind);

// Builds the child nodes of the `index`-th item of an object list (e.g. path, sharedByDefault).
std::unique_ptr<SchemaNode> buildItemNode(const SchemaNode& list, size_t index);

// Every node, depth first (for searching by pointer).
void forEachNode(SchemaNode& root, const std::function<void(SchemaNode&)>& fn);

}  // namespace eci::gui
