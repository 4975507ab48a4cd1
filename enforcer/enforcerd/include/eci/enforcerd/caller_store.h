// Who asked the engine for each container (contract 4: "host files with the caller's rights").
//
// eci-apiproxyd knows the uid/gid of the person behind a POST /containers/create (peer
// credentials on the public socket) and records it here with `setCaller` before it answers the
// client; eci-enforcerd hands it to eci-runc in the `create` reply, and eci-runc ID-maps that
// container's host binds so container root acts on host files as that user.
//
// Crash-safe like the allocations: every change is written atomically (temp file, fsync, rename)
// before it is acknowledged, so a record the guard was told about survives a restart of the
// daemon. Records are dropped on `release` unless the engine still has the container (a
// `docker stop` deletes runc's container, a later `docker start` creates it again and must get the
// same caller): the engine's `<data-root>/containers/<id>` directory decides. Records whose
// container the engine no longer has are pruned lazily, and the store is bounded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "eci/error.h"

namespace eci::enforcerd {

struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t recordedAt = 0;  // unix seconds
  bool operator==(const Caller& o) const { return uid == o.uid && gid == o.gid; }
};

class CallerStore {
 public:
  static constexpr const char* kFormat = "eci-callers/1";
  static constexpr size_t kMaxRecords = 16384;
  // A record younger than this is never pruned (the engine may not have made its directory yet).
  static constexpr int64_t kGraceSeconds = 600;

  // `engineHas(id)`: whether the engine still knows the container (default: see above).
  CallerStore(std::filesystem::path stateFile, std::function<bool(const std::string&)> engineHas);

  // Missing file: no records. A corrupt file is an error (the daemon must not silently forget
  // who owns what).
  Status load();
  // Records (or replaces) the caller of `id`; persisted before it returns.
  Status set(const std::string& id, uint32_t uid, uint32_t gid);
  std::optional<Caller> get(const std::string& id) const;
  // The runtime deleted the container: the record goes unless the engine still has it.
  Status release(const std::string& id);
  size_t size() const;

 private:
  Status persistLocked();
  void pruneLocked(int64_t now);

  const std::filesystem::path stateFile_;
  const std::function<bool(const std::string&)> engineHas_;
  mutable std::mutex mu_;
  std::map<std::string, Caller> byId_;
};

// The default `engineHas`: `<engineDataRoot>/containers/<id>` exists (dockerd's layout).
std::function<bool(const std::string&)> engineContainerDirProbe(std::string engineDataRoot);

}  // namespace eci::enforcerd
