// The seccomp-notify supervisor: runc connects to its socket (the spec's
// linux.seccomp.listenerPath) once for a container's init and once per `runc exec`, sending the
// notify fd (SCM_RIGHTS) and the container process state JSON. One thread accepts those and, on
// a container's first notification (most containers never mount anything), starts its worker
// (worker.h: the binary re-executed, joined to the container's user and mount namespaces as its
// root), which receives the container's notify fds and decodes, decides (rules.h), acts and
// answers every notification itself.
//
// Failure behaviour: an undecidable call is refused (EPERM); registration reads have a timeout; a
// worker stuck in an action longer than actionTimeout is killed, its in-flight call refused and
// a new worker started on the same fds at the next notification (as after a crash; a container
// whose worker keeps failing is given up: its fds are closed, its calls get ENOSYS). If the
// supervisor dies, its workers die with it (PR_SET_PDEATHSIG): a dead supervisor never leaves a
// decision maker behind.
//
// Restarts (fdHolderSocket set, as in eci-enforcerd): every container's notify fds and what its
// worker needs (namespaces, initial mount table, shared page) are also kept by the fd holder
// (eci/fd_holder.h), a process that outlives us. While no supervisor runs, a trapped call stays
// pending in the kernel (blocked, never performed); a restarted supervisor takes the fds back in
// start(), drops those of containers that are gone (every task of the filter exited, or the
// runtime no longer has the container), refuses (EPERM) the call a killed worker had in hand,
// and serves the rest with new workers: the pending calls are then vetted like any other. If no
// supervisor comes back within the holder's grace time, the holder exits and the kernel answers
// every pending and later trapped call with ENOSYS (closed, never hanging for good). Without a
// holder the fds die with us: ENOSYS at once, until the container is restarted.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "eci/error.h"
#include "eci/unique_fd.h"

namespace eci::seccomp {

// runc's seccomp state message (specs.ContainerProcessState).
struct ProcessState {
  std::string ociVersion;
  std::vector<std::string> fds;  // names of the passed fds; must contain "seccompFd"
  pid_t pid = 0;                 // the process that installed the filter (init or exec'd)
  std::string metadata;
  std::string containerId;
  std::string bundle;
  pid_t initPid = 0;  // state.pid
  nlohmann::json annotations;
};
// Parses and checks the message; errors name the JSON Pointer.
Result<ProcessState> parseProcessState(std::string_view json);

struct SupervisorOptions {
  std::string socketPath = "/run/eci/seccomp.sock";
  std::chrono::milliseconds registrationTimeout{2000};
  // A worker busy in one action for longer is killed and the call refused (EPERM).
  std::chrono::milliseconds actionTimeout{2000};
  // Refused calls, for the audit log: called from the poll thread (at most every 500 ms, at most
  // 16 per container each time); `dropped` counts those the worker could not queue since the
  // last call for that container.
  std::function<void(const std::string& containerId, const std::string& call, int err,
                     const std::string& reason, uint64_t dropped)>
      onDenial;
  // The fd holder's socket (empty: no holder; the fds die with the supervisor). Started by
  // start() if none runs; the binary must call fdhold::runHolderIfRequested() first in main().
  std::string fdHolderSocket;
  // The holder exits (closing every fd: pending calls get ENOSYS) this long after its last client.
  std::chrono::milliseconds fdHolderGrace{std::chrono::seconds(120)};
  // After a restart: whether the runtime still has container `id` (null: trust the kernel alone,
  // i.e. the hang-up of a filter whose tasks are all gone).
  std::function<bool(const std::string& id)> containerExists;
};

struct SupervisorStats {
  uint64_t registrations = 0, registrationErrors = 0;
  uint64_t notifications = 0, continued = 0, refused = 0, emulated = 0, emulationFailed = 0;
  uint64_t containers = 0, notifyFds = 0;
  uint64_t workerRestarts = 0;
  // At the last start(): containers and notify fds taken back from the fd holder, those dropped
  // (gone), and how long taking them back took.
  uint64_t reattached = 0, reattachedFds = 0, reattachDropped = 0;
  uint64_t reattachMicros = 0;
  bool holder = false;  // the fd holder keeps our fds
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions opts);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Binds the socket (0600, parent directory created 0700) and starts the poll thread. The
  // binary must call runWorkerIfRequested() first thing in main() (workers re-execute it).
  Status start();
  // Stops the thread and every worker, closing every notify fd (pending calls then get ENOSYS).
  void stop();
  SupervisorStats stats() const;
  nlohmann::json status() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace eci::seccomp
