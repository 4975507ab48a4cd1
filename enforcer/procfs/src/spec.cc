#include "eci/procfs/spec.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "eci/procfs/values.h"
#include "eci/sys.h"
#include "eci/sys_process.h"
#include "eci/unique_fd.h"

namespace eci::procfs {
namespace {

bool hostExists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

nlohmann::json bindMount(const std::string& dest, const std::string& source) {
  // rprivate: nothing the container mounts under these propagates anywhere.
  return {{"destination", dest},
          {"type", "bind"},
          {"source", source},
          {"options", {"rbind", "rprivate", "nosuid", "nodev", "noexec"}}};
}

}  // namespace

bool validContainerId(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

std::vector<nlohmann::json> procfsMountsForSpec(const std::string& id,
                                                const std::filesystem::path& base,
                                                const ExistsFn& exists) {
  const ExistsFn& ex = exists ? exists : ExistsFn(hostExists);
  const std::string src = (base / id).string();
  std::vector<nlohmann::json> out;
  out.push_back(bindMount("/proc/uptime", src + "/proc/uptime"));
  out.push_back(bindMount("/proc/swaps", src + "/proc/swaps"));
  for (const char* d : {"debug", "tracing", "security", "config"}) {
    const std::string p = std::string("/sys/kernel/") + d;
    if (ex(p)) out.push_back(bindMount(p, src + p));
  }
  const std::string uuid = "/sys/devices/virtual/dmi/id/product_uuid";
  if (ex(uuid)) out.push_back(bindMount(uuid, src + uuid));
  return out;
}

nlohmann::json procfsHookForSpec(const std::filesystem::path& hookPath,
                                 const std::filesystem::path& base) {
  // A bounded hook: runc kills it after `timeout` seconds so a broken emulation cannot hang the
  // container's start (the start then fails, closed).
  return {{"path", hookPath.string()},
          {"args", {"eci-procfs-hook", "--base", base.string()}},
          {"timeout", 10}};
}

Status addProcfsToSpec(nlohmann::json& spec, const std::string& id,
                       const std::filesystem::path& base, const std::filesystem::path& hookPath,
                       const ExistsFn& exists) {
  if (!spec.is_object()) return Error("config.json: expected an object");
  if (spec.contains("mounts") && !spec["mounts"].is_array())
    return Error("config.json: /mounts: expected an array");
  if (spec.contains("hooks") && !spec["hooks"].is_object())
    return Error("config.json: /hooks: expected an object");
  if (spec.contains("hooks") && spec["hooks"].contains("createRuntime") &&
      !spec["hooks"]["createRuntime"].is_array())
    return Error("config.json: /hooks/createRuntime: expected an array");
  auto& mounts = spec["mounts"];
  if (mounts.is_null()) mounts = nlohmann::json::array();
  for (auto& m : procfsMountsForSpec(id, base, exists)) mounts.push_back(std::move(m));
  if (hookPath.empty()) return {};
  auto& hooks = spec["hooks"]["createRuntime"];
  if (hooks.is_null()) hooks = nlohmann::json::array();
  hooks.push_back(procfsHookForSpec(hookPath, base));
  return {};
}

Result<std::optional<std::filesystem::path>> addProcfsFromGrant(nlohmann::json& spec,
                                                                const std::string& id,
                                                                const nlohmann::json& grantModules,
                                                                bool callerBindsKnobs) {
  if (!grantModules.is_object() || !grantModules.contains("procfs"))
    return std::optional<std::filesystem::path>();
  const auto& p = grantModules["procfs"];
  if (!p.is_object() || !p.contains("base") || !p["base"].is_string() || !p.contains("hook") ||
      !p["hook"].is_string() || p["hook"].get<std::string>().empty())
    return Error("eci-enforcerd's grant: /modules/procfs: expected {base, hook} strings");
  const std::filesystem::path base = p["base"].get<std::string>();
  ECI_TRY(addProcfsToSpec(spec, id, base,
                          callerBindsKnobs ? std::string() : p["hook"].get<std::string>()));
  return std::optional<std::filesystem::path>(base / id);
}

namespace {

// bindProcSys's helper: it runs in a child that shares our memory while we are suspended until it
// exits (CLONE_VFORK, sys_process.h); it reads what the parent prepared and writes its outcome
// into the Out fields. System calls only: no allocation.
struct KnobBinder {
  // In.
  int mntns = -1;
  int initRoot = -1;  // the init's root, opened in our namespace; -1: open `rootPath` after setns
  const char* rootPath = nullptr;
  const std::vector<std::string>* rels = nullptr;
  const std::vector<UniqueFd>* trees = nullptr;
  // Out: knobs bound, the errno of the step that failed (0: none), the knob it failed on (-1:
  // setns or the root).
  int bound = 0, err = 0, failedAt = -1;
};

int bindKnobs(void* p) {
  auto& b = *static_cast<KnobBinder*>(p);
  if (::setns(b.mntns, CLONE_NEWNS) != 0) {
    b.err = errno;
    return 0;
  }
  // <rootfs> is opened after setns: the container's bind of it, not the host's mount.
  const int root =
      b.initRoot >= 0 ? b.initRoot : ::open(b.rootPath, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    b.err = errno;
    return 0;
  }
  const auto& rels = *b.rels;
  for (size_t i = 0; i < rels.size(); ++i) {
    open_how how{};
    how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const int target =
        static_cast<int>(::syscall(SYS_openat2, root, rels[i].c_str(), &how, sizeof how));
    if (target < 0) {
      if (errno == ENOENT) continue;  // this procfs lacks the knob: nothing to cover
      b.err = errno;
      b.failedAt = static_cast<int>(i);
      return 0;
    }
    struct statfs sfs;
    // Only ever cover the container's procfs; anything else means the rootfs is not what runc
    // prepared.
    if (::fstatfs(target, &sfs) != 0 || sfs.f_type != PROC_SUPER_MAGIC) {
      b.err = EXDEV;
      b.failedAt = static_cast<int>(i);
      return 0;
    }
    if (::syscall(SYS_move_mount, (*b.trees)[i].get(), "", target, "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
      b.err = errno;
      b.failedAt = static_cast<int>(i);
      return 0;
    }
    ::close(target);
    ++b.bound;
  }
  return 0;
}

}  // namespace

Result<int> bindProcSys(pid_t initPid, const std::filesystem::path& rootfs,
                        const std::filesystem::path& mountDir) {
  // Everything that allocates happens here, before the helper starts. The knobs are the fixed
  // list the emulation serves (values.h); one this kernel lacks is not in the mount (ENOENT),
  // nothing to bind.
  std::vector<std::string> rels;
  std::vector<UniqueFd> trees;
  for (const auto& spec : emulatedSysctls()) {
    const std::string rel = std::string("proc/sys/") + spec.path;
    auto t =
        sys::openTree(AT_FDCWD, (mountDir / rel).string(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (!t.ok() && t.error().code() == ENOENT) continue;
    if (!t.ok()) return std::move(t).error();
    rels.push_back(rel);
    trees.push_back(std::move(*t));
  }
  const std::string proc = "/proc/" + std::to_string(initPid);
  ECI_ASSIGN_OR_RETURN(nsFd, sys::open(proc + "/ns/mnt", O_RDONLY));
  // The init's root, taken here in our namespace: after setns "/proc" would be the container's.
  UniqueFd initRoot;
  if (rootfs.empty()) {
    ECI_ASSIGN_OR_RETURN(r, sys::open(proc + "/root", O_PATH | O_DIRECTORY));
    initRoot = std::move(r);
  }
  const std::string rootStr = rootfs.empty() ? proc + "/root" : rootfs.string();

  KnobBinder b;
  b.mntns = nsFd.get();
  b.initRoot = initRoot ? initRoot.get() : -1;
  b.rootPath = rootStr.c_str();
  b.rels = &rels;
  b.trees = &trees;
  // setns() moves the helper, not us: it has its own fs and fd table (no CLONE_FS/CLONE_FILES).
  auto helper = sys::SharedVmChild::start(bindKnobs, &b, CLONE_VFORK);
  if (!helper.ok()) return std::move(helper).error().wrap("binding the /proc/sys knobs");
  auto status = helper->wait();
  if (!status.ok()) return std::move(status).error().wrap("binding the /proc/sys knobs");
  if (!WIFEXITED(*status))
    return Error(ErrorKind::kInternal,
                 "bindProcSys: helper for pid " + std::to_string(initPid) + " died");
  if (b.err != 0) {
    const std::string what =
        b.failedAt >= 0
            ? "binding '" + rels[static_cast<size_t>(b.failedAt)] + "' under '" + rootStr + "'"
            : "setns(mnt of pid " + std::to_string(initPid) + ") / open('" + rootStr + "')";
    return Error(b.err, what);
  }
  return b.bound;
}

}  // namespace eci::procfs
