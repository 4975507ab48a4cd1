// The value logic of eci's /proc and /sys emulation, free of FUSE so every rule is unit tested:
// which /proc/sys knobs are emulated and how a write is validated (as the kernel's proc_dointvec
// family would), the /proc/uptime and /proc/swaps texts, and the per-container product_uuid.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci::procfs {

// How the kernel parses and prints a knob.
enum class SysctlKind {
  kIntVec,  // proc_dointvec[_minmax]: ints separated by whitespace, printed tab-separated
  kULong,   // proc_doulongvec_minmax: one unsigned long
  kString,  // proc_dostring: up to maxLen-1 bytes, stops at '\n' or NUL
};

struct SysctlSpec {
  const char* path;  // relative to /proc/sys, e.g. "kernel/panic"
  SysctlKind kind;
  int64_t min;
  int64_t max;
  size_t count;  // ints in the vector (kIntVec), max length incl. NUL (kString)
};

// The emulated knobs: the ones the kernel does NOT namespace and containers commonly write
// (isolation-notes §4). Left out on purpose: net/* (per netns), kernel/hostname & domainname
// (per UTS ns), kernel/pid_max (per pid ns since Linux 6.14; checked on this kernel).
std::span<const SysctlSpec> emulatedSysctls();
const SysctlSpec* findSysctl(std::string_view path);

// One knob's current value in one container, in canonical form.
class SysctlValue {
 public:
  // Parses the host's text (initial value). Errors if it does not fit the spec.
  static Result<SysctlValue> fromHost(const SysctlSpec& spec, std::string_view text);

  // Applies a write of `data` at file offset `offset` as the kernel would with
  // kernel.sysctl_writes_strict=1: numeric knobs ignore writes at a non-zero offset; strings
  // append at the offset. Returns the errno of the write (0 = accepted); on error nothing changes.
  int write(std::string_view data, uint64_t offset);

  // What a read returns: "1\n", "4\t4\t1\t7\n", "core\n".
  std::string render() const;
  const SysctlSpec& spec() const { return *spec_; }

 private:
  explicit SysctlValue(const SysctlSpec& spec) : spec_(&spec) {}
  const SysctlSpec* spec_;
  std::vector<int64_t> ints_;
  uint64_t ulong_ = 0;
  std::string str_;
};

// Parses one kernel-style integer token (base 0 like simple_strtoul: 10, 0x1f, 017, with an
// optional leading '-'). nullopt on anything else or on overflow of int64.
std::optional<int64_t> parseKernelInt(std::string_view token);

// "/proc/uptime" for a container: both fields in seconds with two decimals.
//   uptime = now - start (CLOCK_BOOTTIME), never negative;
//   idle   = host idle time accumulated since the container started (the host's second field
//            now minus at start), capped at uptime * cpus: the machine's idle CPU time over the
//            container's life, the closest a container-wide number gets without a cgroup walk.
std::string renderUptime(double uptimeSeconds, double idleSeconds);

// "/proc/swaps" with swap off: the header line only (as the kernel prints it).
std::string_view swapsHeader();

// Stable product_uuid for a container: a name-based UUID (SHA-256 of a fixed namespace and the
// id, version nibble 5 as in RFC 4122 name-based UUIDs), lowercase like the kernel's dmi_id.
// (product_uuid.cc, in eci_procfs: the one user of libcrypto here.)
std::string productUuid(std::string_view containerId);

// Parses the host /proc/uptime text "12.34 56.78" into its two fields.
std::optional<std::pair<double, double>> parseUptime(std::string_view text);

// The text of a dynamic file the kernel serves from its page cache between round trips
// (/proc/uptime on the static connection, manager.cc), kept in step with the attributes the
// kernel last got for it: the kernel bounds every page-cache read by the size it got with them,
// so the page contents must be exactly the text whose length it was told.
//   adopt()      a GETATTR/LOOKUP rendered `text`: it becomes the snapshot. The version (reported
//                as st_mtim) changes only when the text does, so the kernel drops its cached pages
//                exactly when they are stale, never needlessly.
//   forRead()    a READ fills pages from the snapshot. A READ normally right follows the getattr
//                that dropped the pages; if not (pages reclaimed), a snapshot older than `maxAge`
//                is replaced by a fresh rendering only if that has the same length (a different
//                length would be truncated or zero-padded by the kernel's size); otherwise the
//                old text is served whole and the next getattr brings the new one.
class PageSnapshot {
 public:
  explicit PageSnapshot(int64_t maxAgeNs) : maxAgeNs_(maxAgeNs) {}

  // monoNs: CLOCK_MONOTONIC (age), realNs: CLOCK_REALTIME (the version, i.e. st_mtim).
  void adopt(std::string text, int64_t monoNs, int64_t realNs);
  // `render` is called only when the snapshot is older than maxAge (or there is none yet).
  template <typename Render>
  const std::string& forRead(int64_t monoNs, int64_t realNs, Render&& render) {
    if (!valid_ || monoNs - renderedNs_ >= maxAgeNs_) refreshForRead(render(), monoNs, realNs);
    return text_;
  }

  const std::string& text() const { return text_; }
  // Nanoseconds since the epoch of the rendering that produced text(); strictly increases with
  // every change of the text (never repeats, even if the realtime clock steps back).
  int64_t versionNs() const { return versionNs_; }

 private:
  void refreshForRead(std::string fresh, int64_t monoNs, int64_t realNs);
  void set(std::string text, int64_t monoNs, int64_t realNs);

  int64_t maxAgeNs_;
  bool valid_ = false;
  std::string text_;
  int64_t renderedNs_ = 0;  // monotonic time text_ was last confirmed current
  int64_t versionNs_ = 0;
};

}  // namespace eci::procfs
