// One eci-runc invocation: its settings, runc's command line as runc reads it (cli.h), where the
// real runc is, and how eci-runc reports errors and runs the real runc.
#pragma once

#include <string>
#include <vector>

#include "cli.h"
#include "eci/error.h"

namespace eci::runc {

// Contract 1 (docs/design/eci-runc.md): the installed package diverts Debian's runc here.
inline constexpr const char* kDivertedRunc = "/usr/sbin/runc.distrib";
inline constexpr const char* kDefaultRunc = "/usr/sbin/runc";
// Not under /run/eci: the enforcer keeps that 0700, and runc's init walks the ID-mapped mounts'
// paths as root of the container's user namespace, which needs o+x on every ancestor.
inline constexpr const char* kDefaultRunDir = "/run/eci-runc";
inline constexpr const char* kDefaultGuardSocketDir = "/run/eci-apiproxy/sockets";
// Set in the real runc's environment: an eci-runc that finds it set was started by the real
// runc's path resolving back to an eci-runc (e.g. through a wrapper script), and refuses.
inline constexpr const char* kLoopGuardEnv = "ECI_RUNC_IS_PARENT";

struct Settings {
  std::string enforcerSocket;
  std::string realRunc;  // as given (flag/env); empty: the lookup of contract 1
  std::string runDir = kDefaultRunDir;
  std::vector<std::string> restrict;
  std::string debugLog;
  std::string guardSocketDir = kDefaultGuardSocketDir;
};

struct Call {
  Settings eci;
  cli::Invocation inv;
  std::string runc;  // the resolved real runc
  // runc's global settings eci-runc needs (runc's defaults when not given).
  std::string root = "/run/runc";
  std::string log;
  bool jsonLog = false;

  // runc's argv without eci's flags: the global flags, then `verbArgv` (the verb and its args).
  std::vector<std::string> argvWith(const std::vector<std::string>& verbArgv) const;
  std::vector<std::string> originalArgv() const;  // verb part unchanged
};

// runc has a container `id` (its state directory <root>/<id> exists).
bool containerStateExists(const Call& c, const std::string& id);

// The environment's ECI_RUNC_* settings, then the --eci-* flags (a flag wins), then runc's command
// line (a usage error is in inv.usageError). Does not resolve the real runc.
Result<Call> parseCall(const std::vector<std::string>& argv);

// Contract 1: `given` if not empty; else /usr/sbin/runc.distrib if it exists; else
// /usr/sbin/runc. Refused when it is this very executable (same device and inode as `self`,
// /proc/self/exe by default): eci-runc would exec itself forever.
Result<std::string> resolveRealRunc(const std::string& given, const std::string& self = {});

// Errors: stderr, runc's --log in runc's format (containerd shows its last error entry as
// "OCI runtime create failed: <msg>"), and eci's debug log. Returns 1.
int fail(const Call& c, const std::string& msg);
void runcLog(const Call& c, const char* level, const std::string& msg);
void debugLog(const Call& c, const std::string& msg);

// Replaces the process with the real runc (signals, stdio and exit status are runc's own).
[[noreturn]] void execRunc(const Call& c, const std::vector<std::string>& args);
// Runs the real runc as a child and waits. Every signal runc itself would forward to a
// foreground container (all catchable ones but SIGCHLD) is passed on to it meanwhile, so
// `run` in the foreground behaves as runc's. Returns its exit status as a shell would (128+n for
// death by signal n).
int runRunc(const Call& c, const std::vector<std::string>& args);

// runc's answers to a command line it refuses, on stdout as runc prints them ("Incorrect
// Usage..." and the help of the app or the verb, from the real runc's --help, which runs nothing)
// plus the error on stderr. Return runc's exit status (1).
int usageError(const Call& c);
int argCountError(const Call& c, const std::string& msg);

}  // namespace eci::runc
