// decide(): the engine API guard's rules (decide.h, docs/design/apiproxy-rules.md).
#include "eci/apiproxy/decide.h"

#include <algorithm>

#include "eci/apiproxy/request.h"
#include "eci/apiproxy/routes.h"
#include "eci/paths.h"
#include "internal.h"

namespace eci::apiproxy {

std::string commandBlockedMessage(std::string_view requestUri) {
  return "enhanced container isolation: docker command \"" + std::string(requestUri) +
         "\" is blocked; if you wish to allow it, configure the docker socket command list in "
         "the Docker Desktop settings.";
}

namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): this file is the rules' hub
using nlohmann::json;

constexpr std::string_view kPrefix = "enhanced container isolation: ";

Decision& refuse(Decision& d, int status, std::string message, std::string rule,
                 std::string reason = {}) {
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

bool validToken(const std::string& t) {
  return t.size() == 32 && std::all_of(t.begin(), t.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

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

// The image check shared by create and start. Returns true when `d` is final.
bool checkImage(const Ctx& c, Decision& d, const ImageFacts& img, const std::string& shownName) {
  Need need;
  const AllowEval e = evalImage(img, c.policy, c.facts, need);
  if (e.state == AllowState::kNeed) {
    d.verdict = Verdict::kNeedFacts;
    d.need = std::move(need);
    return true;
  }
  if (e.state == AllowState::kDenied) {
    refuse(d, 403, socketDeniedMessage(shownName, c.policy.socketMountImages.empty()),
           "socket-mount",
           "image " + shownName + " (" + img.id + ") is not in the socket-mount allowlist");
    return true;
  }
  d.reason = "socket mount allowed by " + e.via;
  return false;
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

Decision& decideCreate(const Ctx& c, Decision& d) {
  if (needBody(d, c.req)) return d;
  auto parsed = parseGoJson(*c.req.body);
  if (!parsed.ok()) return refuseError(d, parsed.error(), "create-body");
  json body = std::move(*parsed);
  auto cb = readCreateBody(body);
  if (!cb.ok()) return refuseError(d, cb.error(), "create-body");
  CreateBody& create = *cb;
  d.image = create.image;
  d.recordsCaller = true;
  if (auto why = logSocketRefusal(create.logOptions); !why.empty()) {
    return refuse(d, 403, why, "log-socket");
  }

  Scan s;
  for (auto& m : create.mounts) {
    if (m.kind == MountReq::Kind::kBind) {
      scanHostPath(c, s, m.source, &m, /*fromRequest=*/true, false, false);
    } else if (m.kind == MountReq::Kind::kVolume) {
      scanVolume(c, s, m.source, m.driver, m.driverOpts, /*fromRequest=*/true);
    }
  }
  for (const auto& name : create.volumesFrom) {
    auto it = c.facts.containers.find(name);
    if (it == c.facts.containers.end()) {
      addUnique(s.need.containers, name);
    } else if (it->second) {
      scanContainer(c, s, *it->second, /*startCheck=*/false);
    }
  }
  if (s.refusal) return adopt(d, *s.refusal);
  // Ask for the image together with the mounts' facts when a hit is already known.
  if (!s.hits.empty() && !create.image.empty() &&
      c.facts.images.find(create.image) == c.facts.images.end()) {
    addUnique(s.need.images, create.image);
  }
  if (!s.need.empty()) {
    d.verdict = Verdict::kNeedFacts;
    d.need = std::move(s.need);
    return d;
  }

  std::optional<SocketGrant> grant;
  if (!s.hits.empty()) {
    const std::string shown = create.image.empty() ? "" : messageImageName(create.image);
    if (create.image.empty()) {
      return refuse(d, 403, socketDeniedMessage(shown, c.policy.socketMountImages.empty()),
                    "socket-mount", "socket mount without an image");
    }
    const auto& img = c.facts.images.at(create.image);
    if (!img) {
      // dockerd would answer this; the CLI pulls on a 404 and creates again (checked again).
      return refuse(d, 404, "No such image: " + create.image, "image-missing");
    }
    if (checkImage(c, d, *img, shown)) return d;
    for (const auto& h : s.hits) {
      if (h.mount == nullptr) {
        return refuse(d, 403,
                      std::string(kPrefix) +
                          "docker socket mount denied for container with image "
                          "\"" +
                          shown + "\": " + describeReach(h),
                      "socket-mount-path");
      }
    }
    if (!validToken(c.config.freshToken)) {
      return refuse(d, 500, std::string(kPrefix) + "internal error (no socket token)",
                    "fail-closed", "Config::freshToken is not 32 lowercase hex digits");
    }
    grant = SocketGrant{c.config.freshToken,
                        c.config.socketDir + "/" + c.config.freshToken + "/docker.sock", shown};
    for (const auto& h : s.hits) {
      MountReq& m = *h.mount;
      json* arr = goField(*m.owner, m.inBinds ? "Binds" : "Mounts");
      if (arr == nullptr || !arr->is_array() || m.index >= arr->size()) {
        return refuse(d, 500, std::string(kPrefix) + "internal error (rewrite)", "fail-closed");
      }
      json& e = (*arr)[m.index];
      if (m.inBinds) {
        const std::string raw = e.get<std::string>();
        const auto colon = raw.find(':');
        e = grant->path + raw.substr(colon);
      } else {
        json* src = goField(e, "Source");
        if (src == nullptr) {
          return refuse(d, 500, std::string(kPrefix) + "internal error (rewrite)", "fail-closed");
        }
        *src = grant->path;
      }
    }
  }
  for (const auto& m : create.mounts) {
    if (m.kind == MountReq::Kind::kBind && (m.inBinds || m.createMountpoint)) {
      noteMissingBindSource(c, d, m.source);
    }
  }
  bool noCopyAdded = false;
  for (auto& m : create.mounts) {
    if (m.kind != MountReq::Kind::kVolume || !mountShowsHostFiles(c, m)) continue;
    if (!addNoCopy(m)) {
      return refuse(d, 500, std::string(kPrefix) + "internal error (rewrite)", "fail-closed");
    }
    noCopyAdded = true;
  }
  if (!grant && !create.runtimeGiven && !noCopyAdded) return allow(d);
  // Runtime: always the engine's default (runc, which is eci-runc); "--runtime" is ignored as
  // under Docker's ECI. Both the inner and the top-level forms go.
  for (json* hc : create.hostConfigs) goEraseField(*hc, "Runtime");
  d.verdict = Verdict::kRewrite;
  d.body = body.dump();
  d.socket = grant;
  return d;
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

Decision& decideStart(const Ctx& c, Decision& d, const RouteMatch& m, bool isStart) {
  // Legacy start bodies (API < 1.24) carry a whole HostConfig (binds, runtime) that dockerd
  // still applies; >= 1.24 it refuses them. Refuse every one, as dockerd does for new clients.
  if (isStart && (c.req.contentLength > 7 || c.req.contentLength < 0)) {
    return refuse(d, 400,
                  "starting container with non-empty request body was deprecated since API v1.22 "
                  "and removed in v1.24",
                  "start-body");
  }
  const auto found = routeContainer(c, d, m);
  if (!found) return d;          // its facts are asked for
  if (!*found) return allow(d);  // dockerd answers 404
  const ContainerFacts& ct = **found;
  d.image = ct.imageName;
  Scan s;
  scanContainer(c, s, ct, /*startCheck=*/true);
  if (s.refusal) return adopt(d, *s.refusal);
  if (!s.hits.empty() && c.facts.images.find(ct.image) == c.facts.images.end()) {
    addUnique(s.need.images, ct.image);
  }
  if (!s.need.empty()) {
    d.verdict = Verdict::kNeedFacts;
    d.need = std::move(s.need);
    return d;
  }
  // A bind whose source went away since create: dockerd would make it again at start, as root.
  for (const auto& mnt : ct.mounts) {
    if (mnt.type == "bind") noteMissingBindSource(c, d, mnt.source);
  }
  if (s.hits.empty()) return allow(d);
  const std::string shown = messageImageName(ct.imageName.empty() ? ct.image : ct.imageName);
  const auto& img = c.facts.images.at(ct.image);
  if (!img) {
    return refuse(d, 403, socketDeniedMessage(shown, c.policy.socketMountImages.empty()),
                  "socket-mount", "the container's image " + ct.image + " is gone");
  }
  // Re-check by the container's image ID: a tag moved after create does not count.
  if (checkImage(c, d, *img, shown)) return d;
  for (const auto& h : s.hits) {
    if (h.reach != Reach::kSocketDir) {
      return refuse(d, 403,
                    std::string(kPrefix) +
                        "docker socket mount denied for container with image \"" + shown +
                        "\": " + describeReach(h) + "; re-create the container",
                    "socket-mount-path");
    }
  }
  return allow(d);
}

// docker cp (HEAD/GET/PUT /containers/{name}/archive). dockerd copies into and out of the
// container's mounts itself, as host root: through a host bind that is root's access to the host
// directory, around contract 4 (a bind acts with the caller's rights; root's 0600 files stay
// unreadable, a root-owned file or a setuid-root copy cannot be planted). The path inside the
// container cannot be judged here: the container's own symlinks decide where dockerd lands, and
// can change between this check and dockerd's walk. So a container with any host bind (or a
// local volume binding a host path) gets docker cp only from root; the rootfs and plain named
// volumes of every other container keep it.
Decision& decideArchive(const Ctx& c, Decision& d, const RouteMatch& m) {
  if (c.caller.uid == 0 && !c.caller.perContainerSocket) return allow(d);
  const auto found = routeContainer(c, d, m);
  if (!found) return d;          // its facts are asked for
  if (!*found) return allow(d);  // dockerd answers 404
  const std::string& name = m.vars.empty() ? std::string() : m.vars[0];
  Need need;
  std::string through;  // the first mount that shows host files
  for (const auto& mt : (*found)->mounts) {
    if (mt.type == "bind") {
      // The guard's own per-container socket holds nothing but that socket.
      if (!c.config.socketDir.empty() && paths::isUnder(mt.source, c.config.socketDir)) continue;
      through = mt.source;
    } else if (mt.type == "volume" && !mt.name.empty()) {
      if (!isLocalDriver(mt.driver)) {
        through = "volume " + mt.name;  // a plugin's volume: what it shows is unknown
      } else if (auto v = c.facts.volumes.find(mt.name); v == c.facts.volumes.end()) {
        addUnique(need.volumes, mt.name);
      } else if (v->second && volumeShowsHostFiles(*v->second)) {
        through = "volume " + mt.name;
      }
    }
    if (!through.empty()) break;
  }
  if (through.empty() && !need.empty()) {
    d.verdict = Verdict::kNeedFacts;
    d.need = std::move(need);
    return d;
  }
  if (through.empty()) return allow(d);
  return refuse(d, 403,
                std::string(kPrefix) + "docker cp is not available for container \"" + name +
                    "\": it mounts host files (" + through +
                    ") and the engine would copy them as root, not as you; copy through the "
                    "host directory instead",
                "archive-host-bind");
}

Decision& decideBuild(const Ctx&, Decision& d, const NormalizedRequest& n) {
  if (n.queryCount("networkmode") > 1) {
    return refuse(d, 400, std::string(kPrefix) + "repeated networkmode parameter", "build");
  }
  std::string nm = n.queryValue("networkmode").value_or("");
  std::transform(nm.begin(), nm.end(), nm.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (nm == "host" || nm.rfind("container:", 0) == 0) {
    return refuse(d, 403,
                  std::string(kPrefix) + "docker build with network mode \"" +
                      n.queryValue("networkmode").value_or("") +
                      "\" is not allowed (build steps would share a namespace outside their "
                      "container)",
                  "build-network");
  }
  return allow(d);
}

Decision& decideVolumeCreate(const Ctx& c, Decision& d) {
  if (needBody(d, c.req)) return d;
  if (c.req.body->empty()) return allow(d);
  auto parsed = parseGoJson(*c.req.body);
  if (!parsed.ok()) return refuseError(d, parsed.error(), "volume-body");
  const json& body = *parsed;
  if (!body.is_object())
    return refuse(d, 400, std::string(kPrefix) + "bad volume body", "volume-body");
  std::string name, driver;
  std::map<std::string, std::string> opts;
  for (const char* f : {"Name", "Driver"}) {
    const json* v = goField(body, f);
    if (v != nullptr && !v->is_null() && !v->is_string()) {
      return refuse(d, 400, std::string(kPrefix) + f + " must be a string", "volume-body");
    }
    if (v != nullptr && v->is_string()) (std::string_view(f) == "Name" ? name : driver) = *v;
  }
  if (const json* o = goField(body, "DriverOpts"); o != nullptr && !o->is_null()) {
    if (!o->is_object())
      return refuse(d, 400, std::string(kPrefix) + "bad DriverOpts", "volume-body");
    for (auto it = o->begin(); it != o->end(); ++it) {
      if (!it->is_string()) {
        return refuse(d, 400, std::string(kPrefix) + "DriverOpts values must be strings",
                      "volume-body");
      }
      opts[it.key()] = it->get<std::string>();
    }
  }
  if (!isLocalDriver(driver) || opts.empty()) return allow(d);
  Scan s;
  auto lc = checkLocalVolumeOptions(opts);
  if (lc.refuse) return refuse(d, 403, std::string(kPrefix) + lc.reason, "volume-options");
  if (!lc.bindDevice.empty()) {
    scanHostPath(c, s, lc.bindDevice, nullptr, /*fromRequest=*/true, /*volumeDevice=*/true, false);
  }
  if (s.refusal) return adopt(d, *s.refusal);
  if (!s.hits.empty()) {
    return refuse(d, 403,
                  std::string(kPrefix) + "volume \"" + name + "\" would bind-mount \"" +
                      lc.bindDevice + "\", which reaches the engine socket " + s.hits[0].what,
                  "volume-socket");
  }
  return allow(d);
}

Decision& decideNetworkCreate(const Ctx& c, Decision& d) {
  if (needBody(d, c.req)) return d;
  auto parsed = parseGoJson(*c.req.body);
  if (!parsed.ok()) return refuseError(d, parsed.error(), "network-body");
  Need need;
  if (auto r = checkNetworkCreate(*parsed, c.fs, c.facts, need)) {
    return refuse(d, r->status, r->message, r->rule);
  }
  if (!need.empty()) {
    d.verdict = Verdict::kNeedFacts;
    d.need = std::move(need);
    return d;
  }
  return allow(d);
}

Decision& decideService(const Ctx& c, Decision& d) {
  if (needBody(d, c.req)) return d;
  auto parsed = parseGoJson(*c.req.body);
  if (!parsed.ok()) return refuseError(d, parsed.error(), "service-body");
  json body = std::move(*parsed);
  auto svc = readServiceBody(body);
  if (!svc.ok()) return refuseError(d, svc.error(), "service-body");
  if (auto why = logSocketRefusal(svc->logOptions); !why.empty()) {
    return refuse(d, 403, why, "log-socket");
  }
  Scan s;
  for (auto& m : svc->mounts) {
    if (m.kind == MountReq::Kind::kBind) {
      scanHostPath(c, s, m.source, nullptr, true, false, false);
    } else if (m.kind == MountReq::Kind::kVolume && isLocalDriver(m.driver) &&
               !m.driverOpts.empty()) {
      auto lc = checkLocalVolumeOptions(m.driverOpts);
      if (lc.refuse) return refuse(d, 403, std::string(kPrefix) + lc.reason, "volume-options");
      if (!lc.bindDevice.empty()) scanHostPath(c, s, lc.bindDevice, nullptr, true, true, false);
    }
  }
  if (s.refusal) return adopt(d, *s.refusal);
  if (!s.hits.empty()) {
    // dockerd creates service tasks itself, past the guard: no per-container socket possible.
    return refuse(d, 403,
                  std::string(kPrefix) + "swarm services cannot mount the docker engine socket (" +
                      describeReach(s.hits[0]) + ")",
                  "service-socket");
  }
  // dockerd makes a service's task containers itself, past the guard: none of them has a caller
  // record, so eci-runc maps their host files as the container's root (0 on disk), which is
  // root's access to them (another user's home, root's 0600 files). Only root may give a service
  // host files: a bind, a local volume whose options bind a host path or device (given now or
  // when the volume was made), or a plugin's volume (contents unknown).
  if (c.caller.uid != 0) {
    Need need;
    for (const auto& m : svc->mounts) {
      std::string what;
      if (m.kind == MountReq::Kind::kBind) {
        what = "\"" + m.source + "\"";
      } else if (m.kind == MountReq::Kind::kVolume) {
        if (!isLocalDriver(m.driver)) {
          what = "a volume of driver \"" + m.driver + "\"";
        } else if (optionsShowHostFiles(m.driverOpts)) {
          what = "a volume whose options bind a host path";
        } else if (!m.source.empty()) {
          auto it = c.facts.volumes.find(m.source);
          if (it == c.facts.volumes.end()) {
            addUnique(need.volumes, m.source);
          } else if (it->second && volumeShowsHostFiles(*it->second)) {
            what = "volume \"" + m.source + "\", which shows host files";
          }
        }
      }
      if (!what.empty()) {
        return refuse(d, 403,
                      std::string(kPrefix) + "swarm services cannot mount host files (" + what +
                          ") for you: the engine creates their containers itself, as root, not "
                          "as you; use docker run or docker compose",
                      "service-host-files");
      }
    }
    if (!need.empty()) {
      d.verdict = Verdict::kNeedFacts;
      d.need = std::move(need);
      return d;
    }
  }
  return allow(d);
}

}  // namespace

Decision decide(const Request& req, const Caller& caller, const Policy& policy,
                const Config& config, const Facts& facts, const HostFs& fs, int round) {
  Decision d;
  if (!policy.enabled) return allow(d);  // ECI off: pass through
  if (round > kMaxRounds) {
    return refuse(d, 500, std::string(kPrefix) + "could not decide on this request", "fail-closed",
                  "too many fact-gathering rounds");
  }
  auto n = normalizeRequest(req);
  if (!n.ok()) return refuseError(d, n.error(), "request");
  RouteMatch m = matchRoute(n->method, n->path);
  // /debug routes are registered without the version prefix only.
  if (m.spec != nullptr && std::string_view(m.spec->method) == "*" && !n->version.empty()) {
    m = RouteMatch{};
  }
  if (m.spec == nullptr) return refuse(d, 404, "page not found", "route", "no such route");
  if (m.spec->kind == RouteKind::kImagesCreate && n->queryValue("fromImage").value_or("").empty()) {
    m.command = "image import";  // dockerd: no fromImage -> import from fromSrc
  }
  d.command = m.command;
  d.route = std::string(m.spec->method) + " " + m.spec->pattern;
  const RouteKind kind = m.spec->kind;

  if (caller.perContainerSocket) {
    if (kind == RouteKind::kContainerSocketRefused || kind == RouteKind::kServiceWrite ||
        kind == RouteKind::kPluginWrite) {
      return refuse(d, 403, commandBlockedMessage(req.target), "container-socket",
                    "route " + d.route + " is never available on a per-container socket");
    }
    if (!commandAllowed(policy.commandList, m.command)) {
      return refuse(d, 403, commandBlockedMessage(req.target), "command-list",
                    "command \"" + m.command + "\" is blocked by the command list");
    }
  }

  const Ctx c{req, caller, policy, config, facts, fs};
  switch (kind) {
    case RouteKind::kPluginWrite:
      return refuse(d, 403,
                    std::string(kPrefix) +
                        "managed plugins cannot be installed, enabled or reconfigured while "
                        "enhanced container isolation is on (they run with host privileges)",
                    "plugin");
    case RouteKind::kContainerCreate:
      return decideCreate(c, d);
    case RouteKind::kContainerStart:
      return decideStart(c, d, m, /*isStart=*/true);
    case RouteKind::kContainerRestart:
      return decideStart(c, d, m, /*isStart=*/false);
    case RouteKind::kContainerArchive:
      return decideArchive(c, d, m);
    case RouteKind::kBuild:
      return decideBuild(c, d, *n);
    case RouteKind::kVolumeCreate:
      return decideVolumeCreate(c, d);
    case RouteKind::kServiceWrite:
      return decideService(c, d);
    case RouteKind::kNetworkCreate:
      return decideNetworkCreate(c, d);
    default:
      return allow(d);
  }
}

}  // namespace eci::apiproxy
