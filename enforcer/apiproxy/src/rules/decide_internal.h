// The pieces decide() is made of, shared by its files (not part of the library's interface):
// decide.cc (the hub, container create and start), decide_scan.cc (what a request's mounts reach,
// and how a decision is written), decide_objects.cc (docker cp, builds, volumes, networks, swarm
// services).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/apiproxy/decide.h"
#include "eci/apiproxy/request.h"
#include "eci/apiproxy/routes.h"
#include "internal.h"

namespace eci::apiproxy::detail {

// Every refusal message of the guard's own starts with Docker's ECI prefix.
inline constexpr std::string_view kPrefix = "enhanced container isolation: ";

// ---- writing a decision (decide_scan.cc) ----

Decision& refuse(Decision& d, int status, std::string message, std::string rule,
                 std::string reason = {});
// A refusal for an Error of the request's parsers (its status, or 400).
Decision& refuseError(Decision& d, const Error& e, std::string rule);
Decision& allow(Decision& d);
// True when `d` is final: it asks for the request body, or refuses one too large to inspect.
bool needBody(Decision& d, const Request& req);
void addUnique(std::vector<std::string>& v, const std::string& s);

// What the mounts of one request (or one container) reach.
struct Hit {
  Reach reach = Reach::kNone;
  std::string source;         // as given
  std::string what;           // engine path reached
  MountReq* mount = nullptr;  // the create body entry (rewritable public-socket binds)
};

struct Scan {
  std::vector<Hit> hits;
  Need need;
  std::optional<Decision> refusal;  // a hard refusal found on the way
};

struct Ctx {
  const Request& req;
  const Caller& caller;
  const Policy& policy;
  const Config& config;
  const Facts& facts;
  const HostFs& fs;
};

// Takes a refusal found while scanning into `d` (keeping d's command/route/image).
Decision& adopt(Decision& d, const Decision& r);
Decision makeRefusal(int status, std::string message, std::string rule);

// ---- what mounts reach (decide_scan.cc) ----

// A host path a mount binds (bind source, or a local volume's device=). `fromRequest`: the
// caller named it now (per-container-socket rule applies); else it exists already.
void scanHostPath(const Ctx& c, Scan& s, const std::string& source, MountReq* m, bool fromRequest,
                  bool volumeDevice, bool startCheck);
// A named or anonymous volume: the request's local options, then the existing volume's.
void scanVolume(const Ctx& c, Scan& s, const std::string& name, const std::string& driver,
                const std::map<std::string, std::string>& requestOpts, bool fromRequest);
// A container's existing mounts (volumes-from source, or a start re-check).
void scanContainer(const Ctx& c, Scan& s, const ContainerFacts& ct, bool startCheck);
// Why a hit that cannot become a per-container socket is refused, for the message.
std::string describeReach(const Hit& h);
// A volume mount of a create whose volume shows host files.
bool mountShowsHostFiles(const Ctx& c, const MountReq& m);
// Adds nocopy to one volume entry of a create body; false: the entry is not where it was found.
bool addNoCopy(MountReq& m);
// A bind source dockerd would create as host root (see Decision::missingBindSources).
void noteMissingBindSource(const Ctx& c, Decision& d, const std::string& source);
// Logging-driver options naming a host unix socket: the refusal message, or empty.
std::string logSocketRefusal(const std::vector<std::pair<std::string, std::string>>& opts);
// The container a /containers/{name}/... route names. nullopt: its facts are not there yet
// (`d` now asks for them); nullptr: dockerd answers 404 for it.
std::optional<const ContainerFacts*> routeContainer(const Ctx& c, Decision& d, const RouteMatch& m);

// ---- the other routes' rules (decide_objects.cc) ----

Decision& decideArchive(const Ctx& c, Decision& d, const RouteMatch& m);
Decision& decideBuild(const Ctx& c, Decision& d, const NormalizedRequest& n);
Decision& decideVolumeCreate(const Ctx& c, Decision& d);
Decision& decideNetworkCreate(const Ctx& c, Decision& d);
Decision& decideService(const Ctx& c, Decision& d);

}  // namespace eci::apiproxy::detail
