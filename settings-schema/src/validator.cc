#include "eci/settings/validator.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "eci/fs_util.h"
#include "eci/settings/commands.h"
#include "eci/settings/image_ref.h"

namespace eci::settings {

namespace embedded {
std::string_view adminSettingsSchema();
std::string_view registrySchema();
}  // namespace embedded

namespace {

using nlohmann::json;

// A compiled schema: the JSON (for the walker that explains errors) and valijson's form.
struct CompiledSchema {
  json doc;
  valijson::Schema schema;
  bool ok = false;
};

const CompiledSchema& compiled(FileKind kind) {
  static CompiledSchema admin, registry;
  static std::once_flag once;
  std::call_once(once, [] {
    auto load = [](CompiledSchema& c, std::string_view text) {
      try {
        c.doc = json::parse(text);
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        valijson::adapters::NlohmannJsonAdapter adapter(c.doc);
        parser.populateSchema(adapter, c.schema);
        c.ok = true;
      } catch (const std::exception&) {
        c.ok = false;  // reported per validation as an internal error below
      }
    };
    load(admin, embedded::adminSettingsSchema());
    load(registry, embedded::registrySchema());
  });
  return kind == FileKind::kRegistry ? registry : admin;
}

// Follows "$ref": "#/definitions/<name>" (the only form our schemas use).
const json* resolve(const json& root, const json* node) {
  for (int hops = 0; node != nullptr && hops < 8; ++hops) {
    auto ref = node->find("$ref");
    if (ref == node->end() || !ref->is_string()) return node;
    const std::string& r = ref->get_ref<const std::string&>();
    const std::string prefix = "#/definitions/";
    if (r.rfind(prefix, 0) != 0) return nullptr;
    auto defs = root.find("definitions");
    if (defs == root.end()) return nullptr;
    auto def = defs->find(r.substr(prefix.size()));
    node = def == defs->end() ? nullptr : &*def;
  }
  return node;
}

const json* childSchema(const json& root, const json* node, const std::string& token,
                        bool inArray) {
  node = resolve(root, node);
  if (node == nullptr) return nullptr;
  if (inArray) {
    auto items = node->find("items");
    return items == node->end() ? nullptr : resolve(root, &*items);
  }
  if (auto props = node->find("properties"); props != node->end()) {
    if (auto p = props->find(token); p != props->end()) return resolve(root, &*p);
  }
  auto ap = node->find("additionalProperties");
  if (ap != node->end() && ap->is_object()) return resolve(root, &*ap);
  return nullptr;
}

std::string typeList(const json& schemaNode) {
  auto t = schemaNode.find("type");
  if (t == schemaNode.end()) return "a different type";
  if (t->is_string()) return t->get<std::string>();
  std::string out;
  for (size_t i = 0; i < t->size(); ++i) {
    if (i > 0) out += i + 1 == t->size() ? " or " : ", ";
    out += (*t)[i].get<std::string>();
  }
  return out;
}

class Checker {
 public:
  Checker(Report& report, const Document& doc) : r_(report), doc_(doc) {}

  // Positions are looked up for all findings at once, in resolvePositions(): one scan of the
  // file, not one per finding.
  void add(Severity sev, const std::string& pointer, std::string reason, bool atKey = false) {
    Finding f;
    f.severity = sev;
    f.file = r_.file;
    f.pointer = pointer;
    f.reason = std::move(reason);
    pending_.push_back({r_.findings.size(), {pointer, atKey}});
    r_.findings.push_back(std::move(f));
  }
  void resolvePositions() {
    if (pending_.empty()) return;
    std::vector<Document::PositionQuery> queries;
    queries.reserve(pending_.size());
    for (const auto& p : pending_) queries.push_back(p.second);
    const auto positions = doc_.positionsFor(queries);
    for (size_t k = 0; k < pending_.size(); ++k) {
      r_.findings[pending_[k].first].position = positions[k];
    }
    pending_.clear();
  }
  void error(const std::string& p, std::string why, bool atKey = false) {
    add(Severity::kError, p, std::move(why), atKey);
  }
  void warn(const std::string& p, std::string why, bool atKey = false) {
    add(Severity::kWarning, p, std::move(why), atKey);
  }

  void schemaValidate(const CompiledSchema& cs) {
    if (!cs.ok) {
      error("", "internal error: the built-in schema could not be loaded");
      return;
    }
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::ValidationResults results;
    valijson::adapters::NlohmannJsonAdapter target(doc_.root());
    try {
      if (validator.validate(cs.schema, target, &results)) return;
    } catch (const std::exception&) {
      error("", "internal error while checking the schema");
      return;
    }
    std::set<std::pair<std::string, std::string>> seen;
    std::vector<std::pair<std::string, std::string>> collected;
    valijson::ValidationResults::Error e;
    while (results.popError(e)) {
      // Wrapper errors repeat what the innermost error says; unknown keys are reported by
      // unknownKeys() with suggestions.
      const std::string& d = e.description;
      if (d.rfind("Failed to validate", 0) == 0 || d.rfind("Object contains a property", 0) == 0) {
        continue;
      }
      // Context: "<root>", then "[key]" or "[index]" per level.
      std::string pointer;
      const json* value = &doc_.root();
      const json* schemaNode = resolve(cs.doc, &cs.doc);
      for (size_t i = 1; i < e.context.size(); ++i) {
        std::string tok = e.context[i];
        if (tok.size() >= 2 && tok.front() == '[' && tok.back() == ']') {
          tok = tok.substr(1, tok.size() - 2);
        }
        appendPointerToken(pointer, tok);
        const bool inArray = value != nullptr && value->is_array();
        if (value != nullptr) {
          if (value->is_array()) {
            size_t idx = std::strtoul(tok.c_str(), nullptr, 10);
            value = idx < value->size() ? &(*value)[idx] : nullptr;
          } else if (value->is_object()) {
            auto it = value->find(tok);
            value = it == value->end() ? nullptr : &*it;
          } else {
            value = nullptr;
          }
        }
        schemaNode =
            schemaNode == nullptr ? nullptr : childSchema(cs.doc, schemaNode, tok, inArray);
      }
      std::string reason;
      if (d.rfind("Value type not permitted", 0) == 0 && schemaNode != nullptr &&
          value != nullptr) {
        reason = "expected " + typeList(*schemaNode) + ", got " + describeValue(*value);
      } else if (d.rfind("Failed to match against any enum", 0) == 0 && schemaNode != nullptr &&
                 value != nullptr) {
        std::string allowed;
        for (const auto& v : schemaNode->value("enum", json::array())) {
          if (!allowed.empty()) allowed += ", ";
          allowed += v.dump();
        }
        reason = "expected one of " + allowed + ", got " + describeValue(*value);
      } else if (d.rfind("Missing required property '", 0) == 0) {
        const auto q = d.find('\'');
        const auto q2 = d.rfind('\'');
        reason = "missing required key \"" + d.substr(q + 1, q2 - q - 1) + "\"";
      } else if (d.rfind("Array should contain no fewer than ", 0) == 0) {
        const size_t n = std::strtoul(d.c_str() + 35, nullptr, 10);
        reason = "expected at least " + std::to_string(n) + (n == 1 ? " entry" : " entries");
      } else if (value != nullptr && (d.rfind("Expected number", 0) == 0)) {
        reason = "expected a ";
        reason.append(d, std::string_view("Expected ").size()).append(", got ");
        reason += describeValue(*value);
      } else {
        reason = d;
        if (!reason.empty() && reason.back() == '.') reason.pop_back();
        if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(reason[0]));
      }
      if (seen.emplace(pointer, reason).second) collected.emplace_back(pointer, reason);
    }
    // A value of the wrong type also fails its enum; the type error says it all.
    std::set<std::string> typeErrors;
    for (const auto& [p, why] : collected) {
      if (why.rfind("expected one of ", 0) != 0 && why.find(", got ") != std::string::npos) {
        typeErrors.insert(p);
      }
    }
    for (const auto& [p, why] : collected) {
      if (why.rfind("expected one of ", 0) == 0 && typeErrors.count(p) != 0) continue;
      error(p, why);
    }
  }

  // Unknown keys: warnings at the top level (Docker's own handling is undocumented and newer
  // Desktop versions add settings), errors inside a known object (a typo there silently drops a
  // security setting).
  void unknownKeys(const json& schemaRoot, const json* schemaNode, const json& value,
                   std::string& pointer, bool top) {
    schemaNode = resolve(schemaRoot, schemaNode);
    if (schemaNode == nullptr) return;
    const size_t base = pointer.size();
    if (value.is_object()) {
      auto props = schemaNode->find("properties");
      auto ap = schemaNode->find("additionalProperties");
      const bool closed = ap != schemaNode->end() && ap->is_boolean() && !ap->get<bool>();
      std::vector<std::string> known;
      if (props != schemaNode->end()) {
        for (auto it = props->begin(); it != props->end(); ++it) known.push_back(it.key());
      }
      for (auto it = value.begin(); it != value.end(); ++it) {
        appendPointerToken(pointer, it.key());
        const bool isKnown = props != schemaNode->end() && props->contains(it.key());
        if (isKnown) {
          unknownKeys(schemaRoot, &(*props)[it.key()], it.value(), pointer, false);
        } else if (top || closed) {
          std::string why = "unknown key \"" + it.key() + "\"";
          const std::string hint = closestMatch(it.key(), known);
          if (!hint.empty()) why += "; did you mean \"" + hint + "\"?";
          if (top) {
            warn(pointer, why + " (ignored)", true);
          } else {
            error(pointer, why, true);
          }
        }
        pointer.resize(base);
      }
    } else if (value.is_array()) {
      auto items = schemaNode->find("items");
      if (items == schemaNode->end()) return;
      for (size_t i = 0; i < value.size(); ++i) {
        pointer += '/' + std::to_string(i);
        unknownKeys(schemaRoot, &*items, value[i], pointer, false);
        pointer.resize(base);
      }
    }
  }

  void settingsSemantics();
  void registrySemantics();

 private:
  static const json* member(const json& obj, const char* key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }
  static const json* lockedValue(const json& root, const char* key) {
    const json* s = member(root, key);
    return s == nullptr ? nullptr : member(*s, "value");
  }
  void images(const json& list, const std::string& ptr, bool eciOn, const json& root);
  void commands(const json& list, const std::string& ptr);
  void restrictedMounts(const json& list, const std::string& ptr);
  void daemonOptions(const json& root, const char* group);

  Report& r_;
  const Document& doc_;
  std::vector<std::pair<size_t, Document::PositionQuery>> pending_;  // (finding, where)
};

void Checker::images(const json& list, const std::string& ptr, bool eciOn, const json& root) {
  std::map<std::string, size_t> seen;
  bool everything = false;
  std::vector<ImagePattern> parsed;
  parsed.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) continue;  // the schema reported it
    const std::string p = ptr + '/' + std::to_string(i);
    auto pat = parseImagePattern(list[i].get_ref<const std::string&>());
    if (!pat.ok()) {
      error(p, pat.error().message());
      continue;
    }
    const std::string norm = pat->str();
    if (auto [it, inserted] = seen.emplace(norm, i); !inserted) {
      warn(p, "same image as entry " + std::to_string(it->second) + " (" + norm + ")");
    }
    if (pat->kind == ImagePattern::Kind::kEverything) {
      everything = true;
      warn(p,
           "\"*\" lets every image mount the Docker socket, which removes the protection the "
           "image list gives (Docker Desktop 4.36 or later)");
    }
    parsed.push_back(std::move(*pat));
  }
  if (everything && list.size() > 1) {
    warn(ptr, "the other entries are redundant next to \"*\"");
  }
  // Docker: with ECI and kubernetes.imagesRepository, Kubernetes' own socket-mounting images
  // must be allowlisted or Kubernetes does not start.
  const json* k8s = member(root, "kubernetes");
  const json* repo = k8s == nullptr ? nullptr : member(*k8s, "imagesRepository");
  const json* enabled = k8s == nullptr ? nullptr : member(*k8s, "enabled");
  if (eciOn && repo != nullptr && repo->is_string() && !repo->get<std::string>().empty() &&
      enabled != nullptr && enabled->is_boolean() && enabled->get<bool>()) {
    for (const char* name : {"desktop-cloud-provider-kind", "desktop-containerd-registry-mirror"}) {
      auto ref = parseImageReference(repo->get<std::string>() + "/" + name);
      if (!ref.ok()) continue;
      const bool covered = std::any_of(parsed.begin(), parsed.end(), [&](const ImagePattern& p) {
        if (p.kind == ImagePattern::Kind::kEverything) return true;
        if (p.kind == ImagePattern::Kind::kRepoWildcard) {
          return ref->repository.rfind(p.repository + "/", 0) == 0 &&
                 ref->repository.find('/', p.repository.size() + 1) == std::string::npos;
        }
        return p.repository == ref->repository;
      });
      if (!covered) {
        warn(ptr, "kubernetes.imagesRepository is set: add \"" + repo->get<std::string>() + "/" +
                      name + ":*\" to the image list (it mounts the Docker socket; without it " +
                      "Kubernetes does not start under ECI)");
      }
    }
  }
}

void Checker::commands(const json& list, const std::string& ptr) {
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) continue;
    const std::string p = ptr + '/' + std::to_string(i);
    const auto& c = list[i].get_ref<const std::string&>();
    auto check = checkCommand(c);
    if (!check.ok) {
      error(p, check.reason);
      continue;
    }
    if (auto [it, inserted] = seen.emplace(c, i); !inserted) {
      warn(p, "\"" + c + "\" is listed twice (entry " + std::to_string(it->second) + ")");
    }
  }
}

void Checker::restrictedMounts(const json& list, const std::string& ptr) {
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) continue;
    const std::string p = ptr + '/' + std::to_string(i);
    const auto& path = list[i].get_ref<const std::string&>();
    if (path.empty() || path[0] != '/') {
      error(p, "\"" + path + "\" is not an absolute path");
      continue;
    }
    if (path.find('\0') != std::string::npos) {
      error(p, "the path contains a NUL character");
      continue;
    }
    bool dots = false;
    size_t start = 1;
    while (start <= path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      const std::string_view comp(path.data() + start, end - start);
      if (comp == "." || comp == "..") dots = true;
      start = end + 1;
    }
    if (dots) {
      error(p, "\"" + path + "\" contains '.' or '..'; write the path it means");
      continue;
    }
    if (path == "/" || path.find_first_not_of('/') == std::string::npos) {
      warn(p, "restricting \"/\" refuses every bind mount from the host");
    }
    std::string norm;
    for (char c : path) {
      if (c == '/' && !norm.empty() && norm.back() == '/') continue;
      norm += c;
    }
    if (norm.size() > 1 && norm.back() == '/') norm.pop_back();
    if (auto [it, inserted] = seen.emplace(norm, i); !inserted) {
      warn(p, "\"" + norm + "\" is listed twice (entry " + std::to_string(it->second) + ")");
    }
  }
}

void Checker::daemonOptions(const json& root, const char* group) {
  const json* g = member(root, group);
  const json* opts = g == nullptr ? nullptr : member(*g, "dockerDaemonOptions");
  const json* v = opts == nullptr ? nullptr : member(*opts, "value");
  if (v == nullptr || !v->is_string()) return;
  const std::string ptr = std::string("/") + group + "/dockerDaemonOptions/value";
  auto parsed = parseJson(v->get_ref<const std::string&>(), r_.file, ParseLimits{1 << 20, 16});
  if (!parsed.ok) {
    error(ptr, "must be a JSON object in a string (e.g. \"{\\\"debug\\\": false}\"): " +
                   parsed.error.reason);
  } else if (!parsed.document.root().is_object()) {
    error(ptr, "must be a JSON object in a string, got " + describeValue(parsed.document.root()));
  }
}

void Checker::settingsSemantics() {
  const json& root = doc_.root();
  if (!root.is_object()) return;
  const json* eci = member(root, "enhancedContainerIsolation");
  bool eciOn = false;
  if (eci != nullptr && eci->is_object()) {
    const std::string base = "/enhancedContainerIsolation";
    const json* value = member(*eci, "value");
    const json* locked = member(*eci, "locked");
    eciOn = value != nullptr && value->is_boolean() && value->get<bool>();
    if (value == nullptr) {
      warn(base, "no \"value\": ECI stays off (Docker's default)");
    }
    const bool isLocked = locked != nullptr && locked->is_boolean() && locked->get<bool>();
    if (eciOn && !isLocked && (locked == nullptr || locked->is_boolean())) {
      warn(locked != nullptr ? base + "/locked" : base,
           std::string(locked != nullptr ? "with \"locked\": false" : "without \"locked\": true") +
               ", ECI is only a default for new installs: on existing installs where the "
               "developer changed the setting it is ignored, and developers can turn ECI off in "
               "Settings; set \"locked\": true to enforce it");
    }
    const json* dsm = member(*eci, "dockerSocketMount");
    if (dsm != nullptr && dsm->is_object()) {
      const std::string dptr = base + "/dockerSocketMount";
      if (!eciOn) {
        warn(dptr, "has no effect while ECI is off (\"value\" is not true)");
      }
      const json* il = member(*dsm, "imageList");
      const json* imgs = il == nullptr ? nullptr : member(*il, "images");
      const bool hasImages = imgs != nullptr && imgs->is_array() && !imgs->empty();
      if (imgs != nullptr && imgs->is_array()) {
        images(*imgs, dptr + "/imageList/images", eciOn, root);
      }
      const json* cl = member(*dsm, "commandList");
      if (cl != nullptr && cl->is_object()) {
        const json* cmds = member(*cl, "commands");
        const json* type = member(*cl, "type");
        if (cmds != nullptr && cmds->is_array()) commands(*cmds, dptr + "/commandList/commands");
        if (!hasImages && eciOn) {
          warn(dptr + "/commandList",
               "has no effect: no image is allowed to mount the Docker socket");
        }
        if (type != nullptr && type->is_string() && type->get<std::string>() == "allow" &&
            (cmds == nullptr || (cmds->is_array() && cmds->empty()))) {
          warn(dptr + "/commandList",
               "type \"allow\" with no commands blocks every docker command through the socket");
        }
      }
    } else if (eciOn) {
      // Nothing to check: no image may mount the socket, which is the safe default.
    }
    const json* rhm = member(*eci, "restrictedHostMounts");
    if (rhm != nullptr && rhm->is_array()) {
      restrictedMounts(*rhm, base + "/restrictedHostMounts");
      if (!eciOn && !rhm->empty()) {
        warn(base + "/restrictedHostMounts", "has no effect while ECI is off");
      }
    }
  }
  const json* tcp = lockedValue(root, "exposeDockerAPIOnTCP2375");
  if (eciOn && tcp != nullptr && tcp->is_boolean() && tcp->get<bool>()) {
    warn("/exposeDockerAPIOnTCP2375/value",
         "exposes the engine API on TCP 2375 without authentication, around ECI's socket-mount "
         "and command restrictions; Docker's hardening guidance is to disable and lock it");
  }
  const json* virtiofs = lockedValue(root, "useVirtualizationFrameworkVirtioFS");
  const json* grpcfuse = lockedValue(root, "useGrpcfuse");
  if (virtiofs != nullptr && grpcfuse != nullptr && virtiofs->is_boolean() &&
      grpcfuse->is_boolean() && !virtiofs->get<bool>() && !grpcfuse->get<bool>()) {
    warn("/useGrpcfuse/value",
         "VirtioFS and gRPC FUSE are both off: newer Docker Desktop versions fail to start");
  }
  const json* onboarding = lockedValue(root, "displayedOnboarding");
  if (onboarding != nullptr && onboarding->is_boolean() && !onboarding->get<bool>()) {
    warn("/displayedOnboarding/value", "only true has an effect");
  }
  for (const char* proxy : {"proxy", "containersProxy"}) {
    const json* p = member(root, proxy);
    const json* mode = p == nullptr ? nullptr : member(*p, "mode");
    if (mode == nullptr || !mode->is_string() || mode->get<std::string>() != "system") continue;
    for (const char* k : {"http", "https", "exclude"}) {
      if (member(*p, k) != nullptr) {
        warn(std::string("/") + proxy + "/" + k, "ignored in \"system\" mode");
      }
    }
  }
  daemonOptions(root, "linuxVM");
  daemonOptions(root, "windowsContainers");
}

void Checker::registrySemantics() {
  const json& root = doc_.root();
  const json* orgs = member(root, "allowedOrgs");
  if (orgs == nullptr || !orgs->is_array()) return;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < orgs->size(); ++i) {
    const json& o = (*orgs)[i];
    if (!o.is_string()) continue;
    const std::string p = "/allowedOrgs/" + std::to_string(i);
    const std::string& name = o.get_ref<const std::string&>();
    if (name.empty()) continue;  // schema: minLength
    if (name.find_first_of(" \t\r\n,;") != std::string::npos) {
      error(p, "\"" + name +
                   "\" contains a space or separator; put each organisation in its own entry");
      continue;
    }
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower != name) {
      error(p,
            "organisation names must be lowercase (registry.json is case-sensitive); did you "
            "mean \"" +
                lower + "\"?");
      continue;
    }
    if (!std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        })) {
      error(p, "\"" + name +
                   "\" is not a Docker organisation name (lowercase letters, digits, - and _)");
      continue;
    }
    if (auto [it, inserted] = seen.emplace(name, i); !inserted) {
      warn(p, "\"" + name + "\" is listed twice (entry " + std::to_string(it->second) + ")");
    }
  }
}

const std::vector<std::string>& adminTopLevelKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> v;
    const json& props = compiled(FileKind::kAdminSettings).doc["properties"];
    for (auto it = props.begin(); it != props.end(); ++it) v.push_back(it.key());
    return v;
  }();
  return keys;
}

}  // namespace

const char* fileKindName(FileKind k) {
  switch (k) {
    case FileKind::kAdminSettings:
      return "settings";
    case FileKind::kRegistry:
      return "registry";
    default:
      return "unknown";
  }
}

std::string_view adminSettingsSchemaText() {
  return embedded::adminSettingsSchema();
}
std::string_view registrySchemaText() {
  return embedded::registrySchema();
}

FileKind detectKind(const nlohmann::json& root, std::string_view fileName) {
  if (root.is_object()) {
    const bool settings = root.contains("configurationFileVersion");
    const bool registry = root.contains("allowedOrgs");
    if (settings && !registry) return FileKind::kAdminSettings;
    if (registry && !settings) return FileKind::kRegistry;
  }
  const auto slash = fileName.rfind('/');
  const std::string_view base =
      slash == std::string_view::npos ? fileName : fileName.substr(slash + 1);
  if (base.find("registry") != std::string_view::npos) return FileKind::kRegistry;
  if (base.find("settings") != std::string_view::npos) return FileKind::kAdminSettings;
  if (root.is_object()) {
    const auto& keys = adminTopLevelKeys();
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (std::find(keys.begin(), keys.end(), it.key()) != keys.end()) {
        return FileKind::kAdminSettings;
      }
    }
  }
  return FileKind::kUnknown;
}

Report validateBytes(std::string bytes, std::string_view fileLabel, FileKind kind,
                     const ParseLimits& limits) {
  Report r;
  r.file = std::string(fileLabel);
  r.kind = kind;
  auto parsed = parseJson(bytes, fileLabel, limits);
  r.bytes = std::move(bytes);
  if (!parsed.ok) {
    if (r.kind == FileKind::kUnknown) r.kind = detectKind(nlohmann::json(), fileLabel);
    r.findings.push_back(std::move(parsed.error));
    return r;
  }
  const Document& doc = parsed.document;
  Checker c(r, doc);
  if (!doc.root().is_object()) {
    c.error("", "expected a JSON object at the top level, got " + describeValue(doc.root()));
    c.resolvePositions();
    return r;
  }
  if (r.kind == FileKind::kUnknown) r.kind = detectKind(doc.root(), fileLabel);
  if (r.kind == FileKind::kUnknown) {
    c.error("",
            "cannot tell whether this is admin-settings.json or registry.json (it has neither "
            "\"configurationFileVersion\" nor \"allowedOrgs\"); name the kind explicitly");
    c.resolvePositions();
    return r;
  }
  const CompiledSchema& cs = compiled(r.kind);
  c.schemaValidate(cs);
  std::string pointer;
  if (cs.ok) c.unknownKeys(cs.doc, &cs.doc, doc.root(), pointer, true);
  if (r.kind == FileKind::kAdminSettings) {
    c.settingsSemantics();
  } else {
    c.registrySemantics();
  }
  c.resolvePositions();
  std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
    if (a.position.line != b.position.line) return a.position.line < b.position.line;
    return a.position.column < b.position.column;
  });
  r.parsed = true;
  r.root = parsed.document.takeRoot();  // the checks are done with it: no copy of the tree
  return r;
}

Result<Report> validateFile(const std::filesystem::path& path, FileKind kind,
                            const ParseLimits& limits) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error::fromErrno("stat('" + path.string() + "')");
  if (S_ISDIR(st.st_mode))
    return Error(ErrorKind::kInvalidInput, "'" + path.string() + "' is a directory");
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > limits.maxBytes) {
    Report r;
    r.file = path.string();
    r.kind = kind;
    r.findings.push_back(Finding{Severity::kError,
                                 r.file,
                                 "",
                                 {},
                                 "file is " + std::to_string(st.st_size) + " bytes; the limit is " +
                                     std::to_string(limits.maxBytes) + " bytes"});
    return r;
  }
  // +1 so that a file that grew past the limit after stat() is still caught by parseJson's check.
  auto bytes = fs::readFile(path, limits.maxBytes + 1);
  if (!bytes.ok()) {
    if (bytes.error().kind() == ErrorKind::kTooLarge) {
      Report r;
      r.file = path.string();
      r.kind = kind;
      r.findings.push_back(Finding{
          Severity::kError,
          r.file,
          "",
          {},
          "file is larger than the limit of " + std::to_string(limits.maxBytes) + " bytes"});
      return r;
    }
    return std::move(bytes).error();
  }
  return validateBytes(std::move(*bytes), path.string(), kind, limits);
}

}  // namespace eci::settings
