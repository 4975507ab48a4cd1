// The seccomp-notify supervisor: runc connects to its socket (the spec's
// linux.seccomp.listenerPath) once for a container's init and once per `runc exec`, sending the
// notify fd (SCM_RIGHTS) and the container process state JSON. One thread polls the listening
// socket and every notify fd; each notification is decoded into a private copy, decided
// (rules.h) and answered. Privileged actions run in a per-container helper process that joined
// the container's user namespace, so the kernel re-checks them as the container's root.
//
// Failure behaviour: an undecidable call is refused (EPERM); every wait (registration reads, the
// helper's answer) has a timeout; if the supervisor dies, the kernel answers every pending and
// later trapped call with ENOSYS once the last copy of the notify fd is closed, so containers
// never hang (their mount calls fail closed until they are restarted).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
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
  std::chrono::milliseconds helperTimeout{2000};
};

struct SupervisorStats {
  uint64_t registrations = 0, registrationErrors = 0;
  uint64_t notifications = 0, continued = 0, refused = 0, emulated = 0, emulationFailed = 0;
  uint64_t containers = 0, notifyFds = 0;
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions opts);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Binds the socket (0600, parent directory created 0700) and starts the poll thread.
  Status start();
  // Stops the thread, closes every notify fd (pending calls then get ENOSYS) and helpers.
  void stop();
  SupervisorStats stats() const;
  nlohmann::json status() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace eci::seccomp
