// eci-agent's configuration file (default /etc/eci/agent.json, root-owned). JSON, strict: unknown
// keys are errors so a typo ("client-id") is not silently ignored.
//   {"issuer": "https://idp.example.com", "client_id": "eci-agent", "audience": "eci-agent",
//    "org_claim": "orgs", "ca_file": "/etc/eci/idp-ca.pem", "state_dir": "/var/lib/eci-agent",
//    "scope": "openid offline_access",
//    "control_socket": "/run/eci/agent.sock",
//    "enforcer_push_socket": "/run/eci/push.sock", "enforcer_control_socket":
//    "/run/eci/enforcer.sock", "vsock_cid": 3, "vsock_port": 7070,            // push over AF_VSOCK
//    instead (VM guest) "poll_seconds": 5}
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "eci/error.h"

namespace eci::agent {

struct AgentConfig {
  std::string issuer;
  std::string clientId;
  std::string audience;  // defaults to clientId
  std::string orgClaim = "orgs";
  std::string caFile;
  std::string scope = "openid offline_access";
  std::filesystem::path stateDir = "/var/lib/eci-agent";
  std::filesystem::path controlSocket = "/run/eci/agent.sock";
  std::filesystem::path enforcerPushSocket = "/run/eci/push.sock";
  std::filesystem::path enforcerControlSocket = "/run/eci/enforcer.sock";
  std::optional<uint32_t> vsockCid;
  uint32_t vsockPort = 0;
  int pollSeconds = 5;
};

inline constexpr const char* kDefaultAgentConfig = "/etc/eci/agent.json";
inline constexpr const char* kDefaultAgentSocket = "/run/eci/agent.sock";

Result<AgentConfig> parseAgentConfig(const std::string& text, const std::string& origin);
Result<AgentConfig> loadAgentConfig(const std::filesystem::path& path);

}  // namespace eci::agent
