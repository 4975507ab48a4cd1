// delete and restore.
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
  Status released;
  std::thread releaser([&] {
    enforcer::Client client(c.eci.enforcerSocket);
    auto rel = client.release(id);
    if (!rel.ok()) released = std::move(rel).error().wrap("releasing the uid/gid range");
  });
  Status first;
  auto layout = idmap::Layout::make(c.eci.runDir, id);
  if (layout.ok()) {
    auto st = idmap::cleanup(*layout);
    if (!st.ok()) first = std::move(st).error().wrap("removing the ID-mapped filesystem");
  }
  releaser.join();
  if (!released.ok() && first.ok()) first = std::move(released);
  return first;
}

}  // namespace

int doDelete(const Call& c) {
  const cli::Invocation& inv = c.inv;
  if (inv.verbHelp || inv.args.size() != 1) execRunc(c, c.originalArgv());  // runc's own answer
  const std::string& id = inv.args[0];
  const int rc = runRunc(c, c.originalArgv());
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
