// The FUSE side of eci's /proc and /sys emulation: per container, TWO FUSE connections served by
// the container's own thread, holding only the emulated files:
//
//   <base>/<id>           static: proc/uptime  proc/swaps  proc/sys/ (empty, mount point)
//                                 sys/kernel/{debug,tracing,security,config}/   (empty)
//                                 sys/devices/virtual/dmi/id/product_uuid       (0400)
//   <base>/<id>/proc/sys  knobs:  {kernel,fs,vm}/<knob>
//
// The static connection costs no round trip per open+read+close (no OPEN/RELEASE, page cache,
// /proc/uptime refreshed through 10 ms attribute timeouts); the knobs keep per-open snapshots
// through direct_io. manager.cc and README.md explain the kernel behaviour relied on.
//
// eci-runc binds these over the container's own files (spec.h), so everything else in the
// container's /proc and /sys is the kernel's. Which container a request is for is decided by which
// mount (FUSE session) received it, never by anything the container sends.
//
// Robustness rules (sysbox-fs deadlocks #998/#1002/#1018 are the anti-pattern):
//   - handlers never block: no nsenter, no call into a container, no lock held across I/O;
//   - if the serving process dies the kernel aborts both connections: every access then fails
//     with ENOTCONN (for /proc/uptime once its ~10 ms attributes expire), it never falls through
//     to host values (the bind covers the host file);
//   - checkHealth() aborts both connections of a session whose request has been in flight longer
//     than the hang timeout (through fusectl), so a stuck server turns into errors, not hung
//     readers;
//   - remove() unmounts lazily (knobs, then static), stops the thread and removes the directory;
//     idempotent.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "eci/error.h"
#include "eci/fd_holder.h"

namespace eci::procfs {

inline constexpr const char* kDefaultBase = "/run/eci/procfs";

struct ManagerOptions {
  std::filesystem::path base = kDefaultBase;
  // Where host values are read at container start (tests point it elsewhere).
  std::filesystem::path hostProcSys = "/proc/sys";
  std::filesystem::path hostUptime = "/proc/uptime";
  // Where fusectl is (mounted on demand for aborting a hung connection).
  std::filesystem::path fusectl = "/sys/fs/fuse/connections";
  std::chrono::milliseconds hangTimeout{2000};
  // Restarts (issue 15): each session's connections and state are also kept by the fd holder
  // on this socket (empty: not kept, they die with us), under "p/<id>". A restarted daemon takes
  // back those of containers for which containerExists() (unset: all) and serves them again.
  std::string fdHolderSocket;
  std::chrono::milliseconds fdHolderGrace{std::chrono::seconds(120)};
  std::function<bool(const std::string& id)> containerExists;
};
// The fd holder names of this module: "p/<container id>".
inline constexpr char kHeldPrefix[] = "p/";

struct ContainerInfo {
  std::string id;
  uid_t rootUid = 0;  // host uid of the container's root: owner of every emulated file
  gid_t rootGid = 0;
};

class Session;

class Manager {
 public:
  explicit Manager(ManagerOptions options = {});
  // Stops and unmounts every session; with an fd holder, stops serving only (the holder keeps the
  // connections for the next instance: a graceful stop or upgrade).
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Unmounts (lazily) whatever a previous instance left under base and resumeHeld() did not take
  // back: those connections died with it, and a new create must get a fresh mount. Call once at
  // start, after resumeHeld().
  Status cleanupStale();
  // Before cleanupStale(): serves again the sessions a previous instance left with the fd holder
  // (ManagerOptions::fdHolderSocket). A session that cannot be resumed is dropped and its mounts
  // left to cleanupStale() (ENOTCONN in the container, never host values); logged.
  void resumeHeld();

  // Mounts and starts serving <base>/<id> (and <base>/<id>/proc/sys). Idempotent for a live session
  // (returns the same directory); a dead session is replaced. Container ids are
  // [A-Za-z0-9_.-]{1,128}, not "."/"..".
  Result<std::filesystem::path> add(const ContainerInfo& info);
  // Stops serving, unmounts lazily, removes the directory. Unknown ids are fine.
  Status remove(const std::string& id);

  // Aborts sessions stuck longer than the hang timeout and notes sessions whose thread ended;
  // hands a new fd holder every session if ours went away.
  // Returns how many sessions are unhealthy.
  size_t checkHealth();
  nlohmann::json status() const;
  // One container's emulation: health and, per connection, its fusectl id and request counts by
  // opcode (the static connection must see no OPEN/RELEASE after its first OPEN).
  Result<nlohmann::json> status(const std::string& id) const;
  size_t size() const;

  static bool validId(const std::string& id);

 private:
  void connectHolder();
  void hold(const std::string& id, const Session& s);  // mu_ held
  void resyncHolder();                                 // mu_ held
  ManagerOptions opt_;
  std::optional<fdhold::Client> holder_;  // mu_
  uint64_t resumed_ = 0, resumeFailed_ = 0, resumeDropped_ = 0;
  int64_t resumeMicros_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Session>> sessions_;
};

}  // namespace eci::procfs
