#include "eci/settings/commands.h"

#include <algorithm>
#include <array>
#include <unordered_set>

namespace eci::settings {
namespace {

// From `docker --help` and `docker <group> --help` of Docker CLI 28.2.
constexpr std::array kTopLevel = {
    "run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "search", "version",
    "info", "attach", "commit", "cp", "create", "diff", "events", "export", "history", "import",
    "inspect", "kill", "load", "logs", "pause", "port", "rename", "restart", "rm", "rmi", "save",
    "start", "stats", "stop", "tag", "top", "unpause", "update", "wait",
    // management and swarm command groups, by themselves
    "builder", "checkpoint", "container", "context", "image", "network", "system", "volume",
    "config", "node", "secret", "service", "stack", "swarm"};

struct Group {
  const char* name;
  std::initializer_list<const char*> subcommands;
};

const std::array<Group, 14>& groups() {
  static const std::array<Group, 14> kGroups = {{
      {"builder", {"build", "prune"}},
      {"checkpoint", {"create", "ls", "rm"}},
      {"container",
       {"attach", "commit", "cp",    "create", "diff",    "exec",   "export",  "inspect", "kill",
        "logs",   "ls",     "pause", "port",   "prune",   "rename", "restart", "rm",      "run",
        "start",  "stats",  "stop",  "top",    "unpause", "update", "wait"}},
      {"context", {"create", "export", "import", "inspect", "ls", "rm", "show", "update", "use"}},
      {"image",
       {"build", "history", "import", "inspect", "load", "ls", "prune", "pull", "push", "rm",
        "save", "tag"}},
      {"network", {"connect", "create", "disconnect", "inspect", "ls", "prune", "rm"}},
      {"system", {"df", "events", "info", "prune"}},
      {"volume", {"create", "inspect", "ls", "prune", "rm", "update"}},
      {"config", {"create", "inspect", "ls", "rm"}},
      {"node", {"demote", "inspect", "ls", "promote", "ps", "rm", "update"}},
      {"secret", {"create", "inspect", "ls", "rm"}},
      {"service", {"create", "inspect", "logs", "ls", "ps", "rm", "rollback", "scale", "update"}},
      {"stack", {"config", "deploy", "ls", "ps", "rm", "services"}},
      {"swarm", {"ca", "init", "join", "join-token", "leave", "unlock", "unlock-key", "update"}},
  }};
  return kGroups;
}

// Documented group wildcards; "build*" also covers builder/buildx.
constexpr std::array kWildcards = {"container*", "image*", "volume*",
                                   "network*",   "build*", "system*"};

// Docker: "not yet supported" by the command list (older docs also name plugins and scan).
constexpr std::array kUnsupported = {"compose", "dev",      "extension", "feedback",
                                     "init",    "manifest", "plugin",    "plugins",
                                     "sbom",    "scout",    "trust",     "scan"};

const std::unordered_set<std::string>& knownSet() {
  static const std::unordered_set<std::string> kSet(knownCommands().begin(), knownCommands().end());
  return kSet;
}

}  // namespace

const std::vector<std::string>& knownCommands() {
  static const std::vector<std::string> kAll = [] {
    std::vector<std::string> v(kTopLevel.begin(), kTopLevel.end());
    for (const auto& g : groups()) {
      for (const char* sub : g.subcommands) v.push_back(std::string(g.name) + ' ' + sub);
    }
    v.insert(v.end(), kWildcards.begin(), kWildcards.end());
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  }();
  return kAll;
}

size_t editDistance(std::string_view a, std::string_view b, size_t limit) {
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > limit) return limit + 1;
  std::vector<size_t> prev(a.size() + 1), cur(a.size() + 1);
  for (size_t i = 0; i <= a.size(); ++i) prev[i] = i;
  for (size_t j = 1; j <= b.size(); ++j) {
    cur[0] = j;
    size_t rowMin = cur[0];
    for (size_t i = 1; i <= a.size(); ++i) {
      const size_t sub = prev[i - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[i] = std::min({prev[i] + 1, cur[i - 1] + 1, sub});
      rowMin = std::min(rowMin, cur[i]);
    }
    if (rowMin > limit) return limit + 1;
    std::swap(prev, cur);
  }
  return std::min(prev[a.size()], limit + 1);
}

std::string closestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  // One edit for short words, two for longer ones: beyond that a "suggestion" is noise.
  const size_t limit = word.size() <= 4 ? 1 : 2;
  std::string best;
  size_t bestDist = limit + 1;
  for (const auto& c : candidates) {
    const size_t d = editDistance(word, c, limit);
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best;
}

CommandCheck checkCommand(std::string_view command) {
  CommandCheck r;
  if (knownSet().count(std::string(command)) != 0) {
    r.ok = true;
    return r;
  }
  const std::string quoted = "\"" + std::string(command) + "\"";
  if (command.empty()) {
    r.reason = "empty command name";
    return r;
  }
  if (command == "*") {
    r.reason =
        "a bare \"*\" is not a documented command pattern; list the commands or use the group "
        "wildcards container*, image*, volume*, network*, build*, system*";
    return r;
  }
  const std::string_view first = command.substr(0, command.find(' '));
  for (const char* u : kUnsupported) {
    if (first == u || command == std::string(u) + "*") {
      r.reason = quoted +
                 " is not supported by the docker socket command list (Docker documents it as "
                 "not yet supported)";
      return r;
    }
  }
  std::string lower(command);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string suggestion;
  if (lower != command && knownSet().count(lower) != 0) {
    suggestion = lower;
  } else {
    suggestion = closestMatch(command, knownCommands());
  }
  if (command.back() == '*') {
    r.reason = quoted +
               " is not a supported wildcard (only container*, image*, volume*, network*, "
               "build*, system*)";
  } else {
    r.reason = quoted + " is not a docker command";
  }
  if (!suggestion.empty()) r.reason += "; did you mean \"" + suggestion + "\"?";
  return r;
}

}  // namespace eci::settings
