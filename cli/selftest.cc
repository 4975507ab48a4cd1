#include "selftest.h"

#include <cstdio>
#include <sstream>

namespace eci::cli::selftest {
namespace {

// The full host range, which is what a container outside any user namespace sees.
constexpr unsigned long long kHostRangeLength = 4294967295ULL;

bool contains(const std::string& hay, const char* needle) {
  return hay.find(needle) != std::string::npos;
}

std::string firstLine(const std::string& s) {
  const auto nl = s.find('\n');
  std::string line = s.substr(0, nl);
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

// The container must have started and seen its own user namespace: uid 0 maps to a non-zero host
// id over at most 65536 ids. `0 0 4294967295` (no user namespace) is the failure this catches.
Verdict judgeRemapped(const RunOutput& run) {
  if (run.exitCode != 0) {
    return {false, "the container did not run (exit " + std::to_string(run.exitCode) +
                       "): " + firstLine(run.out)};
  }
  unsigned long long in = 0, outside = 0, len = 0;
  if (!parseUidMapLine(run.out, in, outside, len)) {
    return {false, "unexpected /proc/self/uid_map: " + firstLine(run.out)};
  }
  if (in != 0 || outside == 0 || len == kHostRangeLength || len > 65536) {
    return {false, "not isolated: uid_map is " + firstLine(run.out)};
  }
  return {true,
          "root is host uid " + std::to_string(outside) + " (" + std::to_string(len) + " ids)"};
}

// The engine must refuse, and say why in eci's words (so a refusal for another reason, such as a
// missing image, is not counted as protection).
Verdict judgeRefused(const RunOutput& run, const char* why) {
  if (run.exitCode == 0) return {false, "the container ran; it should have been refused"};
  if (run.exitCode < 0) return {false, "docker did not answer: " + firstLine(run.out)};
  if (!contains(run.out, why)) {
    return {false, "refused, but not by eci: " + firstLine(run.out)};
  }
  return {true, std::string("refused: ") + why};
}

Verdict judgeReadOnly(const RunOutput& run, const HostFacts& host) {
  // "started" proves the container ran its attempts; the host directory is the verdict.
  if (run.exitCode != 0 || !contains(run.out, "started")) {
    return {false, "the container did not run (exit " + std::to_string(run.exitCode) +
                       "): " + firstLine(run.out)};
  }
  if (host.probeText != kProbeText) return {false, "the host file was changed through a :ro bind"};
  if (!host.probeDirHasOnlyProbe) return {false, "a file was created through a :ro bind"};
  return {true, "remount rw and writes through the :ro bind had no effect on the host"};
}

Verdict judgeUptime(const RunOutput& run, const HostFacts& host) {
  if (run.exitCode != 0) {
    return {false, "the container did not run (exit " + std::to_string(run.exitCode) +
                       "): " + firstLine(run.out)};
  }
  double inside = -1;
  if (std::sscanf(run.out.c_str(), "%lf", &inside) != 1 || inside < 0) {
    return {false, "unexpected /proc/uptime: " + firstLine(run.out)};
  }
  // A just-started container's emulated uptime is seconds; the engine host's is its boot time.
  // 30 s leaves room for a slow start; a host up for less than 60 s cannot be told apart.
  if (inside >= 30) return {false, "/proc/uptime shows the host's uptime: " + firstLine(run.out)};
  if (host.engineLocal && host.hostUptime > 0 && host.hostUptime < 60) {
    return {false,
            "this machine booted less than 60 s ago; cannot tell the container's uptime "
            "from the host's, run again later"};
  }
  char buf[96];
  (void)std::snprintf(buf, sizeof buf, "container uptime %.2f s (host %.0f s)", inside,
                      host.hostUptime);
  return {true, buf};
}

}  // namespace

const std::vector<Check>& checks() {
  static const std::vector<Check> kChecks = {
      {"remapped-range",
       "a container runs in its own remapped uid range",
       {"{image}", "cat", "/proc/self/uid_map"}},
      {"privileged-remapped",
       "a --privileged container is remapped too",
       {"--privileged", "{image}", "cat", "/proc/self/uid_map"}},
      {"runtime-runc-remapped",
       "--runtime=runc does not skip isolation",
       {"--runtime=runc", "{image}", "cat", "/proc/self/uid_map"}},
      {"host-pid-refused",
       "sharing the host's pid namespace is refused",
       {"--pid=host", "{image}", "true"}},
      {"restricted-mount-refused",
       "the engine's data-root cannot be bind-mounted",
       {"--mount", "type=bind,source={dataroot},target=/eci-selftest,readonly", "{image}", "true"}},
      {"readonly-bind",
       "a :ro bind stays read-only, even for --privileged",
       {"--privileged", "-v", "{probe}:/probe:ro", "{image}", "sh", "-c",
        "echo started; mount -o remount,rw /probe 2>/dev/null; "
        "mount -o remount,bind,rw /probe 2>/dev/null; echo changed >/probe/probe 2>/dev/null; "
        "touch /probe/new 2>/dev/null; true"}},
      {"emulated-uptime",
       "/proc/uptime is the container's, not the host's",
       {"{image}", "cat", "/proc/uptime"}},
  };
  return kChecks;
}

bool parseUidMapLine(const std::string& text, unsigned long long& inside,
                     unsigned long long& outside, unsigned long long& length) {
  std::istringstream in(firstLine(text));
  if (!(in >> inside >> outside >> length)) return false;
  std::string rest;
  return !(in >> rest);
}

Verdict judge(const Check& check, const RunOutput& run, const HostFacts& host) {
  if (check.name == "remapped-range" || check.name == "privileged-remapped" ||
      check.name == "runtime-runc-remapped") {
    return judgeRemapped(run);
  }
  if (check.name == "host-pid-refused") {
    return judgeRefused(run, "can't share namespaces [pid] with the host");
  }
  if (check.name == "restricted-mount-refused") {
    return judgeRefused(run, "configured as a restricted host mount");
  }
  if (check.name == "readonly-bind") return judgeReadOnly(run, host);
  if (check.name == "emulated-uptime") return judgeUptime(run, host);
  return {false, "unknown check"};  // a check without a judge never passes
}

std::string renderText(const std::vector<Result>& results) {
  std::string s;
  size_t failed = 0;
  char line[512];
  (void)std::snprintf(line, sizeof line, "%-26s %-6s %s\n", "CHECK", "RESULT", "DETAIL");
  s += line;
  for (const auto& r : results) {
    if (!r.verdict.ok) ++failed;
    (void)std::snprintf(line, sizeof line, "%-26s %-6s %s\n", r.name.c_str(),
                        r.verdict.ok ? "pass" : "FAIL", r.verdict.detail.c_str());
    s += line;
  }
  (void)std::snprintf(line, sizeof line, "%zu of %zu checks passed\n", results.size() - failed,
                      results.size());
  s += line;
  return s;
}

nlohmann::json renderJson(const std::vector<Result>& results) {
  nlohmann::json list = nlohmann::json::array();
  size_t failed = 0;
  for (const auto& r : results) {
    if (!r.verdict.ok) ++failed;
    list.push_back({{"name", r.name},
                    {"description", r.description},
                    {"ok", r.verdict.ok},
                    {"detail", r.verdict.detail}});
  }
  return {{"passed", results.size() - failed}, {"failed", failed}, {"checks", list}};
}

}  // namespace eci::cli::selftest
