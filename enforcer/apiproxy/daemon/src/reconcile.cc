// Re-serving per-container sockets after a restart (reconcile.h).
#include "reconcile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "eci/sys.h"
#include "eci/sys_mountns.h"

namespace eci::apiproxy {

namespace {

// The container's init is the pid the engine named, and that pid still is the same process:
// a pidfd is opened first, then the pid's cgroup must name the container (a recycled pid would
// be in another cgroup), then the pidfd must still be alive (so the cgroup read was of it).
Result<UniqueFd> containerPidfd(const ReserveTarget& t) {
  ECI_ASSIGN_OR_RETURN(pidfd, sys::pidfdOpen(t.pid));
  auto cgroup = fs::readFile("/proc/" + std::to_string(t.pid) + "/cgroup", 64 * 1024);
  if (!cgroup.ok()) return std::move(cgroup).error();
  if (cgroup->find(t.id) == std::string::npos) {
    return Error("pid " + std::to_string(t.pid) + " is not in container " + t.id.substr(0, 12) +
                 "'s cgroup (exited, pid reused?)");
  }
  if (!sys::pidfdAlive(pidfd.get())) return Error("pid " + std::to_string(t.pid) + " exited");
  return pidfd;
}

Status injectSocket(const ReserveTarget& t, const SocketMount& m) {
  // The tree is cloned here, in the guard's namespace, where the path is ours (root's 0711
  // directory); only the destination is looked up in the container's.
  ECI_ASSIGN_OR_RETURN(tree, sys::openTree(AT_FDCWD, m.source, OPEN_TREE_CLONE));
  ECI_ASSIGN_OR_RETURN(pidfd, containerPidfd(t));
  return sys::replaceMountInNs(tree.get(), pidfd.get(), m.destination);
}

// The container's name and image for its audit record (best effort: the id is what counts).
ReserveFailure failureOf(const std::string& id, const std::string& inspectJson) {
  ReserveFailure f;
  f.containerId = id;
  auto j = nlohmann::json::parse(inspectJson, nullptr, false);
  if (!j.is_object()) return f;
  if (auto n = j.find("Name"); n != j.end() && n->is_string()) {
    f.name = n->get<std::string>();
    if (!f.name.empty() && f.name[0] == '/') f.name.erase(0, 1);
  }
  if (auto c = j.find("Config"); c != j.end() && c->is_object()) {
    if (auto i = c->find("Image"); i != c->end() && i->is_string()) f.image = i->get<std::string>();
  }
  return f;
}

}  // namespace

Result<ReserveReport> reserveContainerSockets(const ProxyConfig& cfg, const ReserveHooks& hooks,
                                              std::chrono::milliseconds listTimeout) {
  ReserveReport report;
  auto list =
      engineCall(cfg.upstreamSocket, http::verb::get, "/containers/json?all=1", {}, listTimeout);
  if (!list.ok()) return std::move(list).error();
  if (list->status != 200) {
    return Error("listing containers: the engine answered " + std::to_string(list->status));
  }
  ECI_ASSIGN_OR_RETURN(listed, containersWithSockets(list->body, cfg.socketDir.string()));
  std::set<std::string> referenced;  // every token some container of the engine binds
  for (const auto& c : listed) referenced.insert(c.tokens.begin(), c.tokens.end());

  for (const auto& c : listed) {
    bool allServed = true;
    for (const auto& tok : c.tokens) allServed = allServed && hooks.serving(tok);
    if (allServed) continue;  // granted or re-served by this process already
    const std::string shortId = c.id.substr(0, 12);
    auto inspect = engineCall(cfg.upstreamSocket, http::verb::get, "/containers/" + c.id + "/json");
    if (!inspect.ok() || inspect->status != 200) continue;  // removed meanwhile
    // What this container's failures say (one record per container, however many sockets).
    ReserveFailure failure = failureOf(c.id, inspect->body);
    auto failed = [&](const std::string& why) {
      if (!failure.reason.empty()) failure.reason += "; ";
      failure.reason += why;
    };
    auto target = parseReserveTarget(inspect->body, cfg.socketDir.string());
    if (!target.ok()) {
      LOG_WARN("container %s: not re-serving its engine socket: %s", shortId.c_str(),
               target.error().str().c_str());
      ++report.notReserved;
      failed("not re-serving its engine socket: " + target.error().str());
      report.failures.push_back(std::move(failure));
      continue;
    }
    std::set<std::string> done;
    for (const auto& m : target->sockets) {
      if (hooks.serving(m.token) && !done.count(m.token)) continue;
      if (!done.count(m.token)) {
        // The identity comes from the record the guard wrote at grant time, never from the
        // container or the engine (a container cannot forge it: see reserve.h).
        auto record = hooks.loadRecord(m.token);
        std::optional<std::string> why;
        if (!record.ok()) {
          why = "no usable grant record (" + record.error().str() + ")";
        } else {
          why = grantMismatch(*record, *target);
        }
        // The grant as the current policy sees it: the engine may start this container itself
        // (restart policy, boot) without asking the guard, so it is checked here as a start
        // through the guard would be (its image by ID against the socket-mount allowlist).
        if (!why) why = hooks.recheck(*record);
        if (why) {
          // Fail closed: the container's socket stays dead until it is re-created.
          hooks.dropPending(m.token);
          LOG_WARN("container %s: not re-serving its engine socket %s: %s", shortId.c_str(),
                   m.source.c_str(), why->c_str());
          ++report.notReserved;
          failed("not re-serving its engine socket " + m.source + ": " + *why);
          break;
        }
        auto l = hooks.reopen(m.token, *record, target->bindSources);
        if (!l.ok()) {
          LOG_ERROR("container %s: cannot listen on %s again: %s", shortId.c_str(),
                    m.source.c_str(), l.error().str().c_str());
          ++report.notReserved;
          failed("cannot listen on " + m.source + " again: " + l.error().str());
          break;
        }
        hooks.adopt(target->id, m.token);
        done.insert(m.token);
        ++report.reserved;
      }
      if (!target->running) continue;  // its next start binds the live path
      // The running container's namespace still holds the dead socket's inode at the
      // destination: the new socket is mounted over it.
      if (auto st = injectSocket(*target, m); !st.ok()) {
        LOG_ERROR("container %s: engine socket served again, but not put back at %s: %s",
                  shortId.c_str(), m.destination.c_str(), st.error().str().c_str());
        ++report.injectFailed;
        failed("engine socket served again, but not put back at " + m.destination + ": " +
               st.error().str());
        continue;
      }
      ++report.injected;
      LOG_INFO("container %s: engine socket %s served again at %s", shortId.c_str(),
               m.source.c_str(), m.destination.c_str());
    }
    if (!failure.reason.empty()) report.failures.push_back(std::move(failure));
  }

  // Directories and records of containers the engine no longer has (removed while the guard was
  // down, or before a reboot): their grants are dropped.
  std::set<std::string> stale;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(cfg.socketDir, ec)) {
    stale.insert(e.path().filename().string());
  }
  for (const auto& tok : hooks.recordedTokens()) stale.insert(tok);
  for (const auto& name : stale) {
    if (!isSocketToken(name) || referenced.count(name) || hooks.serving(name)) continue;
    hooks.removeIfUnserved(name);
    ++report.staleRemoved;
  }
  return report;
}

}  // namespace eci::apiproxy
