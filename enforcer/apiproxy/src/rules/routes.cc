// Route classification and the command list (routes.h).
#include "eci/apiproxy/routes.h"

#include <algorithm>
#include <unordered_set>

namespace eci::apiproxy {
namespace {

using K = RouteKind;

// moby v20.10.24: cmd/dockerd/daemon.go initRouter() order (checkpoint, container, image, system,
// volume, build, session, swarm, plugin, distribution, grpc, network), each router's
// initRoutes() order; then api/server/server.go's /debug routes (any method, unversioned only).
const std::vector<RouteSpec> kRoutes = {
    // checkpoint (experimental; registered before container so its DELETE is not masked)
    {"GET", "/containers/{name:.*}/checkpoints", "checkpoint ls", K::kPlain},
    {"POST", "/containers/{name:.*}/checkpoints", "checkpoint create", K::kPlain},
    {"DELETE", "/containers/{name}/checkpoints/{checkpoint}", "checkpoint rm", K::kPlain},
    // container
    {"HEAD", "/containers/{name:.*}/archive", "container cp", K::kContainerArchive},
    {"GET", "/containers/json", "container ls", K::kPlain},
    {"GET", "/containers/{name:.*}/export", "container export", K::kPlain},
    {"GET", "/containers/{name:.*}/changes", "container diff", K::kPlain},
    {"GET", "/containers/{name:.*}/json", "container inspect", K::kPlain},
    {"GET", "/containers/{name:.*}/top", "container top", K::kPlain},
    {"GET", "/containers/{name:.*}/logs", "container logs", K::kPlain},
    {"GET", "/containers/{name:.*}/stats", "container stats", K::kPlain},
    {"GET", "/containers/{name:.*}/attach/ws", "container attach", K::kPlain},
    {"GET", "/exec/{id:.*}/json", "container exec", K::kPlain},
    {"GET", "/containers/{name:.*}/archive", "container cp", K::kContainerArchive},
    {"POST", "/containers/create", "container create", K::kContainerCreate},
    {"POST", "/containers/{name:.*}/kill", "container kill", K::kPlain},
    {"POST", "/containers/{name:.*}/pause", "container pause", K::kPlain},
    {"POST", "/containers/{name:.*}/unpause", "container unpause", K::kPlain},
    {"POST", "/containers/{name:.*}/restart", "container restart", K::kContainerRestart},
    {"POST", "/containers/{name:.*}/start", "container start", K::kContainerStart},
    {"POST", "/containers/{name:.*}/stop", "container stop", K::kPlain},
    {"POST", "/containers/{name:.*}/wait", "container wait", K::kPlain},
    {"POST", "/containers/{name:.*}/resize", "container attach", K::kPlain},
    {"POST", "/containers/{name:.*}/attach", "container attach", K::kPlain},
    {"POST", "/containers/{name:.*}/copy", "container cp", K::kPlain},
    {"POST", "/containers/{name:.*}/exec", "container exec", K::kPlain},
    {"POST", "/exec/{name:.*}/start", "container exec", K::kPlain},
    {"POST", "/exec/{name:.*}/resize", "container exec", K::kPlain},
    {"POST", "/containers/{name:.*}/rename", "container rename", K::kPlain},
    {"POST", "/containers/{name:.*}/update", "container update", K::kPlain},
    {"POST", "/containers/prune", "container prune", K::kPlain},
    {"POST", "/commit", "container commit", K::kPlain},
    {"PUT", "/containers/{name:.*}/archive", "container cp", K::kContainerArchive},
    {"DELETE", "/containers/{name:.*}", "container rm", K::kPlain},
    // image
    {"GET", "/images/json", "image ls", K::kPlain},
    {"GET", "/images/search", "search", K::kPlain},
    {"GET", "/images/get", "image save", K::kPlain},
    {"GET", "/images/{name:.*}/get", "image save", K::kPlain},
    {"GET", "/images/{name:.*}/history", "image history", K::kPlain},
    {"GET", "/images/{name:.*}/json", "image inspect", K::kPlain},
    {"POST", "/images/load", "image load", K::kPlain},
    {"POST", "/images/create", "image pull", K::kImagesCreate},
    {"POST", "/images/{name:.*}/push", "image push", K::kPlain},
    {"POST", "/images/{name:.*}/tag", "image tag", K::kPlain},
    {"POST", "/images/prune", "image prune", K::kPlain},
    {"DELETE", "/images/{name:.*}", "image rm", K::kPlain},
    // system
    {"OPTIONS", "/{anyroute:.*}", "options", K::kContainerSocketRefused},
    {"GET", "/_ping", "_ping", K::kPing},
    {"HEAD", "/_ping", "_ping", K::kPing},
    {"GET", "/events", "system events", K::kPlain},
    {"GET", "/info", "system info", K::kPlain},
    {"GET", "/version", "version", K::kVersion},
    {"GET", "/system/df", "system df", K::kPlain},
    {"POST", "/auth", "login", K::kPlain},
    // volume
    {"GET", "/volumes", "volume ls", K::kPlain},
    {"GET", "/volumes/{name:.*}", "volume inspect", K::kPlain},
    {"POST", "/volumes/create", "volume create", K::kVolumeCreate},
    {"POST", "/volumes/prune", "volume prune", K::kPlain},
    {"DELETE", "/volumes/{name:.*}", "volume rm", K::kPlain},
    // build, session
    {"POST", "/build", "image build", K::kBuild},
    {"POST", "/build/prune", "builder prune", K::kPlain},
    {"POST", "/build/cancel", "image build", K::kPlain},
    {"POST", "/session", "image build", K::kPlain},
    // swarm
    {"POST", "/swarm/init", "swarm init", K::kContainerSocketRefused},
    {"POST", "/swarm/join", "swarm join", K::kContainerSocketRefused},
    {"POST", "/swarm/leave", "swarm leave", K::kContainerSocketRefused},
    {"GET", "/swarm", "swarm join-token", K::kContainerSocketRefused},
    {"GET", "/swarm/unlockkey", "swarm unlock-key", K::kContainerSocketRefused},
    {"POST", "/swarm/update", "swarm update", K::kContainerSocketRefused},
    {"POST", "/swarm/unlock", "swarm unlock", K::kContainerSocketRefused},
    {"GET", "/services", "service ls", K::kContainerSocketRefused},
    {"GET", "/services/{id}", "service inspect", K::kContainerSocketRefused},
    {"POST", "/services/create", "service create", K::kServiceWrite},
    {"POST", "/services/{id}/update", "service update", K::kServiceWrite},
    {"DELETE", "/services/{id}", "service rm", K::kContainerSocketRefused},
    {"GET", "/services/{id}/logs", "service logs", K::kContainerSocketRefused},
    {"GET", "/nodes", "node ls", K::kContainerSocketRefused},
    {"GET", "/nodes/{id}", "node inspect", K::kContainerSocketRefused},
    {"DELETE", "/nodes/{id}", "node rm", K::kContainerSocketRefused},
    {"POST", "/nodes/{id}/update", "node update", K::kContainerSocketRefused},
    {"GET", "/tasks", "service ps", K::kContainerSocketRefused},
    {"GET", "/tasks/{id}", "service ps", K::kContainerSocketRefused},
    {"GET", "/tasks/{id}/logs", "service logs", K::kContainerSocketRefused},
    {"GET", "/secrets", "secret ls", K::kContainerSocketRefused},
    {"POST", "/secrets/create", "secret create", K::kContainerSocketRefused},
    {"DELETE", "/secrets/{id}", "secret rm", K::kContainerSocketRefused},
    {"GET", "/secrets/{id}", "secret inspect", K::kContainerSocketRefused},
    {"POST", "/secrets/{id}/update", "secret update", K::kContainerSocketRefused},
    {"GET", "/configs", "config ls", K::kContainerSocketRefused},
    {"POST", "/configs/create", "config create", K::kContainerSocketRefused},
    {"DELETE", "/configs/{id}", "config rm", K::kContainerSocketRefused},
    {"GET", "/configs/{id}", "config inspect", K::kContainerSocketRefused},
    {"POST", "/configs/{id}/update", "config update", K::kContainerSocketRefused},
    // plugin
    {"GET", "/plugins", "plugin ls", K::kContainerSocketRefused},
    {"GET", "/plugins/{name:.*}/json", "plugin inspect", K::kContainerSocketRefused},
    {"GET", "/plugins/privileges", "plugin install", K::kContainerSocketRefused},
    {"DELETE", "/plugins/{name:.*}", "plugin rm", K::kContainerSocketRefused},
    {"POST", "/plugins/{name:.*}/enable", "plugin enable", K::kPluginWrite},
    {"POST", "/plugins/{name:.*}/disable", "plugin disable", K::kContainerSocketRefused},
    {"POST", "/plugins/pull", "plugin install", K::kPluginWrite},
    {"POST", "/plugins/{name:.*}/push", "plugin push", K::kContainerSocketRefused},
    {"POST", "/plugins/{name:.*}/upgrade", "plugin upgrade", K::kPluginWrite},
    {"POST", "/plugins/{name:.*}/set", "plugin set", K::kPluginWrite},
    {"POST", "/plugins/create", "plugin create", K::kPluginWrite},
    // distribution, grpc
    {"GET", "/distribution/{name:.*}/json", "image pull", K::kPlain},
    {"POST", "/grpc", "image build", K::kPlain},
    // network
    {"GET", "/networks", "network ls", K::kPlain},
    {"GET", "/networks/", "network ls", K::kPlain},
    {"GET", "/networks/{id:.+}", "network inspect", K::kPlain},
    {"POST", "/networks/create", "network create", K::kNetworkCreate},
    {"POST", "/networks/{id:.*}/connect", "network connect", K::kPlain},
    {"POST", "/networks/{id:.*}/disconnect", "network disconnect", K::kPlain},
    {"POST", "/networks/prune", "network prune", K::kPlain},
    {"DELETE", "/networks/{id:.*}", "network rm", K::kPlain},
    // debug: any method ("*"), never with a version prefix
    {"*", "/debug/vars", "debug", K::kContainerSocketRefused},
    {"*", "/debug/pprof/", "debug", K::kContainerSocketRefused},
    {"*", "/debug/pprof/cmdline", "debug", K::kContainerSocketRefused},
    {"*", "/debug/pprof/profile", "debug", K::kContainerSocketRefused},
    {"*", "/debug/pprof/symbol", "debug", K::kContainerSocketRefused},
    {"*", "/debug/pprof/trace", "debug", K::kContainerSocketRefused},
    {"*", "/debug/pprof/{name}", "debug", K::kContainerSocketRefused},
};

// Matches a mux template against a path, anchored at both ends, with the regexps mux builds:
// {x} = [^/]+, {x:.*} = .* (greedy), {x:.+} = .+ (greedy). Greedy vars take the longest value
// that lets the rest match, as Go's regexp (leftmost-first, greedy) does for these templates.
bool matchFrom(std::string_view pat, std::string_view path, std::vector<std::string>* vars) {
  if (pat.empty()) return path.empty();
  if (pat.front() != '{') {
    const auto brace = pat.find('{');
    const std::string_view lit = pat.substr(0, brace);
    if (path.substr(0, lit.size()) != lit) return false;
    return matchFrom(pat.substr(lit.size()), path.substr(lit.size()), vars);
  }
  const auto close = pat.find('}');
  if (close == std::string_view::npos) return false;
  const std::string_view spec = pat.substr(1, close - 1);
  const std::string_view rest = pat.substr(close + 1);
  const auto colon = spec.find(':');
  const std::string_view re = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  size_t minLen = 1;
  size_t maxLen = path.size();
  if (re == ".*") {
    minLen = 0;
  } else if (re == ".+") {
    minLen = 1;
  } else {  // [^/]+
    const auto slash = path.find('/');
    maxLen = slash == std::string_view::npos ? path.size() : slash;
  }
  for (size_t len = maxLen + 1; len-- > minLen;) {
    if (matchFrom(rest, path.substr(len), vars)) {
      if (vars != nullptr) vars->insert(vars->begin(), std::string(path.substr(0, len)));
      return true;
    }
    if (len == 0) break;
  }
  return false;
}

}  // namespace

const std::vector<RouteSpec>& routeTable() {
  return kRoutes;
}

RouteMatch matchRoute(std::string_view method, std::string_view path) {
  RouteMatch m;
  for (const auto& r : kRoutes) {
    const std::string_view rm = r.method;
    if (rm != "*" && rm != method) continue;
    std::vector<std::string> vars;
    if (!matchFrom(r.pattern, path, &vars)) continue;
    m.spec = &r;
    m.vars = std::move(vars);
    m.command = r.command;
    return m;
  }
  return m;
}

// The docker CLI's commands (Docker CLI 20.10-28, settings-schema/src/commands.cc names) and the
// requests each sends; cli/command/** and moby client/*.go.
const std::vector<CliCommand>& cliTable() {
  static const std::vector<CliCommand> kTable = {
      // top level
      {"run",
       {"container create"},
       {"container start", "container attach", "container wait", "image pull",
        "container inspect"}},
      {"exec", {"container exec"}, {"container inspect"}},
      {"ps", {"container ls"}, {}},
      {"build", {"image build"}, {}},
      {"pull", {"image pull"}, {}},
      {"push", {"image push"}, {}},
      {"images", {"image ls"}, {}},
      {"login", {"login"}, {}},
      {"logout", {}, {}},
      {"search", {"search"}, {}},
      {"version", {"version"}, {}},
      {"info", {"system info"}, {}},
      {"attach", {"container attach"}, {"container inspect", "container wait"}},
      {"commit", {"container commit"}, {}},
      {"cp", {"container cp"}, {}},
      {"create", {"container create"}, {"image pull"}},
      {"diff", {"container diff"}, {}},
      {"events", {"system events"}, {}},
      {"export", {"container export"}, {}},
      {"history", {"image history"}, {}},
      {"import", {"image import"}, {}},
      {"inspect",
       {"container inspect", "image inspect", "volume inspect", "network inspect"},
       {"service inspect", "node inspect", "secret inspect", "config inspect"}},
      {"kill", {"container kill"}, {}},
      {"load", {"image load"}, {}},
      {"logs", {"container logs"}, {"container inspect"}},
      {"pause", {"container pause"}, {}},
      {"port", {"container inspect"}, {}},
      {"rename", {"container rename"}, {}},
      {"restart", {"container restart"}, {}},
      {"rm", {"container rm"}, {}},
      {"rmi", {"image rm"}, {}},
      {"save", {"image save"}, {}},
      {"start", {"container start"}, {"container attach", "container wait", "container inspect"}},
      {"stats", {"container stats"}, {"container ls", "container inspect", "system events"}},
      {"stop", {"container stop"}, {}},
      {"tag", {"image tag"}, {}},
      {"top", {"container top"}, {}},
      {"unpause", {"container unpause"}, {}},
      {"update", {"container update"}, {}},
      {"wait", {"container wait"}, {}},
      // builder / buildx
      {"builder build", {"image build"}, {}},
      {"builder prune", {"builder prune"}, {}},
      {"buildx", {"image build", "builder prune"}, {}},
      // checkpoint
      {"checkpoint create", {"checkpoint create"}, {}},
      {"checkpoint ls", {"checkpoint ls"}, {}},
      {"checkpoint rm", {"checkpoint rm"}, {}},
      // container
      {"container attach", {"container attach"}, {"container inspect", "container wait"}},
      {"container commit", {"container commit"}, {}},
      {"container cp", {"container cp"}, {}},
      {"container create", {"container create"}, {"image pull"}},
      {"container diff", {"container diff"}, {}},
      {"container exec", {"container exec"}, {"container inspect"}},
      {"container export", {"container export"}, {}},
      {"container inspect", {"container inspect"}, {}},
      {"container kill", {"container kill"}, {}},
      {"container logs", {"container logs"}, {"container inspect"}},
      {"container ls", {"container ls"}, {}},
      {"container pause", {"container pause"}, {}},
      {"container port", {"container inspect"}, {}},
      {"container prune", {"container prune"}, {}},
      {"container rename", {"container rename"}, {}},
      {"container restart", {"container restart"}, {}},
      {"container rm", {"container rm"}, {}},
      {"container run",
       {"container create"},
       {"container start", "container attach", "container wait", "image pull",
        "container inspect"}},
      {"container start",
       {"container start"},
       {"container attach", "container wait", "container inspect"}},
      {"container stats",
       {"container stats"},
       {"container ls", "container inspect", "system events"}},
      {"container stop", {"container stop"}, {}},
      {"container top", {"container top"}, {}},
      {"container unpause", {"container unpause"}, {}},
      {"container update", {"container update"}, {}},
      {"container wait", {"container wait"}, {}},
      // image
      {"image build", {"image build"}, {}},
      {"image history", {"image history"}, {}},
      {"image import", {"image import"}, {}},
      {"image inspect", {"image inspect"}, {}},
      {"image load", {"image load"}, {}},
      {"image ls", {"image ls"}, {}},
      {"image prune", {"image prune"}, {}},
      {"image pull", {"image pull"}, {}},
      {"image push", {"image push"}, {}},
      {"image rm", {"image rm"}, {}},
      {"image save", {"image save"}, {}},
      {"image tag", {"image tag"}, {}},
      // network
      {"network connect", {"network connect"}, {}},
      {"network create", {"network create"}, {}},
      {"network disconnect", {"network disconnect"}, {}},
      {"network inspect", {"network inspect"}, {}},
      {"network ls", {"network ls"}, {}},
      {"network prune", {"network prune"}, {}},
      {"network rm", {"network rm"}, {}},
      // system
      {"system df", {"system df"}, {}},
      {"system events", {"system events"}, {}},
      {"system info", {"system info"}, {}},
      {"system prune",
       {"container prune", "image prune", "network prune", "volume prune", "builder prune"},
       {"system info"}},
      // volume
      {"volume create", {"volume create"}, {}},
      {"volume inspect", {"volume inspect"}, {}},
      {"volume ls", {"volume ls"}, {}},
      {"volume prune", {"volume prune"}, {}},
      {"volume rm", {"volume rm"}, {}},
      {"volume update", {}, {}},  // cluster volumes (API 1.42): nothing in 20.10
      // swarm family: refused on per-container sockets whatever the list says
      {"service create", {"service create"}, {}},
      {"service inspect", {"service inspect"}, {}},
      {"service logs", {"service logs"}, {}},
      {"service ls", {"service ls"}, {}},
      {"service ps", {"service ps"}, {}},
      {"service rm", {"service rm"}, {}},
      {"service update", {"service update"}, {}},
      {"node inspect", {"node inspect"}, {}},
      {"node ls", {"node ls"}, {}},
      {"node rm", {"node rm"}, {}},
      {"node update", {"node update"}, {}},
      {"secret create", {"secret create"}, {}},
      {"secret inspect", {"secret inspect"}, {}},
      {"secret ls", {"secret ls"}, {}},
      {"secret rm", {"secret rm"}, {}},
      {"secret update", {"secret update"}, {}},  // API only (no CLI command)
      {"config create", {"config create"}, {}},
      {"config inspect", {"config inspect"}, {}},
      {"config ls", {"config ls"}, {}},
      {"config rm", {"config rm"}, {}},
      {"config update", {"config update"}, {}},  // API only (no CLI command)
      {"swarm init", {"swarm init"}, {}},
      {"swarm join", {"swarm join"}, {}},
      {"swarm join-token", {"swarm join-token"}, {}},
      {"swarm leave", {"swarm leave"}, {}},
      {"swarm unlock", {"swarm unlock"}, {}},
      {"swarm unlock-key", {"swarm unlock-key"}, {}},
      {"swarm update", {"swarm update"}, {}},
  };
  return kTable;
}

namespace {

// Names an entry of the command list stands for: itself, or for a wildcard "x*" (and for a
// bare group name "container") every table name starting with that prefix.
template <typename F>
void forEachExpansion(const std::string& entry, F&& f) {
  static const std::unordered_set<std::string> kGroups = {
      "builder", "checkpoint", "container", "image",  "network", "system",
      "volume",  "config",     "node",      "secret", "service", "swarm"};
  std::string prefix;
  bool wildcard = false;
  if (!entry.empty() && entry.back() == '*') {
    prefix = entry.substr(0, entry.size() - 1);
    wildcard = !prefix.empty();
    if (!wildcard) return;  // a bare "*" is not a documented pattern: it names nothing
  } else if (kGroups.count(entry) != 0) {
    prefix = entry + " ";
    wildcard = true;
  }
  for (const auto& c : cliTable()) {
    const std::string_view name = c.name;
    if (wildcard ? name.substr(0, prefix.size()) == prefix : name == entry) f(c);
  }
}

}  // namespace

bool commandAllowed(const CommandList& list, std::string_view command) {
  if (command == "_ping" || command == "version") return true;
  const bool allowList = list.type == CommandList::Type::kAllow;
  bool listed = false;
  for (const auto& entry : list.commands) {
    forEachExpansion(entry, [&](const CliCommand& c) {
      auto has = [&](const std::vector<const char*>& v) {
        return std::any_of(v.begin(), v.end(), [&](const char* p) { return command == p; });
      };
      if (has(c.core) || (allowList && has(c.needs))) listed = true;
    });
    if (listed) break;
  }
  return allowList ? listed : !listed;
}

}  // namespace eci::apiproxy
