#include "eci/seccomp/supervisor.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "eci/seccomp/rules.h"
#include "eci/seccomp/worker.h"
#include "eci/sys.h"
#include "supervisor_impl.h"
#include "worker_protocol.h"

namespace eci::seccomp {

Result<ProcessState> parseProcessState(std::string_view text) {
  ProcessState s;
  try {
    auto j = nlohmann::json::parse(text);
    if (!j.is_object()) return Error(ErrorKind::kInvalidInput, "seccomp state: not a JSON object");
    auto str = [&](const nlohmann::json& o, const char* key, const std::string& ptr,
                   bool required) -> Result<std::string> {
      auto it = o.find(key);
      if (it == o.end() || it->is_null()) {
        if (required) return Error(ErrorKind::kInvalidInput, "seccomp state: " + ptr + ": missing");
        return std::string();
      }
      if (!it->is_string())
        return Error(ErrorKind::kInvalidInput, "seccomp state: " + ptr + ": not a string");
      return it->get<std::string>();
    };
    auto num = [&](const nlohmann::json& o, const char* key,
                   const std::string& ptr) -> Result<pid_t> {
      auto it = o.find(key);
      if (it == o.end() || !it->is_number_integer() || it->get<int64_t>() <= 0 ||
          it->get<int64_t>() > INT32_MAX)
        return Error(ErrorKind::kInvalidInput,
                     "seccomp state: " + ptr + ": missing or not a positive integer");
      return static_cast<pid_t>(it->get<int64_t>());
    };
    ECI_ASSIGN_OR_RETURN(v, str(j, "ociVersion", "/ociVersion", true));
    s.ociVersion = v;
    auto fds = j.find("fds");
    if (fds == j.end() || !fds->is_array())
      return Error(ErrorKind::kInvalidInput, "seccomp state: /fds: missing or not an array");
    for (size_t i = 0; i < fds->size(); ++i) {
      if (!(*fds)[i].is_string())
        return Error(ErrorKind::kInvalidInput,
                     "seccomp state: /fds/" + std::to_string(i) + ": not a string");
      s.fds.push_back((*fds)[i]);
    }
    ECI_ASSIGN_OR_RETURN(p, num(j, "pid", "/pid"));
    s.pid = p;
    ECI_ASSIGN_OR_RETURN(m, str(j, "metadata", "/metadata", false));
    s.metadata = m;
    auto st = j.find("state");
    if (st == j.end() || !st->is_object())
      return Error(ErrorKind::kInvalidInput, "seccomp state: /state: missing or not an object");
    ECI_ASSIGN_OR_RETURN(id, str(*st, "id", "/state/id", true));
    if (id.empty() || id.size() > 1024)
      return Error(ErrorKind::kInvalidInput, "seccomp state: /state/id: empty or too long");
    s.containerId = id;
    ECI_ASSIGN_OR_RETURN(b, str(*st, "bundle", "/state/bundle", false));
    s.bundle = b;
    auto ip = st->find("pid");
    if (ip != st->end() && ip->is_number_integer())
      s.initPid = static_cast<pid_t>(ip->get<int64_t>());
    auto an = st->find("annotations");
    if (an != st->end()) s.annotations = *an;
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorKind::kInvalidInput, std::string("seccomp state: ") + e.what());
  }
  return s;
}

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
    return Error(ErrorKind::kTooLarge, "seccomp socket path '" + sock.native() + "' is too long");
  std::error_code ec;
  std::filesystem::create_directories(sock.parent_path(), ec);
  if (ec) return Error(ec.value(), "mkdir('" + sock.parent_path().native() + "')");
  ::chmod(sock.parent_path().c_str(), 0700);
  I.procFd = UniqueFd(open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!I.procFd) return Error::fromErrno("open('/proc', O_PATH)");
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
  I.stopping = false;
  if (!I.opts.fdHolderSocket.empty()) {
    I.connectHolder();
    I.reattach();  // before the poll thread: every fd is ours alone until then
  }
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
  SupervisorStats s = impl_->stats_;
  for (const auto& [key, c] : impl_->containers) addCounts(s, *c->shared);
  return s;
}

nlohmann::json Supervisor::status() const {
  auto s = stats();
  return {{"socket", impl_->opts.socketPath},
          {"containers", s.containers},
          {"notifyFds", s.notifyFds},
          {"notifications", s.notifications},
          {"continued", s.continued},
          {"refused", s.refused},
          {"emulated", s.emulated},
          {"emulationFailed", s.emulationFailed},
          {"registrations", s.registrations},
          {"registrationErrors", s.registrationErrors},
          {"workerRestarts", s.workerRestarts},
          {"fdHolder", s.holder},
          {"reattached", s.reattached},
          {"reattachedFds", s.reattachedFds},
          {"reattachDropped", s.reattachDropped},
          {"reattachMicros", s.reattachMicros}};
}

void Supervisor::Impl::run() {
  std::vector<pollfd> pfds;
  std::vector<std::string> controlKeys;
  const int tick = static_cast<int>(std::min<int64_t>(500, opts.actionTimeout.count() / 2 + 1));
  while (!stopping) {
    pfds.clear();
    controlKeys.clear();
    pfds.push_back({wakeFd.get(), POLLIN, 0});
    pfds.push_back({listenFd.get(), POLLIN, 0});
    // A container's notify fds are watched for a first notification while it has no worker
    // (workers start on demand: most containers never mount anything), and otherwise only for
    // the hang-up that says every task of that filter is gone (the worker reads them).
    for (auto& nf : notifyFds) {
      auto it = containers.find(nf.containerKey);
      const bool hasWorker = it != containers.end() && it->second->workerPid > 0;
      pfds.push_back({nf.fd.get(), static_cast<short>(hasWorker ? 0 : POLLIN), 0});
    }
    const size_t firstControl = pfds.size();
    for (auto& [key, c] : containers) {
      if (!c->control) continue;
      pfds.push_back({c->control.get(), POLLIN, 0});  // a worker never writes: readable = gone
      controlKeys.push_back(key);
    }
    int n = poll(pfds.data(), pfds.size(), tick);
    if (n < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("seccomp supervisor: poll: %s", strerror(errno));
      break;
    }
    if (stopping) break;
    // Collect first, act after: acting may drop containers and their fds.
    std::vector<int> hungUp;
    std::vector<std::string> needWorker;
    for (size_t i = 2; i < firstControl; ++i) {
      const auto& nf = notifyFds[i - 2];
      if (pfds[i].revents & (POLLHUP | POLLERR | POLLNVAL))
        hungUp.push_back(nf.fd.get());
      else if (pfds[i].revents & POLLIN)
        needWorker.push_back(nf.containerKey);
    }
    for (size_t i = 0; i < controlKeys.size(); ++i)
      if (pfds[firstControl + i].revents) workerGone(controlKeys[i]);
    for (int fd : hungUp) {
      auto nf = std::find_if(notifyFds.begin(), notifyFds.end(),
                             [fd](const NotifyFd& x) { return x.fd.get() == fd; });
      if (nf == notifyFds.end()) continue;  // dropped with its container meanwhile
      const std::string key = nf->containerKey;
      if (!nf->heldAs.empty()) releaseHeld(nf->heldAs, /*prefix=*/false);
      notifyFds.erase(nf);
      auto it = containers.find(key);
      if (it != containers.end() && --it->second->notifyFds <= 0) dropContainer(key);
    }
    for (const auto& key : needWorker) ensureWorker(key);
    if (pfds[1].revents & POLLIN) acceptOne();
    checkHungWorkers();
    drainDenials();
    updateCounts();
  }
  // Closing every copy of the notify fds (ours and, by stopping them, the workers') makes the
  // kernel fail pending and future trapped calls with ENOSYS.
  notifyFds.clear();
  std::lock_guard<std::mutex> l(mu);
  containers.clear();
  stats_.containers = 0;
  stats_.notifyFds = 0;
}

// Starts the container's worker if it has none and hands it every notify fd of the container.
// A container whose worker cannot be started (or keeps dying) is given up: its fds are closed and
// its trapped calls fail with ENOSYS, never hang.
void Supervisor::Impl::ensureWorker(const std::string& key) {
  auto it = containers.find(key);
  if (it == containers.end() || it->second->workerPid > 0) return;
  Container& c = *it->second;
  if (c.starts >= kMaxWorkerStarts) {
    LOG_ERROR("seccomp supervisor: worker of %s keeps failing; its mount calls now fail (ENOSYS)",
              c.id.c_str());
    dropContainer(key);
    return;
  }
  if (c.starts > 0) {
    std::lock_guard<std::mutex> l(mu);
    ++stats_.workerRestarts;
  }
  Status st = startWorker(c);
  for (auto& nf : notifyFds)
    if (st.ok() && nf.containerKey == key) st = sendNotifyFd(c, nf.fd.get());
  if (!st.ok()) {
    LOG_ERROR("seccomp supervisor: starting the worker of %s: %s", c.id.c_str(),
              st.error().str().c_str());
    dropContainer(key);
  }
}

void Supervisor::Impl::updateCounts() {
  std::lock_guard<std::mutex> l(mu);
  stats_.containers = containers.size();
  stats_.notifyFds = notifyFds.size();
}

void Supervisor::Impl::dropContainer(const std::string& key) {
  std::unique_ptr<Container> c;
  {
    std::lock_guard<std::mutex> l(mu);
    auto it = containers.find(key);
    if (it == containers.end()) return;
    c = std::move(it->second);
    containers.erase(it);
    addCounts(stats_, *c->shared);
  }
  // Any copies of this container's notify fds we still hold go too, and the holder's.
  std::erase_if(notifyFds, [&](const NotifyFd& nf) { return nf.containerKey == key; });
  if (!c->heldAs.empty()) {
    releaseHeld("n/" + key + "/", /*prefix=*/true);
    releaseHeld(c->heldAs, /*prefix=*/false);
  }
  // A container that refused calls and exited within one poll tick still has them queued: stop
  // the worker (nothing more can be added then) and report them before the page goes.
  if (c->shared != nullptr) {
    c->stopWorker(/*killIt=*/true, nullptr);
    drainDenialsOf(*c);
  }
  c.reset();
}

// The worker died (crash, or killed by checkHungWorkers). A notification it had received but not
// answered would otherwise keep its caller blocked: answer it EPERM through our copies of the
// fds. The next notification starts a new worker on the same fds (ensureWorker).
void Supervisor::Impl::workerGone(const std::string& key) {
  auto it = containers.find(key);
  if (it == containers.end()) return;
  Container& c = *it->second;
  int status = 0;
  c.stopWorker(/*killIt=*/false, &status);
  const uint64_t inFlight = c.shared->inFlightId.exchange(0);
  if (inFlight != 0) {
    seccomp_notif_resp resp{};
    resp.id = inFlight;
    resp.error = -EPERM;
    for (auto& nf : notifyFds)
      if (nf.containerKey == key) (void)ioctl(nf.fd.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
  c.shared->busySinceNs = 0;
  LOG_WARN("seccomp supervisor: worker of %s exited (%s %d)%s", c.id.c_str(),
           WIFSIGNALED(status) ? "signal" : "status",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
           inFlight ? "; its pending call was refused" : "");
}

// A worker stuck in an action (e.g. a mount on a FUSE file system that does not answer) is
// killed after actionTimeout; workerGone() then refuses the stuck call and restarts it.
void Supervisor::Impl::checkHungWorkers() {
  const int64_t now = sys::clockNs(CLOCK_MONOTONIC);
  const int64_t limit = std::chrono::nanoseconds(opts.actionTimeout).count();
  for (auto& [key, c] : containers) {
    if (c->workerPid <= 0) continue;
    const int64_t since = c->shared->busySinceNs.load(std::memory_order_acquire);
    if (since != 0 && now - since > limit) {
      LOG_WARN("seccomp supervisor: worker of %s is stuck in a mount call; killing it",
               c->id.c_str());
      kill(c->workerPid, SIGKILL);
    }
  }
}

// Refused calls the workers queued (worker_protocol.h), to opts.onDenial. The ring is written by
// a process running with the container's credentials: indices are bounded and strings cut here.
void Supervisor::Impl::drainDenials() {
  for (auto& [key, c] : containers) drainDenialsOf(*c);
}

void Supervisor::Impl::drainDenialsOf(Container& c) {
  worker::Shared& sh = *c.shared;
  const uint64_t head = sh.denialHead.load(std::memory_order_acquire);
  uint64_t tail = sh.denialTail.load(std::memory_order_relaxed);
  if (head - tail > worker::kDenialSlots) tail = head - worker::kDenialSlots;
  const uint64_t dropped = sh.denialsDropped.load(std::memory_order_relaxed);
  const uint64_t newDrops = dropped - c.denialsDroppedSeen;
  if (head == tail) return;  // drops without a queued denial are reported with the next one
  for (; tail != head; ++tail) {
    const worker::Denial& d = sh.denials[tail % worker::kDenialSlots];
    const std::string call(d.call, strnlen(d.call, sizeof d.call));
    const std::string reason(d.reason, strnlen(d.reason, sizeof d.reason));
    const int err = d.err;
    if (opts.onDenial) opts.onDenial(c.id, call, err, reason, tail + 1 == head ? newDrops : 0);
  }
  sh.denialTail.store(head, std::memory_order_release);
  c.denialsDroppedSeen = dropped;
}

void Supervisor::Impl::acceptOne() {
  for (;;) {
    UniqueFd conn(accept4(listenFd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;  // EAGAIN: drained
    auto st = registerFd(conn.get());
    if (!st.ok()) {
      std::lock_guard<std::mutex> l(mu);
      ++stats_.registrationErrors;
      LOG_WARN("seccomp supervisor: refusing registration: %s", st.error().str().c_str());
    }
  }
}

Status Supervisor::Impl::startWorker(Container& c) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Error::fromErrno("socketpair(AF_UNIX, SOCK_SEQPACKET)");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  // Everything the child does between fork and exec is async-signal-safe (we are threaded):
  // argv and the fd table plan are built here, before fork.
  std::vector<std::string> args = {"eci-seccomp-worker", kWorkerFlag, c.id};
  if (log::level() <= log::Level::kDebug) args.emplace_back("--debug");
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int from[] = {theirs.get(),   procFd.get(),     c.userns.get(), c.mntns.get(),
                      c.mounts.get(), c.sharedFd.get(), c.pidns.get(),  c.netns.get()};
  const int to[] = {worker::kControlFd, worker::kProcFd,   worker::kUsernsFd, worker::kMntnsFd,
                    worker::kMountsFd,  worker::kSharedFd, worker::kPidnsFd,  worker::kNetnsFd};
  constexpr size_t kN = sizeof(to) / sizeof(to[0]);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // no handler may run in the child before exec
  const pid_t pid = fork();
  if (pid == 0) {
    // Move the fds to their fixed numbers via numbers above any of them, so no dup2 clobbers a
    // source still needed; -1 (a namespace we could not open) stays closed in the worker.
    int high[kN];
    for (size_t i = 0; i < kN; ++i) high[i] = from[i] >= 0 ? fcntl(from[i], F_DUPFD, 1000) : -1;
    for (size_t i = 0; i < kN; ++i)
      if (high[i] >= 0 && dup2(high[i], to[i]) < 0) _exit(127);
    // The memfd offset is shared with ours: the worker reads the table from the start.
    lseek(worker::kMountsFd, 0, SEEK_SET);
    sys::execSelfInChild(argv.data(), worker::kFirstFreeFd);
  }
  const int forkErr = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return Error(forkErr, "fork() for the seccomp worker of " + c.id);
  c.workerPid = pid;
  c.control = std::move(ours);
  ++c.starts;
  return {};
}

Status Supervisor::Impl::sendNotifyFd(Container& c, int fd) {
  worker::Msg msg;
  msg.type = worker::MsgType::kAddNotifyFd;
  if (sys::sendWithFds(c.control.get(), &msg, sizeof(msg), &fd, 1) !=
      static_cast<ssize_t>(sizeof(msg)))
    return Error::fromErrno("sending a notify fd to the worker of " + c.id);
  return {};
}

Status Supervisor::Impl::registerFd(int connFd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(connFd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return Error::fromErrno("getsockopt(SO_PEERCRED)");
  if (cred.uid != 0)
    return Error(ErrorKind::kDenied, "registration from uid " + std::to_string(cred.uid));
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
    if (truncated) return Error(ErrorKind::kProtocol, "seccomp registration: too many fds");
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (1 << 20))
      return Error(ErrorKind::kTooLarge, "seccomp registration: state larger than 1 MiB");
    // runc sends the whole state in one sendmsg but keeps the connection open: stop at the end
    // of the JSON document rather than waiting for EOF.
    if (nlohmann::json::accept(text)) break;
  }
  ECI_ASSIGN_OR_RETURN(state, parseProcessState(text));
  size_t idx = state.fds.size();
  for (size_t i = 0; i < state.fds.size(); ++i)
    if (state.fds[i] == "seccompFd") idx = i;
  if (idx >= state.fds.size() || idx >= fds.size())
    return Error(ErrorKind::kProtocol,
                 "seccomp registration for " + state.containerId + ": no seccompFd");
  UniqueFd notify = std::move(fds[idx]);
  char link[64] = {};
  std::string self = "/proc/self/fd/" + std::to_string(notify.get());
  if (readlink(self.c_str(), link, sizeof(link) - 1) < 0 ||
      std::string_view(link) != "anon_inode:seccomp notify")
    return Error(ErrorKind::kProtocol, "seccomp registration for " + state.containerId +
                                           ": fd is not a seccomp listener");
#ifdef SECCOMP_IOCTL_NOTIF_SET_FLAGS
  // Linux >= 6.6: wake the worker synchronously on the caller's CPU (a measured ~40% off the
  // round trip here); older kernels refuse the flag, which only costs speed.
  (void)ioctl(notify.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
#else
  (void)ioctl(notify.get(), SECCOMP_IOW(4, __u64), 1ULL);  // SET_FLAGS, FD_SYNC_WAKE_UP
#endif

  // Keyed by id and user namespace: a container re-created under the same id (while the old one's
  // fds are still draining) must not inherit the old one's mount snapshot or worker.
  // One open of the user namespace, both for the key and for the worker: two lookups by pid could
  // name two different processes if the pid were reused in between.
  const std::string proc = "/proc/" + std::to_string(state.pid);
  auto nsFd = [&](const char* kind) {
    return UniqueFd(open((proc + "/ns/" + kind).c_str(), O_RDONLY | O_CLOEXEC));
  };
  UniqueFd userns = nsFd("user");
  const auto usernsId = userns ? sys::nsIdOfFd(userns.get()) : std::nullopt;
  if (!usernsId)
    return Error(ErrorKind::kNotFound,
                 "seccomp registration for " + state.containerId + ": pid gone");
  const std::string key = state.containerId + "@" + std::to_string(usernsId->ino);
  auto it = containers.find(key);
  if (it == containers.end()) {
    // First fd of this container: runc has finished its mounts (it installs the filter right
    // before exec), so the table now is the container's initial one.
    auto c = std::make_unique<Container>();
    c->id = state.containerId;
    c->userns = std::move(userns);
    c->mntns = nsFd("mnt");
    c->pidns = nsFd("pid");
    c->netns = nsFd("net");
    if (!c->userns || !c->mntns) return Error::fromErrno("open('" + proc + "/ns/{user,mnt}')");
    ECI_ASSIGN_OR_RETURN(table, fs::readFile(proc + "/mountinfo", 4 << 20));
    if (auto parsed = parseMountInfo(table); !parsed.ok())  // refuse now, not in the worker
      return std::move(parsed).error();
    ECI_ASSIGN_OR_RETURN(mfd, memfdWith("eci-mountinfo", table.data(), table.size()));
    c->mounts = std::move(mfd);
    ECI_ASSIGN_OR_RETURN(sfd, memfdWith("eci-seccomp-worker", nullptr, 0));
    if (ftruncate(sfd.get(), sizeof(worker::Shared)) != 0) return Error::fromErrno("ftruncate");
    void* page =
        mmap(nullptr, sizeof(worker::Shared), PROT_READ | PROT_WRITE, MAP_SHARED, sfd.get(), 0);
    if (page == MAP_FAILED) return Error::fromErrno("mmap(worker page)");
    c->shared = new (page) worker::Shared();  // the memfd is zero-filled; this states the type
    c->sharedFd = std::move(sfd);
    {
      std::lock_guard<std::mutex> l(mu);
      it = containers.emplace(key, std::move(c)).first;
    }
    holdContainer(*it->second, key);
  }
  // A running worker takes the new fd (a `runc exec`) now; otherwise the container's first
  // notification starts one with all of them.
  if (Container& c = *it->second; c.workerPid > 0) {
    if (auto st = sendNotifyFd(c, notify.get()); !st.ok()) {
      // The worker is going away (its control socket is closing). Make sure it does: the next
      // notification starts a new one with every fd, this one included.
      LOG_WARN("seccomp supervisor: %s; restarting the worker", st.error().str().c_str());
      kill(c.workerPid, SIGKILL);
    }
  }
  ++it->second->notifyFds;
  notifyFds.push_back({std::move(notify), key, {}});
  holdNotifyFd(notifyFds.back());
  {
    std::lock_guard<std::mutex> l(mu);
    ++stats_.registrations;  // containers and notifyFds: updateCounts(), after every accept
  }
  LOG_DEBUG("seccomp supervisor: %s pid %d registered", state.containerId.c_str(), state.pid);
  return {};
}

}  // namespace eci::seccomp
