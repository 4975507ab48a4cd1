// Re-serving per-container engine sockets after the guard restarts or the host reboots (issue
// 14): the pass over the engine's containers. The grant records are grant_store.h, the pure
// pieces reserve.h.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy_impl.h"
#include "reserve.h"

namespace eci::apiproxy {

// What the pass needs from the daemon.
struct ReserveHooks {
  // A listener for `token` is already accepting in this process (granted or re-served); a
  // pending one (bound from a record at start, grant_store.h) is not, until this pass confirms it.
  std::function<bool(const std::string& token)> serving;
  // The grant record of `token` (GrantStore::load).
  std::function<Result<GrantRecord>(const std::string& token)> loadRecord;
  // Why the current policy no longer lets this container have its socket, or nullopt
  // (Gate::recheckSocketGrant).
  std::function<std::optional<std::string>(const GrantRecord& record)> recheck;
  // Listens at <socketDir>/<token>/docker.sock again with this identity (or takes the pending
  // listener bound at start), and accepts on it.
  std::function<Result<std::shared_ptr<Listener>>(
      const std::string& token, const GrantRecord& record, std::vector<std::string> bindSources)>
      reopen;
  // The gate ties the container to its socket (DELETE and destroy events then close it).
  std::function<void(const std::string& containerId, const std::string& token)> adopt;
  // A pending listener of a grant this pass refused: closed (fail closed).
  std::function<void(const std::string& token)> dropPending;
  // Removes <socketDir>/<token> and its record unless a listener accepts on it (atomically with
  // grants).
  std::function<void(const std::string& token)> removeIfUnserved;
  // Every token with a grant record (GrantStore::tokens).
  std::function<std::vector<std::string>()> recordedTokens;
};

// A container the pass could not serve fully: its socket stays dead (fail closed), and the admin
// must learn it from the audit log, not only from the guard's log (Gate::auditReserveFailure).
struct ReserveFailure {
  std::string containerId;
  std::string name;   // without Docker's leading '/'
  std::string image;  // as the container was created (Config.Image)
  std::string reason;
};

struct ReserveReport {
  int reserved = 0;      // listeners re-created
  int injected = 0;      // of those, put back into a running container
  int notReserved = 0;   // no record, one naming another container/image, or refused: left dead
  int injectFailed = 0;  // listener served, the running container's socket left dead
  int staleRemoved = 0;  // directories and records of containers the engine no longer has
  // One per container left dead or not put back, whatever number of its sockets failed.
  std::vector<ReserveFailure> failures;
};

// One pass: list all containers on the private socket, re-serve what a record and the current
// policy allow, inject the new socket into running containers, remove stale directories and
// records. Idempotent: tokens already
// served are left alone. Error only if the engine could not be listed (within listTimeout).
Result<ReserveReport> reserveContainerSockets(const ProxyConfig& cfg, const ReserveHooks& hooks,
                                              std::chrono::milliseconds listTimeout);

}  // namespace eci::apiproxy
