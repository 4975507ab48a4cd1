#include "eci/agent/config.h"

#include <nlohmann/json.hpp>

#include "eci/file_lock.h"

namespace eci::agent {

Result<AgentConfig> parseAgentConfig(const std::string& text, const std::string& origin) {
  try {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      return Error(origin + ": invalid JSON at byte " + std::to_string(e.byte));
    }
    if (!j.is_object()) return Error(origin + ": /: must be an object");
    AgentConfig c;
    auto str = [&](const std::string& key, const nlohmann::json& v) -> Result<std::string> {
      if (!v.is_string()) return Error(origin + ": /" + key + ": must be a string");
      return v.get<std::string>();
    };
    auto uint = [&](const std::string& key, const nlohmann::json& v) -> Result<uint32_t> {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX) {
        return Error(origin + ": /" + key + ": must be an unsigned 32-bit integer");
      }
      return v.get<uint32_t>();
    };
    for (const auto& [key, v] : j.items()) {
      if (key == "issuer") {
        ECI_ASSIGN_OR_RETURN(s, str(key, v));
        c.issuer = s;
      } else if (key == "client_id") {
        ECI_ASSIGN_OR_RETURN(s, str(key, v));
        c.clientId = s;
      } else if (key == "audience") {
        ECI_ASSIGN_OR_RETURN(s, str(key, v));
        c.audience = s;
      } else if (key == "org_claim") {
        ECI_ASSIGN_OR_RETURN(s, str(key, v));
        c.orgClaim = s;
      } else if (key == "ca_file") {
        ECI_ASSIGN_OR_RETURN(s, str(key, v));
        c.caFile = s;
      } else if (key == "scope") {
        ECI_ASSIGN_OR_RETURN(s, str(key, v));
        c.scope = s;
      } else if (key == "state_dir") {
        ECI_ASSIGN_OR_RETURN(s, str(key, v));
        c.stateDir = s;
      } else if (key == "control_socket") {
        ECI_ASSIGN_OR_RETURN(s, str(key, v));
        c.controlSocket = s;
      } else if (key == "enforcer_push_socket") {
        ECI_ASSIGN_OR_RETURN(s, str(key, v));
        c.enforcerPushSocket = s;
      } else if (key == "enforcer_control_socket") {
        ECI_ASSIGN_OR_RETURN(s, str(key, v));
        c.enforcerControlSocket = s;
      } else if (key == "vsock_cid") {
        ECI_ASSIGN_OR_RETURN(n, uint(key, v));
        c.vsockCid = n;
      } else if (key == "vsock_port") {
        ECI_ASSIGN_OR_RETURN(n, uint(key, v));
        c.vsockPort = n;
      } else if (key == "poll_seconds") {
        ECI_ASSIGN_OR_RETURN(n, uint(key, v));
        if (n < 1 || n > 3600) return Error(origin + ": /poll_seconds: must be 1..3600");
        c.pollSeconds = static_cast<int>(n);
      } else {
        return Error(origin + ": /" + key + ": unknown key");
      }
    }
    if (c.issuer.rfind("https://", 0) != 0) {
      return Error(origin + ": /issuer: must be an https:// URL (got '" + c.issuer + "')");
    }
    if (c.clientId.empty()) return Error(origin + ": /client_id: required");
    if (c.audience.empty()) c.audience = c.clientId;
    if (c.orgClaim.empty()) return Error(origin + ": /org_claim: must not be empty");
    if (!c.stateDir.is_absolute()) return Error(origin + ": /state_dir: must be an absolute path");
    if (c.vsockCid && c.vsockPort == 0)
      return Error(origin + ": /vsock_port: required with vsock_cid");
    return c;
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("agent config: unexpected JSON: ") + e.what());
  }
}

Result<AgentConfig> loadAgentConfig(const std::filesystem::path& path) {
  // The config names the issuer to trust: a user able to edit it could sign in against their own
  // IdP, so it must be locked like the admin files.
  ECI_ASSIGN_OR_RETURN(text, readLockedFile(path, 1u << 20));
  return parseAgentConfig(text, path.string());
}

}  // namespace eci::agent
