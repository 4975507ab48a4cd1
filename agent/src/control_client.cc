#include "eci/agent/control_client.h"

#include "eci/ipc.h"

namespace eci::agent {

using nlohmann::json;

Result<json> agentStatus(const std::filesystem::path& socket) {
  return ipc::call(socket, {{"op", "status"}});
}

Result<json> agentLogout(const std::filesystem::path& socket) {
  return ipc::call(socket, {{"op", "logout"}});
}

Result<json> agentLogin(const std::filesystem::path& socket,
                        const std::function<void(const json&)>& onCode) {
  ECI_ASSIGN_OR_RETURN(fd, ipc::connectUnix(socket));
  ECI_TRY(ipc::sendMessage(fd.get(), {{"op", "login"}}));
  // The device authorization itself may take a few retries against a slow provider.
  ECI_ASSIGN_OR_RETURN(first, ipc::recvMessage(fd.get(), std::chrono::minutes(2)));
  if (!first.value("ok", false) || first.value("stage", "") != "code") return first;
  onCode(first);
  // Then the user has until the code expires (typically 10 minutes).
  const auto wait = std::chrono::seconds(first.value("expires_in", 600) + 60);
  return ipc::recvMessage(fd.get(), std::chrono::duration_cast<std::chrono::milliseconds>(wait));
}

std::string formatAgentStatus(const json& s) {
  std::string out;
  for (const auto& f : s.value("files", json::array())) {
    out += "  " + f.value("role", std::string()) + ": " + f.value("path", std::string());
    if (!f.value("found", false)) {
      out += " (not found)\n";
      continue;
    }
    out += std::string(f.value("locked", false) ? " locked" : " NOT LOCKED") +
           (f.value("locked", false) ? (f.value("valid", false) ? ", valid" : ", INVALID") : "") +
           "\n";
    for (const auto& p : f.value("lockProblems", json::array())) {
      out += "    " + p.get<std::string>() + "\n";
    }
    for (const auto& p : f.value("findings", json::array())) {
      out += "    " + p.get<std::string>() + "\n";
    }
  }
  const auto orgs = s.value("allowedOrgs", json::object());
  std::string list;
  for (const auto& o : orgs.value("orgs", json::array())) {
    list += (list.empty() ? "" : ", ") + o.get<std::string>();
  }
  out += "  allowedOrgs: " + (list.empty() ? std::string("(none)") : list);
  if (!orgs.value("source", std::string()).empty()) out += " from " + orgs.value("source", "");
  out += "\n";
  if (!s.value("policyError", std::string()).empty()) {
    out += "  policy: " + s.value("policyError", std::string()) + "\n";
  }
  const auto si = s.value("signIn", json::object());
  out += "  sign-in: " + si.value("state", std::string()) + " — " + si.value("detail", "") + "\n";
  const auto lp = s.value("lastPush", json::object());
  out +=
      "  last push: " +
      (lp.value("at", std::string()).empty() ? std::string("none")
                                             : lp.value("at", std::string()) + " serial " +
                                                   std::to_string(lp.value("serial", uint64_t{0})) +
                                                   " " + lp.value("result", std::string())) +
      "\n";
  if (lp.value("at", std::string()).empty() && !lp.value("result", std::string()).empty()) {
    out += "    " + lp.value("result", std::string()) + "\n";
  }
  out += "  in force from the agent: " + s.value("inForce", std::string()) + "\n";
  return out;
}

}  // namespace eci::agent
