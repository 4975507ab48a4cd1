// create / run: asks eci-enforcerd for the policy and a uid/gid range, rewrites the spec
// (spec_rewrite.h), prepares the user namespace and the ID-mapped rootfs/binds (eci_idmap), and
// runs the real runc on a private copy of the bundle (<run dir>/<id>/bundle), so the engine's
// config.json is never changed and the same bundle can be run again, as with runc.
//
// Rollback undoes only what THIS invocation made: the range is released only if this create made
// the allocation (the grant's `fresh`), and eci's directory for the id is created exclusively, so
// a refused create with the id of a live container never touches that container's range, /proc
// emulation or ID-mapped mounts (issue 12 item 1).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cgroup_delegation.h"
#include "eci/enforcer_client.h"
#include "eci/fs_util.h"
#include "eci/idmap/idmap.h"
#include "eci/procfs/spec.h"
#include "eci/seccomp/spec.h"
#include "eci/sys.h"
#include "eci/sys_process.h"
#include "mount_sources.h"
#include "spec_rewrite.h"
#include "verbs.h"

namespace eci::runc {
namespace {

using nlohmann::json;
using sys::NsId;

constexpr size_t kMaxSpecBytes = 16u << 20;
constexpr size_t kCreateHeapBytes = 4u << 20;

std::optional<NsId> nsIdOf(const std::string& path) {
  return sys::nsIdAt(AT_FDCWD, path);
}

// The init process of container `id` as runc's state (<root>/<id>/state.json) names it.
// Reads only state.json's top-level "init_process_pid" and stops there: runc writes it before
// the container's whole config, which a full parse would build for nothing at every start.
class InitPidReader : public nlohmann::json_sax<json> {
 public:
  std::optional<long long> pid;
  bool key(string_t& k) override {
    wanted_ = depth_ == 1 && k == "init_process_pid";
    return true;
  }
  bool number_integer(number_integer_t v) override { return take(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return take(v > static_cast<number_unsigned_t>(INT32_MAX) ? -1 : static_cast<long long>(v));
  }
  bool start_object(std::size_t) override { return enter(); }
  bool start_array(std::size_t) override { return enter(); }
  bool end_object() override { return leave(); }
  bool end_array() override { return leave(); }
  bool null() override { return other(); }
  bool boolean(bool) override { return other(); }
  bool number_float(number_float_t, const string_t&) override { return other(); }
  bool string(string_t&) override { return other(); }
  bool binary(binary_t&) override { return other(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool take(long long v) {
    if (wanted_ && depth_ == 1) {
      pid = v;
      return false;  // found: stop reading
    }
    return true;
  }
  bool other() {
    wanted_ = false;
    return true;
  }
  bool enter() {
    wanted_ = false;
    ++depth_;
    return true;
  }
  bool leave() {
    --depth_;
    return true;
  }
  int depth_ = 0;
  bool wanted_ = false;
};

std::optional<int> initPidOf(const Call& c, const std::string& id) {
  auto text = fs::readFile(c.root + "/" + id + "/state.json", kMaxSpecBytes);
  if (!text.ok()) return std::nullopt;
  InitPidReader r;
  (void)json::sax_parse(*text, &r);
  if (!r.pid || *r.pid <= 0 || *r.pid > INT32_MAX) return std::nullopt;
  return static_cast<int>(*r.pid);
}

// The ECI container whose init process is `pid`, if any. Two facts must agree: runc's state
// (<root>/<id>/state.json) names `pid` as that container's init, and the process runs in the user
// namespace eci pinned for that id. So the host, a process outside ECI, or a pid reused after the
// container died never match, and a state.json alone (runc's root is the engine's) is not trusted.
std::optional<std::string> eciContainerOfPid(const Call& c, int pid) {
  const auto procNs = nsIdOf("/proc/" + std::to_string(pid) + "/ns/user");
  if (!procNs) return std::nullopt;
  std::error_code ec;
  std::filesystem::directory_iterator it(c.root, ec);
  if (ec) return std::nullopt;
  for (const auto& entry : it) {
    const std::string id = entry.path().filename().string();
    auto layout = idmap::Layout::make(c.eci.runDir, id);
    if (!layout.ok()) continue;
    if (initPidOf(c, id) != pid) continue;
    const auto pinned = nsIdOf(layout->usernsPath());
    if (pinned && *pinned == *procNs) return id;
  }
  return std::nullopt;
}

// A spec refusal in the audit log (eci/audit.h), best effort: sent to eci-enforcerd with a short
// timeout; the refusal itself is the same whether or not it arrives.
int refuseSpec(const Call& c, const std::string& id, const json& spec, const std::string& rule,
               const std::string& why) {
  std::string image;
  if (auto a = spec.find("annotations"); a != spec.end() && a->is_object()) {
    for (const char* k : {"io.containerd.image.name", "org.opencontainers.image.ref.name",
                          "org.opencontainers.image.base.name"}) {
      if (auto v = a->find(k); v != a->end() && v->is_string()) {
        image = v->get<std::string>();
        break;
      }
    }
  }
  json rec = {{"source", "eci-runc"}, {"event", "refused"}, {"container", id},
              {"image", image},       {"rule", rule},       {"reason", why}};
  if (auto st = enforcer::sendAudit(c.eci.enforcerSocket, rec, std::chrono::milliseconds(500));
      !st.ok())
    debugLog(c, "audit record not sent: " + st.error().str());
  return fail(c, kSpecErrorPrefix + why);
}

bool apparmorAvailable() {
  struct stat st {};
  return ::stat("/sys/kernel/security/apparmor", &st) == 0;
}

std::string joinNotes(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& n : v) s += (s.empty() ? "" : "; ") + n;
  return s;
}

// The init of the container runc has just created: named by runc's state, and running in the
// user namespace eci pinned for the container, so a stale or foreign state never gets eci's
// post-create work (knobs, cgroups) done to some other process.
Result<int> createdInitPid(const Call& c, const std::string& id, const idmap::ContainerFs& fs) {
  const auto initPid = initPidOf(c, id);
  if (!initPid)
    return Error(ErrorKind::kProtocol, c.root + "/" + id + "/state.json: no init_process_pid");
  const auto procNs = nsIdOf("/proc/" + std::to_string(*initPid) + "/ns/user");
  const auto pinned = nsIdOf(fs.userns().path());
  if (!procNs || !pinned || !(*procNs == *pinned))
    return Error(ErrorKind::kConflict,
                 "pid " + std::to_string(*initPid) + " is not the container's init");
  return *initPid;
}

// Binds the /proc/sys knobs of <procfsDir> into the container runc has just created.
Status bindKnobs(const Call& c, const std::string& id, const std::filesystem::path& procfsDir,
                 const idmap::ContainerFs& fs) {
  ECI_ASSIGN_OR_RETURN(pid, createdInitPid(c, id, fs));
  ECI_TRY(procfs::bindProcSys(pid, {}, procfsDir));
  return {};
}

// Does the spec mount the cgroup hierarchy writable (--privileged)? Only such a container can
// use a delegation; the others see their cgroups read-only and keep them as they are.
bool mountsCgroupsWritable(const json& spec) {
  if (!spec.contains("mounts") || !spec["mounts"].is_array()) return false;
  for (const auto& m : spec["mounts"]) {
    if (!m.is_object() || m.value("type", "") != "cgroup" ||
        m.value("destination", "") != "/sys/fs/cgroup")
      continue;
    if (!m.contains("options") || !m["options"].is_array()) return true;
    for (const auto& o : m["options"])
      if (o == "ro") return false;
    return true;
  }
  return false;
}

// Gives the container's root its own cgroups (cgroup_delegation.h), once runc has made them and
// before anything of the container runs (its init waits on runc's exec fifo).
Status delegateContainerCgroups(const Call& c, const std::string& id,
                                const idmap::ContainerFs& fs) {
  // Container root's host ids: the range of the user namespace eci pinned for it.
  const uid_t uid = fs.userns().uids().hostStart;
  const gid_t gid = fs.userns().gids().hostStart;
  if (uid == 0 || gid == 0)
    return Error(ErrorKind::kDenied, "the container's root would be host root");
  ECI_ASSIGN_OR_RETURN(pid, createdInitPid(c, id, fs));
  ECI_ASSIGN_OR_RETURN(cgroups, fs::readFile("/proc/" + std::to_string(pid) + "/cgroup", 1u << 20));
  ECI_ASSIGN_OR_RETURN(mounts, readMountInfo());
  ECI_ASSIGN_OR_RETURN(targets, delegationTargets(cgroups, mounts));
  return delegateCgroups(targets, uid, gid);
}

// Writes the private bundle's config.json (a new file in a new directory only root can enter).
Status writePrivateSpec(const idmap::Layout& layout, const std::string& content) {
  const std::string dir = layout.bundleDir();
  if (::mkdir(dir.c_str(), 0700) != 0) return Error::fromErrno("mkdir('" + dir + "', 0700)");
  const std::string path = dir + "/config.json";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Error::fromErrno("open('" + path + "')");
  size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("write('" + path + "')");
    off += static_cast<size_t>(n);
  }
  return {};
}

// The spec's FIFO devices (spec_rewrite.h FifoDevice): made here, owned by the mapped ids, and
// bound into the container at their paths (after every other mount, so /dev is there).
Status addFifos(json& spec, const std::vector<FifoDevice>& fifos, const idmap::Layout& layout,
                const idmap::IdRange& range) {
  if (fifos.empty()) return {};
  const std::string dir = layout.fifosDir();
  // runc's init walks to the FIFO as the range's root: o+x, no listing.
  if (::mkdir(dir.c_str(), 0711) != 0) return Error::fromErrno("mkdir('" + dir + "', 0711)");
  if (!spec.contains("mounts") || !spec["mounts"].is_array()) spec["mounts"] = json::array();
  for (size_t i = 0; i < fifos.size(); ++i) {
    const FifoDevice& f = fifos[i];
    const std::string p = dir + "/" + std::to_string(i);
    if (::mknod(p.c_str(), S_IFIFO | 0600, 0) != 0) return Error::fromErrno("mknod('" + p + "')");
    if (::chown(p.c_str(), range.hostStart + f.uid, range.hostStart + f.gid) != 0 ||
        ::chmod(p.c_str(), f.mode) != 0)
      return Error::fromErrno("chown/chmod('" + p + "')");
    spec["mounts"].push_back(
        {{"destination", f.path}, {"type", "bind"}, {"source", p}, {"options", {"bind"}}});
  }
  return {};
}

}  // namespace

int doCreate(const Call& c) {
  const cli::Invocation& inv = c.inv;
  const bool isRun = inv.verb == "run";
  if (inv.verbHelp) execRunc(c, c.originalArgv());  // runc prints the verb's help, runs nothing
  if (inv.args.size() != 1) {
    return argCountError(c, "runc: \"" + inv.verb + "\" requires exactly 1 argument(s)");
  }
  const std::string id = inv.args[0];
  // The spec's JSON, its rewrite and the seccomp profile take ~1-2 MiB of small allocations; made
  // resident in one call, before anything forks (sys_process.h says why).
  (void)sys::prefaultHeap(kCreateHeapBytes);
  std::error_code ec;
  const std::string cwd = std::filesystem::current_path(ec).string();
  std::string bundle = inv.flag("bundle").value_or("");
  if (bundle.empty()) {
    bundle = cwd;
  } else if (bundle[0] != '/') {
    bundle = cwd + "/" + bundle;
  }
  const bool detach = inv.flagTrue("detach");
  const std::string configPath = bundle + "/config.json";
  debugLog(c, std::string(isRun ? "run " : "create ") + id + " bundle=" + bundle);

  // runc refuses an id it already has; so does eci-runc, before it asks for anything, so the live
  // container's eci state is never looked up, let alone rolled back.
  if (containerStateExists(c, id)) return fail(c, "container with given ID already exists");

  auto original = fs::readFile(configPath, kMaxSpecBytes);
  if (!original.ok()) return fail(c, original.error().str());
  json spec = json::parse(*original, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded())
    return fail(c, "error in the container spec: " + configPath + ": not JSON");

  // --pid/--ipc/--network=container:X: X's namespaces are owned by X's user namespace, so this
  // container runs in it too, with X's range (mappings must match the namespace runc joins), and
  // keeps that range taken after X is deleted. A pid that is no ECI container is left out and
  // rewriteSpec refuses its path.
  std::map<int, std::string> joined;
  std::string ownerId;
  {
    std::optional<NsId> sharedNs;
    for (int pid : joinedNamespacePids(spec)) {
      auto jid = eciContainerOfPid(c, pid);
      if (!jid) continue;
      const auto ns = nsIdOf("/proc/" + std::to_string(pid) + "/ns/user");
      if (!ns) continue;
      if (sharedNs && !(*sharedNs == *ns)) {
        return refuseSpec(c, id, spec, "namespace-join",
                          "can't join namespaces of containers " + ownerId + " and " + *jid +
                              ": they are in different user namespaces");
      }
      sharedNs = ns;
      if (ownerId.empty()) ownerId = *jid;
      joined[pid] = *jid;
    }
  }

  enforcer::Client client(c.eci.enforcerSocket);
  auto grant = client.create(id, bundle, c.root, ownerId);
  if (!grant.ok()) {
    return fail(c, "eci-enforcerd is not reachable or refused the container (" +
                       grant.error().str() +
                       "); refusing to create a container without Enhanced Container Isolation");
  }
  // ECI off: exactly runc (the spec is not touched; nothing to undo).
  if (!grant->policy.enabled) execRunc(c, c.originalArgv());
  debugLog(c, "granted range " + std::to_string(grant->range.start));

  // From here on, any failure releases the range, if this create made the allocation.
  bool keep = false;
  ScopeExit releaseRange([&] {
    if (!keep && grant->fresh) (void)client.release(id);
  });

  SpecContext ctx;
  ctx.containerId = id;
  ctx.bundle = bundle;
  ctx.policy = grant->policy;
  ctx.rangeStart = grant->range.start;
  ctx.rangeSize = grant->range.size;
  ctx.engineDataRoot = grant->engineDataRoot;
  ctx.extraRestricted = c.eci.restrict;
  ctx.guardSocketDir = c.eci.guardSocketDir;
  ctx.hostCapBounding = readCapBounding();
  ctx.apparmorAvailable = apparmorAvailable();
  ctx.joined = joined;

  auto layout = idmap::Layout::make(c.eci.runDir, id);
  if (!layout.ok()) return fail(c, "eci: " + layout.error().str());
  if (auto st = fs::makeDirs(c.eci.runDir, 0711); !st.ok())
    return fail(c, "eci: " + st.error().str());
  ::chmod(c.eci.runDir.c_str(), 0711);

  // The container's directory is made exclusively (EEXIST: another create of this id holds it):
  // from here on everything under it is this invocation's, and ContainerFs removes it on failure.
  std::optional<idmap::ContainerFs> fs;
  if (!ownerId.empty()) {
    auto owner = idmap::Layout::make(c.eci.runDir, ownerId);
    if (!owner.ok()) return fail(c, "eci: " + owner.error().str());
    auto began = idmap::ContainerFs::beginShared(*layout, owner->usernsPath());
    if (!began.ok()) {
      return fail(c, "eci: joining the user namespace of container " + ownerId + ": " +
                         began.error().str());
    }
    fs.emplace(std::move(*began));
    const auto u = fs->userns().uids();
    const auto g = fs->userns().gids();
    // eci-enforcerd granted the owner's range: the namespace must map exactly that.
    if (u.hostStart != g.hostStart || u.size != g.size || u.hostStart != grant->range.start ||
        u.size != grant->range.size) {
      return fail(c, "eci: the user namespace of container " + ownerId +
                         " does not map the range eci-enforcerd holds for it");
    }
    debugLog(c, "joining the user namespace of " + ownerId + " range " +
                    std::to_string(u.hostStart) + "+" + std::to_string(u.size));
  } else {
    const idmap::IdRange r{grant->range.start, grant->range.size};
    auto began = idmap::ContainerFs::begin(*layout, r, r);
    if (!began.ok()) return fail(c, "eci: preparing the user namespace: " + began.error().str());
    fs.emplace(std::move(*began));
  }

  debugLog(c, "user namespace ready");
  auto rewritten = rewriteSpec(spec, ctx);
  if (!rewritten.ok()) return refuseSpec(c, id, spec, "spec", rewritten.error().str());
  json& out = rewritten->spec;
  if (!rewritten->notes.empty()) {
    runcLog(c, "warning", "eci: " + joinNotes(rewritten->notes));
    debugLog(c, "notes: " + joinNotes(rewritten->notes));
  }

  // Rootfs: an overlay over the engine's layers, each ID-mapped.
  std::string rootPath = out["root"].value("path", std::string("rootfs"));
  if (rootPath.empty() || rootPath[0] != '/') rootPath = bundle + "/" + rootPath;
  if (auto opts = idmap::overlayOptionsAt(rootPath); opts.ok()) {
    auto mounted = fs->mountRootfs(*opts);
    if (!mounted.ok()) return fail(c, "eci: ID-mapped rootfs: " + mounted.error().str());
    out["root"]["path"] = *mounted;
  } else {
    // Not an overlay (vfs, a plain directory): ID-map the directory itself.
    auto b = fs->addBind(rootPath);
    if (!b.ok()) return fail(c, "eci: ID-mapped rootfs: " + b.error().str());
    out["root"]["path"] = b->mount.path();
    b->mount.commit();  // owned by the layout now; cleanup() removes it
  }

  debugLog(c, "rootfs mounted");
  // Binds: ID-mapped, so host files show their host owners and volumes are shared across
  // ranges; the path actually opened is checked again (a symlink swapped in after the check).
  // An `rbind` keeps its submounts, each ID-mapped (idmap.h BindOptions::recursive).
  // eci's own state (every container's ID-mapped mounts, /proc emulation) never shows through.
  std::vector<std::string> excluded = {c.eci.runDir};
  if (auto p = grant->modules.find("procfs"); p != grant->modules.end() && p->is_object() &&
                                              p->contains("base") && (*p)["base"].is_string())
    excluded.push_back((*p)["base"].get<std::string>());
  std::optional<UniqueFd> callerNs;
  if (out.contains("mounts") && out["mounts"].is_array()) {
    for (auto& m : out["mounts"]) {
      if (!isBindMount(m)) continue;
      std::string src = m["source"].get<std::string>();
      const std::string written = src;
      if (src.empty() || src[0] != '/') src.insert(0, bundle + "/");
      idmap::BindOptions bo;
      bo.allowPlain = true;
      // Host binds of a container whose caller is known act with the caller's rights
      // (contract 4); named volumes and the engine's files keep the container's mapping. Without
      // a caller every bind has the container's mapping: nothing to classify.
      std::optional<SourceKind> kind;
      if (grant->caller) kind = classifyBindSource(resolveHostPath(src), ctx);
      if (kind == SourceKind::kHost) {
        if (!callerNs) {
          auto ns = idmap::callerMapping({ctx.rangeStart, ctx.rangeSize}, grant->caller->uid,
                                         grant->caller->gid);
          if (!ns.ok()) return fail(c, "eci: caller mapping: " + ns.error().str());
          callerNs = std::move(*ns);
        }
        bo.allowPlain = false;  // never a plain bind: host ids would show unmapped
        bo.usernsFd = callerNs->get();
      }
      bo.recursive = isRecursiveBind(m);
      bo.excludeUnder = excluded;
      auto b = fs->addBind(src, bo);
      if (!b.ok()) return fail(c, "eci: ID-mapped bind of " + written + ": " + b.error().str());
      auto again = checkOpenedBind(m, written, b->resolvedSource, ctx);
      if (!again.ok()) return refuseSpec(c, id, spec, "restricted-mount", again.error().str());
      // The path really opened must be the same kind as the one classified (a swap between the
      // two would give a volume the caller's mapping or a host path the container's).
      if (kind && classifyBindSource(b->resolvedSource, ctx) != *kind)
        return refuseSpec(c, id, spec, "restricted-mount", restrictedMountMessage(written));
      m["source"] = b->mount.path();
      b->mount.commit();
    }
  }
  debugLog(c, "binds mounted");
  if (auto st = addFifos(out, rewritten->fifos, *layout, fs->userns().uids()); !st.ok())
    return fail(c, "eci: FIFO devices: " + st.error().str());
  for (auto& ns : out["linux"]["namespaces"]) {
    if (ns["type"] == "user") ns["path"] = fs->userns().path();
  }

  // /proc and /sys emulation (enforcer/procfs): bind the container's FUSE files; the /proc/sys
  // knobs are bound below once runc has created the container, or by a createRuntime hook under
  // `runc run` (procfs/spec.h says why). After the ID-mapping of binds above on purpose: these
  // sources are FUSE mounts served per container and must not be ID-mapped.
  auto added = procfs::addProcfsFromGrant(out, id, grant->modules, /*callerBindsKnobs=*/!isRun);
  if (!added.ok()) return fail(c, "eci: /proc emulation: " + added.error().str());
  const std::optional<std::filesystem::path> procfsDir = *added;
  // Seccomp (enforcer/seccomp): mount calls vetted by eci-enforcerd's supervisor, kernel-global
  // calls refused; merged into the engine's profile (or none, under --privileged).
  if (auto st = seccomp::addSeccompFromGrant(out, id, grant->modules); !st.ok())
    return fail(c, "eci: seccomp: " + st.error().str());

  // runc gets the private bundle. A relative --console-socket is relative to the bundle in runc
  // (it chdirs there first): keep it pointing into the engine's bundle.
  if (auto st = writePrivateSpec(*layout, out.dump()); !st.ok())
    return fail(c, "eci: writing the container's spec: " + st.error().str());
  cli::Invocation forRunc = inv;
  for (auto& f : forRunc.flags) {
    if (f.name == "console-socket" && !f.value.empty() && f.value[0] != '/')
      f.value = bundle + "/" + f.value;
  }
  const auto args = c.argvWith(cli::verbArgvWithBundle(forRunc, layout->bundleDir()));
  debugLog(c, "spec written to " + layout->bundleDir() + "; running " + c.runc);

  const int rc = runRunc(c, args);
  debugLog(c, "runc exited " + std::to_string(rc));
  if (!containerStateExists(c, id)) {
    // No container: runc failed (it logged why), or a foreground `run` has finished and runc
    // deleted it (rc is then the workload's status, not a failure). Undo ours either way
    // (ScopeExits and ContainerFs' destructor).
    if (rc != 0 && (!isRun || detach)) {
      (void)fprintf(stderr, "eci-runc: runc %s failed (exit %d); eci state rolled back\n",
                    inv.verb.c_str(), rc);
    }
    return rc;
  }
  if (procfsDir && !isRun && rc == 0) {
    // The container's init waits on runc's exec fifo: nothing of the container has run yet.
    if (auto st = bindKnobs(c, id, *procfsDir, *fs); !st.ok()) {
      // Never start it without its emulation: runc forgets it, our ScopeExits undo the rest.
      const int drc = runRunc(c, c.argvWith({"delete", "--force", id}));
      return fail(c, "eci: /proc emulation: binding the /proc/sys knobs: " + st.error().str() +
                         (drc == 0 ? "" : "; runc delete --force exited " + std::to_string(drc)));
    }
  }
  if (!isRun && rc == 0 && mountsCgroupsWritable(out)) {
    // A convenience, not a protection: a container without it keeps root-owned cgroups, which
    // only limits what it can do (an inner dockerd fails to start its containers).
    if (auto st = delegateContainerCgroups(c, id, *fs); !st.ok())
      runcLog(c, "warning", "eci: cgroups not delegated to the container: " + st.error().str());
  }
  debugLog(c, "created: knobs bound, cgroups delegated");
  // runc has the container (created, or a `run --keep` that ended): eci's state stays until
  // `delete`.
  keep = true;
  fs->commit();
  return rc;
}

}  // namespace eci::runc
