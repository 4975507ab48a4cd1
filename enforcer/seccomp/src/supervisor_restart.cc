// Surviving our own restart: every container's fds are also kept by the fd holder
// (eci/fd_holder.h), and a restarted supervisor takes them back in start() (supervisor.h).
//
// Names in the holder (the container key is "<id>@<user namespace inode>"):
//   c/<pn>/<key>    userns, mntns, initial-mountinfo memfd, shared-page memfd, [pidns], [netns]
//                   (<pn>: 'p' or '-' and 'n' or '-', whether the last two are there)
//   n/<key>/<seq>   one notify fd (the init's, or a `runc exec`'s)
// Everything a worker needs comes back as it was at the container's first registration, never
// re-read after the restart: the mount snapshot the worker protects is the one runc left, not one
// the container may have changed since.
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>

#include "eci/log.h"
#include "supervisor_impl.h"

namespace eci::seccomp {

namespace {

// A name component must be plain (runc's id grammar): the holder takes printable ASCII only, and
// '/' separates the parts of a name.
bool plainId(const std::string& id) {
  if (id.empty() || id.size() > 256) return false;
  for (char ch : id)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '+' || ch == '-' ||
          ch == '.'))
      return false;
  return true;
}

std::vector<int> baseFds(const Container& c) {
  std::vector<int> fds = {c.userns.get(), c.mntns.get(), c.mounts.get(), c.sharedFd.get()};
  if (c.pidns) fds.push_back(c.pidns.get());
  if (c.netns) fds.push_back(c.netns.get());
  return fds;
}

}  // namespace

void Supervisor::Impl::connectHolder() {
  auto c = fdhold::Client::connectOrStart(opts.fdHolderSocket, opts.fdHolderGrace);
  if (!c.ok()) {
    // Not fatal: without the holder the fds die with us (their calls then get ENOSYS).
    LOG_WARN(
        "seccomp supervisor: no fd holder (%s); containers lose their mount vetting if we "
        "restart",
        c.error().str().c_str());
    holder.reset();
  } else {
    holder.emplace(std::move(*c));
  }
  std::lock_guard<std::mutex> l(mu);
  stats_.holder = holder.has_value();
}

void Supervisor::Impl::holdContainer(Container& c, const std::string& key) {
  if (!holder || !plainId(c.id)) return;
  const std::string name =
      std::string("c/") + (c.pidns ? 'p' : '-') + (c.netns ? 'n' : '-') + "/" + key;
  const auto fds = baseFds(c);
  c.heldAs = name;
  if (!holder->put(name, fds.data(), fds.size()).ok()) resyncHolder();
}

void Supervisor::Impl::holdNotifyFd(NotifyFd& nf) {
  auto it = containers.find(nf.containerKey);
  if (!holder || it == containers.end() || it->second->heldAs.empty()) return;
  nf.heldAs = "n/" + nf.containerKey + "/" + std::to_string(nextHeldSeq++);
  const int fd = nf.fd.get();
  if (!holder->put(nf.heldAs, &fd, 1).ok()) resyncHolder();
}

void Supervisor::Impl::releaseHeld(const std::string& name, bool prefix) {
  if (!holder) return;
  const Status st = prefix ? holder->dropPrefix(name) : holder->drop(name);
  if (!st.ok()) resyncHolder();  // the resync puts only what is live, so the drop is done too
}

// The holder went away (killed, or it broke the connection): start or reach one again and give it
// exactly what we hold now. Gives up (no holder) if that fails too.
void Supervisor::Impl::resyncHolder() {
  LOG_WARN("seccomp supervisor: lost the fd holder; reconnecting and handing it every fd again");
  connectHolder();
  if (!holder) return;
  bool ok = holder->dropPrefix("c/").ok() && holder->dropPrefix("n/").ok();
  for (auto& [key, c] : containers) {
    if (!ok || c->heldAs.empty()) continue;
    const auto fds = baseFds(*c);
    ok = holder->put(c->heldAs, fds.data(), fds.size()).ok();
  }
  for (auto& nf : notifyFds) {
    if (!ok || nf.heldAs.empty()) continue;
    const int fd = nf.fd.get();
    ok = holder->put(nf.heldAs, &fd, 1).ok();
  }
  if (!ok) {
    LOG_ERROR("seccomp supervisor: the fd holder failed again; running without it");
    holder.reset();
    std::lock_guard<std::mutex> l(mu);
    stats_.holder = false;
  }
}

// Takes back what the holder kept from the supervisor before us. Runs in start(), before the
// poll thread, so nothing else touches the maps.
void Supervisor::Impl::reattach() {
  if (!holder) return;
  const auto t0 = std::chrono::steady_clock::now();
  auto entries = holder->list();
  if (!entries.ok()) {
    LOG_WARN("seccomp supervisor: reading the fd holder: %s", entries.error().str().c_str());
    resyncHolder();
    return;
  }
  using Entry = fdhold::Client::Entry;
  std::map<std::string, Entry*> bases;                  // key -> c/ entry
  std::map<std::string, std::vector<Entry*>> notifies;  // key -> n/ entries
  for (auto& e : *entries) {
    const std::string& n = e.name;
    if (n.size() > 5 && n.starts_with("c/") && n[4] == '/') {
      bases[n.substr(5)] = &e;
    } else if (const size_t slash = n.rfind('/'); n.starts_with("n/") && slash > 2) {
      notifies[n.substr(2, slash - 2)].push_back(&e);
      nextHeldSeq =
          std::max<uint64_t>(nextHeldSeq, std::strtoull(n.c_str() + slash + 1, nullptr, 10) + 1);
    } else if (n.starts_with("p/")) {
      continue;  // the procfs module's (eci/procfs/manager.h kHeldPrefix): it takes them back
    } else {
      releaseHeld(n, false);  // not ours
    }
  }
  uint64_t adopted = 0, adoptedFds = 0, dropped = 0;
  for (auto& base : bases) {
    // Named copies, not a structured binding: lambdas may not capture bindings before C++20
    // P1091 landed in clang 16 (the fuzz build uses Debian's clang 14).
    const std::string& key = base.first;
    Entry* const e = base.second;
    const std::string id = key.substr(0, key.rfind('@'));
    const bool hasPid = e->name[2] == 'p', hasNet = e->name[3] == 'n';
    auto drop = [&](const char* why) {
      LOG_INFO("seccomp supervisor: dropping the held fds of %s: %s", id.c_str(), why);
      releaseHeld("n/" + key + "/", true);
      releaseHeld(e->name, false);
      ++dropped;
    };
    if (e->fds.size() != 4u + hasPid + hasNet) {
      drop("malformed entry");
      continue;
    }
    if (opts.containerExists && !opts.containerExists(id)) {
      drop("the runtime no longer has it");
      continue;
    }
    // A filter whose tasks have all exited hangs up its notify fd: nothing left to serve.
    std::vector<NotifyFd> live;
    for (Entry* n : notifies[key]) {
      pollfd p{n->fds[0].get(), 0, 0};
      if (n->fds.size() != 1 || poll(&p, 1, 0) < 0 ||
          (p.revents & (POLLHUP | POLLERR | POLLNVAL))) {
        releaseHeld(n->name, false);
        continue;
      }
      live.push_back({std::move(n->fds[0]), key, n->name});
    }
    if (live.empty()) {
      drop("every process of it has exited");
      continue;
    }
    auto c = std::make_unique<Container>();
    c->id = id;
    c->heldAs = e->name;
    c->userns = std::move(e->fds[0]);
    c->mntns = std::move(e->fds[1]);
    c->mounts = std::move(e->fds[2]);
    c->sharedFd = std::move(e->fds[3]);
    size_t next = 4;
    if (hasPid) c->pidns = std::move(e->fds[next++]);
    if (hasNet) c->netns = std::move(e->fds[next++]);
    struct stat st {};
    if (fstat(c->sharedFd.get(), &st) != 0 ||
        st.st_size < static_cast<off_t>(sizeof(worker::Shared))) {
      drop("its shared page is not one");
      continue;
    }
    void* page = mmap(nullptr, sizeof(worker::Shared), PROT_READ | PROT_WRITE, MAP_SHARED,
                      c->sharedFd.get(), 0);
    if (page == MAP_FAILED) {
      drop("mmap of its shared page failed");
      continue;
    }
    c->shared = static_cast<worker::Shared*>(page);  // live: its counters and ring go on
    // A call the killed worker had received but not answered stays pending in the kernel until
    // someone answers it (a new worker never receives it again): refused, as after a worker crash.
    if (const uint64_t inFlight = c->shared->inFlightId.exchange(0)) {
      seccomp_notif_resp resp{};
      resp.id = inFlight;
      resp.error = -EPERM;
      for (auto& nf : live) (void)ioctl(nf.fd.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
    c->shared->busySinceNs = 0;
    c->denialsDroppedSeen = c->shared->denialsDropped.load(std::memory_order_relaxed);
    c->notifyFds = static_cast<int>(live.size());
    ++adopted;
    adoptedFds += live.size();
    {
      std::lock_guard<std::mutex> l(mu);
      containers.emplace(key, std::move(c));
    }
    for (auto& nf : live) notifyFds.push_back(std::move(nf));
  }
  for (auto& [key, list] : notifies)
    if (!bases.contains(key)) releaseHeld("n/" + key + "/", true);  // a half-held container
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::lock_guard<std::mutex> l(mu);
  stats_.reattached = adopted;
  stats_.reattachedFds = adoptedFds;
  stats_.reattachDropped = dropped;
  stats_.reattachMicros = static_cast<uint64_t>(us);
  stats_.containers = containers.size();
  stats_.notifyFds = notifyFds.size();
  if (adopted + dropped > 0)
    LOG_INFO(
        "seccomp supervisor: took back %llu containers (%llu notify fds) from the fd holder "
        "in %lld us; dropped %llu that are gone",
        static_cast<unsigned long long>(adopted), static_cast<unsigned long long>(adoptedFds),
        static_cast<long long>(us), static_cast<unsigned long long>(dropped));
}

}  // namespace eci::seccomp
