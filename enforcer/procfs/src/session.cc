// A container's FUSE session's life (session.h): mounting both connections, the serving
// thread, hang and health checks, stop, status.
#include "session.h"

#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>

namespace eci::procfs {

namespace {

// The first knob file handle of this process: random, so handles the kernel still holds from a
// previous process (resume) are unknown here rather than someone else's open file.
uint64_t randomFhStart() {
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, 0) != sizeof v) v = static_cast<uint64_t>(clockNs(CLOCK_REALTIME));
  return v | 1;  // never 0 (no handle)
}

Result<std::string> readAll(int fd, size_t max) {
  std::string out(max + 1, '\0');
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t r = pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::fromErrno("reading the held procfs state");
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  if (got > max) return Error(ErrorKind::kTooLarge, "held procfs state too large");
  out.resize(got);
  return out;
}

}  // namespace

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
    return Error(ErrorKind::kUnavailable,
                 "fuse_session_mount('" + devPath + "') for '" + at.string() + "'");
  }
  c.fd = dev.release();
  return {};
}

Status Session::waitInit(Connection& c) {
  // The kernel's INIT is queued at mount; it must be answered before the mount is usable.
  {
    std::unique_lock<std::mutex> lk(initMu_);
    initCv_.wait_for(lk, std::chrono::seconds(5),
                     [&] { return c.initDone || threadEnded_ || c.dead; });
  }
  if (!c.initDone)
    return Error(ErrorKind::kTimeout, "FUSE INIT on '" + c.mountpoint.string() + "'");
  return connIdOf(c);
}

Status Session::connIdOf(Connection& c) {
  // DONT_SYNC: st_dev comes from the superblock, no GETATTR (resume() runs before we serve).
  struct statx stx {};
  if (statx(c.root.get(), "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &stx) != 0)
    return Error::fromErrno("statx('" + c.mountpoint.string() + "')");
  // fusectl names a connection by the kernel's dev_t of the superblock (MKDEV: major << 20).
  c.connId = (static_cast<unsigned long>(stx.stx_dev_major) << 20) | stx.stx_dev_minor;
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
  knobFiles_.reset(randomFhStart());
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
    return Error(ErrorKind::kUnsupported,
                 "FUSE on this kernel lacks auto_inval_data (Linux >= 3.6 has it)");
  // On top of the static connection's proc/sys: mount(2) walks there through the static
  // connection, which the thread already serves.
  ECI_TRY(mount(knobs_, knobsOps(), dir_ / "proc" / "sys"));
  wake();  // poll the new /dev/fuse fd too
  ECI_TRY(waitInit(knobs_));
  // The state a restarted eci-enforcerd needs (held_state.h); the module hands it to the holder.
  // Named after the container so that an operator (and the e2e test) can tell them apart in
  // the holder's /proc/<pid>/fd.
  const std::string memfdName = "eci-procfs-state:" + info_.id;
  UniqueFd memfd(static_cast<int>(syscall(SYS_memfd_create, memfdName.c_str(), MFD_CLOEXEC)));
  if (!memfd) return Error::fromErrno("memfd_create(eci-procfs-state)");
  stateFd_ = std::move(memfd);
  saveState();
  return {};
}

void Session::saveState() {
  if (!stateFd_) return;
  HeldState s;
  s.staticInit = static_.init;
  s.knobsInit = knobs_.init;
  s.rootUid = info_.rootUid;
  s.rootGid = info_.rootGid;
  s.startRealNs = startRealNs_;
  s.startBoottime = startBoottime_;
  s.hostIdleAtStart = hostIdleAtStart_;
  {
    std::lock_guard lk(valuesMu_);
    for (const auto& v : values_) s.knobs[v.spec().path] = v.render();
  }
  const std::string text = encodeHeldState(s);
  // Truncate after writing: the text never shrinks below what a reader parses as a whole, and a
  // failure leaves the previous (complete) text or a longer one with our text in front, which
  // decode refuses (fail closed: that container's emulation is then not resumed).
  if (pwrite(stateFd_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
      ftruncate(stateFd_.get(), static_cast<off_t>(text.size())) != 0)
    LOG_WARN("procfs %s: saving the emulation's state for restarts: %s", info_.id.c_str(),
             std::strerror(errno));
}

std::vector<int> Session::heldFds() const {
  return {static_.fd.load(), knobs_.fd.load(), static_.root.get(), knobs_.root.get(),
          stateFd_.get()};
}

Status Session::attach(Connection& c, const fuse_lowlevel_ops& ops, const std::filesystem::path& at,
                       UniqueFd dev, UniqueFd root, const InitRecord& init) {
  c.mountpoint = at;
  c.root = std::move(root);
  const char* argv[] = {"eci-procfs"};
  fuse_args args = FUSE_ARGS_INIT(1, const_cast<char**>(argv));
  c.se = fuse_session_new(&args, &ops, sizeof(fuse_lowlevel_ops), &c);
  fuse_opt_free_args(&args);
  if (!c.se) return Error("fuse_session_new('" + at.string() + "') failed");
  const std::string devPath = "/dev/fd/" + std::to_string(dev.get());
  if (fuse_session_mount(c.se, devPath.c_str()) != 0)
    return Error(ErrorKind::kUnavailable,
                 "fuse_session_mount('" + devPath + "') for '" + at.string() + "'");
  c.fd = dev.release();  // libfuse owns it now (fuse_session_destroy closes it)
  // The kernel's INIT again, so that libfuse accepts requests (se->got_init) with what the kernel
  // negotiated. Processed here, before the serving thread polls this fd: nothing races it.
  const std::string req = syntheticInit(init);
  fuse_buf b{};
  b.size = req.size();
  b.mem = const_cast<char*>(req.data());
  fuse_session_process_buf(c.se, &b);
  // The init handler ran and libfuse did not exit the session over it (it does on a want/capable
  // mismatch): the session is in the state the first INIT left the previous one in.
  if (!c.initDone || fuse_session_exited(c.se))
    return Error(ErrorKind::kProtocol, "replaying FUSE INIT on '" + at.string() + "'");
  c.init = init;
  return connIdOf(c);
}

Status Session::resume(std::vector<UniqueFd> held) {
  if (held.size() != kHeldFdCount)
    return Error(ErrorKind::kInvalidInput, "held procfs fds: wrong count");
  ECI_ASSIGN_OR_RETURN(text, readAll(held[4].get(), kMaxHeldStateBytes));
  ECI_ASSIGN_OR_RETURN(state, decodeHeldState(text));
  knobFiles_.reset(randomFhStart());
  info_.rootUid = state.rootUid;
  info_.rootGid = state.rootGid;
  // The same trees as the first process built (same kernel, same knobs): node ids are positions
  // in them, so the inodes the kernel cached keep meaning the same files.
  buildTrees();
  uuid_ = productUuid(info_.id);
  startBoottime_ = state.startBoottime;
  startRealNs_ = state.startRealNs;
  hostIdleAtStart_ = state.hostIdleAtStart;
  cpus_ = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  if (auto fd = sys::open(opt_.hostUptime.string(), O_RDONLY); fd.ok())
    hostUptime_ = std::move(*fd);
  {
    std::lock_guard lk(valuesMu_);
    // Exactly the knobs the first process served, each with the container's value: a knob
    // missing on either side would shift node ids or lose a value.
    if (state.knobs.size() != values_.size())
      return Error(ErrorKind::kInvalidInput, "held procfs state: knobs differ from this kernel's");
    for (auto& v : values_) {
      auto it = state.knobs.find(v.spec().path);
      if (it == state.knobs.end() || v.write(it->second, 0) != 0 || v.render() != it->second)
        return Error(ErrorKind::kInvalidInput,
                     std::string("held procfs state: knob ") + v.spec().path);
    }
  }
  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return Error::fromErrno("eventfd()");
  wakeFd_.reset(efd);
  stateFd_ = std::move(held[4]);
  ECI_TRY(
      attach(static_, staticOps(), dir_, std::move(held[0]), std::move(held[2]), state.staticInit));
  if (!static_.autoInvalData)
    return Error(ErrorKind::kUnsupported,
                 "FUSE on this kernel lacks auto_inval_data (Linux >= 3.6 has it)");
  ECI_TRY(attach(knobs_, knobsOps(), dir_ / "proc" / "sys", std::move(held[1]), std::move(held[3]),
                 state.knobsInit));
  resumed_ = true;
  // Both libfuse sessions accept requests now (INIT replayed) and nobody reads them yet: what the
  // kernel requeues lands in the pending queue and is the first thing the thread reads.
  notifyResend(static_);
  notifyResend(knobs_);
  thread_ = std::thread([this] { loop(); });
  return {};
}

void Session::notifyResend(Connection& c) {
  // Requests the previous process read but never answered (killed between its read and its
  // reply) are still in the processing queue of this /dev/fuse file; without this they are never
  // answered. Re-sent requests are ordinary requests for us: every handler here is idempotent (a
  // knob write at the same offset with the same bytes leaves the same value; see README).
  const std::string msg = resendNotification();
  const Status st = sys::writeMessage(c.fd.load(), msg.data(), msg.size(), "FUSE_NOTIFY_RESEND");
  c.resendResult = st.ok() ? 0 : st.error().errnoOr(EIO);
  if (st.ok()) return;
  // An older kernel (< 6.9) does not know the notification (EINVAL): today's behaviour then, a
  // request the previous process had read stays unanswered until its reader is killed. Nothing
  // is served from the host either way.
  LOG_WARN(
      "procfs %s: %s connection: asking the kernel to resend unanswered requests "
      "(FUSE_NOTIFY_RESEND, Linux >= 6.9; kernel advertises it: %s): %s",
      info_.id.c_str(), c.name, initAdvertisesResend(c.init) ? "yes" : "no",
      st.error().str().c_str());
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
  signalInit();
}

void Session::serve(Connection& c, short revents) {
  if (!(revents & POLLIN)) {  // POLLERR: unmounted or aborted
    c.dead = true;
    signalInit();
    return;
  }
  const int res = fuse_session_receive_buf(c.se, &c.buf);
  if (res == -EINTR || res == -EAGAIN) return;
  if (res <= 0) {  // -ENODEV (libfuse returns 0 then): unmounted or aborted
    c.dead = true;
    signalInit();
    return;
  }
  if (!(c.buf.flags & FUSE_BUF_IS_FD) && c.buf.size >= sizeof(fuse_in_header)) {
    uint32_t opcode;
    std::memcpy(&opcode, static_cast<const char*>(c.buf.mem) + offsetof(fuse_in_header, opcode),
                sizeof opcode);
    for (size_t i = 0; i < std::size(kCountedOps); ++i)
      if (kCountedOps[i].first == opcode) c.ops[i].fetch_add(1, std::memory_order_relaxed);
    uint64_t unique;
    std::memcpy(&unique, static_cast<const char*>(c.buf.mem) + offsetof(fuse_in_header, unique),
                sizeof unique);
    if (unique & kFuseUniqueResend) c.resentRequests.fetch_add(1, std::memory_order_relaxed);
    // Kept for a restart of ours (held_state.h); set before the init handler publishes initDone.
    if (opcode == FUSE_INIT)
      if (auto r = initRecordOf(c.buf.mem, c.buf.size)) c.init = *r;
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

void Session::joinThread() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake();
  thread_.join();
}

void Session::destroyConnections() {
  for (Connection* c : {&knobs_, &static_}) {
    if (c->se) fuse_session_destroy(c->se);
    c->se = nullptr;
    c->fd = -1;
    free(c->buf.mem);
    c->buf.mem = nullptr;
  }
}

void Session::detach() {
  joinThread();
  // Our copies of the fds close; the holder's keep both connections (and the mounts) alive.
  destroyConnections();
  for (Connection* c : {&knobs_, &static_}) c->root.reset();
}

void Session::stop() {
  // Knobs first: that mount sits on the static connection's proc/sys.
  unmount(knobs_);
  unmount(static_);
  joinThread();
  // Closes /dev/fuse: with no server left the kernel aborts the connection, so binds still held
  // by a dying container fail with ENOTCONN instead of pinning us.
  destroyConnections();
}

nlohmann::json Session::status() const {
  nlohmann::json j;
  j["dir"] = dir_.string();
  j["healthy"] = healthy();
  j["resumed"] = resumed_;
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
    cj["resendResult"] = c->resendResult.load();
    cj["resentRequests"] = c->resentRequests.load();
    nlohmann::json ops = nlohmann::json::object();
    for (size_t i = 0; i < std::size(kCountedOps); ++i)
      ops[kCountedOps[i].second] = c->ops[i].load(std::memory_order_relaxed);
    cj["ops"] = std::move(ops);
    total += c->requests.load();
    j["connections"][c->name] = std::move(cj);
  }
  j["requests"] = total;
  j["adoptedKnobHandles"] = knobFiles_.adopted();
  return j;
}

}  // namespace eci::procfs
