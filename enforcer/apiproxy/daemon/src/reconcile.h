// Re-serving per-container engine sockets after the guard restarts (issue 14): the grant record
// on disk and the pass over the engine's containers. The pure pieces are in reserve.h.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy_impl.h"
#include "reserve.h"

namespace eci::apiproxy {

// <socketDir>/<token>/grant.json, root 0600 (written at grant time, once the id is known).
Status writeGrantRecord(const std::filesystem::path& socketDir, const std::string& token,
                        const GrantRecord& record);
// Read back only from a root-owned directory that no one else may write, a root-owned regular
// file that no one else may read or write, never through a symlink: what a non-root user could
// have placed or changed is no record.
Result<GrantRecord> readGrantRecord(const std::filesystem::path& socketDir,
                                    const std::string& token);

// What the pass needs from the daemon.
struct ReserveHooks {
  // A listener for `token` is already served by this process (granted or re-served).
  std::function<bool(const std::string& token)> serving;
  // Listens at <socketDir>/<token>/docker.sock again with this identity, and accepts on it.
  std::function<Result<std::shared_ptr<Listener>>(
      const std::string& token, const GrantRecord& record, std::vector<std::string> bindSources)>
      reopen;
  // The gate ties the container to its socket (DELETE and destroy events then close it).
  std::function<void(const std::string& containerId, const std::string& token)> adopt;
  // Removes <socketDir>/<token> unless a listener serves it (atomically with grants).
  std::function<void(const std::string& token)> removeIfUnserved;
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
  int notReserved = 0;   // no record, or one naming another container/image: left dead
  int injectFailed = 0;  // listener served, the running container's socket left dead
  int staleRemoved = 0;  // directories of containers the engine no longer has
  // One per container left dead or not put back, whatever number of its sockets failed.
  std::vector<ReserveFailure> failures;
};

// One pass: list all containers on the private socket, re-serve what a record allows, inject
// the new socket into running containers, remove stale directories. Idempotent: tokens already
// served are left alone. Error only if the engine could not be listed (within listTimeout).
Result<ReserveReport> reserveContainerSockets(const ProxyConfig& cfg, const ReserveHooks& hooks,
                                              std::chrono::milliseconds listTimeout);

}  // namespace eci::apiproxy
