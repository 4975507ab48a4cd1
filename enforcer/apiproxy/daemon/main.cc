// eci-apiproxyd: the Engine API guard (enforcer/apiproxy/README.md). Owns the engine's public
// socket and forwards to dockerd's private one, deciding every request on the way.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <optional>
#include <thread>

#include "eci/apiproxy/proxy.h"
#include "eci/log.h"

namespace {

// A user or group given by name or number ("docker" or "998"); `byName` looks a name up.
template <typename Id, typename ByName>
bool resolveId(const std::string& s, Id& out, ByName byName) {
  if (s.empty()) return true;
  char* end = nullptr;
  const unsigned long n = std::strtoul(s.c_str(), &end, 10);
  if (end && *end == '\0') {
    out = static_cast<Id>(n);
    return true;
  }
  if (const std::optional<Id> id = byName(s.c_str())) {
    out = *id;
    return true;
  }
  return false;
}

bool resolveUser(const std::string& s, uid_t& out) {
  return resolveId(s, out, [](const char* name) -> std::optional<uid_t> {
    const passwd* p = getpwnam(name);
    return p ? std::optional(p->pw_uid) : std::nullopt;
  });
}

bool resolveGroup(const std::string& s, gid_t& out) {
  return resolveId(s, out, [](const char* name) -> std::optional<gid_t> {
    const group* g = getgrnam(name);
    return g ? std::optional(g->gr_gid) : std::nullopt;
  });
}

}  // namespace

int main(int argc, char** argv) {
  eci::log::setProgramName("eci-apiproxyd");
  eci::apiproxy::ProxyConfig cfg;
  CLI::App app{"eci-apiproxyd: the Engine API guard in front of dockerd", "eci-apiproxyd"};
  std::string listen = cfg.listenSocket, upstream = cfg.upstreamSocket, control = cfg.controlSocket,
              socketDir = cfg.socketDir, stateDir = cfg.stateDir;
  std::string owner = "0", group, mode = "0660";
  int digestRefresh = static_cast<int>(cfg.digestRefresh.count());
  bool debug = false;
  app.add_option("--listen", listen, "the public engine socket the guard serves")
      ->capture_default_str();
  app.add_option("--socket-owner", owner, "owner of the public socket (name or uid)")
      ->capture_default_str();
  app.add_option("--socket-group", group,
                 "group of the public socket (name or gid; default: docker if it exists, else 0)");
  app.add_option("--socket-mode", mode, "mode of the public socket (octal)")->capture_default_str();
  app.add_option("--upstream", upstream, "dockerd's private socket")->capture_default_str();
  app.add_option("--control-socket", control, "eci-enforcerd's control socket (policy)")
      ->capture_default_str();
  app.add_option("--socket-dir", socketDir, "directory of per-container engine sockets")
      ->capture_default_str();
  app.add_option("--state-dir", stateDir,
                 "root-only directory of the guard's state (per-container socket grants, kept "
                 "across reboots)")
      ->capture_default_str();
  app.add_option("--protect-socket", cfg.protectedSockets,
                 "another engine socket no container may mount (repeatable)")
      ->capture_default_str();
  app.add_option("--digest-refresh", digestRefresh, "seconds a registry digest stays fresh")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--workers", cfg.workerThreads, "threads for blocking look-ups")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_flag("--debug", debug, "debug logging");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (debug) eci::log::setLevel(eci::log::Level::kDebug);
  cfg.listenSocket = listen;
  cfg.upstreamSocket = upstream;
  cfg.controlSocket = control;
  cfg.socketDir = socketDir;
  cfg.stateDir = stateDir;
  cfg.digestRefresh = std::chrono::seconds(digestRefresh);
  if (!resolveUser(owner, cfg.listenUid)) {
    LOG_ERROR("--socket-owner: no such user '%s'", owner.c_str());
    return 2;
  }
  if (group.empty()) {
    if (const struct group* g = getgrnam("docker")) cfg.listenGid = g->gr_gid;
  } else if (!resolveGroup(group, cfg.listenGid)) {
    LOG_ERROR("--socket-group: no such group '%s'", group.c_str());
    return 2;
  }
  char* end = nullptr;
  const unsigned long m = std::strtoul(mode.c_str(), &end, 8);
  if (mode.empty() || !end || *end != '\0' || m > 07777) {
    LOG_ERROR("--socket-mode: expected an octal mode, got '%s'", mode.c_str());
    return 2;
  }
  cfg.listenMode = static_cast<mode_t>(m);

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  eci::apiproxy::Proxy proxy(cfg);
  if (auto st = proxy.start(); !st.ok()) {
    LOG_ERROR("%s", st.error().str().c_str());
    return 1;
  }
  LOG_INFO("serving %s -> %s", cfg.listenSocket.c_str(), cfg.upstreamSocket.c_str());
  // Type=notify: systemd starts dockerd (ordered After= the guard) only once the public socket is
  // ours, so no client ever reaches an engine without the guard in front of it.
  sd_notifyf(0, "READY=1\nSTATUS=serving %s", cfg.listenSocket.c_str());
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    LOG_INFO("signal %d: stopping", sig);
    proxy.stop();
  });
  proxy.run();
  // run() returned on its own only if stop() was called; the waiter has finished then.
  waiter.join();
  sd_notify(0, "STOPPING=1");
  return 0;
}
