// What the supervisor and a container's worker share. The worker is the supervisor's binary
// re-executed (/proc/self/exe) with kWorkerFlag; it gets its inputs as fixed descriptor numbers
// and the notify fds as SCM_RIGHTS messages on the control socket.
#pragma once

#include <atomic>
#include <cstdint>

namespace eci::seccomp::worker {

// Descriptors the worker starts with (everything else is closed before exec).
inline constexpr int kControlFd = 3;  // SOCK_SEQPACKET to the supervisor; EOF = stop
inline constexpr int kProcFd = 4;     // the host's /proc (O_PATH), opened before any setns
inline constexpr int kUsernsFd = 5;   // the container's user namespace
inline constexpr int kMntnsFd = 6;    // the container's initial mount namespace
inline constexpr int kMountsFd = 7;   // memfd: the container's initial /proc/<pid>/mountinfo
inline constexpr int kSharedFd = 8;   // memfd: one Shared page
inline constexpr int kPidnsFd = 9;    // the container's pid namespace (may be absent)
inline constexpr int kNetnsFd = 10;   // the container's net namespace (may be absent)
inline constexpr int kFirstFreeFd = 11;

// A refused call for the audit log (docs/audit.md), in a slot of Shared::denials.
struct Denial {
  char call[16];     // callName(), NUL-terminated
  int32_t err;       // the errno the caller got
  char reason[108];  // why, NUL-terminated (cut)
};

// Refused calls go to the audit log through a single-producer (the worker) single-consumer (the
// supervisor's poll loop) ring: the worker never waits for it; when it is full the denial is only
// counted (`denialsDropped`). The supervisor trusts nothing in it (a worker runs with the
// container's credentials): it bounds the indices and NUL-terminates the strings it copies.
inline constexpr uint32_t kDenialSlots = 16;

// Counters and the in-flight notification, in a MAP_SHARED page: the worker publishes, the
// supervisor reads them for status and, if the worker dies or hangs while acting, answers the
// in-flight notification itself (a notification the worker had received stays pending in the
// kernel until someone answers it, even after the worker is gone, as long as the supervisor's
// copy of the notify fd is open).
struct Shared {
  std::atomic<uint64_t> notifications{0}, continued{0}, refused{0}, emulated{0}, emulationFailed{0};
  std::atomic<uint64_t> inFlightId{0};  // 0: none
  std::atomic<int64_t> busySinceNs{0};  // CLOCK_MONOTONIC when the current action began; 0 idle
  std::atomic<uint64_t> denialHead{0};  // written by the worker: slots [tail, head) are full
  std::atomic<uint64_t> denialTail{0};  // written by the supervisor
  std::atomic<uint64_t> denialsDropped{0};
  Denial denials[kDenialSlots];
};
static_assert(sizeof(Shared) <= 4096, "Shared is one page");
static_assert(std::atomic<uint64_t>::is_always_lock_free &&
                  std::atomic<int64_t>::is_always_lock_free,
              "counters in shared memory must be address-free (lock-free) atomics");

enum class MsgType : uint32_t { kAddNotifyFd = 1 };
struct Msg {
  MsgType type = MsgType::kAddNotifyFd;
};

}  // namespace eci::seccomp::worker
