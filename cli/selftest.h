// `eci-admin selftest`: short, harmless checks of this machine's isolation through the real engine.
//
// The checks are data (a table of docker invocations and how to judge their output), so the
// judging is pure and unit-tested (selftest_test.cc) and the verb (cmd_selftest.cc) only runs
// processes. Every check container is `--rm` and carries the label `eci.selftest=<token>`; the verb
// removes whatever is left with that label, and the temporary directory it made, before it exits.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace eci::cli::selftest {

// What one docker invocation produced.
struct RunOutput {
  int exitCode = -1;  // -1: could not run, or killed at the deadline
  std::string out;    // stdout and stderr together (docker's errors are on stderr)
};

// Facts the checks need from the machine, gathered by the verb before judging.
struct HostFacts {
  double hostUptime = 0;    // seconds, this machine's /proc/uptime (0: unknown)
  bool engineLocal = true;  // the engine runs on this machine (unix socket), so uptimes compare
  std::string probeDir;     // a fresh directory under /tmp holding the file "probe" = kProbeText
  std::string probeText;    // its content after the read-only check ran
  bool probeDirHasOnlyProbe = true;  // nothing was created next to "probe"
};

inline constexpr const char* kProbeText = "eci selftest probe\n";

struct Check {
  std::string name;         // stable id, used in --format json
  std::string description;  // one line for the table
  // docker arguments after the common prefix (`run --rm --label eci.selftest=<token>`), with
  // "{image}", "{probe}" and "{dataroot}" substituted by the verb.
  std::vector<std::string> dockerArgs;
};

struct Verdict {
  bool ok = false;
  std::string detail;  // why, in one line (shown for passes too)
};

// The checks, in the order they run.
const std::vector<Check>& checks();

// Judges one check from what its container produced and the host facts after it ran.
Verdict judge(const Check& check, const RunOutput& run, const HostFacts& host);

// Parses the first line of a uid_map: "inside outside length". False if malformed.
bool parseUidMapLine(const std::string& text, unsigned long long& inside,
                     unsigned long long& outside, unsigned long long& length);

struct Result {
  std::string name, description;
  Verdict verdict;
};

// Renders the results as a table or as JSON {"passed":N,"failed":N,"checks":[...]}.
std::string renderText(const std::vector<Result>& results);
nlohmann::json renderJson(const std::vector<Result>& results);

}  // namespace eci::cli::selftest
