// `eci-admin login` / `logout` / `agent-status`: talk to eci-agent's control socket. The agent
// runs the OpenID Connect device flow; this command only shows the URL and code and waits.
#include <cstdio>
#include <string>

#include "commands.h"
#include "eci/agent/config.h"
#include "eci/agent/control_client.h"

namespace eci::cli {
namespace {

struct LoginOptions {
  std::string socket = agent::kDefaultAgentSocket;
  std::string format = "text";
};

}  // namespace

void registerLogin(CLI::App& app, int& exitCode) {
  auto opts = std::make_shared<LoginOptions>();

  auto* login = app.add_subcommand(
      "login", "Sign in to an allowed organisation (OpenID Connect device flow via eci-agent)");
  login->add_option("--agent-socket", opts->socket, "eci-agent control socket");
  login->callback([opts, &exitCode] {
    auto r = agent::agentLogin(opts->socket, [](const nlohmann::json& code) {
      const std::string uri = code.value("verification_uri", std::string());
      const std::string complete = code.value("verification_uri_complete", std::string());
      std::printf("To sign in, open %s and enter the code %s\n", uri.c_str(),
                  code.value("user_code", std::string()).c_str());
      if (!complete.empty()) std::printf("(or open %s)\n", complete.c_str());
      std::printf("Waiting for you to finish signing in...\n");
      std::fflush(stdout);
    });
    if (!r.ok()) {
      std::fprintf(stderr, "eci-admin login: cannot reach eci-agent: %s\n",
                   r.error().str().c_str());
      exitCode = 2;
      return;
    }
    if (!r->value("ok", false)) {
      std::fprintf(stderr, "eci-admin login: %s\n",
                   r->value("error", std::string("failed")).c_str());
      exitCode = 1;
      return;
    }
    std::printf("Signed in as %s (member of %s).\n", r->value("user", std::string()).c_str(),
                r->value("org", std::string()).c_str());
    if (r->contains("status")) {
      const auto& lp = (*r)["status"].value("lastPush", nlohmann::json::object());
      std::printf("Policy push: %s\n", lp.value("result", std::string("none")).c_str());
    }
    exitCode = 0;
  });

  auto* logout = app.add_subcommand("logout", "Sign out; the enforcer returns to ECI defaults");
  logout->add_option("--agent-socket", opts->socket, "eci-agent control socket");
  logout->callback([opts, &exitCode] {
    auto r = agent::agentLogout(opts->socket);
    if (!r.ok()) {
      std::fprintf(stderr, "eci-admin logout: cannot reach eci-agent: %s\n",
                   r.error().str().c_str());
      exitCode = 2;
      return;
    }
    std::printf("Signed out.\n");
    exitCode = 0;
  });

  auto* st = app.add_subcommand(
      "agent-status",
      "eci-agent's view: files found, locked, valid; sign-in state; last push and its result");
  st->add_option("--agent-socket", opts->socket, "eci-agent control socket");
  st->add_option("--format", opts->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  st->callback([opts, &exitCode] {
    auto r = agent::agentStatus(opts->socket);
    if (!r.ok()) {
      std::fprintf(stderr, "eci-admin agent-status: cannot reach eci-agent: %s\n",
                   r.error().str().c_str());
      exitCode = 2;
      return;
    }
    if (opts->format == "json") {
      std::printf("%s\n", r->dump(2).c_str());
    } else {
      std::printf("eci-agent:\n%s", agent::formatAgentStatus(*r).c_str());
    }
    exitCode = 0;
  });
}

}  // namespace eci::cli
