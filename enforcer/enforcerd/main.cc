// eci-enforcerd: verifies and keeps the ECI policy, hands out exclusive uid/gid ranges to
// containers, and hosts the enforcement modules. Started before the container engine.
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <cstring>

#include "eci/enforcerd/enforcer.h"
#include "eci/enforcerd/server.h"
#include "eci/fd_holder.h"
#include "eci/log.h"
#include "eci/procfs/module.h"
#include "eci/seccomp/module.h"
#include "eci/seccomp/worker.h"

namespace eci::enforcerd {
// journal_audit.cc (apart: <systemd/sd-journal.h> brings syslog.h, whose LOG_INFO clashes with
// eci/log.h's).
void journalAudit(const eci::audit::Record& r, const std::string& line);
}  // namespace eci::enforcerd

namespace {

// Modules (seccomp supervisor, /proc emulation, ...) are registered here, in start order.
void addModules(eci::enforcerd::Enforcer& enforcer, const std::string& seccompSocket) {
  // Seccomp-notify supervisor (enforcer/seccomp): vets mount calls of every container.
  enforcer.addModule(eci::seccomp::makeModule({.socketPath = seccompSocket}));
  // /proc and /sys emulation (enforcer/procfs): two FUSE connections per container.
  enforcer.addModule(eci::procfs::makeModule());
}

}  // namespace

int main(int argc, char** argv) {
  // A per-container seccomp worker is this binary re-executed; it must not parse our flags.
  if (auto rc = eci::seccomp::runWorkerIfRequested(argc, argv)) return *rc;
  // So is the fd holder that keeps the containers' seccomp fds across our restarts.
  if (auto rc = eci::fdhold::runHolderIfRequested(argc, argv)) return *rc;
  eci::log::setProgramName("eci-enforcerd");
  eci::enforcerd::Config cfg;
  CLI::App app{"eci-enforcerd: the ECI policy and uid/gid range daemon", "eci-enforcerd"};
  std::string control = cfg.controlSocket, push = cfg.pushSocket, state = cfg.stateDir,
              keys = cfg.trustedKeysDir;
  uint32_t vsockPort = 0;
  bool debug = false;
  std::string seccompSocket;  // empty: seccomp.sock next to the control socket
  app.add_option("--control-socket", control, "socket for eci-runc and eci-admin status")
      ->capture_default_str();
  app.add_option("--push-socket", push, "socket for policy pushes")->capture_default_str();
  app.add_option("--state-dir", state, "last good policy and range allocations")
      ->capture_default_str();
  app.add_option("--trusted-keys", keys, "directory of trusted *.pub policy keys")
      ->capture_default_str();
  app.add_option("--engine-data-root", cfg.engineDataRoot, "the engine's data-root (restricted)")
      ->capture_default_str();
  app.add_option("--range-base", cfg.rangeBase, "first host uid/gid of container ranges")
      ->capture_default_str()
      ->check(CLI::Range(1u, UINT32_MAX));
  app.add_option("--range-count", cfg.rangeCount, "number of 65536-wide ranges")
      ->capture_default_str()
      ->check(CLI::Range(1u, 65535u));
  auto* vs = app.add_option("--vsock-port", vsockPort, "also accept pushes on this AF_VSOCK port");
  app.add_option("--vsock-allowed-cid", cfg.vsockAllowedCid, "the vsock peer CID allowed to push")
      ->capture_default_str();
  app.add_option(
      "--seccomp-socket", seccompSocket,
      "seccomp-notify listener for runc (default: seccomp.sock next to the control socket)");
  std::string auditLog = eci::audit::kDefaultLogPath;
  app.add_option("--audit-log", auditLog,
                 "audit log file (root-only, rotated; empty: no audit log)")
      ->capture_default_str();
  app.add_option("--audit-max-bytes", cfg.auditMaxBytes, "rotate the audit log at this size")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 32));
  app.add_option("--audit-keep", cfg.auditKeep, "rotated audit logs kept")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  app.add_flag("--debug", debug, "debug logging");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  cfg.controlSocket = control;
  cfg.pushSocket = push;
  cfg.stateDir = state;
  cfg.trustedKeysDir = keys;
  cfg.auditLog = auditLog;
  if (vs->count() > 0) cfg.vsockPort = vsockPort;
  if (debug) eci::log::setLevel(eci::log::Level::kDebug);

  // Block the shutdown signals before any thread exists so every thread inherits the mask and
  // only sigwait() below sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  // A client that hangs up mid-reply must not kill the daemon.
  (void)signal(SIGPIPE, SIG_IGN);

  eci::enforcerd::Enforcer enforcer(cfg);
  addModules(enforcer, seccompSocket);
  enforcer.setAuditMirror(eci::enforcerd::journalAudit);
  if (auto st = enforcer.init(); !st.ok()) {
    LOG_ERROR("%s", st.error().str().c_str());
    return 1;
  }
  const auto pol = enforcer.policy().current();
  if (pol->verified) {
    LOG_INFO("policy serial %llu in force (ECI %s)", static_cast<unsigned long long>(pol->serial),
             pol->policy.enabled ? "on" : "off");
  } else {
    LOG_WARN("no verified policy: ECI on with built-in defaults (%s)", pol->reason.c_str());
  }
  LOG_INFO("%zu live range allocations recovered", enforcer.ranges().inUse());
  if (auto st = enforcer.startModules(); !st.ok()) {
    LOG_ERROR("%s", st.error().str().c_str());
    return 1;
  }
  eci::enforcerd::Server server(enforcer);
  if (auto st = server.start(); !st.ok()) {
    LOG_ERROR("%s", st.error().str().c_str());
    server.stop();
    enforcer.stopModules();
    return 1;
  }
  LOG_INFO("listening on %s (control) and %s (push)", cfg.controlSocket.c_str(),
           cfg.pushSocket.c_str());
  // Type=notify: systemd starts the engine (ordered After= us) only now, once eci-runc can reach
  // the sockets; a no-op when NOTIFY_SOCKET is unset (tests, hand start).
  sd_notifyf(0, "READY=1\nSTATUS=listening on %s", cfg.controlSocket.c_str());

  for (;;) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // Re-verify the persisted policy (e.g. after the trusted keys changed).
      enforcer.policy().load();
      LOG_INFO("SIGHUP: persisted policy re-verified");
      continue;
    }
    LOG_INFO("%s: shutting down", strsignal(sig));
    sd_notify(0, "STOPPING=1");
    break;
  }
  server.stop();
  enforcer.stopModules();
  return 0;
}
