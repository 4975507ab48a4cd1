#include "eci/policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace eci {
namespace {

using nlohmann::json;

Error fieldError(const std::string& pointer, const std::string& what) {
  return Error("policy " + pointer + ": " + what);
}

Result<bool> getBool(const json& obj, const char* key, const std::string& ptr) {
  auto it = obj.find(key);
  if (it == obj.end()) return fieldError(ptr + "/" + key, "missing");
  if (!it->is_boolean()) return fieldError(ptr + "/" + key, "expected boolean");
  return it->get<bool>();
}

Result<std::vector<std::string>> getStrings(const json& obj, const char* key,
                                            const std::string& ptr) {
  auto it = obj.find(key);
  if (it == obj.end()) return fieldError(ptr + "/" + key, "missing");
  if (!it->is_array()) return fieldError(ptr + "/" + key, "expected array");
  std::vector<std::string> out;
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const auto& e = (*it)[i];
    if (!e.is_string()) {
      return fieldError(ptr + "/" + key + "/" + std::to_string(i), "expected string");
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

Status onlyKeys(const json& obj, std::initializer_list<const char*> keys, const std::string& ptr) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::none_of(keys.begin(), keys.end(), [&](const char* k) { return it.key() == k; })) {
      return fieldError(ptr + "/" + it.key(), "unknown key");
    }
  }
  return {};
}

}  // namespace

const std::vector<std::string>& builtinRestrictedHostMounts() {
  // The engine's and eci's configuration, state and control sockets. A container that could bind
  // any of these could reconfigure the engine (daemon.json, containerd config), replace the policy
  // (/etc/eci, /var/lib/eci), or drive the engine/enforcer directly (sockets).
  static const std::vector<std::string> kPaths = {
      "/etc/containerd",      "/etc/docker",      "/etc/eci",
      "/run/containerd",      "/run/docker.sock", "/run/eci",
      "/var/lib/containerd",  "/var/lib/docker",  "/var/lib/eci",
      "/var/run/docker.sock",
  };
  return kPaths;
}

const std::vector<std::string>& builtinFileSharingDirectories() {
  // Where users keep what they share with containers: home directories, scratch space, mounted
  // media, served data. Nothing here holds the system's binaries, configuration or state.
  static const std::vector<std::string> kPaths = {
      "/home", "/media", "/mnt", "/srv", "/tmp", "/var/tmp",
  };
  return kPaths;
}

Policy Policy::failClosedDefaults() {
  Policy p;
  p.enabled = true;
  p.locked = true;
  p.restrictedHostMounts = builtinRestrictedHostMounts();
  return p;
}

json Policy::toJson() const {
  return json{
      {"enabled", enabled},
      {"locked", locked},
      {"socketMount", {{"images", socketMountImages}, {"allowDerivedImages", allowDerivedImages}}},
      {"commandList",
       {{"type", commandList.type == CommandList::Type::kAllow ? "allow" : "deny"},
        {"commands", commandList.commands}}},
      {"restrictedHostMounts", restrictedHostMounts},
      {"fileSharingAllowedDirectories", fileSharingAllowedDirectories},
      {"allowedOrgs", allowedOrgs},
      {"inputsDigest", inputsDigest},
  };
}

Result<Policy> Policy::fromJson(const json& j) {
  if (!j.is_object()) return fieldError("", "expected object");
  ECI_TRY(onlyKeys(j,
                   {"enabled", "locked", "socketMount", "commandList", "restrictedHostMounts",
                    "fileSharingAllowedDirectories", "allowedOrgs", "inputsDigest"},
                   ""));
  Policy p;
  ECI_ASSIGN_OR_RETURN(enabled, getBool(j, "enabled", ""));
  ECI_ASSIGN_OR_RETURN(locked, getBool(j, "locked", ""));
  p.enabled = enabled;
  p.locked = locked;

  auto sm = j.find("socketMount");
  if (sm == j.end() || !sm->is_object()) return fieldError("/socketMount", "expected object");
  ECI_TRY(onlyKeys(*sm, {"images", "allowDerivedImages"}, "/socketMount"));
  ECI_ASSIGN_OR_RETURN(images, getStrings(*sm, "images", "/socketMount"));
  ECI_ASSIGN_OR_RETURN(derived, getBool(*sm, "allowDerivedImages", "/socketMount"));
  p.socketMountImages = std::move(images);
  p.allowDerivedImages = derived;

  auto cl = j.find("commandList");
  if (cl == j.end() || !cl->is_object()) return fieldError("/commandList", "expected object");
  ECI_TRY(onlyKeys(*cl, {"type", "commands"}, "/commandList"));
  auto type = cl->find("type");
  if (type == cl->end() || !type->is_string() || (*type != "allow" && *type != "deny")) {
    return fieldError("/commandList/type", "expected \"allow\" or \"deny\"");
  }
  p.commandList.type = *type == "allow" ? CommandList::Type::kAllow : CommandList::Type::kDeny;
  ECI_ASSIGN_OR_RETURN(commands, getStrings(*cl, "commands", "/commandList"));
  p.commandList.commands = std::move(commands);

  ECI_ASSIGN_OR_RETURN(mounts, getStrings(j, "restrictedHostMounts", ""));
  for (size_t i = 0; i < mounts.size(); ++i) {
    if (mounts[i].empty() || mounts[i][0] != '/') {
      return fieldError("/restrictedHostMounts/" + std::to_string(i), "expected an absolute path");
    }
  }
  p.restrictedHostMounts = std::move(mounts);
  // Optional: bundles signed before the key existed share nothing beyond the built-in areas.
  if (j.contains("fileSharingAllowedDirectories")) {
    ECI_ASSIGN_OR_RETURN(shared, getStrings(j, "fileSharingAllowedDirectories", ""));
    for (size_t i = 0; i < shared.size(); ++i) {
      if (shared[i].empty() || shared[i][0] != '/') {
        return fieldError("/fileSharingAllowedDirectories/" + std::to_string(i),
                          "expected an absolute path");
      }
    }
    p.fileSharingAllowedDirectories = std::move(shared);
  }
  ECI_ASSIGN_OR_RETURN(orgs, getStrings(j, "allowedOrgs", ""));
  p.allowedOrgs = std::move(orgs);
  auto digest = j.find("inputsDigest");
  if (digest == j.end() || !digest->is_string()) {
    return fieldError("/inputsDigest", "expected string");
  }
  p.inputsDigest = digest->get<std::string>();
  return p;
}

}  // namespace eci
