// dockerd 20.10's routes, in gorilla/mux registration order (first match of method + path wins),
// each with the docker CLI command it belongs to, and the docker CLI command table the command
// list is written in. docs/design/apiproxy-rules.md prints both tables.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "eci/policy.h"

namespace eci::apiproxy {

// What decide() does beyond the command list for a route.
enum class RouteKind {
  kPlain,
  kPing,                    // always allowed (every CLI command starts with it)
  kVersion,                 // always allowed
  kContainerCreate,         // body: binds/mounts/runtime
  kContainerStart,          // legacy body refused; socket re-check
  kContainerRestart,        // socket re-check
  kContainerArchive,        // docker cp: refused through host binds unless the caller is root
  kImagesCreate,            // pull (fromImage) or import
  kBuild,                   // classic builder networkmode
  kVolumeCreate,            // local driver options
  kNetworkCreate,           // bridge subnets against the host's routes
  kServiceWrite,            // swarm service create/update: socket binds refused
  kPluginWrite,             // plugin install/enable/upgrade/set: refused while ECI is on
  kContainerSocketRefused,  // swarm, plugins, debug, OPTIONS: never on a per-container socket
};

struct RouteSpec {
  const char* method;   // exact, as gorilla/mux compares
  const char* pattern;  // mux template, unversioned
  const char* command;  // primary: "container create", "image push", "_ping", ...
  RouteKind kind;
};

struct RouteMatch {
  const RouteSpec* spec = nullptr;  // nullptr: no route (dockerd: 404 page not found)
  std::vector<std::string> vars;    // the {…} values in order (decoded)
  std::string command;              // spec->command, or "image import" for a fromSrc create
};

// `path` is decoded and unversioned (NormalizedRequest::path).
RouteMatch matchRoute(std::string_view method, std::string_view path);

const std::vector<RouteSpec>& routeTable();

// A docker CLI command as the command list names it ("push", "image push", "run", ...):
// `core` are the requests that ARE the command (a deny entry blocks them), `needs` every request
// the CLI sends for it (an allow entry permits them). Group wildcards ("container*") are the
// union over every name with that prefix ("build*" = build, builder, builder build, ...).
struct CliCommand {
  const char* name;
  std::vector<const char*> core;
  std::vector<const char*> needs;  // in addition to core
};
const std::vector<CliCommand>& cliTable();

// The command list's verdict for a request whose primary is `command`.
// _ping and version are always allowed (the CLI cannot even start without them).
bool commandAllowed(const CommandList& list, std::string_view command);

}  // namespace eci::apiproxy
