// `eci-admin status [--control-socket P] [--format text|json]`: what eci-enforcerd enforces right
// now — the policy in force (or why the fail-closed defaults are), and the live uid/gid ranges —
// and how the machine is wired (wiring.h: runc diversion, the engine's runc, the socket's owner).
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "eci/agent/control_client.h"
#include "eci/enforcer_client.h"
#include "wiring.h"

namespace eci::cli {
namespace {

using nlohmann::json;

struct StatusOptions {
  std::string controlSocket = enforcer::kDefaultControlSocket;
  std::string agentSocket = agent::kDefaultAgentSocket;
  std::string format = "text";
};

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
uint64_t num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// The agent part (files found, locked, valid, sign-in, last push). The agent runs on the host,
// which on a Linux engine host is this machine; when it is not reachable that is reported, not an
// error, because the enforcer alone decides what containers get.
json agentPart(const StatusOptions& o) {
  auto a = agent::agentStatus(o.agentSocket);
  if (!a.ok()) return json{{"reachable", false}, {"error", a.error().str()}};
  json st = std::move(*a);
  st.erase("ok");
  st["reachable"] = true;
  return st;
}

void printAgentText(const StatusOptions& o, const json& a) {
  if (!a.value("reachable", false)) {
    std::printf("eci-agent (%s): not reachable: %s\n", o.agentSocket.c_str(),
                str(a, "error").c_str());
    return;
  }
  std::printf("%s", agent::formatAgentStatus(a).c_str());
}

void printText(const std::string& socket, const json& s) {
  std::printf("eci-enforcerd (%s)\n", socket.c_str());
  std::printf("  ECI:          %s\n", str(s, "eci").c_str());
  if (s.value("verified", false)) {
    std::printf("  Policy:       serial %llu, verified, %s (key %s, issued %s)\n",
                static_cast<unsigned long long>(num(s, "serial")), str(s, "source").c_str(),
                str(s, "keyId").c_str(), str(s, "issuedAt").c_str());
  } else {
    std::printf("  Policy:       built-in defaults, ECI on (fail closed): %s\n",
                str(s, "reason").c_str());
    if (num(s, "highestSerial") > 0) {
      std::printf("                next push must have a serial above %llu\n",
                  static_cast<unsigned long long>(num(s, "highestSerial")));
    }
  }
  const json& ranges = s.contains("ranges") ? s["ranges"] : json::object();
  std::printf("  Ranges:       %llu of %llu in use (from %llu, %llu ids each)\n",
              static_cast<unsigned long long>(num(ranges, "inUse")),
              static_cast<unsigned long long>(num(ranges, "count")),
              static_cast<unsigned long long>(num(ranges, "base")),
              static_cast<unsigned long long>(num(ranges, "size")));
  if (s.contains("allocations") && s["allocations"].is_array()) {
    for (const auto& a : s["allocations"]) {
      const uint64_t start = num(a, "start");
      std::printf("    %-12.12s  %llu-%llu\n", str(a, "id").c_str(),
                  static_cast<unsigned long long>(start),
                  static_cast<unsigned long long>(start + num(a, "size") - 1));
    }
  }
  if (s.contains("modules") && s["modules"].is_object() && !s["modules"].empty()) {
    std::printf("  Modules:     ");
    for (auto it = s["modules"].begin(); it != s["modules"].end(); ++it) {
      std::printf(" %s", it.key().c_str());
    }
    std::printf("\n");
  }
}

int runStatus(const StatusOptions& o) {
  enforcer::Client client(o.controlSocket);
  auto s = client.status();
  const json agentSt = agentPart(o);
  const json wiring = wiringStatus();
  if (!s.ok()) {
    if (o.format == "json") {
      std::printf("%s\n", json{{"enforcer", {{"reachable", false}, {"error", s.error().str()}}},
                               {"agent", agentSt},
                               {"wiring", wiring}}
                              .dump(2)
                              .c_str());
    } else {
      printAgentText(o, agentSt);
      printWiringText(wiring);
    }
    (void)std::fprintf(stderr, "eci-admin status: %s\n", s.error().str().c_str());
    return 2;
  }
  json st = std::move(*s);
  st.erase("ok");
  if (o.format == "json") {
    st["reachable"] = true;
    std::printf("%s\n",
                json{{"enforcer", st}, {"agent", agentSt}, {"wiring", wiring}}.dump(2).c_str());
  } else {
    printText(o.controlSocket, st);
    printAgentText(o, agentSt);
    printWiringText(wiring);
  }
  return 0;
}

}  // namespace

void registerStatus(CLI::App& app, int& exitCode) {
  auto opts = std::make_shared<StatusOptions>();
  CLI::App* status = app.add_subcommand(
      "status", "Show what eci-enforcerd enforces right now, and the agent's state");
  status->add_option("--control-socket", opts->controlSocket, "eci-enforcerd's control socket")
      ->capture_default_str();
  status->add_option("--agent-socket", opts->agentSocket, "eci-agent's control socket")
      ->capture_default_str();
  status->add_option("--format", opts->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  status->callback([opts, &exitCode] { exitCode = runStatus(*opts); });
}

}  // namespace eci::cli
