#include "eci/settings/org_sources.h"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "plist_node.h"

namespace eci::settings {
namespace {

using Orgs = std::optional<std::vector<std::string>>;

std::string trim(std::string_view s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

Status checkAll(const std::vector<std::string>& orgs, const std::string& origin) {
  for (const auto& o : orgs) ECI_TRY(checkOrgName(o, origin));
  return {};
}

// Orgs from a separated string: ';' for profiles, newlines/NULs/spaces for the policy key.
std::vector<std::string> splitOrgs(std::string_view s, std::string_view seps) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find_first_of(seps, start);
    if (end == std::string_view::npos) end = s.size();
    auto item = trim(s.substr(start, end - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

Result<pugi::xml_document*> loadXml(pugi::xml_document& doc, std::string_view text,
                                    const std::string& origin) {
  if (text.size() > kMaxOrgSourceBytes) {
    return Error(ErrorKind::kTooLarge,
                 origin + ": larger than " + std::to_string(kMaxOrgSourceBytes) + " bytes");
  }
  // No DOCTYPE/entity expansion: pugixml never fetches external entities, and parse_doctype is
  // off so a DTD is skipped rather than interpreted.
  auto res = doc.load_buffer(text.data(), text.size(), pugi::parse_default & ~pugi::parse_doctype);
  if (!res) {
    // Byte offset → line:column for the message.
    size_t line = 1, col = 1;
    for (ptrdiff_t i = 0; i < res.offset && static_cast<size_t>(i) < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return Error(origin + ":" + std::to_string(line) + ":" + std::to_string(col) +
                 ": not well-formed XML: " + res.description());
  }
  return &doc;
}

// The top-level <dict> of a plist, or a bare <dict> document.
pugi::xml_node topDict(const pugi::xml_document& doc) {
  auto plist = doc.child("plist");
  if (plist) return plist.child("dict");
  return doc.child("dict");
}

Result<Orgs> orgsFromSeparatedString(pugi::xml_node v, const std::string& origin,
                                     const std::string& where) {
  if (std::string_view(v.name()) != "string") {
    return Error(origin + ": " + where +
                 "allowedOrgs must be a <string> of orgs separated by ';', "
                 "found <" +
                 v.name() + ">");
  }
  auto orgs = splitOrgs(v.child_value(), ";");
  ECI_TRY(checkAll(orgs, origin));
  return Orgs(std::move(orgs));
}

}  // namespace

Status checkOrgName(const std::string& org, const std::string& origin) {
  if (org.empty() || org.size() > 255) {
    return Error(origin + ": org name '" + org + "' must be 1..255 characters");
  }
  for (unsigned char c : org) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return Error(origin + ": org name '" + org +
                   "' is invalid: org names are lowercase letters, digits, '-', '_' or '.' "
                   "(the match is case-sensitive)");
    }
  }
  return {};
}

Result<Orgs> parseRegistryJson(std::string_view text, const std::string& origin) {
  try {
    if (text.size() > kMaxOrgSourceBytes) {
      return Error(ErrorKind::kTooLarge,
                   origin + ": larger than " + std::to_string(kMaxOrgSourceBytes) + " bytes");
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
      return Error(origin + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
    }
    if (!j.is_object()) return Error(origin + ": /: must be an object");
    auto it = j.find("allowedOrgs");
    if (it == j.end()) return Orgs();
    if (!it->is_array()) return Error(origin + ": /allowedOrgs: must be an array of strings");
    std::vector<std::string> orgs;
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& v = (*it)[i];
      if (!v.is_string()) {
        return Error(origin + ": /allowedOrgs/" + std::to_string(i) + ": must be a string");
      }
      orgs.push_back(v.get<std::string>());
    }
    ECI_TRY(checkAll(orgs, origin));
    return Orgs(std::move(orgs));
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("registry.json: unexpected JSON: ") + e.what());
  }
}

Result<Orgs> parseDesktopPlist(std::string_view text, const std::string& origin) {
  pugi::xml_document doc;
  ECI_TRY(loadXml(doc, text, origin));
  auto dict = topDict(doc);
  if (!dict) return Error(origin + ": not a property list (no top-level <dict>)");
  auto v = plist::dictValue(dict, "allowedOrgs");
  if (!v) return Orgs();
  if (std::string_view(v.name()) != "array") {
    return Error(origin + ": allowedOrgs must be an <array> of <string>, found <" + v.name() + ">");
  }
  std::vector<std::string> orgs;
  for (auto e = v.first_child(); e; e = e.next_sibling()) {
    if (e.type() != pugi::node_element) continue;
    if (std::string_view(e.name()) != "string") {
      return Error(origin + ": allowedOrgs[" + std::to_string(orgs.size()) +
                   "] must be a <string>, found <" + e.name() + ">");
    }
    orgs.push_back(trim(e.child_value()));
  }
  ECI_TRY(checkAll(orgs, origin));
  return Orgs(std::move(orgs));
}

Result<Orgs> parseConfigProfile(std::string_view text, const std::string& origin) {
  pugi::xml_document doc;
  ECI_TRY(loadXml(doc, text, origin));
  auto dict = topDict(doc);
  if (!dict) return Error(origin + ": not a property list (no top-level <dict>)");
  auto content = plist::dictValue(dict, "PayloadContent");
  if (content) {
    if (std::string_view(content.name()) != "array") {
      return Error(origin + ": PayloadContent must be an <array> of payload <dict>s");
    }
    int index = 0;
    for (auto p = content.child("dict"); p; p = p.next_sibling("dict"), ++index) {
      auto type = plist::dictValue(p, "PayloadType");
      if (!type || std::string_view(type.child_value()) != "com.docker.config") continue;
      auto v = plist::dictValue(p, "allowedOrgs");
      if (!v) return Orgs();
      return orgsFromSeparatedString(
          v, origin, "PayloadContent[" + std::to_string(index) + "] (com.docker.config): ");
    }
    return Orgs();
  }
  // Managed-preferences plist or a bare payload <dict>: the keys sit at the top level.
  auto type = plist::dictValue(dict, "PayloadType");
  if (type && std::string_view(type.child_value()) != "com.docker.config") return Orgs();
  auto v = plist::dictValue(dict, "allowedOrgs");
  if (!v) return Orgs();
  return orgsFromSeparatedString(v, origin, "");
}

Result<Orgs> parsePolicyKeyValue(std::string_view text, const std::string& origin) {
  if (text.size() > kMaxOrgSourceBytes) {
    return Error(ErrorKind::kTooLarge,
                 origin + ": larger than " + std::to_string(kMaxOrgSourceBytes) + " bytes");
  }
  auto orgs = splitOrgs(text, std::string_view("\n\r\0 \t,", 6));
  if (orgs.empty()) return Orgs();
  ECI_TRY(checkAll(orgs, origin));
  return Orgs(std::move(orgs));
}

}  // namespace eci::settings
