// eci-agent: the host service. Flags override every path so tests run side by side.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>

#include "eci/agent/agent.h"
#include "eci/agent/config.h"
#include "eci/log.h"

namespace {
std::atomic<bool> gStop{false};
void onSignal(int) {
  gStop = true;
}
}  // namespace

int main(int argc, char** argv) {
  eci::log::setProgramName("agent");
  CLI::App app{"eci-agent: pushes the admin's locked ECI settings to eci-enforcerd"};
  std::string configPath = eci::agent::kDefaultAgentConfig;
  std::string settings, registry, os = "linux";
  bool init = false, verbose = false;
  app.add_option("--config", configPath, "agent configuration (JSON)");
  app.add_option("--settings", settings, "admin-settings.json (default: the platform location)");
  app.add_option("--registry", registry, "registry.json (default: the platform location)");
  app.add_flag("--init", init, "create the agent's signing key in the state dir and exit");
  app.add_flag("-v,--verbose", verbose, "debug logging");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (verbose) eci::log::setLevel(eci::log::Level::kDebug);

  auto config = eci::agent::loadAgentConfig(configPath);
  if (!config.ok()) {
    LOG_ERROR("%s", config.error().str().c_str());
    return 2;
  }
  if (init) {
    auto key = eci::agent::ensureAgentKey(config->stateDir);
    if (!key.ok()) {
      LOG_ERROR("%s", key.error().str().c_str());
      return 1;
    }
    std::printf("%s\n", (config->stateDir / "eci-policy.pub").c_str());
    return 0;
  }
  auto platform = eci::agent::hostPlatform();
  auto loc = eci::agent::defaultLocations(platform->os());
  if (!settings.empty()) loc.adminSettings = settings;
  if (!registry.empty()) loc.registryJson = registry;

  auto agent = eci::agent::Agent::create(*config, loc, std::move(platform));
  if (!agent.ok()) {
    LOG_ERROR("%s", agent.error().str().c_str());
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  LOG_INFO("watching %s and %s", loc.adminSettings.c_str(), loc.registryJson.c_str());
  auto st = (*agent)->run(gStop);
  if (!st.ok()) {
    LOG_ERROR("%s", st.error().str().c_str());
    return 1;
  }
  return 0;
}
