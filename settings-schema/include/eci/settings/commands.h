// Docker CLI command names for dockerSocketMount.commandList.commands.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace eci::settings {

struct CommandCheck {
  bool ok = false;
  std::string reason;  // why not, with a "did you mean" suggestion when one is close
};

// Accepts a top-level command ("push"), a "group subcommand" pair ("image push") as listed by
// `docker --help` / `docker <group> --help` (Docker CLI 28), or a documented group wildcard
// ("container*", "image*", "volume*", "network*", "build*", "system*"). Refuses the commands
// Docker documents as not supported by the command list (compose, dev, extension, ...).
CommandCheck checkCommand(std::string_view command);

// Every accepted name (for completion in the GUI and for suggestions).
const std::vector<std::string>& knownCommands();

// Levenshtein distance, bounded: returns `limit + 1` as soon as the distance exceeds `limit`.
size_t editDistance(std::string_view a, std::string_view b, size_t limit);

// The closest candidate within a distance that still looks like a typo, or "".
std::string closestMatch(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace eci::settings
