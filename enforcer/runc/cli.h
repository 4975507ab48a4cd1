// eci-runc's command line, read exactly as runc 1.1.5 reads it, so the verb, container id and
// bundle eci-runc acts on are the ones the real runc will act on.
//
// Why a table-driven parser and not CLI11: runc parses with urfave/cli v1.22.1 on top of Go's
// `flag` package, whose grammar no general-purpose C++ parser reproduces: one or two dashes are
// the same flag (`-root X` == `--root X` == `--root=X`), a bool flag never takes the next
// argument (`--debug=false` only), a value flag takes the next argument whatever it looks like
// (`--log -x`), parsing stops at the first non-flag or after `--`, and for most verbs urfave/cli
// first moves flags that follow positional arguments in front of them (reorderArgs, which does
// not know bool flags), while `exec` and `ps` keep their order (SkipArgReorder). Any difference
// between our reading and runc's is a way to make runc create a container eci did not rewrite
// (issue 12: `-root X create` was read as verb "X"), so the grammar is mirrored step by step
// (ParseGlobal = urfave App.Run + flag.Parse; ParseVerb = Command.parseFlags) against a flag
// table copied from runc 1.1.5's sources; unit tests pin each rule and a fuzzer feeds it
// arbitrary argv.
//
// eci's own settings (--eci-*) are global flags of the same grammar, stripped before runc runs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci::runc::cli {

struct Flag {
  std::string name;   // canonical (long) name, e.g. "bundle" for -b
  std::string value;  // "true"/"false" for bool flags as given; the value otherwise
  bool isBool = false;
};

struct Invocation {
  // Global part.
  std::vector<Flag> globals;            // runc's global flags, in order (eci flags not included)
  std::vector<Flag> eciFlags;           // --eci-* settings, in order
  std::vector<std::string> globalArgv;  // argv tokens of runc's global flags (eci's removed)
  bool helpOrVersion = false;           // -h/--help/-v/--version: runc prints and exits

  // Verb part (empty verb: runc shows its help).
  std::string verb;
  bool verbKnown = false;             // one of runc 1.1.5's commands (or help/h)
  std::vector<std::string> verbArgv;  // argv tokens after the verb, unchanged
  std::vector<Flag> flags;            // the verb's flags after parsing (only when verbKnown)
  std::vector<std::string> args;      // the verb's positional arguments
  bool verbHelp = false;              // the verb's --help/-h was given (runc prints, runs nothing)

  // runc's (urfave/cli's) usage error, e.g. "flag provided but not defined: -bogus"; empty if
  // none. In the verb's flags when usageErrorInVerb, else in the global ones. Nothing after the
  // error is parsed: the caller refuses the invocation (runc does too).
  std::string usageError;
  bool usageErrorInVerb = false;

  // Last value of a global / verb flag, if given.
  std::optional<std::string> global(std::string_view name) const;
  std::optional<std::string> flag(std::string_view name) const;
  bool flagTrue(std::string_view name) const;  // a bool verb flag set to true
};

// Which verbs exist, and whether they can start a process in a NEW container (create, run,
// restore): those must get eci's rewrite or be refused.
bool isKnownVerb(std::string_view verb);
bool verbCreatesContainer(std::string_view verb);

// Parses argv (without argv[0]): the global flags, then the verb part of a known verb. A usage
// error is reported in Invocation::usageError. Unknown verbs are not an error here
// (verbKnown = false): the caller refuses them.
Invocation parse(const std::vector<std::string>& argv);

// Go's strconv.ParseBool.
std::optional<bool> parseGoBool(std::string_view s);

// The argv runc gets for the verb part of `inv` with `--bundle` replaced by `bundle`: the verb,
// its flags in canonical `--name=value` form, `--bundle=<bundle>`, then `--` and the positional
// arguments (so an argument is never re-read as a flag).
std::vector<std::string> verbArgvWithBundle(const Invocation& inv, const std::string& bundle);

}  // namespace eci::runc::cli
