// The per-container seccomp worker (see include/eci/seccomp/worker.h and worker_protocol.h).
//
// Why a process of its own, joined to the container's namespaces, and not a thread of the
// supervisor: the actions must be checked by the kernel against the container root's
// credentials (a thread cannot join a user namespace: setns(CLONE_NEWUSER) needs a
// single-threaded caller), and a hop from the supervisor to a helper process costs a second
// wake-up per trapped call. The worker is exec'ed, not just forked, so it runs the full decision
// code in a clean single-threaded address space that holds nothing of the daemon's.
#include "eci/seccomp/worker.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "eci/seccomp/rules.h"
#include "eci/sys.h"
#include "eci/unique_fd.h"
#include "worker_act.h"
#include "worker_env.h"
#include "worker_fresh.h"
#include "worker_protocol.h"

namespace eci::seccomp {

namespace {

using sys::NsId;
using worker::ContainerView;
using worker::kProcFd;
using worker::nsOf;
using worker::openNsOf;
using worker::probeStatmount;
using worker::ProcessMemory;
using worker::procPath;
using worker::RealEnvironment;

class Worker {
 public:
  Worker(ContainerView view, worker::Shared* shared) : c_(std::move(view)), shared_(shared) {}
  [[noreturn]] void run();

 private:
  void handle(int notifyFd);
  void respond(int fd, uint64_t id, int err, bool cont);

  ContainerView c_;
  worker::Shared* shared_;

  // After the caller has its answer: the denial into the audit ring, or only counted when the
  // supervisor has not drained it yet (never waits).
  void recordDenial(Call call, int err, const char* why) {
    const uint64_t head = shared_->denialHead.load(std::memory_order_relaxed);
    const uint64_t tail = shared_->denialTail.load(std::memory_order_acquire);
    if (head - tail >= worker::kDenialSlots) {
      shared_->denialsDropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    worker::Denial& d = shared_->denials[head % worker::kDenialSlots];
    std::snprintf(d.call, sizeof d.call, "%s", callName(call));
    std::snprintf(d.reason, sizeof d.reason, "%s", why);
    d.err = err;
    shared_->denialHead.store(head + 1, std::memory_order_release);
  }
  std::vector<UniqueFd> notifyFds_;
  std::map<std::pair<uint32_t, int>, Call> callCache_;
  size_t notifSize_ = sizeof(seccomp_notif);
  std::vector<char> notifBuf_;

  Call callOf(uint32_t arch, int nr) {
    auto key = std::make_pair(arch, nr);
    auto it = callCache_.find(key);
    if (it != callCache_.end()) return it->second;
    Call c = Call::kUnknown;
    char* name = seccomp_syscall_resolve_num_arch(arch, nr);
    if (name) {
      c = callFromName(name);
      free(name);
    }
    callCache_.emplace(key, c);
    return c;
  }
};

void Worker::respond(int fd, uint64_t id, int err, bool cont) {
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.error = err ? -err : 0;
  resp.flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
  // ENOENT: the caller died or was interrupted meanwhile; nothing to answer.
  (void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

void Worker::handle(int notifyFd) {
  std::fill(notifBuf_.begin(), notifBuf_.end(), 0);  // RECV requires a zeroed buffer
  auto* req = reinterpret_cast<seccomp_notif*>(notifBuf_.data());
  if (ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) return;  // ENOENT: caller gone
  shared_->notifications.fetch_add(1, std::memory_order_relaxed);
  const pid_t pid = static_cast<pid_t>(req->pid);
  const Call call = callOf(req->data.arch, req->data.nr);
  uint64_t args[6];
  for (int i = 0; i < 6; ++i) args[i] = req->data.args[i];
  ProcessMemory mem(pid);
  Decoded d = decode(call, args, mem);
  // The memory we read (and the paths we resolve) belonged to the caller only if it is still
  // blocked in this very call; if it died, its pid may name another process by now. That is
  // checked once, with SECCOMP_IOCTL_NOTIF_ID_VALID right before any action below: a decision
  // made from a stranger's memory is then never acted on, and answering a notification that is
  // no longer pending is a no-op (ENOENT), so an earlier check here would only cost a syscall.
  RealEnvironment env(pid, d, c_);
  Decision dec = decide(d, *c_.mounts, env);
  LOG_DEBUG("seccomp %s pid %d %s: %s (%s)", c_.id.c_str(), pid, callName(call),
            actionName(dec.action), dec.reason.c_str());
  if (dec.action == Action::kContinue) {
    shared_->continued.fetch_add(1, std::memory_order_relaxed);
    return respond(notifyFd, req->id, 0, true);
  }
  if (dec.action == Action::kError) {
    shared_->refused.fetch_add(1, std::memory_order_relaxed);
    respond(notifyFd, req->id, dec.err, false);
    if (dec.audited) recordDenial(call, dec.err, dec.reason.c_str());
    return;
  }
  auto refuse = [&](int err, const char* why) {
    LOG_DEBUG("seccomp %s pid %d %s: refused: %s", c_.id.c_str(), pid, callName(call), why);
    shared_->refused.fetch_add(1, std::memory_order_relaxed);
    respond(notifyFd, req->id, err, false);
    recordDenial(call, err, why);
  };
  // We act with the container root's credentials. A caller in a nested user namespace may hold
  // CAP_SYS_ADMIN there without holding it over the container's mounts; doing its call as the
  // container's root would grant more than the kernel would, so it is refused instead.
  if (!env.callerInContainerUserns()) return refuse(EPERM, "caller is in a nested user namespace");

  const uint64_t flags = d.call == Call::kMount       ? d.args[3]
                         : d.call == Call::kUmount2   ? d.args[1]
                         : d.call == Call::kMoveMount ? d.args[4]
                                                      : d.args[2];
  int target = -1, source = -1;
  UniqueFd parentFd;
  std::string name;
  uint64_t mountId = 0;
  switch (dec.action) {
    case Action::kReplayMount:
      target = env.targetFd();
      if (flags & (MS_BIND | MS_MOVE)) source = env.sourceFd();
      break;
    case Action::kCloneTree:
      target = env.targetFd();
      source = env.inRootFd();
      break;
    case Action::kFreshTree:
      target = env.targetFd();
      break;
    case Action::kMoveMount:
      target = env.targetFd();
      source = env.sourceFd();
      break;
    case Action::kUmount: {
      // The umount goes by parent directory + name: an fd on the mount itself would pin it
      // (EBUSY), so ours is closed before acting.
      PathInfo t = env.resolve(Environment::Which::kTarget);
      if (t.mount && t.mount->mountPoint != "/") {
        const auto& mp = t.mount->mountPoint;
        name = mp.substr(mp.rfind('/') + 1);
        if (!name.empty() && name.size() < 256 && name != "." && name != "..") {
          parentFd = UniqueFd(openat(env.targetFd(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
          // A file mount point (a bind of a file) has no `..`: its directory is found by the
          // mount point's path in the caller's root. Either way the mount id is checked again
          // on parent + name before the unmount, so a path swapped meanwhile unmounts nothing.
          if (!parentFd && errno == ENOTDIR) {
            const size_t slash = mp.rfind('/');
            PathInfo dir = env.resolveInRoot(slash == 0 ? "/" : mp.substr(0, slash));
            if (dir.err == 0 && env.inRootFd() >= 0)
              parentFd = UniqueFd(fcntl(env.inRootFd(), F_DUPFD_CLOEXEC, 0));
          }
          mountId = static_cast<uint64_t>(t.mount->id);
        }
      }
      if (!parentFd && t.mount && t.mountRoot && (flags & MNT_DETACH)) {
        // No parent to go by (`/`: pivot_root's old root, which runc unmounts with `umount2(".",
        // MNT_DETACH)`): by our own fd on the mount, which a lazy unmount does not mind.
        mountId = static_cast<uint64_t>(t.mount->id);
        name.clear();
        target = env.targetFd();
        break;
      }
      env.closeTarget();
      target = parentFd.get();
      break;
    }
    case Action::kMountSetattr:
    case Action::kFspick:
    case Action::kChmod:
      target = env.targetFd();
      break;
    default:
      break;
  }
  const bool needTarget = dec.action != Action::kFsopen && dec.action != Action::kCreateSetId;
  if ((needTarget && target < 0) ||
      ((dec.action == Action::kMoveMount || dec.action == Action::kCloneTree) && source < 0))
    return refuse(EPERM, "a path of the call could not be pinned");
  // A fresh proc/sysfs: the caller's pid (net) namespace, opened before the last ID_VALID check
  // below, so it is the caller's and not a recycled pid's; and the container's masks, cloned in
  // its first mount namespace before we enter the caller's.
  UniqueFd callerNs;
  std::vector<worker::MaskClone> masks;
  const bool freshProc = d.fstype && *d.fstype == "proc";
  if (dec.action == Action::kFreshTree) {
    callerNs = openNsOf(pid, freshProc ? "pid" : "net");
    if (!callerNs) return refuse(EPERM, "the caller's namespace could not be opened");
    const int tmpl = freshProc ? c_.procTemplate.get() : c_.sysTemplate.get();
    const int e = worker::cloneTemplateMasks(c_.initialMntns.get(), tmpl, &masks);
    c_.currentMntns.reset();  // it may have entered the container's first namespace
    if (e != 0) return refuse(EPERM, "the container's own masks could not be cloned");
  }
  // A new mqueue belongs to the ipc namespace of whoever makes it, a new cgroup2 mount is rooted
  // at the cgroup namespace of whoever makes it (and for both the kernel checks CAP_SYS_ADMIN
  // over that namespace's owner): we make it from the caller's, as the caller would. From our own
  // (the host's) a cgroup2 mount is refused - its owner is the host's user namespace - and, were
  // it not, would show the host's whole tree; from the caller's it is the caller's own cgroup
  // (engines never put a container at the unified root), owners as they are: a delegated cgroup
  // stays bounded by the root-owned files in and above it (e2e_cgroup2). cgroup v1 mounts never
  // get here (rules.cc isAllowedNewFsType says why). Opened before the last ID_VALID check, like
  // the rest.
  UniqueFd callerFsNs;
  int callerFsNsType = 0;
  if ((dec.action == Action::kReplayMount || dec.action == Action::kFsopen) && d.fstype) {
    if (*d.fstype == "mqueue") {
      callerFsNs = openNsOf(pid, "ipc");
      callerFsNsType = CLONE_NEWIPC;
    } else if (*d.fstype == "cgroup2") {
      callerFsNs = openNsOf(pid, "cgroup");
      callerFsNsType = CLONE_NEWCGROUP;
    }
    if (callerFsNsType != 0 && !callerFsNs)
      return refuse(EPERM, "the caller's namespace for this filesystem could not be opened");
  }
  // Actions such as umount or move_mount only work on mounts of the caller's own namespace.
  if (int e = worker::enterMntnsOf(pid, env.callerMntns(), c_); e != 0)
    return refuse(EPERM, "cannot enter the caller's mounts");
  // A mount(MS_MOVE) decided as kMoveMount moves source onto target with the new API.
  uint64_t actFlags = (dec.action == Action::kMoveMount && d.call == Call::kMount) ? 0 : flags;
  if (dec.action == Action::kChmod) {
    if (int e = worker::chmodModeFor(pid, target, chmodMode(d), &actFlags); e != 0)
      return refuse(e, "the caller may not change this file's mode");
  }

  // Published before acting: if we die or hang here the supervisor answers this id for us.
  shared_->inFlightId.store(req->id, std::memory_order_relaxed);
  shared_->busySinceNs.store(sys::clockNs(CLOCK_MONOTONIC), std::memory_order_release);
  // Last check before acting: a caller killed meanwhile must not get a mount made on its behalf.
  if (ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0) {
    shared_->busySinceNs.store(0, std::memory_order_relaxed);
    shared_->inFlightId.store(0, std::memory_order_release);
    return;
  }
  int outFd = -1;
  UniqueFd result;
  int err = 0;
  const char* refusal = nullptr;
  // The worker's own ipc and cgroup namespaces matter to nothing else it does (a cgroup
  // namespace changes what cgroup mounts and /proc/<pid>/cgroup show, not where we are): they
  // simply stay until the next mqueue or cgroup2 mount enters the next caller's.
  if (callerFsNs && setns(callerFsNs.get(), callerFsNsType) != 0) err = errno;
  if (err != 0) {
    // the namespace could not be entered: nothing was done
  } else if (dec.action == Action::kCreateSetId) {
    err = worker::createSetId(env, d, *c_.mounts, pid, &result, &refusal);
  } else if (dec.action == Action::kFreshTree) {
    const auto options = freshTreeOptions(freshProc, d.data ? *d.data : std::string());
    err = options ? worker::freshTree(freshProc, callerNs.get(), target, masks, flags, *options)
                  : EINVAL;
  } else {
    err = worker::act(dec.action, d, actFlags, target, source, name, mountId, &outFd);
    result = UniqueFd(outFd);
  }
  if (err != 0) {
    shared_->emulationFailed.fetch_add(1, std::memory_order_relaxed);
    respond(notifyFd, req->id, err, false);
    // A set-id create that turns out to land on a host path is a refusal, not a failure.
    if (refusal && err == EPERM) recordDenial(call, err, refusal);
  } else if (result) {
    seccomp_notif_addfd add{};
    add.id = req->id;
    add.flags = SECCOMP_ADDFD_FLAG_SEND;  // installs the fd and answers with its number, atomically
    add.srcfd = static_cast<uint32_t>(result.get());
    const bool cloexec = (d.call == Call::kFsopen && (d.args[1] & FSOPEN_CLOEXEC)) ||
                         (d.call == Call::kFspick && (d.args[2] & FSPICK_CLOEXEC)) ||
                         (d.call == Call::kOpen && (d.args[1] & O_CLOEXEC)) ||
                         (d.call == Call::kOpenat && (d.args[2] & O_CLOEXEC));
    add.newfd_flags = cloexec ? O_CLOEXEC : 0;
    shared_->emulated.fetch_add(1, std::memory_order_relaxed);
    if (ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0 && errno != ENOENT) {
      const int e = errno;
      LOG_WARN("seccomp %s: SECCOMP_IOCTL_NOTIF_ADDFD(%s): %s", c_.id.c_str(), callName(call),
               strerror(e));
      respond(notifyFd, req->id, e == EMFILE ? EMFILE : EPERM, false);
    }
  } else {
    shared_->emulated.fetch_add(1, std::memory_order_relaxed);
    respond(notifyFd, req->id, 0, false);
  }
  shared_->busySinceNs.store(0, std::memory_order_relaxed);
  shared_->inFlightId.store(0, std::memory_order_release);
}

void Worker::run() {
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0)
    notifSize_ = std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif));
  notifBuf_.assign(notifSize_, 0);
  std::vector<pollfd> pfds;
  for (;;) {
    pfds.clear();
    pfds.push_back({worker::kControlFd, POLLIN, 0});
    for (auto& fd : notifyFds_) pfds.push_back({fd.get(), POLLIN, 0});
    int n = poll(pfds.data(), pfds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(20);
    }
    if (pfds[0].revents) {
      worker::Msg msg;
      int fd = -1;
      size_t got = 0;
      bool truncated = false;
      ssize_t r = sys::recvWithFds(worker::kControlFd, &msg, sizeof(msg), &fd, 1, &got, &truncated);
      if (r == 0) _exit(0);  // the supervisor closed us: the container is gone
      if (r < 0 && errno != EINTR && errno != EAGAIN) _exit(21);
      if (got == 1) {
        UniqueFd nfd(fd);
        if (r == static_cast<ssize_t>(sizeof(msg)) && msg.type == worker::MsgType::kAddNotifyFd &&
            fcntl(nfd.get(), F_SETFL, O_NONBLOCK) == 0)
          notifyFds_.push_back(std::move(nfd));
      }
    }
    // Backwards, so erasing keeps the remaining indices valid.
    for (size_t i = pfds.size(); i-- > 1;) {
      if (pfds[i].revents & POLLIN) handle(pfds[i].fd);
      if (pfds[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
        // Every task using this filter is gone (Linux >= 5.8 signals it with a hang-up).
        notifyFds_.erase(notifyFds_.begin() + static_cast<long>(i - 1));
      }
    }
  }
}

// The root of the proc (sysfs) mount at `path`, or an empty fd.
UniqueFd openTreeRoot(const char* path, long magic) {
  UniqueFd fd(open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct statfs sf {};
  struct statx sx {};
  if (!fd || fstatfs(fd.get(), &sf) != 0 || sf.f_type != magic ||
      statx(fd.get(), "", AT_EMPTY_PATH, 0, &sx) != 0 ||
      !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
    return UniqueFd();
  return fd;
}

// Joins the container and runs; exit codes >= 10 name the step that failed (for the
// supervisor's log).
int workerMain(int argc, char** argv) {
  // Dies with the supervisor: a worker must never outlive the fds' owner.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 9;  // the supervisor died before we set the death signal
  log::setProgramName("eci-seccomp-worker");
  if (argc < 3) return 10;
  for (int i = 3; i < argc; ++i)
    if (std::string_view(argv[i]) == "--debug") log::setLevel(log::Level::kDebug);
  ContainerView view;
  view.id = argv[2];
  void* page = mmap(nullptr, sizeof(worker::Shared), PROT_READ | PROT_WRITE, MAP_SHARED,
                    worker::kSharedFd, 0);
  if (page == MAP_FAILED) return 11;
  auto* shared = static_cast<worker::Shared*>(page);
  close(worker::kSharedFd);
  auto text = fs::readFd(worker::kMountsFd, 4 << 20, "the initial mountinfo");
  if (!text.ok()) return 12;
  auto table = parseMountInfo(*text);
  if (!table.ok()) return 13;
  close(worker::kMountsFd);
  view.mounts = std::make_unique<ContainerMounts>(std::move(*table));
  view.pidns = sys::nsIdOfFd(worker::kPidnsFd);
  view.netns = sys::nsIdOfFd(worker::kNetnsFd);
  view.userns = sys::nsIdOfFd(worker::kUsernsFd);
  close(worker::kPidnsFd);
  close(worker::kNetnsFd);
  if (!view.userns) return 14;
  // Not dumpable, before joining: once we are the container root's uid in its user namespace,
  // ptrace_may_access() would let the container (same uid, CAP_SYS_PTRACE in that namespace
  // under --privileged) ptrace us, read /proc/<pid>/mem, environ or fd/, process_vm_readv us or
  // pidfd_getfd our fds (the notify fds, the host /proc). A non-dumpable task needs
  // CAP_SYS_PTRACE in its mm's user namespace - the host's, where we were exec'ed - which no
  // container holds. (We are not even visible to it: we never join its pid namespace.) Our own
  // /proc/thread-self/fd links stay usable: procfs lets a task into its own fd table whatever
  // its dumpable state. setresuid below would clear the flag anyway; it is never set again.
  if (prctl(PR_SET_DUMPABLE, 0) != 0) return 19;
  // Join the container's user namespace as its root: the kernel then checks every action
  // against the container's capabilities, and new superblocks belong to the container.
  if (setns(worker::kUsernsFd, CLONE_NEWUSER) != 0) return 15;
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) return 16;
  setgroups(0, nullptr);  // refused when the container's setgroups is "deny"; harmless then
  if (prctl(PR_GET_DUMPABLE) != 0) return 19;
  close(worker::kUsernsFd);
  if (setns(worker::kMntnsFd, CLONE_NEWNS) != 0) return 17;
  view.currentMntns = sys::nsIdOfFd(worker::kMntnsFd);
  view.initialMntns = UniqueFd(worker::kMntnsFd);
  view.firstMntns = view.currentMntns;
  // setns put our root at the container's: its /proc and /sys are the runtime's, which cannot be
  // unmounted, moved or covered (rules.cc), so they stay the templates of fresh trees. Missing
  // or of another type: fresh trees are refused (nothing else depends on them).
  view.procTemplate = openTreeRoot("/proc", PROC_SUPER_MAGIC);
  view.sysTemplate = openTreeRoot("/sys", SYSFS_MAGIC);
  view.statmountWorks = probeStatmount(view.mounts->initial());
  LOG_DEBUG("seccomp %s: worker ready (statmount %s)", view.id.c_str(),
            view.statmountWorks ? "in use" : "unavailable: reading mountinfo");
  if (fchdir(kProcFd) != 0) return 18;
  Worker w(std::move(view), shared);
  w.run();
}

}  // namespace

std::optional<int> runWorkerIfRequested(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != kWorkerFlag) return std::nullopt;
  return workerMain(argc, argv);
}

}  // namespace eci::seccomp
