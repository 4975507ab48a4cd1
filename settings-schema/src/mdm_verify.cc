// Readers of the MDM exports and verifyExport: every exported file is read back with these and the
// agent's own allowedOrgs readers, and must yield exactly the input bytes and orgs.
#include <algorithm>
#include <cctype>
#include <pugixml.hpp>
#include <set>

#include "eci/settings/mdm_export.h"
#include "eci/settings/mdm_formats.h"
#include "eci/settings/mdm_readers.h"
#include "eci/settings/org_sources.h"
#include "eci/settings/reg_file.h"
#include "mdm_internal.h"
#include "plist_node.h"

namespace eci::settings::mdm {
namespace {

constexpr size_t kMaxScriptBytes = 16u << 20;

// Positions where a line starts with `prefix` (exactly, at column 0 or after indentation).
size_t findLine(std::string_view t, std::string_view prefix, size_t from = 0) {
  for (size_t pos = from; pos < t.size();) {
    size_t p = pos;
    while (p < t.size() && t[p] == ' ') ++p;
    if (t.substr(p, prefix.size()) == prefix) return p + prefix.size();
    const size_t nl = t.find('\n', pos);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return std::string_view::npos;
}

void skipBlanks(std::string_view t, size_t& pos) {
  while (pos < t.size() && (t[pos] == ' ' || t[pos] == '\t')) ++pos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool isUuid(std::string_view u) {
  if (u.size() != 36) return false;
  for (size_t i = 0; i < u.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (u[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(u[i]))) {
      return false;
    }
  }
  return true;
}

std::string plistString(pugi::xml_node dict, std::string_view name) {
  auto v = plist::dictValue(dict, name);
  if (!v || std::string_view(v.name()) != "string") return {};
  return v.child_value();
}

Result<pugi::xml_document*> loadXml(pugi::xml_document& doc, std::string_view text,
                                    const char* what) {
  if (text.size() > kMaxScriptBytes)
    return Error(ErrorKind::kTooLarge, std::string(what) + ": too large");
  // parse_ws_pcdata_single: a <string> holding only whitespace is that whitespace (as plistlib
  // and CFPropertyList read it), not empty.
  auto res =
      doc.load_buffer(text.data(), text.size(),
                      (pugi::parse_default | pugi::parse_ws_pcdata_single) & ~pugi::parse_doctype);
  if (!res) {
    return Error(std::string(what) + ": not well-formed XML at byte " + std::to_string(res.offset) +
                 ": " + res.description());
  }
  return &doc;
}

Status expect(bool ok, const std::string& what) {
  if (ok) return {};
  return Error(ErrorKind::kInternal, "export check failed: " + what);
}

}  // namespace

Result<std::vector<ShInstalledFile>> readShInstallScript(std::string_view t) {
  if (t.size() > kMaxScriptBytes) return Error(ErrorKind::kTooLarge, "script too large");
  std::map<std::string, std::string> vars;
  std::vector<ShInstalledFile> out;
  size_t pos = 0;
  while (pos < t.size()) {
    std::string_view rest = t.substr(pos);
    if (rest.rfind("ECI_FILE_", 0) == 0) {
      const size_t eq = rest.find('=');
      if (eq == std::string_view::npos) return Error("ECI_FILE_ assignment without '='");
      const std::string var(rest.substr(0, eq));
      size_t p = pos + eq + 1;
      ECI_ASSIGN_OR_RETURN(value, shReadWord(t, p));
      if (!vars.emplace(var, std::move(value)).second) return Error(var + " assigned twice");
      pos = p;
    } else if (rest.rfind("install_file ", 0) == 0) {
      size_t p = pos + 13;
      ShInstalledFile f;
      for (std::string* field : {&f.dest, &f.owner, &f.mode, &f.sha256}) {
        skipBlanks(t, p);
        ECI_ASSIGN_OR_RETURN(w, shReadWord(t, p));
        *field = std::move(w);
      }
      skipBlanks(t, p);
      const size_t end = t.find('\n', p);
      const std::string_view ref = t.substr(p, end == std::string_view::npos ? t.npos : end - p);
      if (ref.size() < 4 || ref.substr(0, 2) != "\"$" || ref.back() != '"') {
        return Error("install_file: the content must be \"$ECI_FILE_N\"");
      }
      const std::string var(ref.substr(2, ref.size() - 3));
      auto it = vars.find(var);
      if (it == vars.end()) return Error("install_file uses " + var + " before it is assigned");
      f.content = it->second;
      out.push_back(std::move(f));
      pos = end == std::string_view::npos ? t.size() : end;
    }
    const size_t nl = t.find('\n', pos);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return out;
}

Result<PsScript> readPsScript(std::string_view t, bool install) {
  if (t.size() > kMaxScriptBytes) return Error(ErrorKind::kTooLarge, "script too large");
  for (size_t i = 0; i < t.size(); ++i) {
    if (static_cast<unsigned char>(t[i]) >= 0x80) {
      return Error("non-ASCII byte at " + std::to_string(i) +
                   ": Windows PowerShell 5.1 would read a BOM-less script in the ANSI code page");
    }
  }
  // The file contents (-join @(...) expressions) are data: the code checks below skip them, so a
  // setting that mentions "Set-Content" is not mistaken for a write.
  std::map<std::string, std::string> vars;
  std::string code;
  size_t codeFrom = 0;
  for (const char* var : {"$AdminSettingsJson", "$RegistryJson"}) {
    size_t q = findLine(t, std::string(var) + " = ");
    if (q == std::string_view::npos) continue;
    if (q < codeFrom) return Error("file contents out of order");
    code.append(t.substr(codeFrom, q - codeFrom));
    ECI_ASSIGN_OR_RETURN(text, psReadTextExpression(t, q));
    vars[var] = std::move(text);
    codeFrom = q;
  }
  code.append(t.substr(codeFrom));
  const std::string low = lower(code);
  for (const char* bad : {"set-content", "out-file", "add-content", "-encoding", "writeallbytes"}) {
    if (low.find(bad) != std::string::npos) {
      return Error(std::string("uses ") + bad +
                   ": every file must be written BOM-less through "
                   "$Utf8NoBom");
    }
  }
  for (const char* must : {"SysNative\\WindowsPowerShell\\v1.0\\powershell.exe",
                           "[Microsoft.Win32.RegistryView]::Registry64"}) {
    if (code.find(must) == std::string::npos) return Error(std::string("missing ") + must);
  }
  PsScript s;
  size_t p = findLine(t, "$PolicyKey = ");
  if (p == std::string_view::npos) return Error("no $PolicyKey");
  ECI_ASSIGN_OR_RETURN(key, psReadQuoted(t, p));
  s.policyKey = key;
  p = findLine(t, "$Folder = Join-Path $env:ProgramData ");
  if (p == std::string_view::npos) return Error("no $Folder under %ProgramData%");
  ECI_ASSIGN_OR_RETURN(leaf, psReadQuoted(t, p));
  s.folderLeaf = leaf;
  p = findLine(t, "$AllowedOrgs = [string[]]@(");
  if (p == std::string_view::npos) return Error("no $AllowedOrgs");
  while (true) {
    skipBlanks(t, p);
    if (p < t.size() && t[p] == ')') break;
    ECI_ASSIGN_OR_RETURN(org, psReadQuoted(t, p));
    s.orgs.push_back(std::move(org));
    skipBlanks(t, p);
    if (p < t.size() && t[p] == ',') {
      ++p;
      continue;
    }
    if (p >= t.size() || t[p] != ')') return Error("bad $AllowedOrgs array");
  }
  if (install) {
    if (code.find("$Utf8NoBom = New-Object System.Text.UTF8Encoding($false)") ==
            std::string::npos ||
        code.find("[System.IO.File]::WriteAllText($tmp, $Text, $Utf8NoBom)") == std::string::npos) {
      return Error("files are not written with the BOM-less UTF8Encoding");
    }
    size_t writes = 0;
    for (size_t q = low.find("writealltext"); q != std::string::npos;
         q = low.find("writealltext", q + 1)) {
      ++writes;
    }
    if (writes != 1) return Error("a file is written other than through Install-DockerFile");
    if (code.find("[Microsoft.Win32.RegistryValueKind]::MultiString") == std::string::npos) {
      return Error("allowedOrgs is not written as REG_MULTI_SZ");
    }
    for (size_t q = findLine(t, "Install-DockerFile '"); q != std::string_view::npos;
         q = findLine(t, "Install-DockerFile '", q)) {
      --q;  // back to the quote
      ECI_ASSIGN_OR_RETURN(name, psReadQuoted(t, q));
      skipBlanks(t, q);
      size_t e = q;
      while (e < t.size() && t[e] != ' ') ++e;
      const std::string var(t.substr(q, e - q));
      q = e;
      skipBlanks(t, q);
      ECI_ASSIGN_OR_RETURN(sha, psReadQuoted(t, q));
      auto it = vars.find(var);
      if (it == vars.end()) return Error("Install-DockerFile of an unknown variable " + var);
      if (!s.files.emplace(name, it->second).second) return Error(name + " installed twice");
      s.sha256[name] = sha;
    }
    s.setsOrgs = findLine(t, "Set-AllowedOrgs\n") != std::string_view::npos;
  } else {
    size_t q = findLine(t, "$Expected = @{\n");
    if (q == std::string_view::npos) return Error("no $Expected hashes");
    while (true) {
      skipBlanks(t, q);
      if (q < t.size() && t[q] == '}') break;
      ECI_ASSIGN_OR_RETURN(name, psReadQuoted(t, q));
      skipBlanks(t, q);
      if (q >= t.size() || t[q] != '=') return Error("bad $Expected entry");
      ++q;
      skipBlanks(t, q);
      ECI_ASSIGN_OR_RETURN(sha, psReadQuoted(t, q));
      s.sha256[name] = sha;
      while (q < t.size() && (t[q] == '\n' || t[q] == '\r')) ++q;
    }
  }
  return s;
}

Result<ProfileInfo> readProfile(std::string_view text) {
  ProfileInfo info;
  ECI_ASSIGN_OR_RETURN(orgs, parseConfigProfile(text, "profile"));
  if (orgs) info.orgs = *orgs;
  pugi::xml_document doc;
  ECI_TRY(loadXml(doc, text, "profile"));
  auto top = doc.child("plist").child("dict");
  if (!top) return Error("profile: no <plist><dict>");
  info.type = plistString(top, "PayloadType");
  info.outerIdentifier = plistString(top, "PayloadIdentifier");
  info.outerUuid = plistString(top, "PayloadUUID");
  info.scope = plistString(top, "PayloadScope");
  info.outerOrganization = plistString(top, "PayloadOrganization");
  auto content = plist::dictValue(top, "PayloadContent");
  if (!content || std::string_view(content.name()) != "array") {
    return Error("profile: no PayloadContent array");
  }
  size_t n = 0;
  for (auto d = content.child("dict"); d; d = d.next_sibling("dict")) {
    if (++n > 1) return Error("profile: more than one payload");
    info.innerType = plistString(d, "PayloadType");
    info.innerIdentifier = plistString(d, "PayloadIdentifier");
    info.innerUuid = plistString(d, "PayloadUUID");
    info.organization = plistString(d, "PayloadOrganization");
  }
  ECI_TRY(expect(info.type == "Configuration", "outer PayloadType is Configuration"));
  ECI_TRY(expect(info.innerType == "com.docker.config", "payload type com.docker.config"));
  ECI_TRY(expect(info.scope == "System", "PayloadScope System"));
  ECI_TRY(expect(!info.outerIdentifier.empty() && !info.innerIdentifier.empty() &&
                     info.outerIdentifier != info.innerIdentifier,
                 "distinct PayloadIdentifiers"));
  ECI_TRY(
      expect(isUuid(info.outerUuid) && isUuid(info.innerUuid) && info.outerUuid != info.innerUuid,
             "distinct well-formed PayloadUUIDs"));
  return info;
}

Result<AdmxInfo> readAdmxPair(std::string_view admxText, std::string_view admlText) {
  pugi::xml_document admx;
  pugi::xml_document adml;
  ECI_TRY(loadXml(admx, admxText, "ADMX"));
  ECI_TRY(loadXml(adml, admlText, "ADML"));
  auto defs = admx.child("policyDefinitions");
  auto res = adml.child("policyDefinitionResources").child("resources");
  if (!defs || !res) return Error("ADMX/ADML: wrong root elements");
  std::set<std::string> strings;
  std::map<std::string, pugi::xml_node> presentations;
  for (auto s = res.child("stringTable").child("string"); s; s = s.next_sibling("string")) {
    strings.insert(s.attribute("id").value());
  }
  for (auto p = res.child("presentationTable").child("presentation"); p;
       p = p.next_sibling("presentation")) {
    presentations[p.attribute("id").value()] = p;
  }
  // Every $(string.X) / $(presentation.X) reference resolves.
  for (auto n : admx.select_nodes("//@*")) {
    const std::string v = n.attribute().value();
    if (v.rfind("$(string.", 0) == 0 && v.back() == ')') {
      const std::string id = v.substr(9, v.size() - 10);
      if (!strings.count(id)) return Error("ADMX refers to string " + id + " missing in the ADML");
    } else if (v.rfind("$(presentation.", 0) == 0 && v.back() == ')') {
      const std::string id = v.substr(15, v.size() - 16);
      if (!presentations.count(id)) return Error("ADMX refers to missing presentation " + id);
    }
  }
  auto policy = defs.child("policies").child("policy");
  if (!policy) return Error("ADMX: no policy");
  AdmxInfo info;
  info.key = policy.attribute("key").value();
  info.policyClass = policy.attribute("class").value();
  auto multi = policy.child("elements").child("multiText");
  if (!multi) return Error("ADMX: the policy has no multiText element");
  info.valueName = multi.attribute("valueName").value();
  std::string pres = policy.attribute("presentation").value();
  if (pres.rfind("$(presentation.", 0) != 0) return Error("ADMX: no presentation");
  pres = pres.substr(15, pres.size() - 16);
  auto box = presentations[pres].child("multiTextBox");
  if (!box || std::string_view(box.attribute("refId").value()) != multi.attribute("id").value()) {
    return Error("ADML: the multiTextBox does not refer to the multiText element");
  }
  std::string explain = policy.attribute("explainText").value();
  if (explain.rfind("$(string.", 0) == 0) {
    explain = explain.substr(9, explain.size() - 10);
    for (auto s = res.child("stringTable").child("string"); s; s = s.next_sibling("string")) {
      if (explain == s.attribute("id").value()) info.explain = s.child_value();
    }
  }
  return info;
}

using namespace detail;

Status verifyExport(const Export& ex, const ExportInput& in) {
  std::vector<std::string> orgs;
  if (in.registry) {
    ECI_ASSIGN_OR_RETURN(o, parseRegistryJson(*in.registry, "registry.json"));
    if (o) orgs = *o;
  }
  ECI_TRY(expect(ex.orgs == orgs, "the export carries the orgs of registry.json"));
  auto file = [&](const char* name) -> const ExportFile* {
    for (const auto& f : ex.files) {
      if (f.name == name) return &f;
    }
    return nullptr;
  };
  std::set<std::string> checked;
  auto checkSh = [&](const char* name,
                     const std::vector<std::pair<std::string, std::string>>& want) -> Status {
    const ExportFile* f = file(name);
    ECI_TRY(expect(f != nullptr, std::string(name) + " exported"));
    checked.insert(name);
    ECI_ASSIGN_OR_RETURN(got, readShInstallScript(f->content));
    ECI_TRY(expect(got.size() == want.size(), std::string(name) + " installs every file"));
    for (size_t i = 0; i < got.size(); ++i) {
      const auto& g = got[i];
      ECI_TRY(expect(
          g.dest == want[i].first && g.content == want[i].second &&
              g.sha256 == sha256Hex(g.content) && g.mode == "644" && g.owner.rfind("0:", 0) == 0,
          std::string(name) + " installs " + want[i].first + " byte for byte, root-owned 0644"));
    }
    return {};
  };
  std::vector<std::pair<std::string, std::string>> sh;
  switch (ex.target) {
    case Target::kLinux:
      if (in.adminSettings) sh.emplace_back(kLinuxAdminSettings, *in.adminSettings);
      if (in.registry) sh.emplace_back(kLinuxRegistry, *in.registry);
      ECI_TRY(checkSh(kLinuxScriptName, sh));
      break;
    case Target::kJamf: {
      const std::string dir = kMacDir;
      if (in.adminSettings) sh.emplace_back(dir + "/admin-settings.json", *in.adminSettings);
      if (in.registry) sh.emplace_back(dir + "/registry.json", *in.registry);
      ECI_TRY(checkSh(kJamfScriptName, sh));
      if (orgs.empty()) break;
      const ExportFile* prof = file(kProfileName);
      const ExportFile* bare = file(kBarePlistName);
      ECI_TRY(expect(prof && bare, "profile and plist exported"));
      checked.insert(kProfileName);
      checked.insert(kBarePlistName);
      ECI_ASSIGN_OR_RETURN(info, readProfile(prof->content));
      ECI_TRY(expect(info.orgs == orgs, "the profile's allowedOrgs read back as registry.json's"));
      ECI_TRY(expect(info.outerIdentifier == in.identifierPrefix, "outer PayloadIdentifier"));
      ECI_TRY(
          expect(info.organization == in.organization && info.outerOrganization == in.organization,
                 "PayloadOrganization reads back exactly"));
      ECI_ASSIGN_OR_RETURN(bareOrgs, parseConfigProfile(bare->content, kBarePlistName));
      ECI_TRY(expect(bareOrgs && *bareOrgs == orgs, "the bare plist's allowedOrgs"));
      break;
    }
    case Target::kIntune:
    case Target::kGpo: {
      const ExportFile* inst = file(kPsInstallName);
      ECI_TRY(expect(inst != nullptr, "install.ps1 exported"));
      checked.insert(kPsInstallName);
      ECI_ASSIGN_OR_RETURN(ps, readPsScript(inst->content, true));
      std::map<std::string, std::string> want;
      if (in.adminSettings) want["admin-settings.json"] = *in.adminSettings;
      if (in.registry) want["registry.json"] = *in.registry;
      ECI_TRY(expect(ps.files == want, "install.ps1 writes both JSON files byte for byte"));
      for (const auto& [name, text] : want) {
        ECI_TRY(expect(ps.sha256[name] == sha256Hex(text), "install.ps1 checks " + name));
      }
      ECI_TRY(expect(ps.policyKey == kPolicyKey && ps.folderLeaf == "DockerDesktop",
                     "install.ps1 uses Docker's policy key and folder"));
      ECI_TRY(expect(ps.orgs == orgs && ps.setsOrgs == !orgs.empty(),
                     "install.ps1 sets the orgs of registry.json"));
      ECI_ASSIGN_OR_RETURN(keyOrgs, parsePolicyKeyValue(
                                        [&] {
                                          std::string j;
                                          for (const auto& o : ps.orgs) j += o + "\n";
                                          return j;
                                        }(),
                                        "install.ps1 $AllowedOrgs"));
      ECI_TRY(expect(orgs.empty() ? !keyOrgs : (keyOrgs && *keyOrgs == orgs),
                     "the agent's policy-key reader sees the orgs install.ps1 writes"));
      if (ex.target == Target::kIntune) {
        const ExportFile* det = file(kPsDetectName);
        ECI_TRY(expect(det != nullptr, "detect.ps1 exported"));
        checked.insert(kPsDetectName);
        ECI_ASSIGN_OR_RETURN(d, readPsScript(det->content, false));
        ECI_TRY(expect(d.orgs == orgs && d.sha256 == ps.sha256 && d.policyKey == kPolicyKey,
                       "detect.ps1 checks what install.ps1 writes"));
      }
      if (!orgs.empty()) {
        const ExportFile* reg = file(kRegName);
        ECI_TRY(expect(reg != nullptr, ".reg exported"));
        checked.insert(kRegName);
        ECI_ASSIGN_OR_RETURN(keys, parseRegFile(reg->content, kRegName));
        const RegValue* v = findRegValue(keys, kPolicyKeyHklm, kPolicyValue);
        ECI_TRY(expect(v && v->type == RegValue::Type::kMultiSz, ".reg sets REG_MULTI_SZ"));
        ECI_ASSIGN_OR_RETURN(regOrgs, parsePolicyKeyValue(*policyKeyText(*v), kRegName));
        ECI_TRY(expect(regOrgs && *regOrgs == orgs, "the agent reads the .reg's orgs"));
      }
      const ExportFile* admx = file(kAdmxName);
      const ExportFile* adml = file(kAdmlName);
      ECI_TRY(expect(admx && adml, "ADMX and ADML exported"));
      checked.insert(kAdmxName);
      checked.insert(kAdmlName);
      ECI_ASSIGN_OR_RETURN(a, readAdmxPair(admx->content, adml->content));
      ECI_TRY(expect(a.key == "Software\\Policies\\Docker\\Docker Desktop" &&
                         a.valueName == kPolicyValue && a.policyClass == "Machine",
                     "the ADMX describes the machine policy key's allowedOrgs"));
      ECI_TRY(expect(in.organization.empty() ||
                         a.explain.find("Prepared for: " + in.organization) != std::string::npos,
                     "the ADML text reads back exactly"));
      break;
    }
  }
  for (const auto& f : ex.files) {
    ECI_TRY(expect(checked.count(f.name) == 1, f.name + " has a read-back check"));
  }
  return {};
}

}  // namespace eci::settings::mdm
