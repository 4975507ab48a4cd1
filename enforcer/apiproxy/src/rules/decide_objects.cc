// decide()'s rules for docker cp, builds, volumes, networks and swarm services
// (decide_internal.h, docs/design/apiproxy-rules.md).
#include <algorithm>
#include <cctype>

#include "decide_internal.h"
#include "eci/paths.h"

namespace eci::apiproxy::detail {

using nlohmann::json;

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

}  // namespace eci::apiproxy::detail
