// Client of eci-agent's control socket (root-only, framed JSON from eci/ipc.h), used by
// `eci-admin login|logout|agent-status` and for the agent part of `eci-admin status`.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "eci/agent/config.h"
#include "eci/error.h"

namespace eci::agent {

// {"ok":true,"files":[...],"signIn":{"state":"sign in required",...},"lastPush":{...},...}
Result<nlohmann::json> agentStatus(const std::filesystem::path& socket = kDefaultAgentSocket);

// Starts the device flow; `onCode` receives {"verification_uri","verification_uri_complete",
// "user_code","expires_in"} as soon as the provider issued them; returns the final reply
// ({"ok":true,"user","org",...} or {"ok":false,"error"}) once the user finished or gave up.
Result<nlohmann::json> agentLogin(const std::filesystem::path& socket,
                                  const std::function<void(const nlohmann::json&)>& onCode);

Result<nlohmann::json> agentLogout(const std::filesystem::path& socket = kDefaultAgentSocket);

// Human-readable summary of agentStatus() for `eci-admin status`.
std::string formatAgentStatus(const nlohmann::json& status);

}  // namespace eci::agent
