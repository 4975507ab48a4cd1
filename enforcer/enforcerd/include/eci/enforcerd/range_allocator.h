// Exclusive 65536-wide uid/gid ranges, one per container: base, base+65536, ... lowest free first.
//
// Every change is persisted (atomic replace + fsync) before it is acknowledged, so a grant that
// left the daemon is always on disk: after a crash (kill -9 mid-create included) a restart never
// hands a live range out twice. Writes are group-committed: concurrent creates wait for one write
// that carries all of their allocations instead of queueing one fsync each. Allocations whose
// container no longer exists in the runtime are freed by reconcile() (at load, every
// `reconcileInterval`, and when every range is taken).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "eci/error.h"

namespace eci::enforcerd {

struct Allocation {
  std::string id;
  uint32_t start = 0;
  std::string bundle;       // the OCI bundle dir the runtime created the container from
  std::string runcRoot;     // runc's --root; the container is live while <root>/<id>/state.json is
  int64_t allocatedAt = 0;  // unix seconds
  // Set when the container joined another's namespaces (--network/--pid/--ipc container:X): the
  // id whose range it shares. The range then stays taken while any member of the group holds it
  // (the joiner still runs in X's user namespace after X is deleted).
  std::string joined;
};

// Whether the container an allocation was made for still exists in the runtime.
using LivenessProbe = std::function<bool(const Allocation&)>;

// The default probe: runc's `<runcRoot>/<id>/state.json` exists (runc created it), or the bundle
// directory exists (containerd made it before calling the runtime, and removes it when the
// container is deleted or its create failed). An allocation with neither path recorded is kept:
// without evidence that its container is gone, freeing it could hand a live range out twice.
bool runtimeHasContainer(const Allocation& a);

// runc's container id grammar ([A-Za-z0-9_+.-]+, not "." or ".."): ids become path components.
bool validContainerId(const std::string& id);

class RangeAllocator {
 public:
  static constexpr uint32_t kRangeSize = 65536;
  static constexpr const char* kFormat = "eci-allocations/1";

  // `bootId` names this boot (the kernel's random boot_id by default; empty: unknown, then every
  // write is durable and a file is always trusted as this boot's).
  RangeAllocator(std::filesystem::path stateFile, uint32_t base, uint32_t count,
                 LivenessProbe probe = runtimeHasContainer,
                 std::chrono::seconds reconcileInterval = std::chrono::seconds(30),
                 std::string bootId = currentBootId());

  // /proc/sys/kernel/random/boot_id, or empty if it cannot be read.
  static std::string currentBootId();

  // Checks that base/count fit in 32-bit ids.
  static Status validateGeometry(uint32_t base, uint32_t count);

  // Reads the allocations file (missing: none), then reconciles. A corrupt file is an error: the
  // daemon must not guess which ranges are live.
  //
  // Allocations only mean something within one boot: a reboot ends every process and user
  // namespace that held a range. So the file is written without fsync (Durability::kThisBoot:
  // two fsyncs fewer on every create and release), and a durable marker next to it
  // (`<file>.boot`, written once per boot, before the first allocation) says which boot wrote
  // it. A marker naming another boot voids the file, whatever it holds (after a power loss it may
  // hold anything). No marker (a daemon upgraded while containers run): the file is this boot's.
  Status load();

  // Idempotent per id: a second create for the same id gets the same range. `fresh` (optional)
  // tells whether this call made the allocation (a caller rolling back releases only then, never
  // the range of a live container that already had the id). With `joins` (a container id that
  // holds a range), the allocation shares that range instead of taking a new one; it is an error
  // if `joins` holds none. When persisting fails the error is returned and
  // the range stays reserved in memory (never handed to another id): the next successful write
  // carries it, or reconcile frees it once the failed container's bundle is gone.
  Result<Allocation> allocate(const std::string& id, const std::string& bundle,
                              const std::string& runcRoot, bool* fresh = nullptr,
                              const std::string& joins = {});
  // Returns whether `id` held a range. The range is free in memory even when persisting fails
  // (the error is returned): the next successful write carries it, and a restart's reconcile
  // frees it anyway once the container is gone.
  Result<bool> release(const std::string& id);
  // Frees allocations whose container is gone; returns how many.
  Result<size_t> reconcile();

  std::vector<Allocation> list() const;
  size_t inUse() const;
  uint32_t base() const { return base_; }
  uint32_t count() const { return count_; }

 private:
  size_t reconcileLocked();
  std::string serializeLocked() const;
  // Returns once a write carrying state version `v` (or newer) is on disk.
  Status flushTo(uint64_t v);
  size_t indexOf(uint32_t start) const { return (start - base_) / kRangeSize; }

  const std::filesystem::path stateFile_;
  const std::filesystem::path bootFile_;  // stateFile_ + ".boot"
  const std::string bootId_;
  const uint32_t base_;
  const uint32_t count_;
  const LivenessProbe probe_;
  const std::chrono::seconds reconcileInterval_;

  mutable std::mutex mu_;
  std::map<std::string, Allocation> byId_;
  std::vector<uint32_t> refs_;  // by range index: allocations holding it (joiners share one)
  std::chrono::steady_clock::time_point lastReconcile_{};
  uint64_t version_ = 0;  // bumped on every change, under mu_

  std::mutex flushMu_;  // one writer at a time; taken before mu_, never while holding it
  uint64_t persistedVersion_ = 0;
  std::atomic<bool> unsyncedWrites_{false};  // this boot's marker is on disk (load())
};

}  // namespace eci::enforcerd
