// delete and restore.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <string>
#include <thread>

#include "eci/enforcer_client.h"
#include "eci/idmap/idmap.h"
#include "verbs.h"

namespace eci::runc {
namespace {

// Tears down eci's part of a container that runc no longer knows: mounts, dirs (the private
// bundle included), range. The range is released while the mounts come off, in parallel: it is
// eci-enforcerd's work (its own mounts, its state file) and half of the time `docker rm` waits on
// here. The order does not matter for safety: runc has deleted the container, so no process of
// it is left to use either, and a range handed out again meanwhile gives its new container no
// way into these mounts (they live in the host's mount namespace, under a root-only directory).
Status cleanupContainer(const Call& c, const std::string& id) {
  auto release = [&]() -> Status {
    enforcer::Client client(c.eci.enforcerSocket);
    auto rel = client.release(id);
    if (!rel.ok()) return std::move(rel).error().wrap("releasing the uid/gid range");
    return {};
  };
  auto layout = idmap::Layout::make(c.eci.runDir, id);
  // No directory (the engine's second delete of every container, or an id eci never set up):
  // nothing to unmount, so nothing to overlap the release with. It is still asked for
  // (eci-enforcerd answers a release of a range it no longer holds with success): a create killed
  // between its grant and its directory leaves a range that only this release gives back.
  struct stat st {};
  if (layout.ok() && ::lstat(layout->containerDir().c_str(), &st) != 0 && errno == ENOENT)
    return release();
  Status released;
  std::thread releaser([&] { released = release(); });
  Status first;
  if (layout.ok()) {
    auto removed = idmap::cleanup(*layout);
    if (!removed.ok()) first = std::move(removed).error().wrap("removing the ID-mapped filesystem");
  }
  releaser.join();
  if (!released.ok() && first.ok()) first = std::move(released);
  return first;
}

// runc 1.1's container id rule (libcontainer validateID): ^[\w+-.]+$ ("+-." is the range '+'
// to '.': + , - .), and not "." or "..".
bool runcIdValid(const std::string& id) {
  if (id.empty() || id == "." || id == "..") return false;
  for (const char ch : id) {
    const auto u = static_cast<unsigned char>(ch);
    if (!(std::isalnum(u) || ch == '_' || (ch >= '+' && ch <= '.'))) return false;
  }
  return true;
}

// `delete --force <id>` of an id runc has no directory for: runc 1.1 opens its --log file, finds
// no container, removes nothing and exits 0 without a word (delete.go: a missing container is no
// error with --force). The engine sends exactly that for every container, after the first delete
// removed it; answering it here spares starting runc (~12 ms of a `docker rm` on the development
// VM). Only when every condition that makes runc's answer certain holds: no --debug (runc would
// log), a valid id (runc refuses others), an existing root (runc 1.1 would make a missing one),
// and a --log file that opens as runc opens it (runc fails when it cannot); otherwise runc answers.
bool runcWouldFindNothing(const Call& c, const std::string& id) {
  const cli::Invocation& inv = c.inv;
  if (!inv.flagTrue("force") || !runcIdValid(id)) return false;
  if (auto debug = inv.global("debug"); debug && *debug != "false") return false;
  struct stat st {};
  if (::lstat(c.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (::lstat((c.root + "/" + id).c_str(), &st) == 0 || errno != ENOENT) return false;
  if (!c.log.empty()) {
    const int fd = ::open(c.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    ::close(fd);
  }
  return true;
}

}  // namespace

int doDelete(const Call& c) {
  const cli::Invocation& inv = c.inv;
  if (inv.verbHelp || inv.args.size() != 1) execRunc(c, c.originalArgv());  // runc's own answer
  const std::string& id = inv.args[0];
  const int rc = runcWouldFindNothing(c, id) ? 0 : runRunc(c, c.originalArgv());
  // runc deleted it, or never had it ("container does not exist"): eci's part goes too.
  if (!containerStateExists(c, id)) {
    auto st = cleanupContainer(c, id);
    debugLog(c, "delete " + id + " runc=" + std::to_string(rc) +
                    (st.ok() ? " cleanup ok" : " cleanup: " + st.error().str()));
    if (!st.ok()) {
      (void)fprintf(stderr, "eci-runc: cleanup of %s: %s\n", id.c_str(), st.error().str().c_str());
      runcLog(c, "warning", "eci: cleanup of " + id + ": " + st.error().str());
    }
  }
  return rc;
}

// restore makes a new container from a checkpoint: criu recreates the processes, with the
// credentials, namespaces and mounts recorded in the image, from the bundle's config.json. eci's
// rewrite cannot be applied to it: the image's processes were dumped with the ids of the
// checkpointed container's namespace and range, criu restores mounts from the image rather than
// from our ID-mapped ones, and the range to restore into would have to be that container's. So
// with ECI on, restore is refused (a way around the rewrite otherwise: issue 12 item 3); with
// ECI off it is runc's.
int doRestore(const Call& c) {
  if (c.inv.verbHelp) execRunc(c, c.originalArgv());
  enforcer::Client client(c.eci.enforcerSocket);
  auto status = client.status();
  if (!status.ok()) {
    return fail(c, "eci-enforcerd is not reachable (" + status.error().str() +
                       "); refusing to restore a container without Enhanced Container Isolation");
  }
  if (status->value("eci", std::string("on")) == "off") execRunc(c, c.originalArgv());
  return fail(c,
              "restore is not supported with Enhanced Container Isolation: a checkpoint image "
              "restores processes, namespaces and mounts that eci cannot rewrite");
}

}  // namespace eci::runc
