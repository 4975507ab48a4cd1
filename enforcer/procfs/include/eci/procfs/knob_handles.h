// The knobs connection's open files (enforcer/procfs/README.md, "Knobs connection" and
// "Restarts"): each open takes a snapshot of one knob's value, reads at any offset are served from
// it. Free of FUSE so it is unit tested.
//
// The kernel hands us back, on every READ/WRITE/RELEASE, the 64-bit file handle we chose at OPEN
// and the node id of the file. Both are only ever used as keys here: a handle is looked up in a
// map, never cast to a pointer, and a handle is only valid together with the node it was opened
// on. After a restart of eci-enforcerd the kernel still holds the handles of the previous process
// (their snapshots died with it). Such an unknown handle on a knob node is served as if the file
// had been opened at its first request after the restart: a fresh snapshot of THIS session's
// (this container's) current value of THAT node, the same as a new open would get. Nothing else
// is reachable through it: the snapshot is a copy of this session's value, writes go through the
// same validation as any write (they never look at the handle), and an unknown handle on a node
// that is not a knob (or an id that is no node) finds nothing: the caller answers EIO.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

namespace eci::procfs {

class KnobHandles {
 public:
  // `firstFh`: random per process, so that handles of a previous process are unlikely to
  // collide with ours (a collision is still caught: see find()).
  explicit KnobHandles(uint64_t firstFh = 1) : next_(firstFh) {}
  void reset(uint64_t firstFh) {
    files_.clear();
    next_ = firstFh;
    adopted_ = 0;
  }

  // A new open of `node` with `snapshot`; returns the handle to give the kernel. Skips handles in
  // use (ours or adopted ones), and 0 (no handle).
  uint64_t open(uint64_t node, std::string snapshot) {
    while (next_ == 0 || files_.count(next_)) ++next_;
    const uint64_t fh = next_++;
    files_[fh] = std::make_unique<File>(File{node, std::move(snapshot)});
    return fh;
  }

  // The snapshot `fh` reads on `node`, or nullptr (the caller answers EIO).
  //  - a known handle is valid only on the node it was opened on (a handle of the previous
  //    process that equals one of ours on another node finds nothing, never the other file);
  //  - an unknown handle is adopted only if `adoptUnknown` (a resumed session: the kernel may hold
  //    handles we never gave out) and the node is a knob: `render()` is called then, once, for
  //    the snapshot a fresh open would take now. Later requests on that handle read the same
  //    snapshot, as they would after an open.
  template <typename Render>
  const std::string* find(uint64_t fh, uint64_t node, bool nodeIsKnob, bool adoptUnknown,
                          Render&& render) {
    if (auto it = files_.find(fh); it != files_.end())
      return it->second->node == node ? &it->second->snapshot : nullptr;
    if (!adoptUnknown || !nodeIsKnob || fh == 0) return nullptr;
    auto& f = files_[fh];
    f = std::make_unique<File>(File{node, render()});
    adopted_.fetch_add(1, std::memory_order_relaxed);
    return &f->snapshot;
  }

  // RELEASE: forgets `fh` if it is open on `node` (an unknown or mismatched handle is a no-op).
  void release(uint64_t fh, uint64_t node) {
    if (auto it = files_.find(fh); it != files_.end() && it->second->node == node) files_.erase(it);
  }
  // Forgets `fh` (the opener went away before our OPEN reply arrived).
  void forget(uint64_t fh) { files_.erase(fh); }

  size_t size() const { return files_.size(); }
  // Handles of a previous process adopted since this session started.
  uint64_t adopted() const { return adopted_.load(std::memory_order_relaxed); }

 private:
  struct File {
    uint64_t node;
    std::string snapshot;
  };
  std::unordered_map<uint64_t, std::unique_ptr<File>> files_;
  uint64_t next_;
  std::atomic<uint64_t> adopted_{0};  // also read by status() on another thread
};

}  // namespace eci::procfs
