// The per-container FUSE session of eci_procfs (manager.h): its inode trees, its two
// connections and the Session class. Private to src/ (manager.cc, session.cc, session_fuse.cc);
// manager.cc says why there are two connections and how /proc/uptime stays fresh.
#pragma once

#define FUSE_USE_VERSION 34
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "eci/procfs/held_state.h"
#include "eci/procfs/knob_handles.h"
#include "eci/procfs/manager.h"
#include "eci/procfs/spec.h"
#include "eci/procfs/values.h"
#include "eci/sys.h"
#include "eci/unique_fd.h"

namespace eci::procfs {

class Session;

// A READ's answer: `size` bytes of `text` from `off`, short or empty past its end.
inline void replySlice(fuse_req_t req, std::string_view text, size_t size, off_t off) {
  if (off < 0) return (void)fuse_reply_err(req, EINVAL);
  if (static_cast<size_t>(off) >= text.size()) return (void)fuse_reply_buf(req, nullptr, 0);
  fuse_reply_buf(req, text.data() + off, std::min(size, text.size() - static_cast<size_t>(off)));
}

// Knobs: what getattr reports as a knob's size, and what open() resets the kernel's i_size to.
// Since Linux 6.5 FUSE serves splice/sendfile from the page cache even for direct_io files
// (filemap_splice_read), bounded by i_size: with procfs' size 0, busybox `cat` (sendfile) would
// print nothing. A size larger than any content lets the page-cache read happen; the kernel then
// shrinks i_size to the real length on the short READ (fuse_short_read), so sendfile stops at
// the end of the snapshot. sysbox-fs reports 32K for the same reason.
inline constexpr off_t kKnobReportedSize = 8192;

// The trees never change, so the kernel may cache names and attributes for long. Static file
// contents never change either (their page cache stays valid), knobs bypass the page cache.
inline constexpr double kCacheSeconds = 3600.0;

// /proc/uptime: attributes valid for 10 ms, the resolution of the text itself. The kernel rounds
// the timeout up to jiffies (fuse_time_to_jiffies), so with HZ=250 a cached text is at most
// 12-16 ms old. A READ without a fresh getattr reuses a snapshot younger than this.
inline constexpr double kUptimeAttrSeconds = 0.01;
inline constexpr int64_t kUptimeMaxAgeNs = 10'000'000;

enum class NodeKind { kDir, kUptime, kSwaps, kSysctl, kProductUuid };

struct Node {
  std::string name;
  fuse_ino_t parent = FUSE_ROOT_ID;
  NodeKind kind = NodeKind::kDir;
  mode_t mode = 0;
  size_t sysctl = 0;  // index into the session's values (kSysctl)
  std::vector<fuse_ino_t> children;
};

// One connection's inode table: inode n is nodes_[n - 1], inode 1 is the root.
class Tree {
 public:
  Tree() { nodes_.push_back(Node{"", FUSE_ROOT_ID, NodeKind::kDir, S_IFDIR | 0555, 0, {}}); }

  fuse_ino_t add(fuse_ino_t parent, std::string name, NodeKind kind, mode_t mode,
                 size_t sysctl = 0) {
    nodes_.push_back(Node{std::move(name), parent, kind, mode, sysctl, {}});
    const fuse_ino_t ino = nodes_.size();
    nodes_[parent - 1].children.push_back(ino);
    return ino;
  }

  // Creates the directories of `relPath` ("a/b/c") that do not exist; returns the last one.
  fuse_ino_t ensureDir(std::string_view relPath) {
    fuse_ino_t cur = FUSE_ROOT_ID;
    size_t i = 0;
    while (i < relPath.size()) {
      size_t j = relPath.find('/', i);
      if (j == std::string_view::npos) j = relPath.size();
      const std::string_view part = relPath.substr(i, j - i);
      fuse_ino_t next = child(cur, part);
      if (!next) next = add(cur, std::string(part), NodeKind::kDir, S_IFDIR | 0555);
      cur = next;
      i = j + 1;
    }
    return cur;
  }

  const Node* get(fuse_ino_t ino) const {
    return ino >= 1 && ino <= nodes_.size() ? &nodes_[ino - 1] : nullptr;
  }

  fuse_ino_t child(fuse_ino_t parent, std::string_view name) const {
    const Node* p = get(parent);
    if (!p) return 0;
    for (fuse_ino_t c : p->children)
      if (nodes_[c - 1].name == name) return c;
    return 0;
  }

 private:
  std::vector<Node> nodes_;
};

using sys::clockNs;

inline int64_t monoNs() {
  return clockNs(CLOCK_MONOTONIC);
}

inline timespec toTimespec(int64_t ns) {
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

inline double boottimeSeconds() {
  return static_cast<double>(clockNs(CLOCK_BOOTTIME)) / 1e9;
}

// Requests counted per connection for status(): the e2e tests check that OPEN and RELEASE never
// reach the static connection after the first OPEN, and that reads are mostly kernel-only.
inline constexpr std::pair<uint32_t, const char*> kCountedOps[] = {
    {FUSE_LOOKUP, "lookup"},   {FUSE_GETATTR, "getattr"}, {FUSE_SETATTR, "setattr"},
    {FUSE_OPEN, "open"},       {FUSE_READ, "read"},       {FUSE_WRITE, "write"},
    {FUSE_RELEASE, "release"}, {FUSE_FLUSH, "flush"},     {FUSE_OPENDIR, "opendir"},
    {FUSE_READDIR, "readdir"}, {FUSE_FORGET, "forget"},   {FUSE_INTERRUPT, "interrupt"},
};

// One FUSE connection of a session (its fuse_session's userdata).
struct Connection {
  Connection(Session& s, const char* n) : session(s), name(n) {}

  Session& session;
  const char* const name;  // "static" or "knobs"
  Tree tree;
  std::filesystem::path mountpoint;
  fuse_session* se = nullptr;
  fuse_buf buf{};              // FUSE thread only
  std::atomic<int> fd{-1};     // /dev/fuse; published to the FUSE thread once mounted
  UniqueFd root;               // O_PATH on the mount's root, to unmount it without a path walk
  unsigned long connId = 0;    // its name in fusectl
  bool noOpen = false;         // FUSE thread: the kernel does zero-message opens (static)
  bool autoInvalData = false;  // FUSE thread, then start(): set during INIT (static)
  InitRecord init;             // FUSE thread, then start(): the kernel's INIT, kept for a resume
  std::atomic<bool> initDone{false};
  std::atomic<bool> dead{false};  // the kernel ended it (unmounted or aborted)
  std::atomic<uint64_t> requests{0};
  // Restarts: requests that came with FUSE_UNIQUE_RESEND (read, unanswered, by the previous
  // process; the kernel sent them again after our FUSE_NOTIFY_RESEND), and what that notify's
  // write returned (-1: not sent, this session was not resumed; 0: done; else the errno).
  std::atomic<uint64_t> resentRequests{0};
  std::atomic<int> resendResult{-1};
  std::array<std::atomic<uint64_t>, std::size(kCountedOps)> ops{};
};

inline Connection& conn(fuse_req_t r) {
  return *static_cast<Connection*>(fuse_req_userdata(r));
}

class Session {
 public:
  Session(const ManagerOptions& opt, ContainerInfo info, std::filesystem::path dir)
      : opt_(opt), info_(std::move(info)), dir_(std::move(dir)) {}
  ~Session() { stop(); }

  Status start();
  // Serves again the connections a previous eci-enforcerd left with the fd holder: `held` is
  // what heldFds() listed, in that order. Nothing is mounted; on failure the caller stop()s, which
  // unmounts lazily (the container then gets ENOTCONN, never host values).
  Status resume(std::vector<UniqueFd> held);
  // What the fd holder keeps: both /dev/fuse fds, both mount roots (O_PATH), the state memfd.
  std::vector<int> heldFds() const;
  static constexpr size_t kHeldFdCount = 5;
  void stop();
  // Stops serving without unmounting or aborting anything (a graceful stop while the fd holder
  // keeps the connections): requests wait in the kernel for the next eci-enforcerd.
  void detach();
  bool resumed() const { return resumed_; }
  // Wakes waitInit(): a connection's INIT was answered, it died, or the FUSE thread ended.
  void signalInit() {
    std::lock_guard<std::mutex> lk(initMu_);
    initCv_.notify_all();
  }
  // True if a request has been in flight longer than `timeout`; aborts both connections then.
  bool checkHung(std::chrono::milliseconds timeout);
  bool healthy() const;
  nlohmann::json status() const;
  // Restarts: requests the kernel sent again (FUSE_UNIQUE_RESEND) on both connections, and knob
  // handles of a previous process adopted (for the manager's totals).
  uint64_t resentRequests() const {
    return static_.resentRequests.load() + knobs_.resentRequests.load();
  }
  uint64_t adoptedKnobHandles() const { return knobFiles_.adopted(); }
  uint64_t resendFailures() const {
    return (static_.resendResult.load() > 0 ? 1 : 0) + (knobs_.resendResult.load() > 0 ? 1 : 0);
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  // The FUSE thread stopped and joined; both libfuse sessions destroyed (closing our /dev/fuse
  // copies). For stop() and detach().
  void joinThread();
  void destroyConnections();
  void buildTrees();
  // Fills `st` and returns how long the kernel may cache it.
  double fillAttr(Connection& c, fuse_ino_t ino, struct stat* st);
  std::string render(const Node& n);
  std::string renderUptimeNow();
  std::optional<double> readHostIdle();  // the host's idle seconds, through hostUptime_
  Status mount(Connection& c, const fuse_lowlevel_ops& ops, const std::filesystem::path& at);
  Status waitInit(Connection& c);
  // resume(): a new libfuse session on a held connection, fed the kernel's original INIT.
  Status attach(Connection& c, const fuse_lowlevel_ops& ops, const std::filesystem::path& at,
                UniqueFd dev, UniqueFd root, const InitRecord& init);
  Status connIdOf(Connection& c);
  // resume(): asks the kernel to send again what the previous process read but did not answer.
  void notifyResend(Connection& c);
  // Rewrites the state memfd (held_state.h) from what we have now: at start, on every knob write.
  void saveState();
  void unmount(Connection& c);
  void wake();
  void loop();
  void serve(Connection& c, short revents);
  Status abortConnection(const Connection& c);

  // FUSE handlers (the ops tables below pass the connection the request came on).
  void lookup(Connection& c, fuse_req_t req, fuse_ino_t parent, const char* name);
  void getattr(Connection& c, fuse_req_t req, fuse_ino_t ino);
  void setattr(Connection& c, fuse_req_t req, fuse_ino_t ino, int toSet);
  void readdir(Connection& c, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
  void staticOpen(Connection& c, fuse_req_t req, fuse_ino_t ino);
  void staticRead(Connection& c, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
  void knobOpen(Connection& c, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void knobRead(Connection& c, fuse_req_t req, fuse_ino_t ino, uint64_t fh, size_t size, off_t off);
  void knobWrite(Connection& c, fuse_req_t req, fuse_ino_t ino, uint64_t fh, const char* buf,
                 size_t size, off_t off);
  // The snapshot handle `fh` reads on `ino` (knob_handles.h: adopts a previous process's handle
  // on a knob node in a resumed session), or nullptr.
  const std::string* knobSnapshot(Connection& c, fuse_ino_t ino, uint64_t fh);
  // What both connections answer alike, then each one's table.
  static void setCommonOps(fuse_lowlevel_ops& o);
  static const fuse_lowlevel_ops& staticOps();
  static const fuse_lowlevel_ops& knobsOps();

  const ManagerOptions& opt_;
  ContainerInfo info_;  // resume() sets the root uid/gid from the held state
  const std::filesystem::path dir_;
  Connection static_{*this, "static"};
  Connection knobs_{*this, "knobs"};
  std::mutex valuesMu_;  // values_ are written by the FUSE thread, read by status()
  std::vector<SysctlValue> values_;
  UniqueFd stateFd_;  // memfd of the HeldState; the fd holder holds the same file
  bool resumed_ = false;
  // Knobs' open files by fh (knob_handles.h). A handle is looked up, never cast from the kernel's
  // integer; after a resume the kernel still has handles of the previous process: on a knob node
  // they get a fresh snapshot of this container's value, on anything else nothing.
  KnobHandles knobFiles_;             // FUSE thread only (but adopted(), read by status())
  std::vector<std::string> skipped_;  // knobs this kernel does not have
  std::string uuid_;
  PageSnapshot uptime_{kUptimeMaxAgeNs};  // FUSE thread only
  int64_t startRealNs_ = 0;               // st_mtim of everything that never changes
  double startBoottime_ = 0;
  double hostIdleAtStart_ = 0;
  double idleSample_ = 0;      // FUSE thread only
  int64_t idleSampledNs_ = 0;  // FUSE thread only
  long cpus_ = 1;
  UniqueFd hostUptime_;
  UniqueFd wakeFd_;  // eventfd: stop, or a new connection to poll
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::atomic<bool> threadEnded_{false};
  std::mutex initMu_;  // with initCv_: waitInit() sleeps until signalInit(), not in a poll loop
  std::condition_variable initCv_;
  std::atomic<bool> aborted_{false};
  std::atomic<int64_t> busySinceNs_{0};
};

}  // namespace eci::procfs
