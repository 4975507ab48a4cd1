#include "schema_tree.h"

#include <map>

#include "eci/settings/finding.h"

namespace eci::gui {
namespace {

// Ordered: the form lists settings in the order the schema documents them.
using json = nlohmann::ordered_json;

const json& schemaDoc(eci::settings::FileKind kind) {
  static const json admin = json::parse(eci::settings::adminSettingsSchemaText());
  static const json registry = json::parse(eci::settings::registrySchemaText());
  return kind == eci::settings::FileKind::kRegistry ? registry : admin;
}

// Follows "$ref": "#/definitions/<name>", the only form the schemas use.
const json& resolve(const json& root, const json& node) {
  const json* cur = &node;
  for (int hops = 0; hops < 8 && cur->is_object() && cur->contains("$ref"); ++hops) {
    const std::string ref = (*cur)["$ref"].get<std::string>();
    const std::string prefix = "#/definitions/";
    if (ref.rfind(prefix, 0) != 0) break;
    cur = &root["definitions"][ref.substr(prefix.size())];
  }
  return *cur;
}

bool hasType(const json& s, const char* t) {
  auto it = s.find("type");
  if (it == s.end()) return false;
  if (it->is_string()) return *it == t;
  for (const auto& x : *it) {
    if (x == t) return true;
  }
  return false;
}

SchemaNode::Kind scalarKind(const json& s) {
  if (hasType(s, "array") && hasType(s, "string")) return SchemaNode::Kind::kStringOrList;
  if (s.contains("enum")) return SchemaNode::Kind::kEnum;
  if (hasType(s, "boolean")) return SchemaNode::Kind::kBool;
  if (hasType(s, "integer")) return SchemaNode::Kind::kInteger;
  if (hasType(s, "string")) return SchemaNode::Kind::kString;
  return SchemaNode::Kind::kObject;
}

// Presentation only: which top-level settings share a group. Anything the schema gains that is
// not listed here still appears, under "Other settings".
const std::vector<std::pair<std::string, std::vector<std::string>>>& categories() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> c = {
      {"Enhanced Container Isolation", {"enhancedContainerIsolation"}},
      {"File sharing", {"filesharingAllowedDirectories"}},
      {"Engine and VM",
       {"linuxVM", "windowsContainers", "exposeDockerAPIOnTCP2375", "blockDockerLoad",
        "useVirtualizationFrameworkVirtioFS", "useGrpcfuse", "useVirtualizationFrameworkRosetta"}},
      {"Networking and proxy",
       {"proxy", "containersProxy", "defaultNetworkingMode", "dnsInhibition",
        "portBindingBehavior"}},
      {"Extensions",
       {"extensionsEnabled", "onlyMarketplaceExtensions", "extensionsPrivateMarketplace",
        "extensionsPrivateMarketplaceAdminContactURL"}},
      {"Kubernetes", {"kubernetes"}},
      {"Updates, features and telemetry",
       {"disableUpdate", "silentModulesUpdate", "allowBetaFeatures", "allowExperimentalFeatures",
        "analyticsEnabled", "displayedOnboarding", "desktopTerminalEnabled", "scout"}},
      {"AI and inference",
       {"enableDockerAI", "enableDockerMCPToolkit", "enableCloud", "enableInference",
        "enableInferenceTCP", "enableInferenceTCPPort", "enableInferenceGPUVariant",
        "enableInferenceCORS"}},
      {"File format", {"configurationFileVersion"}},
  };
  return c;
}

SchemaNode::ListRole listRoleOf(const std::string& pointer) {
  auto endsWith = [&](const std::string& s) {
    return pointer.size() >= s.size() &&
           pointer.compare(pointer.size() - s.size(), s.size(), s) == 0;
  };
  if (endsWith("/imageList/images")) return SchemaNode::ListRole::kImages;
  if (endsWith("/commandList/commands")) return SchemaNode::ListRole::kCommands;
  if (pointer == "/allowedOrgs") return SchemaNode::ListRole::kOrgs;
  if (endsWith("/restrictedHostMounts")) return SchemaNode::ListRole::kPaths;
  return SchemaNode::ListRole::kNone;
}

void applyScalar(SchemaNode& n, const json& s, SchemaNode::Kind k) {
  n.valueKind = k;
  if (auto e = s.find("enum"); e != s.end()) n.enumValues.assign(e->begin(), e->end());
  if (auto m = s.find("minimum"); m != s.end() && m->is_number()) n.minimum = m->get<long long>();
  if (auto m = s.find("maximum"); m != s.end() && m->is_number()) n.maximum = m->get<long long>();
}

std::unique_ptr<SchemaNode> build(const json& root, const std::string& key, const json& raw,
                                  const std::string& pointer, SchemaNode* parent, bool required) {
  const json& s = resolve(root, raw);
  auto n = std::make_unique<SchemaNode>();
  n->key = key;
  n->title = key;
  n->pointer = pointer;
  n->parent = parent;
  n->required = required;
  n->description = raw.value("description", s.value("description", std::string()));

  if (hasType(s, "array") && !hasType(s, "string")) {
    const json itemsRaw = s.value("items", json::object());
    const json items = resolve(root, itemsRaw);
    n->kind =
        hasType(items, "object") ? SchemaNode::Kind::kObjectList : SchemaNode::Kind::kStringList;
    n->itemSchema = items;
    n->listRole = listRoleOf(pointer);
    return n;
  }
  if (!hasType(s, "object")) {
    n->kind = scalarKind(s);
    n->valuePointer = pointer;
    applyScalar(*n, s, n->kind);
    return n;
  }
  n->kind = SchemaNode::Kind::kObject;
  const json props = s.value("properties", json::object());
  std::vector<std::string> req;
  if (auto r = s.find("required"); r != s.end()) req = r->get<std::vector<std::string>>();
  if (props.contains("locked")) n->lockPointer = pointer + "/locked";
  if (auto v = props.find("value"); v != props.end()) {
    const json& vs = resolve(root, *v);
    n->valuePointer = pointer + "/value";
    applyScalar(*n, vs, scalarKind(vs));
  }
  for (auto it = props.begin(); it != props.end(); ++it) {
    if (it.key() == "locked" || it.key() == "value") continue;
    std::string p = pointer;
    eci::settings::appendPointerToken(p, it.key());
    const bool isReq = std::find(req.begin(), req.end(), it.key()) != req.end();
    n->children.push_back(build(root, it.key(), it.value(), p, n.get(), isReq));
  }
  return n;
}

}  // namespace

std::string SchemaNode::effectiveLockPointer() const {
  for (const SchemaNode* n = this; n != nullptr; n = n->parent) {
    if (!n->lockPointer.empty()) return n->lockPointer;
  }
  return {};
}

std::unique_ptr<SchemaNode> buildSchemaTree(eci::settings::FileKind kind) {
  const json& root = schemaDoc(kind);
  auto top = std::make_unique<SchemaNode>();
  top->kind = SchemaNode::Kind::kObject;
  top->title = root.value("title", std::string());
  top->description = root.value("description", std::string());
  const json props = root.value("properties", json::object());
  std::vector<std::string> req;
  if (auto r = root.find("required"); r != root.end()) req = r->get<std::vector<std::string>>();
  auto make = [&](const std::string& key, SchemaNode* parent) {
    std::string p;
    eci::settings::appendPointerToken(p, key);
    const bool isReq = std::find(req.begin(), req.end(), key) != req.end();
    return build(root, key, props[key], p, parent, isReq);
  };
  if (kind == eci::settings::FileKind::kRegistry) {
    for (auto it = props.begin(); it != props.end(); ++it) {
      top->children.push_back(make(it.key(), top.get()));
    }
    return top;
  }
  std::map<std::string, bool> placed;
  auto addCategory = [&](const std::string& title, const std::vector<std::string>& keys) {
    auto cat = std::make_unique<SchemaNode>();
    cat->kind = SchemaNode::Kind::kCategory;
    cat->title = title;
    cat->parent = top.get();
    for (const auto& k : keys) {
      if (!props.contains(k) || placed[k]) continue;
      placed[k] = true;
      cat->children.push_back(make(k, cat.get()));
    }
    if (!cat->children.empty()) top->children.push_back(std::move(cat));
  };
  for (const auto& [title, keys] : categories()) addCategory(title, keys);
  std::vector<std::string> rest;
  for (auto it = props.begin(); it != props.end(); ++it) {
    if (!placed[it.key()]) rest.push_back(it.key());
  }
  addCategory("Other settings", rest);
  return top;
}

std::unique_ptr<SchemaNode> buildItemNode(const SchemaNode& list, size_t index) {
  const json& root = schemaDoc(eci::settings::FileKind::kAdminSettings);
  const std::string p = list.pointer + "/" + std::to_string(index);
  if (list.kind == SchemaNode::Kind::kObjectList) {
    auto n = build(root, std::to_string(index), list.itemSchema, p, const_cast<SchemaNode*>(&list),
                   false);
    n->title = "#" + std::to_string(index + 1);
    return n;
  }
  auto n = std::make_unique<SchemaNode>();
  n->kind = SchemaNode::Kind::kString;
  n->key = std::to_string(index);
  n->title = "#" + std::to_string(index + 1);
  n->pointer = p;
  n->valuePointer = p;
  n->valueKind = SchemaNode::Kind::kString;
  n->listRole = list.listRole;
  n->parent = const_cast<SchemaNode*>(&list);
  return n;
}

void forEachNode(SchemaNode& root, const std::function<void(SchemaNode&)>& fn) {
  fn(root);
  for (auto& c : root.children) forEachNode(*c, fn);
}

}  // namespace eci::gui
