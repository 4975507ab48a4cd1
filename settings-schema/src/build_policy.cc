#include "eci/settings/build_policy.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "eci/settings/image_ref.h"

namespace eci::settings {
namespace {

using nlohmann::json;

const json* path(const json& root, std::initializer_list<const char*> keys) {
  const json* cur = &root;
  for (const char* k : keys) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

bool boolAt(const json& root, std::initializer_list<const char*> keys, bool dflt) {
  const json* v = path(root, keys);
  return v != nullptr && v->is_boolean() ? v->get<bool>() : dflt;
}

std::vector<std::string> stringsAt(const json& root, std::initializer_list<const char*> keys) {
  std::vector<std::string> out;
  const json* v = path(root, keys);
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& e : *v) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

void sortUnique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

Error invalid(const Report& r) {
  std::string msg = r.file + " is not valid";
  int shown = 0;
  for (const auto& f : r.findings) {
    if (f.severity != Severity::kError) continue;
    if (shown++ == 3) {
      msg += "; ...";
      break;
    }
    msg += "; " + formatText(f);
  }
  return Error(msg);
}

std::string lexicallyClean(const std::string& p) {
  std::string out;
  for (char c : p) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out += c;
  }
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// Docker's filesharingAllowedDirectories paths may start with $HOME, $TMP or $TEMP. They are
// expanded with the environment of the process deriving the policy (eci-admin, eci-agent);
// an unset variable falls back to the Linux default (/home for $HOME: every user's home, /tmp),
// and so does a HOME outside /home (a system service's /root must never become shared).
std::string expandSharePath(const std::string& p) {
  auto env = [](const char* name, const char* dflt) {
    const char* v = std::getenv(name);
    return std::string(v != nullptr && v[0] == '/' ? v : dflt);
  };
  struct Var {
    const char* name;
    std::string value;
  };
  const std::string tmp = env("TMPDIR", "/tmp");
  // A service's HOME (/root, /var/lib/...) is no user's home: only a home under /home is taken.
  std::string home = env("HOME", "/home");
  if (home.compare(0, 6, "/home/") != 0) home = "/home";
  const Var vars[] = {
      {"$HOME", home}, {"$TEMP", env("TEMP", tmp.c_str())}, {"$TMP", env("TMP", tmp.c_str())}};
  for (const auto& v : vars) {
    const size_t n = std::strlen(v.name);
    if (p.compare(0, n, v.name) == 0 && (p.size() == n || p[n] == '/')) {
      return v.value + p.substr(n);
    }
  }
  return p;
}

}  // namespace

std::string inputsDigest(std::string_view settingsBytes, std::string_view registryBytes) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdLen = 0;
  auto feed = [&](std::string_view bytes) {
    unsigned char len[8];
    uint64_t n = bytes.size();
    for (int i = 7; i >= 0; --i, n >>= 8) len[i] = static_cast<unsigned char>(n & 0xff);
    return EVP_DigestUpdate(ctx.get(), len, sizeof len) == 1 &&
           EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) == 1;
  };
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 || !feed(settingsBytes) ||
      !feed(registryBytes) || EVP_DigestFinal_ex(ctx.get(), md, &mdLen) != 1) {
    return {};
  }
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < mdLen; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Result<Policy> buildPolicy(const Report& settings, const Report* registry) {
  if (settings.kind != FileKind::kAdminSettings) {
    return Error(settings.file + " is not an admin-settings.json file");
  }
  if (!settings.valid()) return invalid(settings);
  if (registry != nullptr) {
    if (registry->kind != FileKind::kRegistry) {
      return Error(registry->file + " is not a registry.json file");
    }
    if (!registry->valid()) return invalid(*registry);
  }
  const json& s = settings.root;
  Policy p;
  // Docker: ECI's `value` defaults to false; an admin-settings.json without it leaves ECI off.
  p.enabled = boolAt(s, {"enhancedContainerIsolation", "value"}, false);
  p.locked = boolAt(s, {"enhancedContainerIsolation", "locked"}, false);
  for (const auto& text :
       stringsAt(s, {"enhancedContainerIsolation", "dockerSocketMount", "imageList", "images"})) {
    auto pat = parseImagePattern(text);
    if (!pat.ok()) return std::move(pat).error();  // unreachable after validation; fail closed
    p.socketMountImages.push_back(pat->str());
  }
  sortUnique(p.socketMountImages);
  p.allowDerivedImages = boolAt(
      s, {"enhancedContainerIsolation", "dockerSocketMount", "imageList", "allowDerivedImages"},
      true);
  const json* type =
      path(s, {"enhancedContainerIsolation", "dockerSocketMount", "commandList", "type"});
  p.commandList.type = type != nullptr && type->is_string() && type->get<std::string>() == "allow"
                           ? CommandList::Type::kAllow
                           : CommandList::Type::kDeny;
  p.commandList.commands =
      stringsAt(s, {"enhancedContainerIsolation", "dockerSocketMount", "commandList", "commands"});
  sortUnique(p.commandList.commands);
  p.restrictedHostMounts = builtinRestrictedHostMounts();
  for (const auto& m : stringsAt(s, {"enhancedContainerIsolation", "restrictedHostMounts"})) {
    p.restrictedHostMounts.push_back(lexicallyClean(m));
  }
  sortUnique(p.restrictedHostMounts);
  if (const json* shares = path(s, {"filesharingAllowedDirectories"});
      shares != nullptr && shares->is_array()) {
    for (const auto& e : *shares) {
      if (!e.is_object() || !e.contains("path") || !e["path"].is_string()) continue;
      const std::string expanded = lexicallyClean(expandSharePath(e["path"].get<std::string>()));
      // Only absolute paths without "..": anything else would be guessed at use.
      if (expanded.empty() || expanded[0] != '/' || expanded.find("/..") != std::string::npos) {
        continue;
      }
      p.fileSharingAllowedDirectories.push_back(expanded);
    }
  }
  sortUnique(p.fileSharingAllowedDirectories);
  if (registry != nullptr) {
    p.allowedOrgs = stringsAt(registry->root, {"allowedOrgs"});
    sortUnique(p.allowedOrgs);
  }
  p.inputsDigest = inputsDigest(settings.bytes, registry != nullptr ? registry->bytes : "");
  if (p.inputsDigest.empty()) return Error("computing the SHA-256 digest of the inputs failed");
  return p;
}

Result<Policy> buildPolicyFromBytes(std::string settingsBytes, std::string_view settingsLabel,
                                    const std::string* registryBytes,
                                    std::string_view registryLabel) {
  Report s = validateBytes(std::move(settingsBytes), settingsLabel, FileKind::kAdminSettings);
  if (registryBytes == nullptr) return buildPolicy(s, nullptr);
  Report r = validateBytes(*registryBytes, registryLabel, FileKind::kRegistry);
  return buildPolicy(s, &r);
}

}  // namespace eci::settings
