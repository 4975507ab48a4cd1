#define FUSE_USE_VERSION 34
#include "eci/procfs/manager.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "eci/procfs/spec.h"
#include "eci/procfs/values.h"
#include "eci/sys.h"
#include "eci/unique_fd.h"

namespace eci::procfs {
namespace {

// What getattr reports as a file's size, and what open() resets the kernel's i_size to. Since
// Linux 6.5 FUSE serves splice/sendfile from the page cache even for direct_io files
// (filemap_splice_read), bounded by i_size: with procfs' size 0, busybox `cat` (sendfile) would
// print nothing. A size larger than any content lets the page-cache read happen; the kernel then
// shrinks i_size to the real length on the short READ (fuse_short_read), so sendfile stops at
// the end of the snapshot. sysbox-fs reports 32K for the same reason.
constexpr off_t kReportedSize = 8192;

// The static tree is tiny and never changes, so the kernel may cache names and attributes for
// long; only file contents are dynamic, and those bypass the page cache (direct_io).
constexpr double kCacheSeconds = 3600.0;

enum class NodeKind { kDir, kUptime, kSwaps, kSysctl, kProductUuid };

struct Node {
  std::string name;
  fuse_ino_t parent = FUSE_ROOT_ID;
  NodeKind kind = NodeKind::kDir;
  mode_t mode = 0;
  size_t sysctl = 0;  // index into the session's values (kSysctl)
  std::vector<fuse_ino_t> children;
};

int64_t monoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

double boottimeSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The per-open snapshot: reads at any offset are served from it, so `cat` and short reads see
// one consistent text (lxcfs does the same).
struct OpenFile {
  std::string content;
};

}  // namespace

class Session {
 public:
  Session(const ManagerOptions& opt, ContainerInfo info, std::filesystem::path dir)
      : opt_(opt), info_(std::move(info)), dir_(std::move(dir)) {}
  ~Session() { stop(); }

  Status start();
  void stop();
  // True if a request has been in flight longer than `timeout`; aborts the connection then.
  bool checkHung(std::chrono::milliseconds timeout);
  bool healthy() const { return initDone_ && !threadEnded_ && !aborted_; }
  nlohmann::json status() const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  void buildTree();
  fuse_ino_t addNode(fuse_ino_t parent, std::string name, NodeKind kind, mode_t mode,
                     size_t sysctl = 0);
  fuse_ino_t ensureDir(const std::string& relPath);
  void fillAttr(fuse_ino_t ino, struct stat* st) const;
  std::string render(const Node& n);
  void loop();
  Status abortConnection();

  // FUSE handlers (static trampolines below).
  void lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
  void getattr(fuse_req_t req, fuse_ino_t ino);
  void setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int toSet);
  void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void read(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi);
  void write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off);
  void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
  static const fuse_lowlevel_ops& ops();

  const ManagerOptions& opt_;
  const ContainerInfo info_;
  const std::filesystem::path dir_;
  std::vector<Node> nodes_;  // inode n is nodes_[n - 1]; inode 1 is the root
  std::mutex valuesMu_;      // values_ are written by the FUSE thread, read by status()
  std::vector<SysctlValue> values_;
  std::vector<std::string> skipped_;  // knobs this kernel does not have
  std::string uuid_;
  double startBoottime_ = 0;
  double hostIdleAtStart_ = 0;
  double idleSample_ = 0;      // FUSE thread only
  int64_t idleSampledNs_ = 0;  // FUSE thread only
  long cpus_ = 1;
  UniqueFd hostUptime_;
  fuse_session* se_ = nullptr;
  UniqueFd stopFd_;
  std::thread thread_;
  bool mounted_ = false;
  unsigned long connId_ = 0;
  std::atomic<bool> initDone_{false};
  std::atomic<bool> threadEnded_{false};
  std::atomic<bool> aborted_{false};
  std::atomic<int64_t> busySinceNs_{0};
  std::atomic<uint64_t> requests_{0};
};

fuse_ino_t Session::addNode(fuse_ino_t parent, std::string name, NodeKind kind, mode_t mode,
                            size_t sysctl) {
  nodes_.push_back(Node{std::move(name), parent, kind, mode, sysctl, {}});
  const fuse_ino_t ino = nodes_.size();
  if (ino != FUSE_ROOT_ID) nodes_[parent - 1].children.push_back(ino);
  return ino;
}

fuse_ino_t Session::ensureDir(const std::string& relPath) {
  fuse_ino_t cur = FUSE_ROOT_ID;
  size_t i = 0;
  while (i < relPath.size()) {
    size_t j = relPath.find('/', i);
    if (j == std::string::npos) j = relPath.size();
    const std::string part = relPath.substr(i, j - i);
    fuse_ino_t next = 0;
    for (fuse_ino_t c : nodes_[cur - 1].children)
      if (nodes_[c - 1].name == part) next = c;
    if (!next) next = addNode(cur, part, NodeKind::kDir, S_IFDIR | 0555);
    cur = next;
    i = j + 1;
  }
  return cur;
}

void Session::buildTree() {
  addNode(FUSE_ROOT_ID, "", NodeKind::kDir, S_IFDIR | 0555);
  const fuse_ino_t proc = ensureDir("proc");
  addNode(proc, "uptime", NodeKind::kUptime, S_IFREG | 0444);
  addNode(proc, "swaps", NodeKind::kSwaps, S_IFREG | 0444);
  for (const auto& spec : emulatedSysctls()) {
    // The initial value is the host's at container start; a knob this kernel lacks is left out
    // (eci-runc binds only what exists in the mount).
    auto text = fs::readFile(opt_.hostProcSys / spec.path, 4096);
    if (!text.ok()) {
      skipped_.push_back(spec.path);
      continue;
    }
    auto v = SysctlValue::fromHost(spec, *text);
    if (!v.ok()) {
      skipped_.push_back(spec.path);
      continue;
    }
    values_.push_back(std::move(*v));
    const std::string path = std::string("proc/sys/") + spec.path;
    const auto slash = path.rfind('/');
    addNode(ensureDir(path.substr(0, slash)), path.substr(slash + 1), NodeKind::kSysctl,
            S_IFREG | 0644, values_.size() - 1);
  }
  for (const char* d : {"debug", "tracing", "security", "config"})
    ensureDir(std::string("sys/kernel/") + d);
  addNode(ensureDir("sys/devices/virtual/dmi/id"), "product_uuid", NodeKind::kProductUuid,
          S_IFREG | 0400);
}

void Session::fillAttr(fuse_ino_t ino, struct stat* st) const {
  const Node& n = nodes_[ino - 1];
  *st = {};
  st->st_ino = ino;
  st->st_mode = n.mode;
  st->st_nlink = n.kind == NodeKind::kDir ? 2 : 1;
  // Owned by the container's root so that root inside may write its own values
  // (default_permissions makes the kernel check this against the caller's host uid).
  st->st_uid = info_.rootUid;
  st->st_gid = info_.rootGid;
  st->st_size = n.kind == NodeKind::kDir ? 0 : kReportedSize;
  st->st_blksize = 4096;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  st->st_atim = st->st_mtim = st->st_ctim = now;
}

std::string Session::render(const Node& n) {
  switch (n.kind) {
    case NodeKind::kUptime: {
      const double up = boottimeSeconds() - startBoottime_;
      // The host's idle counter is sampled at most every 100 ms (a pread on a pre-opened fd, no
      // path walk): it keeps the per-open cost to a clock read, and idle is an estimate anyway.
      const int64_t now = monoNs();
      if (hostUptime_ && now - idleSampledNs_ > 100'000'000) {
        char buf[128];
        const ssize_t r = pread(hostUptime_.get(), buf, sizeof buf - 1, 0);
        if (r > 0) {
          if (auto host = parseUptime(std::string_view(buf, static_cast<size_t>(r))))
            idleSample_ = host->second - hostIdleAtStart_;
        }
        idleSampledNs_ = now;
      }
      double idle = idleSample_;
      const double maxIdle = up * static_cast<double>(cpus_);
      if (idle > maxIdle) idle = maxIdle;
      return renderUptime(up, idle);
    }
    case NodeKind::kSwaps:
      return std::string(swapsHeader());
    case NodeKind::kSysctl: {
      std::lock_guard lk(valuesMu_);
      return values_[n.sysctl].render();
    }
    case NodeKind::kProductUuid:
      return uuid_ + "\n";
    case NodeKind::kDir:
      break;
  }
  return {};
}

void Session::lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent < 1 || parent > nodes_.size()) return (void)fuse_reply_err(req, ENOENT);
  for (fuse_ino_t c : nodes_[parent - 1].children) {
    if (nodes_[c - 1].name == name) {
      fuse_entry_param e{};
      e.ino = c;
      e.generation = 1;
      e.attr_timeout = e.entry_timeout = kCacheSeconds;
      fillAttr(c, &e.attr);
      return (void)fuse_reply_entry(req, &e);
    }
  }
  fuse_reply_err(req, ENOENT);
}

void Session::getattr(fuse_req_t req, fuse_ino_t ino) {
  if (ino < 1 || ino > nodes_.size()) return (void)fuse_reply_err(req, ENOENT);
  struct stat st;
  fillAttr(ino, &st);
  fuse_reply_attr(req, &st, kCacheSeconds);
}

void Session::setattr(fuse_req_t req, fuse_ino_t ino, struct stat* /*attr*/, int toSet) {
  if (ino < 1 || ino > nodes_.size()) return (void)fuse_reply_err(req, ENOENT);
  // `echo 1 > knob` opens with O_TRUNC, which arrives as a size change: accept it as procfs
  // does (a no-op). Owner and mode are fixed.
  constexpr int kAllowed = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                           FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
  if ((toSet & ~kAllowed) != 0) return (void)fuse_reply_err(req, EPERM);
  if ((toSet & FUSE_SET_ATTR_SIZE) && nodes_[ino - 1].kind != NodeKind::kSysctl)
    return (void)fuse_reply_err(req, EACCES);
  struct stat st;
  fillAttr(ino, &st);
  fuse_reply_attr(req, &st, kCacheSeconds);
}

void Session::open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino < 1 || ino > nodes_.size()) return (void)fuse_reply_err(req, ENOENT);
  const Node& n = nodes_[ino - 1];
  if (n.kind == NodeKind::kDir) return (void)fuse_reply_err(req, EISDIR);
  // Host root (CAP_DAC_OVERRIDE) passes default_permissions; only knobs are writable anyway.
  if ((fi->flags & O_ACCMODE) != O_RDONLY && n.kind != NodeKind::kSysctl)
    return (void)fuse_reply_err(req, EACCES);
  auto* f = new (std::nothrow) OpenFile{render(n)};
  if (!f) return (void)fuse_reply_err(req, ENOMEM);
  fi->fh = reinterpret_cast<uint64_t>(f);
  // Re-grow i_size: a previous sendfile shrank it to that snapshot's length, and O_TRUNC opens
  // set it to 0. The kernel only grows i_size on a store of >= 1 byte, so store one byte as the
  // last byte of the reported size, on a page beyond any content (this open drops the page cache
  // anyway, no FOPEN_KEEP_CACHE). Best effort: if it fails sendfile may stop short, read() not.
  static char kPad = '\n';
  fuse_bufvec pad = FUSE_BUFVEC_INIT(1);
  pad.buf[0].mem = &kPad;
  (void)fuse_lowlevel_notify_store(se_, ino, kReportedSize - 1, &pad, FUSE_BUF_SPLICE_NONBLOCK);
  fi->direct_io = 1;  // contents change between opens; never serve them from the page cache
  fi->keep_cache = 0;
  fi->noflush = 1;                              // nothing to flush: saves a round trip per close()
  if (fuse_reply_open(req, fi) != 0) delete f;  // the opener went away (interrupted)
}

void Session::read(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi) {
  const auto* f = reinterpret_cast<const OpenFile*>(fi->fh);
  if (!f || off < 0) return (void)fuse_reply_err(req, EINVAL);
  if (static_cast<size_t>(off) >= f->content.size()) return (void)fuse_reply_buf(req, nullptr, 0);
  const size_t n = std::min(size, f->content.size() - static_cast<size_t>(off));
  fuse_reply_buf(req, f->content.data() + off, n);
}

void Session::write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off) {
  if (ino < 1 || ino > nodes_.size() || nodes_[ino - 1].kind != NodeKind::kSysctl)
    return (void)fuse_reply_err(req, EACCES);
  if (off < 0) return (void)fuse_reply_err(req, EINVAL);
  int err;
  {
    std::lock_guard lk(valuesMu_);
    err = values_[nodes_[ino - 1].sysctl].write(std::string_view(buf, size),
                                                static_cast<uint64_t>(off));
  }
  if (err) return (void)fuse_reply_err(req, err);
  fuse_reply_write(req, size);
}

void Session::readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  if (ino < 1 || ino > nodes_.size()) return (void)fuse_reply_err(req, ENOENT);
  const Node& n = nodes_[ino - 1];
  if (n.kind != NodeKind::kDir) return (void)fuse_reply_err(req, ENOTDIR);
  std::vector<std::pair<std::string, fuse_ino_t>> entries{{".", ino}, {"..", n.parent}};
  for (fuse_ino_t c : n.children) entries.emplace_back(nodes_[c - 1].name, c);
  std::string out(size, '\0');
  size_t used = 0;
  for (size_t i = static_cast<size_t>(std::max<off_t>(off, 0)); i < entries.size(); ++i) {
    struct stat st {};
    st.st_ino = entries[i].second;
    st.st_mode = nodes_[entries[i].second - 1].mode;
    const size_t need = fuse_add_direntry(req, out.data() + used, size - used,
                                          entries[i].first.c_str(), &st, static_cast<off_t>(i + 1));
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, out.data(), used);
}

const fuse_lowlevel_ops& Session::ops() {
  static const fuse_lowlevel_ops kOps = [] {
    fuse_lowlevel_ops o{};
    o.init = [](void* ud, fuse_conn_info* /*conn*/) {
      static_cast<Session*>(ud)->initDone_ = true;
    };
    o.lookup = [](fuse_req_t r, fuse_ino_t p, const char* name) {
      static_cast<Session*>(fuse_req_userdata(r))->lookup(r, p, name);
    };
    o.getattr = [](fuse_req_t r, fuse_ino_t ino, fuse_file_info*) {
      static_cast<Session*>(fuse_req_userdata(r))->getattr(r, ino);
    };
    o.setattr = [](fuse_req_t r, fuse_ino_t ino, struct stat* a, int s, fuse_file_info*) {
      static_cast<Session*>(fuse_req_userdata(r))->setattr(r, ino, a, s);
    };
    o.open = [](fuse_req_t r, fuse_ino_t ino, fuse_file_info* fi) {
      static_cast<Session*>(fuse_req_userdata(r))->open(r, ino, fi);
    };
    o.read = [](fuse_req_t r, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
      static_cast<Session*>(fuse_req_userdata(r))->read(r, size, off, fi);
    };
    o.write = [](fuse_req_t r, fuse_ino_t ino, const char* b, size_t s, off_t off,
                 fuse_file_info*) {
      static_cast<Session*>(fuse_req_userdata(r))->write(r, ino, b, s, off);
    };
    o.release = [](fuse_req_t r, fuse_ino_t, fuse_file_info* fi) {
      delete reinterpret_cast<OpenFile*>(fi->fh);
      fuse_reply_err(r, 0);
    };
    o.readdir = [](fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
      static_cast<Session*>(fuse_req_userdata(r))->readdir(r, ino, size, off);
    };
    // No flush handler: libfuse answers ENOSYS once and the kernel stops sending FLUSH.
    return o;
  }();
  return kOps;
}

Status Session::start() {
  buildTree();
  uuid_ = productUuid(info_.id);
  startBoottime_ = boottimeSeconds();
  cpus_ = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  if (auto fd = sys::open(opt_.hostUptime.string(), O_RDONLY); fd.ok()) {
    hostUptime_ = std::move(*fd);
    char buf[128];
    const ssize_t r = pread(hostUptime_.get(), buf, sizeof buf - 1, 0);
    if (r > 0) {
      if (auto host = parseUptime(std::string_view(buf, static_cast<size_t>(r))))
        hostIdleAtStart_ = host->second;
    }
  }

  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return Error::fromErrno("eventfd()");
  stopFd_.reset(efd);

  // allow_other: the readers are the container's processes, not us. default_permissions: the
  // kernel checks mode/owner (the container's root) so only root inside writes knobs.
  // nosuid/nodev/noexec: nothing here is meant to run.
  const std::string fsOpts =
      "allow_other,default_permissions,fsname=eci-procfs,subtype=eci,"
      "nosuid,nodev,noexec";
  std::vector<const char*> argv = {"eci-procfs", "-o", fsOpts.c_str()};
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
  se_ = fuse_session_new(&args, &ops(), sizeof(fuse_lowlevel_ops), this);
  fuse_opt_free_args(&args);
  if (!se_) return Error("fuse_session_new('" + dir_.string() + "') failed");
  if (fuse_session_mount(se_, dir_.c_str()) != 0)
    return Error(EIO, "fuse_session_mount('" + dir_.string() + "')",
                 "is /dev/fuse present and the fuse module loaded?");
  mounted_ = true;
  thread_ = std::thread([this] { loop(); });

  // Wait for the kernel's INIT to be answered so the mount is usable before eci-runc binds it.
  const int64_t deadline = monoNs() + 5'000'000'000;
  while (!initDone_ && !threadEnded_ && monoNs() < deadline) usleep(200);
  if (!initDone_) return Error(ETIMEDOUT, "FUSE INIT on '" + dir_.string() + "'");
  struct stat st {};
  if (::stat(dir_.c_str(), &st) != 0) return Error::fromErrno("stat('" + dir_.string() + "')");
  // fusectl names a connection by the kernel's dev_t of the superblock (MKDEV: major << 20).
  connId_ = (static_cast<unsigned long>(major(st.st_dev)) << 20) | minor(st.st_dev);
  return {};
}

void Session::loop() {
  const int fd = fuse_session_fd(se_);
  fuse_buf buf{};
  while (!fuse_session_exited(se_)) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stopFd_.get(), POLLIN, 0}};
    const int pr = poll(p, 2, -1);
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) break;
    if (p[1].revents) break;
    if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      if (!(p[0].revents & POLLIN)) break;
    }
    const int res = fuse_session_receive_buf(se_, &buf);
    if (res == -EINTR || res == -EAGAIN) continue;
    if (res <= 0) break;  // -ENODEV: unmounted or aborted
    busySinceNs_ = monoNs();
    fuse_session_process_buf(se_, &buf);
    busySinceNs_ = 0;
    requests_.fetch_add(1, std::memory_order_relaxed);
  }
  free(buf.mem);
  threadEnded_ = true;
}

Status Session::abortConnection() {
  // fusectl is often not mounted; mounting it is harmless and only needed here.
  const auto abortFile = opt_.fusectl / std::to_string(connId_) / "abort";
  if (::access(abortFile.c_str(), F_OK) != 0) {
    if (::mount("fusectl", opt_.fusectl.c_str(), "fusectl", 0, nullptr) != 0 && errno != EBUSY)
      return Error::fromErrno("mount('fusectl', '" + opt_.fusectl.string() + "', 'fusectl')");
  }
  auto fd = sys::open(abortFile.string(), O_WRONLY);
  if (!fd.ok()) return std::move(fd).error();
  if (::write(fd->get(), "1", 1) != 1)
    return Error::fromErrno("write('" + abortFile.string() + "')");
  aborted_ = true;
  return {};
}

bool Session::checkHung(std::chrono::milliseconds timeout) {
  const int64_t since = busySinceNs_;
  if (since == 0 || aborted_) return false;
  if (monoNs() - since < std::chrono::nanoseconds(timeout).count()) return false;
  if (auto st = abortConnection(); !st.ok())
    LOG_WARN("procfs %s: aborting a hung FUSE connection: %s", info_.id.c_str(),
             st.error().str().c_str());
  return true;
}

void Session::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (::write(stopFd_.get(), &one, sizeof one) < 0) {
      // eventfd write cannot fail with a valid fd; nothing else to do.
    }
    thread_.join();
  }
  if (se_) {
    // Unmounts lazily (MNT_DETACH) and closes /dev/fuse: binds still held by a dying container
    // then fail with ENOTCONN instead of pinning us.
    if (mounted_) fuse_session_unmount(se_);
    fuse_session_destroy(se_);
    se_ = nullptr;
    mounted_ = false;
  }
}

nlohmann::json Session::status() const {
  nlohmann::json j;
  j["dir"] = dir_.string();
  j["healthy"] = healthy();
  j["aborted"] = aborted_.load();
  j["requests"] = requests_.load();
  j["skipped"] = skipped_;
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
    // A dead FUSE mount fails stat() with ENOTCONN; unmount whatever is there.
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

size_t Manager::size() const {
  std::lock_guard lk(mu_);
  return sessions_.size();
}

}  // namespace eci::procfs
