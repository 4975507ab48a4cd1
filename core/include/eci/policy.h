// The effective ECI policy: what eci-admin derives from admin-settings.json + registry.json, what
// the agent signs and pushes, and what eci-enforcerd applies to every container.
//
// JSON form (canonical: keys sorted, no whitespace — nlohmann's dump() of this object):
// {
//   "enabled": true,                       // ECI on
//   "locked": true,                        // developer cannot turn it off
//   "socketMount": {
//     "images": ["docker.io/library/docker:cli", ...],   // normalised references / patterns
//     "allowDerivedImages": true
//   },
//   "commandList": {"type": "deny", "commands": ["push", "build"]},
//   "restrictedHostMounts": ["/etc/docker", ...],        // built-in ∪ admin's, sorted, unique
//   "fileSharingAllowedDirectories": ["/Users/x", ...],  // admin's filesharingAllowedDirectories
//                                                        // (absent in older bundles: none)
//   "allowedOrgs": ["myorg"],
//   "inputsDigest": "sha256:<hex>"          // of the settings + registry bytes it came from
// }
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "eci/error.h"

namespace eci {

struct CommandList {
  enum class Type { kAllow, kDeny };
  Type type = Type::kDeny;
  std::vector<std::string> commands;
  bool operator==(const CommandList&) const = default;
};

struct Policy {
  bool enabled = true;
  bool locked = false;
  std::vector<std::string> socketMountImages;
  bool allowDerivedImages = true;
  CommandList commandList;
  std::vector<std::string> restrictedHostMounts;
  // Host directories that may be bind-mounted besides the built-in user areas
  // (builtinFileSharingDirectories), from admin-settings.json `filesharingAllowedDirectories`
  // with $HOME/$TMP/$TEMP expanded; absolute, lexically clean. Symlinks are resolved at use.
  std::vector<std::string> fileSharingAllowedDirectories;
  std::vector<std::string> allowedOrgs;
  std::string inputsDigest;

  bool operator==(const Policy&) const = default;

  // ECI on, nothing allowlisted, only the built-in restricted mounts: what the enforcer applies
  // when it has no policy or none that verifies (fail closed).
  static Policy failClosedDefaults();

  nlohmann::json toJson() const;
  // Strict: unknown keys, wrong types, relative restricted paths are errors (with JSON Pointer).
  static Result<Policy> fromJson(const nlohmann::json& j);
};

// Paths no container may bind-mount, whatever the policy says (the engine's and eci's own
// configuration, state and sockets). The engine's data-root is added by the enforcer at run time.
const std::vector<std::string>& builtinRestrictedHostMounts();

// The host directories that may always be bind-mounted on a Linux host or VM (Docker Desktop's
// File sharing defaults, translated): the users' areas, never the system's. See
// docs/design/bind-sources.md for why each is in and why the rest (/, /usr, /etc, /var/lib, /run,
// /proc, /sys, /dev, /boot, ...) is out.
const std::vector<std::string>& builtinFileSharingDirectories();

}  // namespace eci
