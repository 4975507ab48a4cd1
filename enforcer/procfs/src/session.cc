// A container's FUSE session's life (session.h): mounting both connections, the serving
// thread, hang and health checks, stop, status.
#include "session.h"

namespace eci::procfs {

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
  {
    std::unique_lock<std::mutex> lk(initMu_);
    initCv_.wait_for(lk, std::chrono::seconds(5),
                     [&] { return c.initDone || threadEnded_ || c.dead; });
  }
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

}  // namespace eci::procfs
