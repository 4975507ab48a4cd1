// decide()'s shared pieces: writing a decision, and what a request's mounts reach
// (decide_internal.h).
#include <algorithm>

#include "decide_internal.h"
#include "eci/paths.h"

namespace eci::apiproxy::detail {

using nlohmann::json;

Decision& refuse(Decision& d, int status, std::string message, std::string rule,
                 std::string reason) {
  d.verdict = Verdict::kRefuse;
  d.status = status;
  d.message = std::move(message);
  d.rule = std::move(rule);
  d.reason = reason.empty() ? d.message : std::move(reason);
  return d;
}

Decision& refuseError(Decision& d, const Error& e, std::string rule) {
  return refuse(d, refusalStatus(e), std::string(kPrefix) + e.message(), std::move(rule));
}

Decision& allow(Decision& d) {
  d.verdict = Verdict::kAllow;
  return d;
}

bool needBody(Decision& d, const Request& req) {
  if (req.body) return false;
  if (req.contentLength > static_cast<int64_t>(kMaxInspectedBody)) {
    refuse(d, 413, std::string(kPrefix) + "request body too large to inspect", "body-size");
    return true;
  }
  d.verdict = Verdict::kNeedBody;
  d.maxBody = kMaxInspectedBody;
  return true;
}

void addUnique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

// Takes a refusal found while scanning into `d` (keeping d's command/route/image).
Decision& adopt(Decision& d, const Decision& r) {
  return refuse(d, r.status, r.message, r.rule, r.reason);
}

Decision makeRefusal(int status, std::string message, std::string rule) {
  Decision d;
  refuse(d, status, std::move(message), std::move(rule));
  return d;
}

// Requests on a per-container socket may bind only host paths that container has itself.
bool withinCallerBinds(const Ctx& c, const std::string& resolved) {
  for (const auto& s : c.caller.containerBindSources) {
    auto r = c.fs.resolve(goPathClean(s));
    if (!r.ok()) continue;
    // Never through the container's own engine socket or the socket directory.
    auto pc = checkHostPath(*r, c.config, c.fs);
    if (!pc.ok() || pc->reach != Reach::kNone) continue;
    if (paths::isUnder(resolved, *r)) return true;
  }
  return false;
}

// A host path a mount binds (bind source, or a local volume's device=). `fromRequest`: the
// caller named it now (per-container-socket rule applies); else it exists already.
void scanHostPath(const Ctx& c, Scan& s, const std::string& source, MountReq* m, bool fromRequest,
                  bool volumeDevice, bool startCheck) {
  if (s.refusal) return;
  auto pc = checkHostPath(source, c.config, c.fs);
  if (!pc.ok()) {
    Decision d;
    refuseError(d, pc.error(), "bind-source");
    s.refusal = d;
    return;
  }
  if (pc->reach == Reach::kSocketDir && !startCheck) {
    // Contract 3: only the guard puts binds there.
    s.refusal = makeRefusal(403,
                            std::string(kPrefix) + "bind mounts from \"" + c.config.socketDir +
                                "\" (the per-container engine sockets) are not allowed",
                            "socket-dir");
    return;
  }
  if (volumeDevice && pc->reach == Reach::kNone) {
    if (auto hit = restrictedHit(pc->resolved, c.policy, c.config, c.fs); !hit.empty()) {
      s.refusal =
          makeRefusal(403,
                      std::string(kPrefix) + "a local volume may not bind-mount \"" + source +
                          "\": it is or holds a restricted host mount (" + hit + ")",
                      "volume-options");
      return;
    }
  }
  if (pc->reach == Reach::kNone) {
    if (fromRequest && c.caller.perContainerSocket && !withinCallerBinds(c, pc->resolved)) {
      s.refusal = makeRefusal(403,
                              std::string(kPrefix) +
                                  "a container may only bind-mount host paths it has itself; \"" +
                                  source + "\" is not one of them",
                              "container-socket-binds");
    }
    return;
  }
  Hit h;
  h.reach = pc->reach;
  h.source = source;
  h.what = pc->what;
  // Only a bind of exactly the public socket can become the container's own socket.
  h.mount = (pc->reach == Reach::kPublicSocket && !volumeDevice) ? m : nullptr;
  s.hits.push_back(std::move(h));
}

void scanVolume(const Ctx& c, Scan& s, const std::string& name, const std::string& driver,
                const std::map<std::string, std::string>& requestOpts, bool fromRequest) {
  if (s.refusal) return;
  auto checkOpts = [&](const std::map<std::string, std::string>& opts) {
    auto lc = checkLocalVolumeOptions(opts);
    if (lc.refuse) {
      s.refusal = makeRefusal(403, std::string(kPrefix) + lc.reason, "volume-options");
      return;
    }
    if (!lc.bindDevice.empty()) {
      scanHostPath(c, s, lc.bindDevice, nullptr, fromRequest, /*volumeDevice=*/true, false);
    }
  };
  // Options in the request are used when dockerd creates the volume (it did not exist).
  if (isLocalDriver(driver) && !requestOpts.empty()) checkOpts(requestOpts);
  if (name.empty() || s.refusal) return;  // anonymous: created now, with the request's options
  auto it = c.facts.volumes.find(name);
  if (it == c.facts.volumes.end()) {
    addUnique(s.need.volumes, name);
    return;
  }
  if (it->second && isLocalDriver(it->second->driver)) {
    checkOpts(it->second->options);
  }
}

// A container's existing mounts (volumes-from source, or a start re-check).
void scanContainer(const Ctx& c, Scan& s, const ContainerFacts& ct, bool startCheck) {
  for (const auto& m : ct.mounts) {
    if (s.refusal) return;
    if (m.type == "bind" && !m.source.empty()) {
      // VolumesFrom hands those paths to the new container: for a per-container-socket caller
      // they count as its own request.
      scanHostPath(c, s, m.source, nullptr, /*fromRequest=*/!startCheck, false, startCheck);
    } else if (m.type == "volume" && !m.name.empty()) {
      scanVolume(c, s, m.name, m.driver, {}, /*fromRequest=*/!startCheck);
    }
  }
}

std::string describeReach(const Hit& h) {
  switch (h.reach) {
    case Reach::kAncestor:
      return "\"" + h.source + "\" holds the engine socket " + h.what +
             "; mount the socket itself, not a directory containing it";
    case Reach::kEngineInternal:
      return "\"" + h.source + "\" is an engine-internal socket (" + h.what + ")";
    case Reach::kSocketDir:
      return "\"" + h.source + "\" is under the per-container socket directory";
    default:
      return "\"" + h.source + "\" reaches the engine socket through a volume or another container";
  }
}

// A volume mount of a create whose volume shows host files: the request's own options (used
// when dockerd creates the volume now) or the existing volume's. Facts for every named volume are
// there by now (scanVolume asked for them).
bool mountShowsHostFiles(const Ctx& c, const MountReq& m) {
  if (isLocalDriver(m.driver) && optionsShowHostFiles(m.driverOpts)) return true;
  if (m.source.empty()) return false;  // anonymous: created with the request's options only
  auto it = c.facts.volumes.find(m.source);
  if (it == c.facts.volumes.end() || !it->second) return false;  // created now, as above
  return volumeShowsHostFiles(*it->second);
}

// Adds nocopy to one volume entry of a create body. dockerd copies the image's files at the
// mount point into an empty volume when the container starts, as host root with their owners and
// modes: into a volume that binds a host directory, that plants root-owned and setuid-root files
// on the host. A bind never copies, so nocopy only makes the volume behave like the bind it is.
// False: the entry is not where readCreateBody found it (fail closed).
bool addNoCopy(MountReq& m) {
  json* arr = goField(*m.owner, m.inBinds ? "Binds" : "Mounts");
  if (arr == nullptr || !arr->is_array() || m.index >= arr->size()) return false;
  json& e = (*arr)[m.index];
  if (m.inBinds) {
    if (!e.is_string()) return false;
    std::string raw = e.get<std::string>();
    const auto first = raw.find(':');
    const auto second = first == std::string::npos ? first : raw.find(':', first + 1);
    if (first == std::string::npos) return false;  // "/dst" alone is anonymous: no options
    if (second == std::string::npos) {
      raw += ":nocopy";
    } else if (raw.find("nocopy", second) == std::string::npos) {
      raw += raw.size() == second + 1 ? "nocopy" : ",nocopy";
    }
    e = raw;
    return true;
  }
  if (!e.is_object()) return false;
  json* vo = goField(e, "VolumeOptions");
  if (vo == nullptr) {
    e["VolumeOptions"] = json::object();
    vo = &e["VolumeOptions"];
  } else if (vo->is_null()) {
    *vo = json::object();
  }
  if (!vo->is_object()) return false;
  if (json* nc = goField(*vo, "NoCopy")) {
    *nc = true;
  } else {
    (*vo)["NoCopy"] = true;
  }
  return true;
}

// A bind source dockerd would create as host root (see Decision::missingBindSources).
void noteMissingBindSource(const Ctx& c, Decision& d, const std::string& source) {
  if (source.empty() || source.front() != '/') return;
  const std::string clean = goPathClean(source);
  if (!c.fs.stat(clean)) addUnique(d.missingBindSources, clean);
}

// Logging-driver options naming a host unix socket (syslog-address=unix://..., fluentd-address
// =unix://...): dockerd would connect to it as root and write the container's output into it.
// Empty: none.
std::string logSocketRefusal(const std::vector<std::pair<std::string, std::string>>& opts) {
  for (const auto& [key, value] : opts) {
    if (logOptionNamesUnixSocket(value)) {
      return std::string(kPrefix) + "log option \"" + key + "=" + value +
             "\" names a host unix socket; logging drivers may not connect to host sockets "
             "while enhanced container isolation is on";
    }
  }
  return {};
}

// The container a /containers/{name}/... route names. nullopt: its facts are not there yet
// (`d` now asks for them); nullptr: dockerd answers 404 for it.
std::optional<const ContainerFacts*> routeContainer(const Ctx& c, Decision& d,
                                                    const RouteMatch& m) {
  const std::string& name = m.vars.empty() ? std::string() : m.vars[0];
  auto it = c.facts.containers.find(name);
  if (it == c.facts.containers.end()) {
    d.verdict = Verdict::kNeedFacts;
    d.need.containers.push_back(name);
    return std::nullopt;
  }
  return it->second ? &*it->second : nullptr;
}

}  // namespace eci::apiproxy::detail
