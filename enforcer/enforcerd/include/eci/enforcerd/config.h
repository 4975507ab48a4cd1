// eci-enforcerd's configuration: every path is a flag so tests run side by side on private paths.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace eci::enforcerd {

struct Config {
  std::filesystem::path controlSocket = "/run/eci/enforcer.sock";
  std::filesystem::path pushSocket = "/run/eci/push.sock";
  std::filesystem::path stateDir = "/var/lib/eci";
  std::filesystem::path trustedKeysDir = "/etc/eci/trusted-keys";
  std::string engineDataRoot = "/var/lib/docker";
  uint32_t rangeBase = 100000;
  uint32_t rangeCount = 4096;
  // AF_VSOCK push listener for a VM (the host agent pushes over vsock); off when unset.
  std::optional<uint32_t> vsockPort;
  // Only this peer CID may push over vsock (2 = VMADDR_CID_HOST: the hypervisor's host side).
  uint32_t vsockAllowedCid = 2;
  // Every read and write on a client connection has this deadline; a stuck peer never pins a
  // thread for longer.
  std::chrono::milliseconds ioTimeout{5000};
  // Connections served at once; more are closed at once (a local root process hammering the
  // socket must not exhaust the daemon's threads).
  size_t maxConnections = 512;
  // How often allocate() re-checks allocations against the runtime (besides startup and when
  // every range is taken).
  std::chrono::seconds reconcileInterval{30};
  // The audit log (eci/audit.h): eci-enforcerd is its only writer. Empty: no audit file (unit
  // tests); eci-enforcerd's --audit-log defaults to audit::kDefaultLogPath.
  std::filesystem::path auditLog;
  uint64_t auditMaxBytes = 8u << 20;  // rotate at this size
  int auditKeep = 3;                  // audit.log.1 .. audit.log.3: at most 32 MiB in all
  // Per container (or per source without one): a burst, then a steady rate; the rest is counted
  // and reported as "suppressed" on that container's next line.
  double auditRatePerSec = 5;
  double auditBurst = 20;
};

}  // namespace eci::enforcerd
