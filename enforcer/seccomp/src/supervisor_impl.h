// The supervisor's internals, shared by supervisor.cc (registration, the poll loop, workers) and
// supervisor_restart.cc (keeping the fds in the fd holder and taking them back after a restart).
#pragma once

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "eci/fd_holder.h"
#include "eci/seccomp/supervisor.h"
#include "eci/unique_fd.h"
#include "worker_protocol.h"

namespace eci::seccomp {

// A worker that keeps dying is not restarted forever: after this many starts the container's
// notify fds are closed and its trapped calls fail with ENOSYS (closed, never hanging).
inline constexpr int kMaxWorkerStarts = 4;

// One container: what a (re)started worker needs, and the worker itself.
struct Container {
  std::string id;
  UniqueFd userns, mntns, pidns, netns;  // the container's, from its first registration
  UniqueFd mounts;                       // memfd: the initial mountinfo text
  UniqueFd sharedFd;                     // memfd behind `shared`
  worker::Shared* shared = nullptr;      // set before the container enters the map
  pid_t workerPid = -1;
  UniqueFd control;  // our end of the worker's control socket
  int starts = 0;
  int notifyFds = 0;
  uint64_t denialsDroppedSeen = 0;
  std::string heldAs;  // its name in the fd holder (empty: not held)

  ~Container() {
    stopWorker(/*killIt=*/true, nullptr);
    if (shared) munmap(shared, sizeof(worker::Shared));  // null if set-up failed part-way
  }
  // Closes the control socket (EOF: the worker exits by itself) and reaps the worker, killing it
  // first if asked; its wait status goes to *status.
  void stopWorker(bool killIt, int* status) {
    control.reset();
    if (workerPid > 0) {
      if (killIt) kill(workerPid, SIGKILL);
      while (waitpid(workerPid, status, 0) < 0 && errno == EINTR) {
      }
      workerPid = -1;
    }
  }
};

// A worker's counters (its shared page) added to `s`.
inline void addCounts(SupervisorStats& s, const worker::Shared& w) {
  s.notifications += w.notifications.load(std::memory_order_relaxed);
  s.continued += w.continued.load(std::memory_order_relaxed);
  s.refused += w.refused.load(std::memory_order_relaxed);
  s.emulated += w.emulated.load(std::memory_order_relaxed);
  s.emulationFailed += w.emulationFailed.load(std::memory_order_relaxed);
}

inline Result<UniqueFd> memfdWith(const char* name, const void* data, size_t len) {
  UniqueFd fd(static_cast<int>(syscall(SYS_memfd_create, name, MFD_CLOEXEC)));
  if (!fd) return Error::fromErrno(std::string("memfd_create('") + name + "')");
  if (len > 0 && pwrite(fd.get(), data, len, 0) != static_cast<ssize_t>(len))
    return Error::fromErrno(std::string("write(memfd '") + name + "')");
  return fd;
}

struct Supervisor::Impl {
  SupervisorOptions opts;
  UniqueFd listenFd, wakeFd, procFd;
  std::thread thread;
  std::atomic<bool> stopping{false};
  // Guards stats_ and the containers map's membership (status() reads the workers' shared pages
  // from other threads); everything else is the poll thread's.
  mutable std::mutex mu;
  SupervisorStats stats_;  // its per-call counters: those of containers that are gone
  std::map<std::string, std::unique_ptr<Container>> containers;
  // Our copies of the notify fds: polled only for the hang-up that says every task of that
  // filter is gone, and kept so that a restarted worker can take over a container's fds.
  struct NotifyFd {
    UniqueFd fd;
    std::string containerKey;
    std::string heldAs;  // its name in the fd holder (empty: not held)
  };
  std::vector<NotifyFd> notifyFds;
  // The fd holder (fd_holder.h) that keeps every container's fds across our restarts; none when
  // opts.fdHolderSocket is empty or it could not be reached (then the fds die with us).
  std::optional<fdhold::Client> holder;
  uint64_t nextHeldSeq = 1;  // numbers the held notify fds: n/<key>/<seq>

  void run();
  void acceptOne();
  Status registerFd(int connFd);
  Status startWorker(Container& c);
  void ensureWorker(const std::string& key);
  Status sendNotifyFd(Container& c, int fd);
  void workerGone(const std::string& key);
  void drainDenialsOf(Container& c);
  void checkHungWorkers();
  void drainDenials();
  void dropContainer(const std::string& key);
  void updateCounts();

  // supervisor_restart.cc
  void connectHolder();
  void reattach();
  void holdContainer(Container& c, const std::string& key);
  void holdNotifyFd(NotifyFd& nf);
  void releaseHeld(const std::string& name, bool prefix);
  void resyncHolder();
};

}  // namespace eci::seccomp
