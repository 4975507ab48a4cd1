// decide(): the engine API guard's rules (decide.h, docs/design/apiproxy-rules.md): the hub that
// routes a request to its rule, and the rules of container create and start. The other routes'
// rules are in decide_objects.cc, the mount scanning they share in decide_scan.cc.
#include "eci/apiproxy/decide.h"

#include "decide_internal.h"
#include "eci/apiproxy/request.h"
#include "eci/apiproxy/routes.h"

namespace eci::apiproxy {

std::string commandBlockedMessage(std::string_view requestUri) {
  return "enhanced container isolation: docker command \"" + std::string(requestUri) +
         "\" is blocked; if you wish to allow it, configure the docker socket command list in "
         "the Docker Desktop settings.";
}

namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): this file is the rules' hub
using nlohmann::json;

bool validToken(const std::string& t) {
  return t.size() == 32 && std::all_of(t.begin(), t.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
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
