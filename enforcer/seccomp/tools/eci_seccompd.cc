// eci-seccompd: the seccomp-notify supervisor on its own, for tests and benchmarks that run runc
// directly. In production the same Supervisor runs inside eci-enforcerd (--seccomp-socket).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "eci/log.h"
#include "eci/seccomp/supervisor.h"
#include "eci/seccomp/worker.h"

int main(int argc, char** argv) {
  // A per-container seccomp worker is this binary re-executed; it must not parse our flags.
  if (auto rc = eci::seccomp::runWorkerIfRequested(argc, argv)) return *rc;
  eci::log::setProgramName("seccompd");
  CLI::App app{"eci seccomp-notify supervisor"};
  eci::seccomp::SupervisorOptions opts;
  bool debug = false;
  app.add_option("--socket", opts.socketPath, "listener socket (the spec's listenerPath)");
  app.add_flag("--debug", debug, "log every decision");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (debug) eci::log::setLevel(eci::log::Level::kDebug);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the poll thread starts: it inherits the mask
  eci::seccomp::Supervisor sup(opts);
  if (auto st = sup.start(); !st.ok()) {
    LOG_ERROR("%s", st.error().str().c_str());
    return 1;
  }
  LOG_INFO("listening on %s", opts.socketPath.c_str());
  std::fprintf(stdout, "ready\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  std::fprintf(stdout, "%s\n", sup.status().dump().c_str());
  sup.stop();
  return 0;
}
