// What a container's /proc emulation must carry across a restart of eci-enforcerd (issue 15),
// free of FUSE sessions so it is unit tested: the state that cannot be recomputed, kept as JSON in
// a memfd that the fd holder (eci/fd_holder.h) holds next to the two /dev/fuse fds, and the
// synthetic FUSE_INIT that lets a new libfuse session serve a connection the kernel initialised
// long ago.
//
// Why a synthetic INIT: libfuse refuses every request until it has processed an INIT
// (se->got_init), and the kernel sends INIT once per connection. Feeding the new session the
// INIT the kernel sent originally (same protocol, same flags) makes libfuse negotiate exactly what
// the kernel already uses. Its reply goes to /dev/fuse with a `unique` no request has (the kernel's
// ids count up from 0 in steps of 2, never near 2^64; a resent one is such an id with bit 63 set,
// below), which the kernel refuses with ENOENT (fuse_dev_do_write: no such request) and libfuse
// ignores; the connection is not touched.
//
// Why a resend: a request the killed process had read from /dev/fuse but not answered sits in the
// processing queue of that /dev/fuse file (the holder keeps the file, so the queue survives) and
// nobody would ever answer it: its reader blocks until killed. FUSE_NOTIFY_RESEND (Linux 6.9,
// protocol 7.40; fs/fuse/dev.c fuse_resend) moves every request of the processing queues back to
// the pending one with FUSE_UNIQUE_RESEND (bit 63) set in its unique, so the new process reads and
// answers it. libfuse 3.14 replies with the unique it read (fuse_lowlevel.c: req->unique =
// in->unique), which is what the kernel finds the request by. No INIT flag is needed to send it
// (the kernel advertises it with FUSE_HAS_RESEND); an older kernel refuses the unknown notify code
// with EINVAL (fuse_notify: default) and changes nothing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "eci/error.h"

namespace eci::procfs {

// The kernel's fuse_init_in as it came, minus padding.
struct InitRecord {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t maxReadahead = 0;
  uint32_t flags = 0;
  uint32_t flags2 = 0;
  bool operator==(const InitRecord&) const = default;
};

struct HeldState {
  InitRecord staticInit;
  InitRecord knobsInit;
  uint32_t rootUid = 0;  // host uid/gid of the container's root: owner of every file
  uint32_t rootGid = 0;
  int64_t startRealNs = 0;     // st_mtim of everything that never changes
  double startBoottime = 0;    // CLOCK_BOOTTIME at the container's create: uptime's origin
  double hostIdleAtStart = 0;  // the host's idle seconds then
  // Knob (path under /proc/sys) -> its rendered value, as the container last set it.
  std::map<std::string, std::string> knobs;
  bool operator==(const HeldState&) const = default;
};

inline constexpr size_t kMaxHeldStateBytes = 64 * 1024;
// The unique of the synthetic INIT (see above).
inline constexpr uint64_t kSyntheticInitUnique = 0xFFFF'FFFF'FFFF'FF00ull;

std::string encodeHeldState(const HeldState& s);
// Strict: every field present and of its type, an INIT of protocol 7.x with x >= 31 (what libfuse
// 3.14 and the kernels we run on negotiate), at most kMaxHeldStateBytes.
Result<HeldState> decodeHeldState(std::string_view text);

// The INIT record of a raw request from /dev/fuse; nullopt if it is not a whole FUSE_INIT.
std::optional<InitRecord> initRecordOf(const void* request, size_t len);
// The bytes of a FUSE_INIT request carrying `r`, with kSyntheticInitUnique.
std::string syntheticInit(const InitRecord& r);

// Protocol 7.40 names that Debian 12's <linux/fuse.h> (7.38) lacks.
inline constexpr int32_t kFuseNotifyResend = 7;            // enum fuse_notify_code
inline constexpr uint64_t kFuseUniqueResend = 1ull << 63;  // FUSE_UNIQUE_RESEND
inline constexpr uint64_t kFuseHasResend = 1ull << 39;     // INIT flag (flags2 bit 7)
// The FUSE_NOTIFY_RESEND message: a bare fuse_out_header {len 16, error = the notify code,
// unique 0 = "a notification, not a reply"}.
std::string resendNotification();
// Whether the kernel that sent this INIT advertised FUSE_HAS_RESEND (informational: the write of
// the notification is what decides).
bool initAdvertisesResend(const InitRecord& r);

}  // namespace eci::procfs
