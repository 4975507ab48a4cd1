// eci-admin: validate admin-settings.json / registry.json, show the effective ECI policy, and sign
// and push policy bundles. Each subcommand lives in its own cmd_*.cc (see commands.h).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.h"
#include "eci/log.h"

int main(int argc, char** argv) {
  eci::log::setProgramName("admin");

  CLI::App app{"eci-admin: check ECI settings files and manage ECI policies", "eci-admin"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");

  int exitCode = 0;
  eci::cli::registerValidate(app, exitCode);
  eci::cli::registerPolicy(app, exitCode);  // + policy sign|verify|push
  eci::cli::registerKeygen(app, exitCode);
  eci::cli::registerStatus(app, exitCode);
  eci::cli::registerLogin(app, exitCode);
  eci::cli::registerSelftest(app, exitCode);
  eci::cli::registerExport(app, exitCode);
  eci::cli::registerAudit(app, exitCode);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; any usage error is exit code 2 with CLI11's one-line explanation.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception&) {
    // Subcommands report their own errors; reaching here is a bug, but the user still gets a plain
    // sentence rather than an exception's internal name.
    (void)std::fputs("eci-admin: unexpected internal failure\n", stderr);
    return 2;
  }
  return exitCode;
}
