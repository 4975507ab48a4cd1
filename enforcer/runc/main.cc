// eci-runc: the OCI runtime dockerd/containerd call instead of runc (the engine finds it as
// `runc`; contract 1 in docs/design/eci-runc.md).
//
//   eci-runc [--eci-enforcer-socket PATH] [--eci-runc PATH] [--eci-run-dir DIR]
//            [--eci-restrict PATH]... [--eci-debug-log FILE] [--eci-guard-socket-dir DIR]
//            <runc global flags> <verb> <args>
//   (or ECI_RUNC_ENFORCER_SOCKET, ECI_RUNC_REAL_RUNC, ECI_RUNC_RUN_DIR, ECI_RUNC_RESTRICT,
//    ECI_RUNC_DEBUG_LOG, ECI_RUNC_GUARD_SOCKET_DIR in the environment; a flag wins; runtime.cc's
//    kSettings pairs them)
//
// The command line is read exactly as runc reads it (cli.h). create/run get eci's rewrite
// (create.cc), delete removes eci's state after runc's (delete.cc), restore is refused with ECI
// on; every other runc verb is the real runc's, exec'd unchanged (signals, stdio and exit status
// are its own). An invocation runc would refuse (unknown flag or verb) is refused here: it never
// reaches the real runc in a form eci did not understand.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "eci/log.h"
#include "runtime.h"
#include "verbs.h"

int main(int argc, char** argv) {
  using namespace eci::runc;
  eci::log::setProgramName("eci-runc");
  if (const char* v = std::getenv(kLoopGuardEnv); v != nullptr && *v != '\0') {
    (void)fprintf(stderr,
                  "eci-runc: started by eci-runc as the real runc (%s is set); refusing to loop\n",
                  kLoopGuardEnv);
    return 1;
  }
  auto parsed = parseCall(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) return fail(Call{}, parsed.error().str());
  Call& c = *parsed;
  auto real = resolveRealRunc(c.eci.realRunc);
  if (!real.ok()) return fail(c, "eci: " + real.error().str());
  c.runc = *real;
  // A command line runc would refuse is refused here, as runc words it (exit 1).
  if (!c.inv.usageError.empty()) return usageError(c);

  const cli::Invocation& inv = c.inv;
  if (inv.helpOrVersion || inv.verb.empty()) execRunc(c, c.originalArgv());
  if (inv.verb == "init") {
    // runc's own re-exec into a container (runc init); runc runs itself for it, never eci-runc.
    return fail(c, "'init' is runc's internal command; eci-runc does not run it");
  }
  if (!inv.verbKnown) {
    // runc answers "No help topic for '<verb>'" (exit 3); never hand it an unknown verb.
    (void)fprintf(stderr, "eci-runc: No help topic for '%s'\n", inv.verb.c_str());
    return 3;
  }
  if (inv.verb == "create" || inv.verb == "run") return doCreate(c);
  // Every other verb that makes a new container (restore) is refused with ECI on.
  if (cli::verbCreatesContainer(inv.verb)) return doRestore(c);
  if (inv.verb == "delete") return doDelete(c);
  execRunc(c, c.originalArgv());
}
