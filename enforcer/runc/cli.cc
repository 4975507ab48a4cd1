#include "cli.h"

#include <algorithm>
#include <array>
#include <cstdlib>

namespace eci::runc::cli {
namespace {

enum class Kind { Bool, Value, Int };

struct FlagSpec {
  std::string_view names;  // urfave/cli's "long, short" (split on ',', spaces trimmed)
  Kind kind;
};

struct VerbSpec {
  std::string_view name;
  std::vector<FlagSpec> flags;
  bool skipArgReorder = false;
  bool createsContainer = false;
};

// runc 1.1.5 main.go (plus urfave/cli's help/version flags, and eci's settings).
const std::vector<FlagSpec>& globalFlags() {
  static const std::vector<FlagSpec> k = {
      {"debug", Kind::Bool},     {"log", Kind::Value},    {"log-format", Kind::Value},
      {"root", Kind::Value},     {"criu", Kind::Value},   {"systemd-cgroup", Kind::Bool},
      {"rootless", Kind::Value}, {"help, h", Kind::Bool}, {"version, v", Kind::Bool},
  };
  return k;
}

// eci-runc's own global flags (stripped before runc runs).
constexpr std::array<std::string_view, 6> kEciFlags = {
    "eci-enforcer-socket", "eci-runc",      "eci-run-dir",
    "eci-restrict",        "eci-debug-log", "eci-guard-socket-dir",
};

// runc 1.1.5's commands and their flags (<verb>.go). Int covers IntFlag and Int64SliceFlag
// elements; Value covers String, StringSlice and Duration flags (one argument each).
const std::vector<VerbSpec>& verbs() {
  static const std::vector<VerbSpec> k = {
      {"checkpoint",
       {{"image-path", Kind::Value},
        {"work-path", Kind::Value},
        {"parent-path", Kind::Value},
        {"leave-running", Kind::Bool},
        {"tcp-established", Kind::Bool},
        {"ext-unix-sk", Kind::Bool},
        {"shell-job", Kind::Bool},
        {"lazy-pages", Kind::Bool},
        {"status-fd", Kind::Int},
        {"page-server", Kind::Value},
        {"file-locks", Kind::Bool},
        {"pre-dump", Kind::Bool},
        {"manage-cgroups-mode", Kind::Value},
        {"empty-ns", Kind::Value},
        {"auto-dedup", Kind::Bool}}},
      {"create",
       {{"bundle, b", Kind::Value},
        {"console-socket", Kind::Value},
        {"pid-file", Kind::Value},
        {"no-pivot", Kind::Bool},
        {"no-new-keyring", Kind::Bool},
        {"preserve-fds", Kind::Int}},
       false,
       true},
      {"delete", {{"force, f", Kind::Bool}}},
      {"events", {{"interval", Kind::Value}, {"stats", Kind::Bool}}},
      {"exec",
       {{"console-socket", Kind::Value},
        {"cwd", Kind::Value},
        {"env, e", Kind::Value},
        {"tty, t", Kind::Bool},
        {"user, u", Kind::Value},
        {"additional-gids, g", Kind::Int},
        {"process, p", Kind::Value},
        {"detach,d", Kind::Bool},
        {"pid-file", Kind::Value},
        {"process-label", Kind::Value},
        {"apparmor", Kind::Value},
        {"no-new-privs", Kind::Bool},
        {"cap, c", Kind::Value},
        {"preserve-fds", Kind::Int},
        {"cgroup", Kind::Value},
        {"ignore-paused", Kind::Bool}},
       true},
      {"kill", {{"all, a", Kind::Bool}}},
      {"list", {{"format, f", Kind::Value}, {"quiet, q", Kind::Bool}}},
      {"pause", {}},
      {"ps", {{"format, f", Kind::Value}}, true},
      {"restore",
       {{"console-socket", Kind::Value},
        {"image-path", Kind::Value},
        {"work-path", Kind::Value},
        {"tcp-established", Kind::Bool},
        {"ext-unix-sk", Kind::Bool},
        {"shell-job", Kind::Bool},
        {"file-locks", Kind::Bool},
        {"manage-cgroups-mode", Kind::Value},
        {"bundle, b", Kind::Value},
        {"detach,d", Kind::Bool},
        {"pid-file", Kind::Value},
        {"no-subreaper", Kind::Bool},
        {"no-pivot", Kind::Bool},
        {"empty-ns", Kind::Value},
        {"auto-dedup", Kind::Bool},
        {"lazy-pages", Kind::Bool},
        {"lsm-profile", Kind::Value},
        {"lsm-mount-context", Kind::Value}},
       false,
       true},
      {"resume", {}},
      {"run",
       {{"bundle, b", Kind::Value},
        {"console-socket", Kind::Value},
        {"detach, d", Kind::Bool},
        {"keep", Kind::Bool},
        {"pid-file", Kind::Value},
        {"no-subreaper", Kind::Bool},
        {"no-pivot", Kind::Bool},
        {"no-new-keyring", Kind::Bool},
        {"preserve-fds", Kind::Int}},
       false,
       true},
      {"spec", {{"bundle, b", Kind::Value}, {"rootless", Kind::Bool}}},
      {"start", {}},
      {"state", {}},
      {"update",
       {{"resources, r", Kind::Value},
        {"blkio-weight", Kind::Int},
        {"cpu-period", Kind::Value},
        {"cpu-quota", Kind::Value},
        {"cpu-share", Kind::Value},
        {"cpu-rt-period", Kind::Value},
        {"cpu-rt-runtime", Kind::Value},
        {"cpuset-cpus", Kind::Value},
        {"cpuset-mems", Kind::Value},
        {"kernel-memory", Kind::Value},
        {"kernel-memory-tcp", Kind::Value},
        {"memory", Kind::Value},
        {"memory-reservation", Kind::Value},
        {"memory-swap", Kind::Value},
        {"pids-limit", Kind::Int},
        {"l3-cache-schema", Kind::Value},
        {"mem-bw-schema", Kind::Value}}},
      {"features", {}},
      // urfave/cli's built-in help command ("help", alias "h").
      {"help", {}},
      {"h", {}},
  };
  return k;
}

const VerbSpec* findVerb(std::string_view name) {
  for (const auto& v : verbs()) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> namesOf(const FlagSpec& f) {
  std::vector<std::string_view> out;
  std::string_view s = f.names;
  while (true) {
    const size_t comma = s.find(',');
    out.push_back(trim(s.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

// The flag a name (either form) belongs to, with its canonical (first) name.
const FlagSpec* lookup(const std::vector<FlagSpec>& table, std::string_view name,
                       std::string_view* canonical) {
  for (const auto& f : table) {
    const auto names = namesOf(f);
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      *canonical = names.front();
      return &f;
    }
  }
  return nullptr;
}

bool validGoInt(std::string_view s) {
  // strconv.ParseInt(s, 0, 64): optional sign, then decimal, 0x/0o/0b or leading-0 octal, '_'
  // between digits. Loose on the underscores: runc refuses what we over-accept anyway.
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
  if (s.empty()) return false;
  int base = 10;
  if (s.size() > 1 && s[0] == '0') {
    const char p = static_cast<char>(s[1] | 0x20);
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
    if (s.empty()) return base == 8;  // "0" is fine; "0x" is not
  }
  for (char c : s) {
    if (c == '_') continue;
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0 || d >= base) return false;
  }
  return true;
}

struct FlagSetResult {
  std::vector<Flag> flags;
  std::vector<std::string> rest;      // positional arguments after parsing stopped
  std::vector<std::string> consumed;  // the flag tokens (for the global part's argv)
  std::vector<std::string> eciConsumedValues;
};

// Go's flag.FlagSet.Parse over `table` (plus eci's flags when `eci`): flags until the first
// non-flag or "--" (consumed). Mirrors parseOne: "-" and non-dash words stop; "---x" and "-=x"
// are bad syntax; unknown names fail (help/h included, which urfave/cli defines itself).
Result<FlagSetResult> goFlagParse(const std::vector<FlagSpec>& table,
                                  const std::vector<std::string>& args, bool eci,
                                  std::vector<Flag>* eciOut) {
  FlagSetResult r;
  // urfave/cli's normalizeFlags: "cannot use two forms of the same flag".
  std::vector<std::pair<std::string, std::string>> formsSeen;  // canonical, name used
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s.size() < 2 || s[0] != '-') break;
    size_t minuses = 1;
    if (s[1] == '-') {
      minuses = 2;
      if (s.size() == 2) {  // "--": terminates the flags, consumed
        r.consumed.push_back(s);
        ++i;
        break;
      }
    }
    std::string name = s.substr(minuses);
    if (name.empty() || name[0] == '-' || name[0] == '=') return Error("bad flag syntax: " + s);
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (eci && std::find(kEciFlags.begin(), kEciFlags.end(), name) != kEciFlags.end()) {
      if (!value) {
        if (i + 1 >= args.size()) return Error("flag needs an argument: -" + name);
        value = args[++i];
      }
      eciOut->push_back(Flag{name, *value, false});
      continue;
    }
    std::string_view canonical;
    const FlagSpec* f = lookup(table, name, &canonical);
    if (f == nullptr) return Error("flag provided but not defined: -" + name);
    r.consumed.push_back(s);
    Flag out{std::string(canonical), {}, f->kind == Kind::Bool};
    if (f->kind == Kind::Bool) {
      if (value) {
        if (!parseGoBool(*value)) {
          return Error("invalid boolean value \"" + *value + "\" for -" + name + ": parse error");
        }
        out.value = *value;
      } else {
        out.value = "true";
      }
    } else {
      if (!value) {
        if (i + 1 >= args.size()) return Error("flag needs an argument: -" + name);
        value = args[++i];
        r.consumed.push_back(*value);
      }
      if (f->kind == Kind::Int && !validGoInt(*value)) {
        return Error("invalid value \"" + *value + "\" for flag -" + name + ": parse error");
      }
      out.value = *value;
    }
    formsSeen.emplace_back(out.name, name);
    r.flags.push_back(std::move(out));
  }
  r.rest.assign(args.begin() + static_cast<long>(i), args.end());
  // urfave/cli's normalizeFlags, after parsing: a flag given under two of its names is an error
  // naming them in declaration order, later one first ("Cannot use two forms ...: b bundle").
  for (const auto& f : table) {
    const auto names = namesOf(f);
    std::string_view first;
    for (const auto& n : names) {
      const bool visited = std::any_of(formsSeen.begin(), formsSeen.end(),
                                       [&](const auto& p) { return p.second == n; });
      if (!visited) continue;
      if (!first.empty()) {
        return Error("Cannot use two forms of the same flag: " + std::string(n) + " " +
                     std::string(first));
      }
      first = n;
    }
  }
  return r;
}

// urfave/cli v1.22.1 reorderArgs: flags (and the word after a flag without '=', bool or not) go
// first, everything from "--" on stays last.
std::vector<std::string> reorderArgs(const std::vector<std::string>& args) {
  std::vector<std::string> flags, nonflags;
  bool readFlagValue = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      nonflags.insert(nonflags.end(), args.begin() + static_cast<long>(i), args.end());
      break;
    }
    if (readFlagValue && a.rfind('-', 0) != 0) {
      readFlagValue = false;
      flags.push_back(a);
      continue;
    }
    readFlagValue = false;
    if (a != "-" && a.rfind('-', 0) == 0) {
      flags.push_back(a);
      readFlagValue = a.find('=') == std::string::npos;
    } else {
      nonflags.push_back(a);
    }
  }
  flags.insert(flags.end(), nonflags.begin(), nonflags.end());
  return flags;
}

std::optional<std::string> lastValue(const std::vector<Flag>& flags, std::string_view name) {
  std::optional<std::string> v;
  for (const auto& f : flags) {
    if (f.name == name) v = f.value;
  }
  return v;
}

}  // namespace

std::optional<bool> parseGoBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
    return false;
  return std::nullopt;
}

std::optional<std::string> Invocation::global(std::string_view name) const {
  return lastValue(globals, name);
}
std::optional<std::string> Invocation::flag(std::string_view name) const {
  return lastValue(flags, name);
}
bool Invocation::flagTrue(std::string_view name) const {
  auto v = flag(name);
  return v && parseGoBool(*v).value_or(false);
}

bool isKnownVerb(std::string_view verb) {
  return findVerb(verb) != nullptr;
}
bool verbCreatesContainer(std::string_view verb) {
  const VerbSpec* v = findVerb(verb);
  return v != nullptr && v->createsContainer;
}

Invocation parse(const std::vector<std::string>& argv) {
  Invocation inv;
  auto g = goFlagParse(globalFlags(), argv, /*eci=*/true, &inv.eciFlags);
  if (!g.ok()) {
    inv.usageError = g.error().str();
    return inv;
  }
  inv.globals = std::move(g->flags);
  inv.globalArgv = std::move(g->consumed);
  for (const auto& f : inv.globals) {
    if ((f.name == "help" || f.name == "version") && parseGoBool(f.value).value_or(false))
      inv.helpOrVersion = true;
  }
  if (g->rest.empty()) return inv;
  inv.verb = g->rest.front();
  inv.verbArgv.assign(g->rest.begin() + 1, g->rest.end());
  const VerbSpec* v = findVerb(inv.verb);
  if (v == nullptr) return inv;
  inv.verbKnown = true;
  std::vector<FlagSpec> table = v->flags;
  table.push_back({"help, h", Kind::Bool});  // urfave/cli adds it to every command
  const auto args = v->skipArgReorder ? inv.verbArgv : reorderArgs(inv.verbArgv);
  auto p = goFlagParse(table, args, /*eci=*/false, nullptr);
  if (!p.ok()) {
    inv.usageError = p.error().str();
    inv.usageErrorInVerb = true;
    return inv;
  }
  inv.flags = std::move(p->flags);
  inv.args = std::move(p->rest);
  inv.verbHelp = inv.flagTrue("help");
  return inv;
}

std::vector<std::string> verbArgvWithBundle(const Invocation& inv, const std::string& bundle) {
  std::vector<std::string> out{inv.verb};
  for (const auto& f : inv.flags) {
    if (f.name == "bundle") continue;
    out.push_back("--" + f.name + "=" + f.value);
  }
  out.push_back("--bundle=" + bundle);
  out.emplace_back("--");
  out.insert(out.end(), inv.args.begin(), inv.args.end());
  return out;
}

}  // namespace eci::runc::cli
