#define FUSE_USE_VERSION 34
#include "eci/procfs/manager.h"

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
#include <cstddef>
#include <cstring>
#include <iterator>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "eci/procfs/spec.h"
#include "eci/procfs/values.h"
#include "eci/sys.h"
#include "eci/unique_fd.h"

// Two FUSE connections per container, both served by the container's one thread:
//
//   static  <base>/<id>           proc/{uptime,swaps}, proc/sys (empty: the knobs' mount point),
//                                 sys/kernel/{debug,tracing,security,config}, .../product_uuid
//   knobs   <base>/<id>/proc/sys  the /proc/sys knobs
//
// The split exists for speed. The static connection answers the first OPEN with ENOSYS, after
// which the kernel never sends OPEN, FLUSH or RELEASE on it again (fuse_file_open sets
// fc->no_open, the file gets FOPEN_KEEP_CACHE; fuse_flush sets fc->no_flush), and reads come from
// the page cache. An open+read+close of /proc/uptime is then pure kernel work: no round trip, no
// context switch to us. Knobs cannot work that way (a write must be validated before the next
// read, and each open must see the latest value through direct_io), and fc->no_open is per
// connection, hence a second one.
//
// Freshness of /proc/uptime without round trips: its attributes are given a 10 ms timeout (the
// file's own resolution) and carry st_size = length of a fresh rendering and st_mtim = the time of
// that rendering. After the timeout the reader's own syscall refreshes them: open through
// fuse_permission (default_permissions), read(2) through fuse_cache_read_iter (auto_inval_data:
// fuse_update_attributes on every read). fuse_change_attributes then sees the new size/mtime and
// drops the cached page (truncate_pagecache / invalidate_inode_pages2) in the reader's context, so
// the READ that follows fetches the text rendered by that getattr (PageSnapshot, values.h). No
// server-side notify, so no lock ordering between us and the kernel.
//
// Liveness: the 10 ms attribute timeout also bounds how long a dead server's last text can be
// served: the next refresh fails with ENOTCONN.

namespace eci::procfs {
namespace {

// A READ's answer: `size` bytes of `text` from `off`, short or empty past its end.
void replySlice(fuse_req_t req, std::string_view text, size_t size, off_t off) {
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
constexpr off_t kKnobReportedSize = 8192;

// The trees never change, so the kernel may cache names and attributes for long. Static file
// contents never change either (their page cache stays valid), knobs bypass the page cache.
constexpr double kCacheSeconds = 3600.0;

// /proc/uptime: attributes valid for 10 ms, the resolution of the text itself. The kernel rounds
// the timeout up to jiffies (fuse_time_to_jiffies), so with HZ=250 a cached text is at most
// 12-16 ms old. A READ without a fresh getattr reuses a snapshot younger than this.
constexpr double kUptimeAttrSeconds = 0.01;
constexpr int64_t kUptimeMaxAgeNs = 10'000'000;

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

int64_t monoNs() {
  return clockNs(CLOCK_MONOTONIC);
}

timespec toTimespec(int64_t ns) {
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

double boottimeSeconds() {
  return static_cast<double>(clockNs(CLOCK_BOOTTIME)) / 1e9;
}

// Knobs: the per-open snapshot. Reads at any offset are served from it, so `cat` and short reads
// see one consistent text (lxcfs does the same).
struct OpenFile {
  std::string content;
};

// Requests counted per connection for status(): the e2e tests check that OPEN and RELEASE never
// reach the static connection after the first OPEN, and that reads are mostly kernel-only.
constexpr std::pair<uint32_t, const char*> kCountedOps[] = {
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
  std::atomic<bool> initDone{false};
  std::atomic<bool> dead{false};  // the kernel ended it (unmounted or aborted)
  std::atomic<uint64_t> requests{0};
  std::array<std::atomic<uint64_t>, std::size(kCountedOps)> ops{};
};

Connection& conn(fuse_req_t r) {
  return *static_cast<Connection*>(fuse_req_userdata(r));
}

}  // namespace

class Session {
 public:
  Session(const ManagerOptions& opt, ContainerInfo info, std::filesystem::path dir)
      : opt_(opt), info_(std::move(info)), dir_(std::move(dir)) {}
  ~Session() { stop(); }

  Status start();
  void stop();
  // True if a request has been in flight longer than `timeout`; aborts both connections then.
  bool checkHung(std::chrono::milliseconds timeout);
  bool healthy() const;
  nlohmann::json status() const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  void buildTrees();
  // Fills `st` and returns how long the kernel may cache it.
  double fillAttr(Connection& c, fuse_ino_t ino, struct stat* st);
  std::string render(const Node& n);
  std::string renderUptimeNow();
  std::optional<double> readHostIdle();  // the host's idle seconds, through hostUptime_
  Status mount(Connection& c, const fuse_lowlevel_ops& ops, const std::filesystem::path& at);
  Status waitInit(Connection& c);
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
  void knobWrite(Connection& c, fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size,
                 off_t off);
  // What both connections answer alike, then each one's table.
  static void setCommonOps(fuse_lowlevel_ops& o);
  static const fuse_lowlevel_ops& staticOps();
  static const fuse_lowlevel_ops& knobsOps();

  const ManagerOptions& opt_;
  const ContainerInfo info_;
  const std::filesystem::path dir_;
  Connection static_{*this, "static"};
  Connection knobs_{*this, "knobs"};
  std::mutex valuesMu_;  // values_ are written by the FUSE thread, read by status()
  std::vector<SysctlValue> values_;
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
  std::atomic<bool> aborted_{false};
  std::atomic<int64_t> busySinceNs_{0};
};

void Session::buildTrees() {
  Tree& st = static_.tree;
  const fuse_ino_t proc = st.ensureDir("proc");
  st.add(proc, "uptime", NodeKind::kUptime, S_IFREG | 0444);
  st.add(proc, "swaps", NodeKind::kSwaps, S_IFREG | 0444);
  st.ensureDir("proc/sys");  // the knobs connection is mounted here
  for (const char* d : {"debug", "tracing", "security", "config"})
    st.ensureDir(std::string("sys/kernel/") + d);
  st.add(st.ensureDir("sys/devices/virtual/dmi/id"), "product_uuid", NodeKind::kProductUuid,
         S_IFREG | 0400);

  for (const auto& spec : emulatedSysctls()) {
    // The initial value is the host's at container start; a knob this kernel lacks is left out
    // (bindProcSys skips what is not in the mount).
    auto text = fs::readFile(opt_.hostProcSys / spec.path, 4096);
    if (!text.ok()) {
      skipped_.emplace_back(spec.path);
      continue;
    }
    auto v = SysctlValue::fromHost(spec, *text);
    if (!v.ok()) {
      skipped_.emplace_back(spec.path);
      continue;
    }
    values_.push_back(std::move(*v));
    const std::string_view path = spec.path;  // relative to proc/sys, the knobs' root
    const auto slash = path.rfind('/');
    knobs_.tree.add(knobs_.tree.ensureDir(path.substr(0, slash)),
                    std::string(path.substr(slash + 1)), NodeKind::kSysctl, S_IFREG | 0644,
                    values_.size() - 1);
  }
}

double Session::fillAttr(Connection& c, fuse_ino_t ino, struct stat* st) {
  const Node& n = *c.tree.get(ino);
  *st = {};
  st->st_ino = ino;
  st->st_mode = n.mode;
  st->st_nlink = n.kind == NodeKind::kDir ? 2 : 1;
  // Owned by the container's root so that root inside may write its own values
  // (default_permissions makes the kernel check this against the caller's host uid).
  st->st_uid = info_.rootUid;
  st->st_gid = info_.rootGid;
  st->st_blksize = 4096;
  int64_t mtime = startRealNs_;
  double timeout = kCacheSeconds;
  switch (n.kind) {
    case NodeKind::kDir:
      break;
    case NodeKind::kUptime: {
      // Size and mtime of a fresh rendering, which the next READ serves (see the top of the file).
      // Equal text keeps the old mtime, so the cached page survives.
      uptime_.adopt(renderUptimeNow(), monoNs(), clockNs(CLOCK_REALTIME));
      st->st_size = static_cast<off_t>(uptime_.text().size());
      mtime = uptime_.versionNs();
      timeout = kUptimeAttrSeconds;
      break;
    }
    case NodeKind::kSwaps:
    case NodeKind::kProductUuid:
      st->st_size = static_cast<off_t>(render(n).size());
      break;
    case NodeKind::kSysctl:
      st->st_size = kKnobReportedSize;
      mtime = clockNs(CLOCK_REALTIME);
      break;
  }
  st->st_atim = st->st_mtim = st->st_ctim = toTimespec(mtime);
  return timeout;
}

std::string Session::renderUptimeNow() {
  const double up = boottimeSeconds() - startBoottime_;
  // The host's idle counter is sampled at most every 100 ms (a pread on a pre-opened fd, no path
  // walk): it keeps a refresh to a clock read, and idle is an estimate anyway.
  const int64_t now = monoNs();
  if (hostUptime_ && now - idleSampledNs_ > 100'000'000) {
    if (auto idle = readHostIdle()) idleSample_ = *idle - hostIdleAtStart_;
    idleSampledNs_ = now;
  }
  double idle = idleSample_;
  const double maxIdle = up * static_cast<double>(cpus_);
  if (idle > maxIdle) idle = maxIdle;
  return renderUptime(up, idle);
}

std::optional<double> Session::readHostIdle() {
  char buf[128];
  const ssize_t r = pread(hostUptime_.get(), buf, sizeof buf - 1, 0);
  if (r <= 0) return std::nullopt;
  auto host = parseUptime(std::string_view(buf, static_cast<size_t>(r)));
  if (!host) return std::nullopt;
  return host->second;
}

std::string Session::render(const Node& n) {
  switch (n.kind) {
    case NodeKind::kSwaps:
      return std::string(swapsHeader());
    case NodeKind::kSysctl: {
      std::lock_guard lk(valuesMu_);
      return values_[n.sysctl].render();
    }
    case NodeKind::kProductUuid:
      return uuid_ + "\n";
    case NodeKind::kUptime:  // served from uptime_'s snapshot (staticRead), never rendered here
    case NodeKind::kDir:
      break;
  }
  return {};
}

void Session::lookup(Connection& c, fuse_req_t req, fuse_ino_t parent, const char* name) {
  const fuse_ino_t ino = c.tree.child(parent, name);
  if (!ino) return (void)fuse_reply_err(req, ENOENT);
  fuse_entry_param e{};
  e.ino = ino;
  e.generation = 1;
  e.entry_timeout = kCacheSeconds;
  e.attr_timeout = fillAttr(c, ino, &e.attr);
  fuse_reply_entry(req, &e);
}

void Session::getattr(Connection& c, fuse_req_t req, fuse_ino_t ino) {
  if (!c.tree.get(ino)) return (void)fuse_reply_err(req, ENOENT);
  struct stat st;
  const double timeout = fillAttr(c, ino, &st);
  fuse_reply_attr(req, &st, timeout);
}

void Session::setattr(Connection& c, fuse_req_t req, fuse_ino_t ino, int toSet) {
  const Node* n = c.tree.get(ino);
  if (!n) return (void)fuse_reply_err(req, ENOENT);
  // `echo 1 > knob` opens with O_TRUNC, which arrives as a size change: accept it as procfs
  // does (a no-op). Owner and mode are fixed.
  constexpr int kAllowed = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                           FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
  if ((toSet & ~kAllowed) != 0) return (void)fuse_reply_err(req, EPERM);
  if ((toSet & FUSE_SET_ATTR_SIZE) && n->kind != NodeKind::kSysctl)
    return (void)fuse_reply_err(req, EACCES);
  struct stat st;
  const double timeout = fillAttr(c, ino, &st);
  fuse_reply_attr(req, &st, timeout);
}

void Session::readdir(Connection& c, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  const Node* n = c.tree.get(ino);
  if (!n) return (void)fuse_reply_err(req, ENOENT);
  if (n->kind != NodeKind::kDir) return (void)fuse_reply_err(req, ENOTDIR);
  std::vector<std::pair<std::string_view, fuse_ino_t>> entries{{".", ino}, {"..", n->parent}};
  for (fuse_ino_t ch : n->children) entries.emplace_back(c.tree.get(ch)->name, ch);
  std::string out(size, '\0');
  size_t used = 0;
  for (size_t i = static_cast<size_t>(std::max<off_t>(off, 0)); i < entries.size(); ++i) {
    struct stat st {};
    st.st_ino = entries[i].second;
    st.st_mode = c.tree.get(entries[i].second)->mode;
    const std::string name(entries[i].first);
    const size_t need = fuse_add_direntry(req, out.data() + used, size - used, name.c_str(), &st,
                                          static_cast<off_t>(i + 1));
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, out.data(), used);
}

void Session::staticOpen(Connection& c, fuse_req_t req, fuse_ino_t ino) {
  if (!c.tree.get(ino)) return (void)fuse_reply_err(req, ENOENT);
  // ENOSYS makes the kernel treat this and every later open on the connection as succeeded
  // without asking us (fuse_file_open: fc->no_open, FOPEN_KEEP_CACHE, no RELEASE). libfuse 3.14
  // only does this on its own (FUSE_CAP_NO_OPEN_SUPPORT in want) from 3.17 on, hence a handler.
  // Whatever the flags: a write is refused by the write handler, O_TRUNC by setattr (INIT turns
  // atomic_o_trunc off so that it reaches us).
  if (c.noOpen) return (void)fuse_reply_err(req, ENOSYS);
  // A kernel without zero-message opens (< 4.19): one round trip per open, reads still cached.
  fuse_file_info fi{};
  fi.keep_cache = 1;
  fuse_reply_open(req, &fi);
}

void Session::staticRead(Connection& c, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  const Node* n = c.tree.get(ino);
  if (!n || off < 0) return (void)fuse_reply_err(req, EINVAL);
  if (n->kind == NodeKind::kDir) return (void)fuse_reply_err(req, EISDIR);
  // The page cache is filled from here. /proc/uptime serves the snapshot whose size the kernel
  // got with the last getattr (it bounds reads by that size, fuse_short_read would shrink it).
  if (n->kind == NodeKind::kUptime)
    return replySlice(
        req,
        uptime_.forRead(monoNs(), clockNs(CLOCK_REALTIME), [this] { return renderUptimeNow(); }),
        size, off);
  replySlice(req, render(*n), size, off);
}

void Session::knobOpen(Connection& c, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  const Node* n = c.tree.get(ino);
  if (!n) return (void)fuse_reply_err(req, ENOENT);
  if (n->kind != NodeKind::kSysctl) return (void)fuse_reply_err(req, EISDIR);
  auto* f = new (std::nothrow) OpenFile{render(*n)};
  if (!f) return (void)fuse_reply_err(req, ENOMEM);
  fi->fh = reinterpret_cast<uint64_t>(f);
  // Re-grow i_size: a previous sendfile shrank it to that snapshot's length, and O_TRUNC opens
  // set it to 0. The kernel only grows i_size on a store of >= 1 byte, so store one byte as the
  // last byte of the reported size, on a page beyond any content (this open drops the page cache
  // anyway, no FOPEN_KEEP_CACHE). Best effort: if it fails sendfile may stop short, read() not.
  static char kPad = '\n';
  fuse_bufvec pad = FUSE_BUFVEC_INIT(1);
  pad.buf[0].mem = &kPad;
  (void)fuse_lowlevel_notify_store(c.se, ino, kKnobReportedSize - 1, &pad,
                                   FUSE_BUF_SPLICE_NONBLOCK);
  fi->direct_io = 1;  // a write must be seen by the next open: never serve from the page cache
  fi->keep_cache = 0;
  fi->noflush = 1;                              // nothing to flush: saves a round trip per close()
  if (fuse_reply_open(req, fi) != 0) delete f;  // the opener went away (interrupted)
}

void Session::knobWrite(Connection& c, fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size,
                        off_t off) {
  const Node* n = c.tree.get(ino);
  if (!n || n->kind != NodeKind::kSysctl) return (void)fuse_reply_err(req, EACCES);
  if (off < 0) return (void)fuse_reply_err(req, EINVAL);
  int err;
  {
    std::lock_guard lk(valuesMu_);
    err = values_[n->sysctl].write(std::string_view(buf, size), static_cast<uint64_t>(off));
  }
  if (err) return (void)fuse_reply_err(req, err);
  fuse_reply_write(req, size);
}

void Session::setCommonOps(fuse_lowlevel_ops& o) {
  o.lookup = [](fuse_req_t r, fuse_ino_t p, const char* name) {
    Connection& c = conn(r);
    c.session.lookup(c, r, p, name);
  };
  o.getattr = [](fuse_req_t r, fuse_ino_t ino, fuse_file_info*) {
    Connection& c = conn(r);
    c.session.getattr(c, r, ino);
  };
  o.setattr = [](fuse_req_t r, fuse_ino_t ino, struct stat*, int toSet, fuse_file_info*) {
    Connection& c = conn(r);
    c.session.setattr(c, r, ino, toSet);
  };
  o.readdir = [](fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
    Connection& c = conn(r);
    c.session.readdir(c, r, ino, size, off);
  };
  // No flush handler: libfuse answers ENOSYS once and the kernel stops sending FLUSH
  // (fuse_flush: fc->no_flush). No opendir/releasedir: libfuse answers them itself, and
  // directories keep being opened through us (no FOPEN_CACHE_DIR) so that a dead server fails
  // `ls` at once rather than serving a cached listing.
}

const fuse_lowlevel_ops& Session::staticOps() {
  static const fuse_lowlevel_ops kOps = [] {
    fuse_lowlevel_ops o{};
    setCommonOps(o);
    o.init = [](void* ud, fuse_conn_info* ci) {
      auto& c = *static_cast<Connection*>(ud);
      c.noOpen = (ci->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0;
      if (c.noOpen) ci->want |= FUSE_CAP_NO_OPEN_SUPPORT;  // documents intent; see staticOpen
      // Freshness relies on it (libfuse wants it by default; say so): with it, a changed mtime
      // drops the cached pages and every read(2) revalidates expired attributes.
      c.autoInvalData = (ci->capable & FUSE_CAP_AUTO_INVAL_DATA) != 0;
      if (c.autoInvalData) ci->want |= FUSE_CAP_AUTO_INVAL_DATA;
      // With atomic_o_trunc and no OPEN, an O_TRUNC open would zero i_size and drop the pages
      // in the kernel only (fuse_do_setattr, ATTR_OPEN), blanking swaps for an hour in that
      // container. Without it the truncation comes to setattr, which refuses it.
      ci->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
      c.initDone = true;
    };
    o.open = [](fuse_req_t r, fuse_ino_t ino, fuse_file_info*) {
      Connection& c = conn(r);
      c.session.staticOpen(c, r, ino);
    };
    // Reads come without a file handle (no OPEN, so fh is 0): the inode says what to serve.
    o.read = [](fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
      Connection& c = conn(r);
      c.session.staticRead(c, r, ino, size, off);
    };
    // Host root passes default_permissions for writing (and so does the container's root,
    // whose CAP_DAC_OVERRIDE covers files it owns); nothing here is writable. The kernel marks
    // the written page not uptodate on the error (fuse_send_write_pages), so nothing sticks.
    o.write = [](fuse_req_t r, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) {
      fuse_reply_err(r, EACCES);
    };
    return o;
  }();
  return kOps;
}

const fuse_lowlevel_ops& Session::knobsOps() {
  static const fuse_lowlevel_ops kOps = [] {
    fuse_lowlevel_ops o{};
    setCommonOps(o);
    o.init = [](void* ud, fuse_conn_info*) { static_cast<Connection*>(ud)->initDone = true; };
    o.open = [](fuse_req_t r, fuse_ino_t ino, fuse_file_info* fi) {
      Connection& c = conn(r);
      c.session.knobOpen(c, r, ino, fi);
    };
    o.read = [](fuse_req_t r, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
      // fh is the pointer our open handler stored: FUSE hands it back as an integer.
      const auto* f =
          reinterpret_cast<const OpenFile*>(fi->fh);  // NOLINT(performance-no-int-to-ptr)
      if (!f) return (void)fuse_reply_err(r, EINVAL);
      replySlice(r, f->content, size, off);
    };
    o.write = [](fuse_req_t r, fuse_ino_t ino, const char* b, size_t s, off_t off,
                 fuse_file_info*) {
      Connection& c = conn(r);
      c.session.knobWrite(c, r, ino, b, s, off);
    };
    o.release = [](fuse_req_t r, fuse_ino_t, fuse_file_info* fi) {
      delete reinterpret_cast<OpenFile*>(fi->fh);  // NOLINT(performance-no-int-to-ptr): see read
      fuse_reply_err(r, 0);
    };
    return o;
  }();
  return kOps;
}

Status Session::mount(Connection& c, const fuse_lowlevel_ops& ops,
                      const std::filesystem::path& at) {
  c.mountpoint = at;
  const char* argv[] = {"eci-procfs"};
  fuse_args args = FUSE_ARGS_INIT(1, const_cast<char**>(argv));
  c.se = fuse_session_new(&args, &ops, sizeof(fuse_lowlevel_ops), &c);
  fuse_opt_free_args(&args);
  if (!c.se) return Error("fuse_session_new('" + at.string() + "') failed");
  // We mount ourselves (as libfuse would as root) so that we also own the unmount: libfuse's
  // unmounts by path, and a path walk to the knobs' mount point goes through the static
  // connection, i.e. through a server that may be stopped or hung by then.
  ECI_ASSIGN_OR_RETURN(dev, sys::open("/dev/fuse", O_RDWR));
  // allow_other: the readers are the container's processes, not us. default_permissions: the
  // kernel checks mode/owner (the container's root) so only root inside writes knobs, and it
  // refreshes expired attributes on every open (fuse_permission), which keeps /proc/uptime fresh
  // for sendfile readers too. nosuid/nodev/noexec: nothing here is meant to run.
  const std::string opts = "fd=" + std::to_string(dev.get()) +
                           ",rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions";
  if (::mount("eci-procfs", at.c_str(), kFuseType, MS_NOSUID | MS_NODEV | MS_NOEXEC,
              opts.c_str()) != 0)
    return Error::fromErrno("mount('" + at.string() + "', fuse.eci)",
                            "is /dev/fuse present and the fuse module loaded?");
  // Opening the root crosses into the new mount without any request to it (the INIT is still
  // unanswered: the FUSE thread does not poll this fd yet).
  auto root = sys::open(at.string(), O_PATH | O_DIRECTORY);
  if (!root.ok()) {
    ::umount2(at.c_str(), MNT_DETACH);
    return std::move(root).error();
  }
  c.root = std::move(*root);
  // "/dev/fd/N": libfuse takes the already mounted fd (and closes it in fuse_session_destroy).
  const std::string devPath = "/dev/fd/" + std::to_string(dev.get());
  if (fuse_session_mount(c.se, devPath.c_str()) != 0) {
    unmount(c);
    return Error(EIO, "fuse_session_mount('" + devPath + "') for '" + at.string() + "'");
  }
  c.fd = dev.release();
  return {};
}

Status Session::waitInit(Connection& c) {
  // The kernel's INIT is queued at mount; it must be answered before the mount is usable.
  const int64_t deadline = monoNs() + 5'000'000'000;
  while (!c.initDone && !threadEnded_ && !c.dead && monoNs() < deadline) usleep(200);
  if (!c.initDone) return Error(ETIMEDOUT, "FUSE INIT on '" + c.mountpoint.string() + "'");
  struct stat st {};
  if (::fstat(c.root.get(), &st) != 0)
    return Error::fromErrno("stat('" + c.mountpoint.string() + "')");
  // fusectl names a connection by the kernel's dev_t of the superblock (MKDEV: major << 20).
  c.connId = (static_cast<unsigned long>(major(st.st_dev)) << 20) | minor(st.st_dev);
  return {};
}

void Session::unmount(Connection& c) {
  if (!c.root) return;
  // Through the root's O_PATH fd (the magic link resolves to that mount without a path walk).
  // Lazily: binds still held by a dying container keep the superblock; they fail with ENOTCONN
  // once stop() closes /dev/fuse.
  const std::string path = "/proc/self/fd/" + std::to_string(c.root.get());
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    LOG_WARN("procfs %s: unmounting %s connection at %s: %s", info_.id.c_str(), c.name,
             c.mountpoint.c_str(), std::strerror(errno));
  c.root.reset();
}

void Session::wake() {
  const uint64_t one = 1;
  if (::write(wakeFd_.get(), &one, sizeof one) < 0) {
    // An eventfd write fails only on counter overflow, impossible here; nothing else to do.
  }
}

Status Session::start() {
  buildTrees();
  uuid_ = productUuid(info_.id);
  startBoottime_ = boottimeSeconds();
  startRealNs_ = clockNs(CLOCK_REALTIME);
  cpus_ = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  if (auto fd = sys::open(opt_.hostUptime.string(), O_RDONLY); fd.ok()) {
    hostUptime_ = std::move(*fd);
    hostIdleAtStart_ = readHostIdle().value_or(0);
  }
  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return Error::fromErrno("eventfd()");
  wakeFd_.reset(efd);

  ECI_TRY(mount(static_, staticOps(), dir_));
  thread_ = std::thread([this] { loop(); });
  ECI_TRY(waitInit(static_));
  if (!static_.autoInvalData)
    return Error(ENOTSUP, "FUSE on this kernel lacks auto_inval_data (Linux >= 3.6 has it)");
  // On top of the static connection's proc/sys: mount(2) walks there through the static
  // connection, which the thread already serves.
  ECI_TRY(mount(knobs_, knobsOps(), dir_ / "proc" / "sys"));
  wake();  // poll the new /dev/fuse fd too
  ECI_TRY(waitInit(knobs_));
  return {};
}

void Session::loop() {
  Connection* const conns[] = {&static_, &knobs_};
  while (!stopping_) {
    pollfd p[3];
    for (size_t i = 0; i < 2; ++i)  // poll ignores negative fds: not mounted yet, or dead
      p[i] = {conns[i]->dead ? -1 : conns[i]->fd.load(), POLLIN, 0};
    p[2] = {wakeFd_.get(), POLLIN, 0};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[2].revents) {
      uint64_t v;
      (void)!::read(wakeFd_.get(), &v, sizeof v);
      continue;  // re-check stopping_, re-read the fds
    }
    for (size_t i = 0; i < 2; ++i)
      if (p[i].revents) serve(*conns[i], p[i].revents);
  }
  threadEnded_ = true;
}

void Session::serve(Connection& c, short revents) {
  if (!(revents & POLLIN)) {  // POLLERR: unmounted or aborted
    c.dead = true;
    return;
  }
  const int res = fuse_session_receive_buf(c.se, &c.buf);
  if (res == -EINTR || res == -EAGAIN) return;
  if (res <= 0) {  // -ENODEV (libfuse returns 0 then): unmounted or aborted
    c.dead = true;
    return;
  }
  if (!(c.buf.flags & FUSE_BUF_IS_FD) && c.buf.size >= sizeof(fuse_in_header)) {
    uint32_t opcode;
    std::memcpy(&opcode, static_cast<const char*>(c.buf.mem) + offsetof(fuse_in_header, opcode),
                sizeof opcode);
    for (size_t i = 0; i < std::size(kCountedOps); ++i)
      if (kCountedOps[i].first == opcode) c.ops[i].fetch_add(1, std::memory_order_relaxed);
  }
  busySinceNs_ = monoNs();
  fuse_session_process_buf(c.se, &c.buf);
  busySinceNs_ = 0;
  c.requests.fetch_add(1, std::memory_order_relaxed);
}

Status Session::abortConnection(const Connection& c) {
  // fusectl is often not mounted; mounting it is harmless and only needed here.
  const auto abortFile = opt_.fusectl / std::to_string(c.connId) / "abort";
  if (::access(abortFile.c_str(), F_OK) != 0) {
    if (::mount("fusectl", opt_.fusectl.c_str(), "fusectl", 0, nullptr) != 0 && errno != EBUSY)
      return Error::fromErrno("mount('fusectl', '" + opt_.fusectl.string() + "', 'fusectl')");
  }
  auto fd = sys::open(abortFile.string(), O_WRONLY);
  if (!fd.ok()) return std::move(fd).error();
  if (::write(fd->get(), "1", 1) != 1)
    return Error::fromErrno("write('" + abortFile.string() + "')");
  return {};
}

bool Session::checkHung(std::chrono::milliseconds timeout) {
  const int64_t since = busySinceNs_;
  if (since == 0 || aborted_) return false;
  if (monoNs() - since < std::chrono::nanoseconds(timeout).count()) return false;
  // One thread serves both connections: a stuck handler stalls both, so both are aborted.
  for (const Connection* c : {&knobs_, &static_}) {
    if (c->connId == 0) continue;
    if (auto st = abortConnection(*c); !st.ok())
      LOG_WARN("procfs %s: aborting the hung %s FUSE connection: %s", info_.id.c_str(), c->name,
               st.error().str().c_str());
  }
  aborted_ = true;
  return true;
}

bool Session::healthy() const {
  for (const Connection* c : {&static_, &knobs_})
    if (!c->initDone || c->dead) return false;
  return !threadEnded_ && !aborted_;
}

void Session::stop() {
  // Knobs first: that mount sits on the static connection's proc/sys.
  unmount(knobs_);
  unmount(static_);
  if (thread_.joinable()) {
    stopping_ = true;
    wake();
    thread_.join();
  }
  for (Connection* c : {&knobs_, &static_}) {
    // Closes /dev/fuse: with no server left the kernel aborts the connection, so binds still
    // held by a dying container fail with ENOTCONN instead of pinning us.
    if (c->se) fuse_session_destroy(c->se);
    c->se = nullptr;
    c->fd = -1;
    free(c->buf.mem);
    c->buf.mem = nullptr;
  }
}

nlohmann::json Session::status() const {
  nlohmann::json j;
  j["dir"] = dir_.string();
  j["healthy"] = healthy();
  j["aborted"] = aborted_.load();
  j["skipped"] = skipped_;
  uint64_t total = 0;
  for (const Connection* c : {&static_, &knobs_}) {
    nlohmann::json cj;
    cj["mountpoint"] = c->mountpoint.string();
    cj["fusectl"] = c->connId;
    cj["initialized"] = c->initDone.load();
    cj["dead"] = c->dead.load();
    cj["requests"] = c->requests.load();
    nlohmann::json ops = nlohmann::json::object();
    for (size_t i = 0; i < std::size(kCountedOps); ++i)
      ops[kCountedOps[i].second] = c->ops[i].load(std::memory_order_relaxed);
    cj["ops"] = std::move(ops);
    total += c->requests.load();
    j["connections"][c->name] = std::move(cj);
  }
  j["requests"] = total;
  return j;
}

Manager::Manager(ManagerOptions options) : opt_(std::move(options)) {}

Manager::~Manager() {
  std::lock_guard lk(mu_);
  for (auto& [id, s] : sessions_) {
    s->stop();
    std::error_code ec;
    std::filesystem::remove(s->dir(), ec);
  }
  sessions_.clear();
}

bool Manager::validId(const std::string& id) {
  return validContainerId(id);
}

Status Manager::cleanupStale() {
  std::error_code ec;
  if (!std::filesystem::exists(opt_.base, ec)) return {};
  std::lock_guard lk(mu_);
  for (const auto& e : std::filesystem::directory_iterator(opt_.base, ec)) {
    if (sessions_.count(e.path().filename().string())) continue;
    // A dead FUSE mount fails stat() with ENOTCONN; unmount whatever is there. A lazy unmount
    // takes the knobs mount on top of it along.
    if (::umount2(e.path().c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
      return Error::fromErrno("umount2('" + e.path().string() + "', MNT_DETACH)");
    if (::rmdir(e.path().c_str()) != 0 && errno != ENOENT)
      return Error::fromErrno("rmdir('" + e.path().string() + "')");
  }
  if (ec) return Error(ec.value(), "listing '" + opt_.base.string() + "'");
  return {};
}

Result<std::filesystem::path> Manager::add(const ContainerInfo& info) {
  if (!validId(info.id)) return Error(EINVAL, "procfs: invalid container id '" + info.id + "'");
  std::lock_guard lk(mu_);
  if (auto it = sessions_.find(info.id); it != sessions_.end()) {
    if (it->second->healthy()) return it->second->dir();
    it->second->stop();
    sessions_.erase(it);
  }
  ECI_TRY(fs::makeDirs(opt_.base, 0755));
  const auto dir = opt_.base / info.id;
  // A leftover (dead) mount from a previous instance is replaced, never reused.
  ::umount2(dir.c_str(), MNT_DETACH);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return Error::fromErrno("mkdir('" + dir.string() + "')");
  auto s = std::make_unique<Session>(opt_, info, dir);
  if (auto st = s->start(); !st.ok()) {
    s->stop();
    ::rmdir(dir.c_str());
    return std::move(st).error().wrap("procfs emulation for container " + info.id);
  }
  sessions_.emplace(info.id, std::move(s));
  return dir;
}

Status Manager::remove(const std::string& id) {
  std::unique_ptr<Session> s;
  {
    std::lock_guard lk(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return {};
    s = std::move(it->second);
    sessions_.erase(it);
  }
  const auto dir = s->dir();
  s->stop();
  s.reset();
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
    return Error::fromErrno("rmdir('" + dir.string() + "')");
  return {};
}

size_t Manager::checkHealth() {
  std::lock_guard lk(mu_);
  size_t bad = 0;
  for (auto& [id, s] : sessions_) {
    s->checkHung(opt_.hangTimeout);
    if (!s->healthy()) ++bad;
  }
  return bad;
}

nlohmann::json Manager::status() const {
  std::lock_guard lk(mu_);
  nlohmann::json j;
  j["base"] = opt_.base.string();
  j["containers"] = sessions_.size();
  size_t bad = 0;
  for (const auto& [id, s] : sessions_)
    if (!s->healthy()) ++bad;
  j["unhealthy"] = bad;
  return j;
}

Result<nlohmann::json> Manager::status(const std::string& id) const {
  std::lock_guard lk(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end())
    return Error(ENOENT, "procfs: no emulation for container '" + id + "'");
  return it->second->status();
}

size_t Manager::size() const {
  std::lock_guard lk(mu_);
  return sessions_.size();
}

}  // namespace eci::procfs
