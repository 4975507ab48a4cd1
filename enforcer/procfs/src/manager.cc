#include "eci/procfs/manager.h"

#include "session.h"

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

Manager::Manager(ManagerOptions options) : opt_(std::move(options)) {}

Manager::~Manager() {
  std::lock_guard lk(mu_);
  for (auto& [id, s] : sessions_) {
    // With the holder keeping its connections, a stop is a restart to come: keep the mounts,
    // requests wait in the kernel for the next instance (fail closed: pending, not host values).
    if (holder_) {
      s->detach();
      continue;
    }
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

void Manager::connectHolder() {
  auto c = fdhold::Client::connectOrStart(opt_.fdHolderSocket, opt_.fdHolderGrace);
  if (!c.ok()) {
    LOG_WARN("procfs: no fd holder (%s); containers lose their emulation if we restart",
             c.error().str().c_str());
    holder_.reset();
    return;
  }
  holder_.emplace(std::move(*c));
}

void Manager::hold(const std::string& id, const Session& s) {
  if (!holder_) return;
  const auto fds = s.heldFds();
  if (!holder_->put(kHeldPrefix + id, fds.data(), fds.size()).ok()) resyncHolder();
}

// The holder went away: reach (or start) one again and give it exactly what we serve now.
void Manager::resyncHolder() {
  LOG_WARN("procfs: lost the fd holder; reconnecting and handing it every session again");
  connectHolder();
  bool ok = holder_ && holder_->dropPrefix(kHeldPrefix).ok();
  for (auto& [id, s] : sessions_) {
    if (!ok) break;
    const auto fds = s->heldFds();
    ok = holder_->put(kHeldPrefix + id, fds.data(), fds.size()).ok();
  }
  if (holder_ && !ok) {
    LOG_ERROR("procfs: the fd holder failed again; running without it");
    holder_.reset();
  }
}

void Manager::resumeHeld() {
  if (opt_.fdHolderSocket.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  std::lock_guard lk(mu_);
  connectHolder();
  if (!holder_) return;
  auto entries = holder_->list();
  if (!entries.ok()) {
    LOG_WARN("procfs: reading the fd holder: %s", entries.error().str().c_str());
    resyncHolder();
    return;
  }
  for (auto& e : *entries) {
    if (!e.name.starts_with(kHeldPrefix)) continue;  // the seccomp supervisor's
    const std::string id = e.name.substr(std::strlen(kHeldPrefix));
    auto drop = [&](const std::string& why) {
      // Dropping closes the holder's fds; ours close with `e` or the session: with no fd left
      // the kernel aborts both connections (ENOTCONN), and cleanupStale() unmounts them.
      LOG_WARN("procfs: not resuming the emulation of %s: %s", id.c_str(), why.c_str());
      if (!holder_->drop(e.name).ok()) resyncHolder();
    };
    if (!validId(id) || e.fds.size() != Session::kHeldFdCount) {
      drop("malformed holder entry");
      ++resumeFailed_;
      continue;
    }
    if (opt_.containerExists && !opt_.containerExists(id)) {
      drop("the runtime no longer has it");
      ++resumeDropped_;
      continue;
    }
    // Root uid/gid come from the held state (resume() reads it); the info here is a placeholder
    // the session replaces.
    auto s = std::make_unique<Session>(opt_, ContainerInfo{id, 0, 0}, opt_.base / id);
    if (auto st = s->resume(std::move(e.fds)); !st.ok()) {
      s->stop();
      drop(st.error().str());
      ++resumeFailed_;
      if (!holder_) return;
      continue;
    }
    LOG_INFO("procfs: resumed the emulation of %s", id.c_str());
    sessions_.emplace(id, std::move(s));
    ++resumed_;
    if (!holder_) return;
  }
  resumeMicros_ =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
}

Result<std::filesystem::path> Manager::add(const ContainerInfo& info) {
  if (!validId(info.id))
    return Error(ErrorKind::kInvalidInput, "procfs: invalid container id '" + info.id + "'");
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
  hold(info.id, *s);
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
    if (holder_ && !holder_->drop(kHeldPrefix + id).ok()) resyncHolder();
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
  // A holder that died (killed, crashed) hangs up our socket: hand a new one every session now,
  // not at our next put, so a restart of ours in between does not lose them.
  if (holder_) {
    pollfd p{holder_->fd(), 0, 0};
    if (poll(&p, 1, 0) < 0 || (p.revents & (POLLHUP | POLLERR | POLLNVAL))) resyncHolder();
  }
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
  uint64_t resent = 0, adopted = 0, resendFailed = 0;
  for (const auto& [id, s] : sessions_) {
    if (!s->healthy()) ++bad;
    resent += s->resentRequests();
    adopted += s->adoptedKnobHandles();
    resendFailed += s->resendFailures();
  }
  j["unhealthy"] = bad;
  // Restarts (README "Restarts"): requests the previous process had read and the kernel resent
  // to us, and knob file handles opened before the restart that were served again.
  j["resentRequests"] = resent;
  j["adoptedKnobHandles"] = adopted;
  j["resendFailed"] = resendFailed;  // connections whose FUSE_NOTIFY_RESEND failed (< 6.9)
  j["holder"] = holder_.has_value();
  j["resumed"] = resumed_;
  j["resumeFailed"] = resumeFailed_;
  j["resumeDropped"] = resumeDropped_;
  j["resumeMicros"] = resumeMicros_;
  return j;
}

Result<nlohmann::json> Manager::status(const std::string& id) const {
  std::lock_guard lk(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end())
    return Error(ErrorKind::kNotFound, "procfs: no emulation for container '" + id + "'");
  return it->second->status();
}

size_t Manager::size() const {
  std::lock_guard lk(mu_);
  return sessions_.size();
}

}  // namespace eci::procfs
