#include "eci/seccomp/supervisor.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "eci/log.h"
#include "eci/seccomp/rules.h"
#include "eci/sys.h"
#include "helper.h"

namespace eci::seccomp {

Result<ProcessState> parseProcessState(std::string_view text) {
  ProcessState s;
  try {
    auto j = nlohmann::json::parse(text);
    if (!j.is_object()) return Error(EINVAL, "seccomp state: not a JSON object");
    auto str = [&](const nlohmann::json& o, const char* key, const std::string& ptr,
                   bool required) -> Result<std::string> {
      auto it = o.find(key);
      if (it == o.end() || it->is_null()) {
        if (required) return Error(EINVAL, "seccomp state: " + ptr + ": missing");
        return std::string();
      }
      if (!it->is_string()) return Error(EINVAL, "seccomp state: " + ptr + ": not a string");
      return it->get<std::string>();
    };
    auto num = [&](const nlohmann::json& o, const char* key,
                   const std::string& ptr) -> Result<pid_t> {
      auto it = o.find(key);
      if (it == o.end() || !it->is_number_integer() || it->get<int64_t>() <= 0 ||
          it->get<int64_t>() > INT32_MAX)
        return Error(EINVAL, "seccomp state: " + ptr + ": missing or not a positive integer");
      return static_cast<pid_t>(it->get<int64_t>());
    };
    ECI_ASSIGN_OR_RETURN(v, str(j, "ociVersion", "/ociVersion", true));
    s.ociVersion = v;
    auto fds = j.find("fds");
    if (fds == j.end() || !fds->is_array())
      return Error(EINVAL, "seccomp state: /fds: missing or not an array");
    for (size_t i = 0; i < fds->size(); ++i) {
      if (!(*fds)[i].is_string())
        return Error(EINVAL, "seccomp state: /fds/" + std::to_string(i) + ": not a string");
      s.fds.push_back((*fds)[i]);
    }
    ECI_ASSIGN_OR_RETURN(p, num(j, "pid", "/pid"));
    s.pid = p;
    ECI_ASSIGN_OR_RETURN(m, str(j, "metadata", "/metadata", false));
    s.metadata = m;
    auto st = j.find("state");
    if (st == j.end() || !st->is_object())
      return Error(EINVAL, "seccomp state: /state: missing or not an object");
    ECI_ASSIGN_OR_RETURN(id, str(*st, "id", "/state/id", true));
    if (id.empty() || id.size() > 1024)
      return Error(EINVAL, "seccomp state: /state/id: empty or too long");
    s.containerId = id;
    ECI_ASSIGN_OR_RETURN(b, str(*st, "bundle", "/state/bundle", false));
    s.bundle = b;
    auto ip = st->find("pid");
    if (ip != st->end() && ip->is_number_integer())
      s.initPid = static_cast<pid_t>(ip->get<int64_t>());
    auto an = st->find("annotations");
    if (an != st->end()) s.annotations = *an;
  } catch (const nlohmann::json::exception& e) {
    return Error(EINVAL, std::string("seccomp state: ") + e.what());
  }
  return s;
}

namespace {

struct NsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NsId&) const = default;
};

std::optional<NsId> nsOf(pid_t pid, const char* kind) {
  struct stat st;
  std::string p = "/proc/" + std::to_string(pid) + "/ns/" + kind;
  if (stat(p.c_str(), &st) != 0) return std::nullopt;
  return NsId{st.st_dev, st.st_ino};
}

Result<std::string> readProcFile(const std::string& path, size_t max) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open('" + path + "')");
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("read('" + path + "')");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max)
      return Error(EFBIG, path + " is larger than " + std::to_string(max) + " bytes");
  }
  return out;
}

// Reads the caller's memory with process_vm_readv, page by page, so a string ending right before
// an unmapped page is still read.
class ProcessMemory : public MemoryReader {
 public:
  explicit ProcessMemory(pid_t pid) : pid_(pid) {}
  std::optional<std::string> readBytes(uint64_t addr, size_t len) override {
    std::string out(len, '\0');
    size_t done = 0;
    while (done < len) {
      const uint64_t a = addr + done;
      const size_t chunk = std::min(len - done, static_cast<size_t>(4096 - (a & 4095)));
      iovec local{out.data() + done, chunk};
      iovec remote{reinterpret_cast<void*>(a), chunk};
      ssize_t n = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
      if (n <= 0) return std::nullopt;
      done += static_cast<size_t>(n);
    }
    return out;
  }
  std::optional<std::string> readString(uint64_t addr, size_t max) override {
    std::string out;
    while (out.size() < max) {
      const uint64_t a = addr + out.size();
      const size_t chunk = std::min(max - out.size(), static_cast<size_t>(4096 - (a & 4095)));
      char buf[4096];
      iovec local{buf, chunk};
      iovec remote{reinterpret_cast<void*>(a), chunk};
      ssize_t n = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
      if (n <= 0) return std::nullopt;
      const char* nul = static_cast<const char*>(memchr(buf, 0, static_cast<size_t>(n)));
      if (nul) {
        out.append(buf, static_cast<size_t>(nul - buf));
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return std::nullopt;  // no NUL within PATH_MAX: the kernel would say ENAMETOOLONG
  }

 private:
  pid_t pid_;
};

struct Container {
  std::string id;
  ContainerMounts mounts;
  std::optional<NsId> pidns, netns;
  UniqueFd userns;
  helper::Handle helper;
  int notifyFds = 0;
  explicit Container(std::vector<MountEntry> m) : mounts(std::move(m)) {}
  ~Container() { stopHelper(); }
  void stopHelper() {
    if (helper.pid > 0) {
      kill(helper.pid, SIGKILL);
      while (waitpid(helper.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      helper.pid = -1;
    }
    if (helper.sock >= 0) close(helper.sock);
    helper.sock = -1;
  }
};

// The system side of rules.h's Environment for one notification.
class RealEnvironment : public Environment {
 public:
  RealEnvironment(pid_t pid, const Decoded& d, const Container& c) : pid_(pid), d_(d), c_(c) {}

  PathInfo resolve(Which which) override {
    auto& slot = which == Which::kSource ? source_ : target_;
    if (slot.done) return slot.info;
    slot.done = true;
    int dfd = AT_FDCWD;
    bool emptyOk = false, follow = true;
    const std::optional<std::string>* path = which == Which::kSource ? &d_.source : &d_.target;
    switch (d_.call) {
      case Call::kUmount2:
        follow = !(d_.args[1] & UMOUNT_NOFOLLOW);
        break;
      case Call::kOpenTree:
        dfd = static_cast<int>(d_.args[0]);
        emptyOk = d_.args[2] & AT_EMPTY_PATH;
        follow = !(d_.args[2] & AT_SYMLINK_NOFOLLOW);
        break;
      case Call::kFspick:
        dfd = static_cast<int>(d_.args[0]);
        emptyOk = d_.args[2] & FSPICK_EMPTY_PATH;
        follow = !(d_.args[2] & FSPICK_SYMLINK_NOFOLLOW);
        break;
      case Call::kMountSetattr:
        dfd = static_cast<int>(d_.args[0]);
        emptyOk = d_.args[2] & AT_EMPTY_PATH;
        follow = !(d_.args[2] & AT_SYMLINK_NOFOLLOW);
        break;
      case Call::kMoveMount:
        if (which == Which::kSource) {
          dfd = static_cast<int>(d_.args[0]);
          emptyOk = d_.args[4] & MOVE_MOUNT_F_EMPTY_PATH;
          follow = d_.args[4] & MOVE_MOUNT_F_SYMLINKS;
        } else {
          dfd = static_cast<int>(d_.args[2]);
          emptyOk = d_.args[4] & MOVE_MOUNT_T_EMPTY_PATH;
          follow = d_.args[4] & MOVE_MOUNT_T_SYMLINKS;
        }
        break;
      default:
        break;
    }
    slot.info = resolvePath(dfd, path->value_or(""), emptyOk, follow, slot.fd);
    return slot.info;
  }

  PathInfo resolveInRoot(const std::string& absPath) override {
    if (!inRoot_.done) {
      inRoot_.done = true;
      inRoot_.info = resolvePath(AT_FDCWD, absPath, false, true, inRoot_.fd);
    }
    return inRoot_.info;
  }

  const std::vector<MountEntry>& mountTable() override {
    if (!tableLoaded_) {
      tableLoaded_ = true;
      auto text = readProcFile("/proc/" + std::to_string(pid_) + "/mountinfo", 4 << 20);
      if (text.ok()) {
        auto parsed = parseMountInfo(*text);
        if (parsed.ok()) table_ = std::move(*parsed);
      }
    }
    return table_;
  }

  bool callerHasSysAdmin() override {
    // capget() reads any thread's sets without a permission check, and without the ~8 KiB
    // /proc/<pid>/status render. The caller is blocked in the trapped call, so its own sets
    // cannot change meanwhile (only a task can change its own capabilities).
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, pid_};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &hdr, data) != 0) return false;
    return data[0].effective & (1U << 21);  // CAP_SYS_ADMIN
  }
  bool callerInContainerPidNs() override { return c_.pidns && nsOf(pid_, "pid") == c_.pidns; }
  bool callerInContainerNetNs() override { return c_.netns && nsOf(pid_, "net") == c_.netns; }

  int targetFd() const { return target_.fd.get(); }
  void closeTarget() { target_.fd.reset(); }
  int sourceFd() const { return source_.fd.get(); }
  int inRootFd() const { return inRoot_.fd.get(); }

 private:
  struct Slot {
    bool done = false;
    PathInfo info;
    UniqueFd fd;
  };

  // Resolves `path` as the caller would (its root, cwd or dirfd), into an O_PATH fd the
  // supervisor owns. Absolute paths stay inside the caller's root (RESOLVE_IN_ROOT); relative
  // ones may not climb above their starting directory (RESOLVE_BENEATH: `..` or an absolute
  // symlink there gives EXDEV, refused) - the supervisor never follows a path out of the container.
  PathInfo resolvePath(int dfd, const std::string& path, bool emptyOk, bool follow, UniqueFd& out) {
    PathInfo info;
    const std::string proc = "/proc/" + std::to_string(pid_);
    auto openBase = [&](int fdNum) {
      std::string p = fdNum == AT_FDCWD ? proc + "/cwd" : proc + "/fd/" + std::to_string(fdNum);
      return UniqueFd(open(p.c_str(), O_PATH | O_CLOEXEC));
    };
    if (path.empty()) {
      if (!emptyOk) {
        info.err = ENOENT;
        return info;
      }
      out = openBase(dfd);
    } else {
      open_how how{};
      how.flags = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
      UniqueFd base;
      if (path.front() == '/') {
        base = UniqueFd(open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
      } else {
        base = openBase(dfd);
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
      }
      if (!base) {
        info.err = errno == ENOENT ? EBADF : errno;
        return info;
      }
      out = UniqueFd(
          static_cast<int>(syscall(SYS_openat2, base.get(), path.c_str(), &how, sizeof(how))));
    }
    if (!out) {
      info.err = errno;
      return info;
    }
    struct statx sx {};
    if (statx(out.get(), "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_MNT_ID, &sx) !=
        0) {
      info.err = errno;
      return info;
    }
    info.major = sx.stx_dev_major;
    info.minor = sx.stx_dev_minor;
    info.blockDevice = S_ISBLK(sx.stx_mode);
    info.mountRoot = sx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
    // The target of a new mount that is not a mount root cannot cover a protected mount, and
    // that is all the rules ask of it: skip rendering the mount table on that hot path.
    const uint64_t f = d_.args[3];
    if (d_.call == Call::kMount && !(f & (MS_REMOUNT | MS_BIND | MS_MOVE)) && !info.mountRoot &&
        &out == &target_.fd)
      return info;
    for (const auto& m : mountTable())
      if (static_cast<uint64_t>(m.id) == sx.stx_mnt_id) info.mount = m;
    info.attached = info.mount.has_value();
    return info;
  }

  pid_t pid_;
  const Decoded& d_;
  const Container& c_;
  Slot source_, target_, inRoot_;
  bool tableLoaded_ = false;
  std::vector<MountEntry> table_;
};

bool sendResponse(int notifyFd, uint64_t id, int err, int64_t val, bool cont) {
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.error = err ? -err : 0;
  resp.val = err ? 0 : val;
  resp.flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
  // ENOENT: the caller died or was interrupted meanwhile; nothing to answer.
  return ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0 || errno == ENOENT;
}

bool idValid(int notifyFd, uint64_t id) {
  return ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

}  // namespace

struct Supervisor::Impl {
  SupervisorOptions opts;
  UniqueFd listenFd, wakeFd;
  std::thread thread;
  std::atomic<bool> stopping{false};
  mutable std::mutex mu;  // guards stats_ and the status snapshot
  SupervisorStats stats_;
  // Owned by the poll thread only.
  std::map<std::string, std::unique_ptr<Container>> containers;
  struct NotifyFd {
    UniqueFd fd;
    std::string containerId;
  };
  std::vector<NotifyFd> notifyFds;
  std::map<std::pair<uint32_t, int>, Call> callCache;
  size_t notifSize = sizeof(seccomp_notif);

  void bump(uint64_t SupervisorStats::*field) {
    std::lock_guard<std::mutex> l(mu);
    ++(stats_.*field);
  }

  Call callOf(uint32_t arch, int nr) {
    auto key = std::make_pair(arch, nr);
    auto it = callCache.find(key);
    if (it != callCache.end()) return it->second;
    Call c = Call::kUnknown;
    char* name = seccomp_syscall_resolve_num_arch(arch, nr);
    if (name) {
      c = callFromName(name);
      free(name);
    }
    callCache.emplace(key, c);
    return c;
  }

  void run();
  void acceptOne();
  Status registerFd(int connFd);
  void handleNotification(NotifyFd& nf);
  // Runs an action in the container's helper; returns errno (0 ok) and an fd result.
  int runInHelper(Container& c, const helper::Request& req, int mntns, int target, int source,
                  UniqueFd& out);
  void dropContainerRef(const std::string& id);
};

Supervisor::Supervisor(SupervisorOptions opts) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
}
Supervisor::~Supervisor() {
  stop();
}

Status Supervisor::start() {
  auto& I = *impl_;
  const std::filesystem::path sock(I.opts.socketPath);
  if (sock.native().size() >= sizeof(sockaddr_un::sun_path))
    return Error(ENAMETOOLONG, "seccomp socket path '" + sock.native() + "' is too long");
  std::error_code ec;
  std::filesystem::create_directories(sock.parent_path(), ec);
  if (ec) return Error(ec.value(), "mkdir('" + sock.parent_path().native() + "')");
  ::chmod(sock.parent_path().c_str(), 0700);
  I.listenFd = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!I.listenFd) return Error::fromErrno("socket(AF_UNIX)");
  ::unlink(sock.c_str());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof(addr.sun_path) - 1);
  // Created 0600 from the start (umask), not chmod'ed afterwards.
  mode_t old = umask(0177);
  int rc = bind(I.listenFd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  umask(old);
  if (rc != 0) return Error::fromErrno("bind('" + sock.native() + "')");
  if (listen(I.listenFd.get(), 128) != 0)
    return Error::fromErrno("listen('" + sock.native() + "')");
  I.wakeFd = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!I.wakeFd) return Error::fromErrno("eventfd()");
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0)
    I.notifSize = std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif));
  I.stopping = false;
  I.thread = std::thread([this] { impl_->run(); });
  return {};
}

void Supervisor::stop() {
  auto& I = *impl_;
  if (!I.thread.joinable()) return;
  I.stopping = true;
  uint64_t one = 1;
  (void)!write(I.wakeFd.get(), &one, sizeof(one));
  I.thread.join();
  ::unlink(I.opts.socketPath.c_str());
}

SupervisorStats Supervisor::stats() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->stats_;
}

nlohmann::json Supervisor::status() const {
  auto s = stats();
  return {{"socket", impl_->opts.socketPath}, {"containers", s.containers},
          {"notifyFds", s.notifyFds},         {"notifications", s.notifications},
          {"continued", s.continued},         {"refused", s.refused},
          {"emulated", s.emulated},           {"emulationFailed", s.emulationFailed},
          {"registrations", s.registrations}, {"registrationErrors", s.registrationErrors}};
}

void Supervisor::Impl::run() {
  std::vector<pollfd> pfds;
  while (!stopping) {
    pfds.clear();
    pfds.push_back({wakeFd.get(), POLLIN, 0});
    pfds.push_back({listenFd.get(), POLLIN, 0});
    for (auto& nf : notifyFds) pfds.push_back({nf.fd.get(), POLLIN, 0});
    int n = poll(pfds.data(), pfds.size(), 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("seccomp supervisor: poll: %s", strerror(errno));
      break;
    }
    if (stopping) break;
    if (pfds[1].revents & POLLIN) acceptOne();
    // Walk backwards so erasing a closed notify fd keeps the remaining indices valid.
    for (size_t i = pfds.size(); i-- > 2;) {
      const size_t k = i - 2;
      if (k >= notifyFds.size()) continue;
      if (pfds[i].revents & POLLIN) handleNotification(notifyFds[k]);
      if (pfds[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
        // Every task using this filter is gone (Linux >= 5.8 signals it with a hang-up).
        std::string id = notifyFds[k].containerId;
        notifyFds.erase(notifyFds.begin() + static_cast<long>(k));
        dropContainerRef(id);
      }
    }
  }
  // Closing the notify fds makes the kernel fail pending and future trapped calls with ENOSYS.
  notifyFds.clear();
  containers.clear();
  std::lock_guard<std::mutex> l(mu);
  stats_.containers = 0;
  stats_.notifyFds = 0;
}

void Supervisor::Impl::dropContainerRef(const std::string& id) {
  auto it = containers.find(id);
  if (it != containers.end() && --it->second->notifyFds <= 0) containers.erase(it);
  std::lock_guard<std::mutex> l(mu);
  stats_.containers = containers.size();
  stats_.notifyFds = notifyFds.size();
}

void Supervisor::Impl::acceptOne() {
  for (;;) {
    UniqueFd conn(accept4(listenFd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;  // EAGAIN: drained
    auto st = registerFd(conn.get());
    if (!st.ok()) {
      bump(&SupervisorStats::registrationErrors);
      LOG_WARN("seccomp supervisor: refusing registration: %s", st.error().str().c_str());
    }
  }
}

Status Supervisor::Impl::registerFd(int connFd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(connFd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return Error::fromErrno("getsockopt(SO_PEERCRED)");
  if (cred.uid != 0) return Error(EPERM, "registration from uid " + std::to_string(cred.uid));
  timeval tv{};
  tv.tv_sec = opts.registrationTimeout.count() / 1000;
  tv.tv_usec = (opts.registrationTimeout.count() % 1000) * 1000;
  setsockopt(connFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string text;
  std::vector<UniqueFd> fds;
  for (;;) {
    char buf[8192];
    int got[sys::kMaxPassedFds];
    size_t ngot = 0;
    bool truncated = false;
    ssize_t n =
        sys::recvWithFds(connFd, buf, sizeof(buf), got, sys::kMaxPassedFds, &ngot, &truncated);
    if (n < 0) return Error::fromErrno("recvmsg(seccomp registration)");
    for (size_t i = 0; i < ngot; ++i) fds.emplace_back(got[i]);
    if (truncated) return Error(EPROTO, "seccomp registration: too many fds");
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (1 << 20))
      return Error(EPROTO, "seccomp registration: state larger than 1 MiB");
    // runc sends the whole state in one sendmsg but keeps the connection open: stop at the end
    // of the JSON document rather than waiting for EOF.
    if (nlohmann::json::accept(text)) break;
  }
  ECI_ASSIGN_OR_RETURN(state, parseProcessState(text));
  size_t idx = state.fds.size();
  for (size_t i = 0; i < state.fds.size(); ++i)
    if (state.fds[i] == "seccompFd") idx = i;
  if (idx >= state.fds.size() || idx >= fds.size())
    return Error(EPROTO, "seccomp registration for " + state.containerId + ": no seccompFd");
  UniqueFd notify = std::move(fds[idx]);
  char link[64] = {};
  std::string self = "/proc/self/fd/" + std::to_string(notify.get());
  if (readlink(self.c_str(), link, sizeof(link) - 1) < 0 ||
      std::string_view(link) != "anon_inode:seccomp notify")
    return Error(
        EPROTO, "seccomp registration for " + state.containerId + ": fd is not a seccomp listener");
  if (fcntl(notify.get(), F_SETFL, O_NONBLOCK) != 0) return Error::fromErrno("fcntl(O_NONBLOCK)");
#ifdef SECCOMP_IOCTL_NOTIF_SET_FLAGS
  // Linux >= 6.6: wake the supervisor synchronously on the caller's CPU (a measured ~15% off the
  // round trip); older kernels refuse the flag, which only costs speed.
  (void)ioctl(notify.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
#else
  (void)ioctl(notify.get(), SECCOMP_IOW(4, __u64), 1ULL);  // SET_FLAGS, FD_SYNC_WAKE_UP
#endif

  // Keyed by id and user namespace: a container re-created under the same id (while the old one's
  // fds are still draining) must not inherit the old one's mount snapshot or helper.
  auto userns = nsOf(state.pid, "user");
  if (!userns) return Error(ESRCH, "seccomp registration for " + state.containerId + ": pid gone");
  const std::string key = state.containerId + "@" + std::to_string(userns->ino);
  auto it = containers.find(key);
  if (it == containers.end()) {
    // First fd of this container: runc has finished its mounts (it installs the filter right
    // before exec), so the table now is the container's initial one.
    const std::string proc = "/proc/" + std::to_string(state.pid);
    ECI_ASSIGN_OR_RETURN(text2, readProcFile(proc + "/mountinfo", 4 << 20));
    ECI_ASSIGN_OR_RETURN(table, parseMountInfo(text2));
    auto c = std::make_unique<Container>(std::move(table));
    c->id = state.containerId;
    c->pidns = nsOf(state.pid, "pid");
    c->netns = nsOf(state.pid, "net");
    c->userns = UniqueFd(open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (!c->userns) return Error::fromErrno("open('" + proc + "/ns/user')");
    ECI_ASSIGN_OR_RETURN(h, helper::spawn(c->userns.get()));
    c->helper = h;
    it = containers.emplace(key, std::move(c)).first;
  }
  ++it->second->notifyFds;
  notifyFds.push_back({std::move(notify), key});
  {
    std::lock_guard<std::mutex> l(mu);
    ++stats_.registrations;
    stats_.containers = containers.size();
    stats_.notifyFds = notifyFds.size();
  }
  LOG_DEBUG("seccomp supervisor: %s pid %d registered", state.containerId.c_str(), state.pid);
  return {};
}

int Supervisor::Impl::runInHelper(Container& c, const helper::Request& req, int mntns, int target,
                                  int source, UniqueFd& out) {
  if (c.helper.pid <= 0) {
    auto h = helper::spawn(c.userns.get());
    if (!h.ok()) return EPERM;
    c.helper = *h;
  }
  int fds[3] = {mntns, target, source};
  int nfds = 1;
  if (target >= 0) fds[nfds++] = target;
  if (source >= 0) fds[nfds++] = source;
  if (sys::sendWithFds(c.helper.sock, &req, sizeof(req), fds, static_cast<size_t>(nfds)) !=
      static_cast<ssize_t>(sizeof(req))) {
    c.stopHelper();
    return EPERM;
  }
  pollfd p{c.helper.sock, POLLIN, 0};
  int n;
  do {
    n = poll(&p, 1, static_cast<int>(opts.helperTimeout.count()));
  } while (n < 0 && errno == EINTR);
  if (n <= 0 || !(p.revents & POLLIN)) {
    // A helper stuck in the kernel (e.g. a FUSE mount that does not answer) is killed; the call
    // is refused rather than left waiting.
    LOG_WARN("seccomp supervisor: helper of %s timed out; restarting it", c.id.c_str());
    c.stopHelper();
    return EPERM;
  }
  helper::Reply rep{};
  int passed = -1;
  size_t npassed = 0;
  bool truncated = false;
  ssize_t r = sys::recvWithFds(c.helper.sock, &rep, sizeof(rep), &passed, 1, &npassed, &truncated);
  if (npassed == 1) out.reset(passed);
  if (r != static_cast<ssize_t>(sizeof(rep))) {
    c.stopHelper();
    return EPERM;
  }
  if (rep.err == 0 && rep.hasFd && !out) return EPROTO;
  return rep.err;
}

void Supervisor::Impl::handleNotification(NotifyFd& nf) {
  std::vector<char> buf(notifSize, 0);  // RECV requires a zeroed buffer
  auto* req = reinterpret_cast<seccomp_notif*>(buf.data());
  if (ioctl(nf.fd.get(), SECCOMP_IOCTL_NOTIF_RECV, req) != 0) return;  // ENOENT: caller gone
  bump(&SupervisorStats::notifications);
  const auto t0 = std::chrono::steady_clock::now();
  auto us = [&t0] {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count());
  };
  auto cit = containers.find(nf.containerId);
  auto respond = [&](int err, int64_t val, bool cont) {
    sendResponse(nf.fd.get(), req->id, err, val, cont);
  };
  if (cit == containers.end()) {
    bump(&SupervisorStats::refused);
    respond(EPERM, 0, false);
    return;
  }
  Container& c = *cit->second;
  const Call call = callOf(req->data.arch, req->data.nr);
  uint64_t args[6];
  for (int i = 0; i < 6; ++i) args[i] = req->data.args[i];
  ProcessMemory mem(static_cast<pid_t>(req->pid));
  Decoded d = decode(call, args, mem);
  // The memory we read belonged to the caller only if it is still blocked in this very call.
  if (!idValid(nf.fd.get(), req->id)) return;
  RealEnvironment env(static_cast<pid_t>(req->pid), d, c);
  Decision dec = decide(d, c.mounts, env);
  const long decidedUs = us();
  LOG_DEBUG("seccomp %s pid %u %s: %s (%s)", c.id.c_str(), req->pid, callName(call),
            actionName(dec.action), dec.reason.c_str());
  if (dec.action == Action::kContinue) {
    bump(&SupervisorStats::continued);
    respond(0, 0, true);
    return;
  }
  if (dec.action == Action::kError) {
    bump(&SupervisorStats::refused);
    respond(dec.err, 0, false);
    return;
  }
  helper::Request hr;
  hr.action = static_cast<uint32_t>(dec.action);
  hr.flags = d.call == Call::kMount       ? d.args[3]
             : d.call == Call::kUmount2   ? d.args[1]
             : d.call == Call::kMoveMount ? d.args[4]
                                          : d.args[2];
  hr.attr = d.attr;
  auto copy = [](char* dst, size_t cap, const std::optional<std::string>& s, uint32_t& has) {
    if (!s) return;
    has = 1;
    std::memcpy(dst, s->data(), std::min(cap, s->size()));
  };
  copy(hr.source, kMaxPath, d.source, hr.hasSource);
  copy(hr.fstype, kMaxFsName, d.fstype, hr.hasFstype);
  copy(hr.data, kMaxData, d.data, hr.hasData);
  int target = -1, source = -1;
  UniqueFd parentFd;
  switch (dec.action) {
    case Action::kReplayMount: {
      uint64_t f = d.args[3];
      target = env.targetFd();
      if (f & (MS_BIND | MS_MOVE)) source = env.sourceFd();
      break;
    }
    case Action::kCloneTree:
      target = env.targetFd();
      source = env.inRootFd();
      break;
    case Action::kMoveMount:
      target = env.targetFd();
      source = env.sourceFd();
      break;
    case Action::kUmount: {
      // The umount goes by parent directory + name: an fd on the mount itself would pin it
      // (EBUSY), so ours is closed before the helper acts.
      PathInfo t = env.resolve(Environment::Which::kTarget);
      if (t.mount && t.mount->mountPoint != "/") {
        const auto& mp = t.mount->mountPoint;
        const std::string name = mp.substr(mp.rfind('/') + 1);
        if (!name.empty() && name.size() < sizeof(hr.name) && name != "." && name != "..") {
          parentFd = UniqueFd(openat(env.targetFd(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
          std::memcpy(hr.name, name.data(), name.size());
          hr.mountId = static_cast<uint64_t>(t.mount->id);
        }
      }
      env.closeTarget();
      target = parentFd.get();
      break;
    }
    case Action::kMountSetattr:
    case Action::kFspick:
      target = env.targetFd();
      break;
    default:
      break;
  }
  // A mount(MS_MOVE) decided as kMoveMount moves source onto target with the new API.
  if (dec.action == Action::kMoveMount && d.call == Call::kMount) hr.flags = 0;
  UniqueFd mntns(
      open(("/proc/" + std::to_string(req->pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  const bool needTarget = dec.action != Action::kFsopen;
  if (!mntns || (needTarget && target < 0) ||
      ((dec.action == Action::kMoveMount || dec.action == Action::kCloneTree) && source < 0)) {
    bump(&SupervisorStats::refused);
    respond(EPERM, 0, false);
    return;
  }
  hr.hasTargetFd = target >= 0;
  hr.hasSourceFd = source >= 0;
  // Last check before acting: a caller killed meanwhile must not get a mount made on its behalf.
  if (!idValid(nf.fd.get(), req->id)) return;
  UniqueFd result;
  int err = runInHelper(c, hr, mntns.get(), target, source, result);
  LOG_DEBUG("seccomp %s: decided in %ld us, acted in %ld us", callName(call), decidedUs, us());
  if (err != 0) {
    bump(&SupervisorStats::emulationFailed);
    respond(err, 0, false);
    return;
  }
  bump(&SupervisorStats::emulated);
  if (result) {
    seccomp_notif_addfd add{};
    add.id = req->id;
    add.flags = SECCOMP_ADDFD_FLAG_SEND;  // installs the fd and answers with its number, atomically
    add.srcfd = static_cast<uint32_t>(result.get());
    const bool cloexec = (d.call == Call::kFsopen && (d.args[1] & FSOPEN_CLOEXEC)) ||
                         (d.call == Call::kFspick && (d.args[2] & FSPICK_CLOEXEC));
    add.newfd_flags = cloexec ? O_CLOEXEC : 0;
    if (ioctl(nf.fd.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0 && errno != ENOENT) {
      const int e = errno;
      LOG_WARN("seccomp supervisor: SECCOMP_IOCTL_NOTIF_ADDFD(%s): %s", callName(call),
               strerror(e));
      respond(e == EMFILE ? EMFILE : EPERM, 0, false);
    }
    return;
  }
  respond(0, 0, false);
}

}  // namespace eci::seccomp
