// Derives the effective ECI policy (eci::Policy, core/include/eci/policy.h) from validated
// admin-settings.json and registry.json. eci-admin prints it; eci-agent signs and pushes it.
//
// Defaults follow Docker's documentation: ECI `value` absent -> off; allowDerivedImages -> true;
// commandList -> deny with no commands; images -> none. restrictedHostMounts = the built-in list
// union the admin's (sorted, unique). inputsDigest = "sha256:<hex>" over the settings bytes and the
// registry bytes, each preceded by its length as 8 big-endian bytes (no registry: length 0), so
// the boundary between the files is unambiguous.
#pragma once

#include "eci/error.h"
#include "eci/policy.h"
#include "eci/settings/validator.h"

namespace eci::settings {

// Fails (closed) when either report is not valid; the error names the first error findings.
// `registry` may be null (no registry.json).
Result<Policy> buildPolicy(const Report& settings, const Report* registry);

// Convenience for callers holding bytes: validates, then builds.
Result<Policy> buildPolicyFromBytes(std::string settingsBytes, std::string_view settingsLabel,
                                    const std::string* registryBytes = nullptr,
                                    std::string_view registryLabel = "registry.json");

std::string inputsDigest(std::string_view settingsBytes, std::string_view registryBytes);

}  // namespace eci::settings
