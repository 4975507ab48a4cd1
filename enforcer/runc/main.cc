// eci-runc: the OCI runtime dockerd/containerd call instead of runc.
//
//   eci-runc [--eci-enforcer-socket PATH] [--eci-runc PATH] [--eci-run-dir DIR]
//            [--eci-restrict PATH]... [--eci-debug-log FILE] [--eci-guard-socket-dir DIR]
//            <runc global flags> <verb> <args>
//   (or ECI_RUNC_ENFORCER_SOCKET, ECI_RUNC_REAL_RUNC, ECI_RUNC_RUN_DIR, ECI_RUNC_RESTRICT,
//    ECI_RUNC_DEBUG_LOG, ECI_RUNC_GUARD_SOCKET_DIR in the environment; a flag wins)
//
// Every verb but create/run/delete is handed to the real runc unchanged (exec, so signals, exit
// codes and stdio are runc's own). On create/run it asks eci-enforcerd for the policy and a uid/gid
// range, rewrites config.json (spec_rewrite.h), prepares the user namespace and the ID-mapped
// rootfs/binds (eci_idmap), then runs the real runc; if anything fails, everything is undone and
// the range released. If eci-enforcerd cannot be reached the create fails: never an unprotected
// container. On delete the real runc deletes, then eci's mounts and range go (idempotent).
//
// Errors go to stderr and to runc's --log file in runc's own format, because containerd builds the
// user-visible "OCI runtime create failed: <msg>" from the last error entry of that log.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/enforcer_client.h"
#include "eci/error.h"
#include "eci/fs_util.h"
#include "eci/idmap/idmap.h"
#include "eci/log.h"
#include "eci/procfs/spec.h"
#include "eci/seccomp/spec.h"
#include "eci/sys.h"
#include "mount_sources.h"
#include "spec_rewrite.h"

namespace {

using nlohmann::json;

constexpr const char* kDefaultRunc = "/usr/sbin/runc";
// Not under /run/eci: the enforcer keeps that 0700, and runc's init walks the ID-mapped mounts'
// paths as root of the container's user namespace, which needs o+x on every ancestor.
constexpr const char* kDefaultRunDir = "/run/eci-runc";
constexpr size_t kMaxSpecBytes = 16u << 20;

struct Args {
  std::string enforcerSocket = eci::enforcer::kDefaultControlSocket;
  std::string runc = kDefaultRunc;
  std::string runDir = kDefaultRunDir;
  std::vector<std::string> restrict;
  std::string debugLog;
  std::string guardSocketDir = "/run/eci-apiproxy/sockets";  // contract 3

  std::vector<std::string> runcArgs;  // everything but eci's flags, in order
  std::string root = "/run/runc";     // runc --root
  std::string log;                    // runc --log
  bool jsonLog = false;               // --log-format json
  size_t verbIndex = 0;               // index of the verb in runcArgs (== size: none)
};

std::string g_logPath;
bool g_jsonLog = false;
std::string g_debugLog;

std::string nowRfc3339() {
  char buf[64];
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  (void)strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  char out[96];
  (void)snprintf(out, sizeof out, "%s.%09ldZ", buf, ts.tv_nsec);
  return out;
}

void appendLine(const std::string& path, const std::string& line) {
  if (path.empty()) return;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const std::string l = line + "\n";
  ssize_t n = ::write(fd, l.data(), l.size());
  (void)n;
  ::close(fd);
}

// One entry in runc's --log, in runc's format (logrus json or text).
void runcLog(const char* level, const std::string& msg) {
  if (g_logPath.empty()) return;
  if (g_jsonLog) {
    appendLine(g_logPath, json{{"level", level}, {"msg", msg}, {"time", nowRfc3339()}}.dump());
  } else {
    appendLine(g_logPath,
               "time=\"" + nowRfc3339() + "\" level=" + level + " msg=" + json(msg).dump());
  }
}

void debugLog(const std::string& msg) {
  appendLine(g_debugLog, nowRfc3339() + " [" + std::to_string(getpid()) + "] " + msg);
}

// Replaces the bundle's config.json: temp file + rename, so runc never reads half a spec. No fsync:
// the bundle is runtime state (tmpfs under /run in production) that does not survive a reboot, and
// an fsync under I/O load costs more than the rest of eci's create.
eci::Status replaceSpec(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".eci-tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return eci::Error::fromErrno("open('" + tmp + "')");
  size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto err = eci::Error::fromErrno("write('" + tmp + "')");
      ::close(fd);
      ::unlink(tmp.c_str());
      return err;
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err = eci::Error::fromErrno("rename('" + tmp + "', '" + path + "')");
    ::unlink(tmp.c_str());
    return err;
  }
  return {};
}

// The user-visible failure: stderr, runc's log (containerd reads it), our debug log.
int fail(const std::string& msg) {
  (void)fprintf(stderr, "eci-runc: %s\n", msg.c_str());
  runcLog("error", msg);
  debugLog("error: " + msg);
  return 1;
}

// runc global flags that take a value (urfave/cli string flags).
bool globalTakesValue(const std::string& f) {
  return f == "--root" || f == "--log" || f == "--log-format" || f == "--criu" || f == "--rootless";
}

std::optional<std::string> eciFlagValue(const std::vector<std::string>& argv, size_t& i,
                                        const std::string& name) {
  const std::string& a = argv[i];
  if (a == name) {
    if (i + 1 >= argv.size()) return std::nullopt;
    return argv[++i];
  }
  if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
  return std::nullopt;
}

// eci's settings from the environment, each overridden by its flag. Why a second way in: dockerd
// runs a runtime that has "runtimeArgs" through a shell script it generates
// (<data-root>/runtimes/<name>), one more exec on every create, start and delete; containerd's
// environment reaches eci-runc through the shim without one. ECI_RUNC_RESTRICT is a ':'-separated
// list, as PATH is.
void applyEnvironment(Args& a) {
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  if (const char* v = env("ECI_RUNC_ENFORCER_SOCKET")) a.enforcerSocket = v;
  if (const char* v = env("ECI_RUNC_REAL_RUNC")) a.runc = v;
  if (const char* v = env("ECI_RUNC_RUN_DIR")) a.runDir = v;
  if (const char* v = env("ECI_RUNC_DEBUG_LOG")) a.debugLog = v;
  if (const char* v = env("ECI_RUNC_GUARD_SOCKET_DIR")) a.guardSocketDir = v;
  if (const char* v = env("ECI_RUNC_RESTRICT")) {
    std::string_view list(v);
    while (!list.empty()) {
      const size_t colon = list.find(':');
      const std::string_view item = list.substr(0, colon);
      if (!item.empty()) a.restrict.emplace_back(item);
      list = colon == std::string_view::npos ? std::string_view() : list.substr(colon + 1);
    }
  }
}

eci::Result<Args> parseArgs(int argc, char** argv) {
  std::vector<std::string> in(argv + 1, argv + argc);
  Args a;
  applyEnvironment(a);
  bool restrictFlagSeen = false;
  bool verbSeen = false;
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& s = in[i];
    if (!verbSeen && s.rfind("--eci-", 0) == 0) {
      const std::string name = s.substr(0, s.find('='));
      const bool hasEq = s.find('=') != std::string::npos;
      if (!hasEq && i + 1 >= in.size()) return eci::Error(name + " needs a value");
      std::optional<std::string> v = eciFlagValue(in, i, name);
      if (!v) return eci::Error(name + " needs a value");
      if (name == "--eci-enforcer-socket") {
        a.enforcerSocket = *v;
      } else if (name == "--eci-runc") {
        a.runc = *v;
      } else if (name == "--eci-run-dir") {
        a.runDir = *v;
      } else if (name == "--eci-restrict") {
        if (!restrictFlagSeen) a.restrict.clear();  // the flags replace ECI_RUNC_RESTRICT
        restrictFlagSeen = true;
        a.restrict.push_back(*v);
      } else if (name == "--eci-debug-log") {
        a.debugLog = *v;
      } else if (name == "--eci-guard-socket-dir") {
        a.guardSocketDir = *v;
      } else {
        return eci::Error("unknown eci-runc flag " + name);
      }
      continue;
    }
    if (!verbSeen && !s.empty() && s[0] == '-') {
      a.runcArgs.push_back(s);
      const std::string name = s.substr(0, s.find('='));
      const bool hasEq = s.find('=') != std::string::npos;
      std::string value;
      if (globalTakesValue(name)) {
        if (hasEq) {
          value = s.substr(s.find('=') + 1);
        } else if (i + 1 < in.size()) {
          value = in[++i];
          a.runcArgs.push_back(value);
        }
      }
      if (name == "--root") a.root = value;
      if (name == "--log") a.log = value;
      if (name == "--log-format") a.jsonLog = value == "json";
      continue;
    }
    if (!verbSeen) {
      verbSeen = true;
      a.verbIndex = a.runcArgs.size();
    }
    a.runcArgs.push_back(s);
  }
  if (!verbSeen) a.verbIndex = a.runcArgs.size();
  return a;
}

struct CreateArgs {
  std::string bundle;
  std::string id;
  bool detach = false;
};

// Arguments of create/run after the verb: the bundle and the container id.
CreateArgs parseCreateArgs(const Args& a) {
  CreateArgs c;
  for (size_t i = a.verbIndex + 1; i < a.runcArgs.size(); ++i) {
    const std::string& s = a.runcArgs[i];
    const std::string name = s.substr(0, s.find('='));
    const bool hasEq = s.find('=') != std::string::npos;
    if (name == "--bundle" || name == "-b") {
      if (hasEq) {
        c.bundle = s.substr(s.find('=') + 1);
      } else if (i + 1 < a.runcArgs.size()) {
        c.bundle = a.runcArgs[++i];
      }
    } else if (name == "--console-socket" || name == "--pid-file" || name == "--preserve-fds") {
      if (!hasEq) ++i;
    } else if (name == "-d" || name == "--detach") {
      c.detach = true;
    } else if (!s.empty() && s[0] == '-') {
      // boolean flags (--no-pivot, --no-new-keyring, --keep, --no-subreaper)
    } else if (c.id.empty()) {
      c.id = s;
    }
  }
  if (c.bundle.empty()) {
    std::error_code ec;
    c.bundle = std::filesystem::current_path(ec).string();
  }
  return c;
}

std::string lastPositional(const Args& a) {
  std::string id;
  for (size_t i = a.verbIndex + 1; i < a.runcArgs.size(); ++i) {
    if (!a.runcArgs[i].empty() && a.runcArgs[i][0] != '-') id = a.runcArgs[i];
  }
  return id;
}

std::vector<char*> cArgv(const std::string& prog, const std::vector<std::string>& args) {
  std::vector<char*> v;
  v.push_back(const_cast<char*>(prog.c_str()));
  for (const auto& s : args) v.push_back(const_cast<char*>(s.c_str()));
  v.push_back(nullptr);
  return v;
}

[[noreturn]] void execRunc(const Args& a) {
  auto v = cArgv(a.runc, a.runcArgs);
  ::execv(a.runc.c_str(), v.data());
  fail("exec " + a.runc + ": " + std::strerror(errno));
  _exit(127);
}

pid_t g_child = -1;
void forwardSignal(int sig) {
  if (g_child > 0) ::kill(g_child, sig);
}

// Runs the real runc as a child (create/run/delete need to act after it), forwarding the
// signals a caller uses to stop it. Returns its exit status as a shell would.
int runRuncArgs(const Args& a, const std::vector<std::string>& args) {
  auto v = cArgv(a.runc, args);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::execv(a.runc.c_str(), v.data());
    (void)fprintf(stderr, "eci-runc: exec %s: %s\n", a.runc.c_str(), std::strerror(errno));
    _exit(127);
  }
  g_child = pid;
  struct sigaction sa {};
  sa.sa_handler = forwardSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) {
    ::sigaction(sig, &sa, nullptr);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  g_child = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

int runRunc(const Args& a) {
  return runRuncArgs(a, a.runcArgs);
}

bool containerStateExists(const Args& a, const std::string& id) {
  struct stat st {};
  return ::stat((a.root + "/" + id).c_str(), &st) == 0;
}

// Tears down eci's part of a container that runc no longer knows: mounts, dirs, range.
eci::Status cleanupContainer(const Args& a, const std::string& id) {
  eci::Status first;
  auto layout = eci::idmap::Layout::make(a.runDir, id);
  if (layout.ok()) {
    auto st = eci::idmap::cleanup(*layout);
    if (!st.ok()) first = std::move(st).error().wrap("removing the ID-mapped filesystem");
  }
  eci::enforcer::Client client(a.enforcerSocket);
  auto rel = client.release(id);
  if (!rel.ok() && first.ok()) first = std::move(rel).error().wrap("releasing the uid/gid range");
  return first;
}

using eci::sys::NsId;

std::optional<NsId> nsIdOf(const std::string& path) {
  return eci::sys::nsIdAt(AT_FDCWD, path);
}

// The init process of container `id` as runc's state (<root>/<id>/state.json) names it.
std::optional<int> initPidOf(const Args& a, const std::string& id) {
  auto text = eci::fs::readFile(a.root + "/" + id + "/state.json", kMaxSpecBytes);
  if (!text.ok()) return std::nullopt;
  const json st = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  const auto p = st.is_object() ? st.find("init_process_pid") : st.end();
  if (p == st.end() || !p->is_number_integer() || p->get<long long>() <= 0 ||
      p->get<long long>() > INT32_MAX)
    return std::nullopt;
  return static_cast<int>(p->get<long long>());
}

// The ECI container whose init process is `pid`, if any. Two facts must agree: runc's state
// (<root>/<id>/state.json) names `pid` as that container's init, and the process runs in the user
// namespace eci pinned for that id. So the host, a process outside ECI, or a pid reused after the
// container died never match, and a state.json alone (runc's root is the engine's) is not trusted.
std::optional<std::string> eciContainerOfPid(const Args& a, int pid) {
  const auto procNs = nsIdOf("/proc/" + std::to_string(pid) + "/ns/user");
  if (!procNs) return std::nullopt;
  std::error_code ec;
  std::filesystem::directory_iterator it(a.root, ec);
  if (ec) return std::nullopt;
  for (const auto& entry : it) {
    const std::string id = entry.path().filename().string();
    auto layout = eci::idmap::Layout::make(a.runDir, id);
    if (!layout.ok()) continue;
    if (initPidOf(a, id) != pid) continue;
    const auto pinned = nsIdOf(layout->usernsPath());
    if (pinned && *pinned == *procNs) return id;
  }
  return std::nullopt;
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

// Binds the /proc/sys knobs of <procfsDir> into the container runc has just created. Its init
// comes from runc's state, and must run in the user namespace eci pinned for the container, so
// a stale or foreign state never gets knobs bound into some other process.
eci::Status bindKnobs(const Args& a, const std::string& id, const std::filesystem::path& procfsDir,
                      const eci::idmap::ContainerFs* fs) {
  const auto initPid = initPidOf(a, id);
  if (!initPid) return eci::Error(EPROTO, a.root + "/" + id + "/state.json: no init_process_pid");
  const int pid = *initPid;
  if (fs) {
    const auto procNs = nsIdOf("/proc/" + std::to_string(pid) + "/ns/user");
    const auto pinned = nsIdOf(fs->userns().path());
    if (!procNs || !pinned || !(*procNs == *pinned))
      return eci::Error(ESRCH, "pid " + std::to_string(pid) + " is not the container's init");
  }
  ECI_TRY(eci::procfs::bindProcSys(pid, {}, procfsDir));
  return {};
}

int doCreate(const Args& a, bool isRun) {
  const CreateArgs c = parseCreateArgs(a);
  if (c.id.empty()) return fail("create: no container id given");
  const std::string configPath = c.bundle + "/config.json";
  debugLog(std::string(isRun ? "run " : "create ") + c.id + " bundle=" + c.bundle);

  auto original = eci::fs::readFile(configPath, kMaxSpecBytes);
  if (!original.ok()) return fail(original.error().str());
  json spec = json::parse(*original, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded()) return fail("error in the container spec: " + configPath + ": not JSON");

  eci::enforcer::Client client(a.enforcerSocket);
  auto grant = client.create(c.id, c.bundle, a.root);
  if (!grant.ok()) {
    return fail("eci-enforcerd is not reachable or refused the container (" + grant.error().str() +
                "); refusing to create a container without Enhanced Container Isolation");
  }
  // From here on, any failure releases the range.
  bool keep = false;
  eci::ScopeExit releaseRange([&] {
    if (!keep) (void)client.release(c.id);
  });

  eci::runc::SpecContext ctx;
  ctx.containerId = c.id;
  ctx.bundle = c.bundle;
  ctx.policy = grant->policy;
  ctx.rangeStart = grant->range.start;
  ctx.rangeSize = grant->range.size;
  ctx.engineDataRoot = grant->engineDataRoot;
  ctx.extraRestricted = a.restrict;
  ctx.guardSocketDir = a.guardSocketDir;
  ctx.hostCapBounding = eci::runc::readCapBounding();
  ctx.apparmorAvailable = apparmorAvailable();

  std::optional<eci::idmap::ContainerFs> fs;
  std::optional<eci::idmap::Layout> layout;
  if (grant->policy.enabled) {
    auto made = eci::idmap::Layout::make(a.runDir, c.id);
    if (!made.ok()) return fail("eci: " + made.error().str());
    layout.emplace(std::move(*made));
    if (auto st = eci::fs::makeDirs(a.runDir, 0711); !st.ok())
      return fail("eci: " + st.error().str());
    ::chmod(a.runDir.c_str(), 0711);

    // --pid/--ipc/--network=container:X: X's namespaces are owned by X's user namespace, so this
    // container runs in it too, with X's range (mappings must match the namespace runc joins).
    // A pid that is no ECI container is left out and rewriteSpec refuses its path.
    std::optional<NsId> sharedNs;
    std::string ownerId;
    for (int pid : eci::runc::joinedNamespacePids(spec)) {
      auto id = eciContainerOfPid(a, pid);
      if (!id) continue;
      const auto ns = nsIdOf("/proc/" + std::to_string(pid) + "/ns/user");
      if (!ns) continue;
      if (sharedNs && !(*sharedNs == *ns)) {
        return fail(std::string(eci::runc::kSpecErrorPrefix) +
                    "can't join namespaces of containers " + ownerId + " and " + *id +
                    ": they are in different user namespaces");
      }
      sharedNs = ns;
      if (ownerId.empty()) ownerId = *id;
      ctx.joined[pid] = *id;
    }
    if (!ownerId.empty()) {
      auto owner = eci::idmap::Layout::make(a.runDir, ownerId);
      if (!owner.ok()) return fail("eci: " + owner.error().str());
      auto began = eci::idmap::ContainerFs::beginShared(*layout, owner->usernsPath());
      if (!began.ok()) {
        return fail("eci: joining the user namespace of container " + ownerId + ": " +
                    began.error().str());
      }
      fs.emplace(std::move(*began));
      const auto u = fs->userns().uids();
      const auto g = fs->userns().gids();
      if (u.hostStart != g.hostStart || u.size != g.size) {
        return fail("eci: container " + ownerId + " has different uid and gid ranges");
      }
      ctx.rangeStart = u.hostStart;
      ctx.rangeSize = u.size;
      debugLog("joining the user namespace of " + ownerId + " range " +
               std::to_string(u.hostStart) + "+" + std::to_string(u.size));
    }
  }

  auto rewritten = eci::runc::rewriteSpec(spec, ctx);
  if (!rewritten.ok()) return fail(eci::runc::kSpecErrorPrefix + rewritten.error().str());
  json& out = rewritten->spec;
  if (!rewritten->notes.empty()) {
    runcLog("warning", "eci: " + joinNotes(rewritten->notes));
    debugLog("notes: " + joinNotes(rewritten->notes));
  }

  if (grant->policy.enabled) {
    if (!fs) {
      const eci::idmap::IdRange r{grant->range.start, grant->range.size};
      auto began = eci::idmap::ContainerFs::begin(*layout, r, r);
      if (!began.ok()) return fail("eci: preparing the user namespace: " + began.error().str());
      fs.emplace(std::move(*began));
    }

    // Rootfs: an overlay over the engine's layers, each ID-mapped.
    std::string rootPath = out["root"].value("path", std::string("rootfs"));
    if (rootPath.empty() || rootPath[0] != '/') rootPath = c.bundle + "/" + rootPath;
    auto opts = eci::idmap::overlayOptionsAt(rootPath);
    if (opts.ok()) {
      auto mounted = fs->mountRootfs(*opts);
      if (!mounted.ok()) return fail("eci: ID-mapped rootfs: " + mounted.error().str());
      out["root"]["path"] = *mounted;
    } else {
      // Not an overlay (vfs, a plain directory): ID-map the directory itself.
      auto b = fs->addBind(rootPath);
      if (!b.ok()) return fail("eci: ID-mapped rootfs: " + b.error().str());
      out["root"]["path"] = b->mount.path();
      b->mount.commit();  // owned by the layout now; cleanup() removes it
    }

    // Binds: ID-mapped, so host files show their host owners and volumes are shared across
    // ranges; the path actually opened is checked again (a symlink swapped in after the check).
    std::optional<eci::UniqueFd> callerNs;
    if (out.contains("mounts") && out["mounts"].is_array()) {
      for (auto& m : out["mounts"]) {
        if (!eci::runc::isBindMount(m)) continue;
        std::string src = m["source"].get<std::string>();
        const std::string written = src;
        if (src.empty() || src[0] != '/') src.insert(0, c.bundle + "/");
        // Host binds of a container whose caller is known act with the caller's rights
        // (contract 4); named volumes and the engine's files keep the container's mapping.
        const auto kind = eci::runc::classifyBindSource(eci::runc::resolveHostPath(src), ctx);
        eci::idmap::BindOptions bo{.allowPlain = true};
        if (grant->caller && kind == eci::runc::SourceKind::kHost) {
          if (!callerNs) {
            auto ns = eci::idmap::callerMapping({ctx.rangeStart, ctx.rangeSize}, grant->caller->uid,
                                                grant->caller->gid);
            if (!ns.ok()) return fail("eci: caller mapping: " + ns.error().str());
            callerNs = std::move(*ns);
          }
          bo = {.allowPlain = false, .usernsFd = callerNs->get()};  // never host ids unmapped
        }
        auto b = fs->addBind(src, bo);
        if (!b.ok()) return fail("eci: ID-mapped bind of " + written + ": " + b.error().str());
        auto again = eci::runc::checkOpenedBind(m, written, b->resolvedSource, ctx);
        if (!again.ok()) return fail(eci::runc::kSpecErrorPrefix + again.error().str());
        if (grant->caller && eci::runc::classifyBindSource(b->resolvedSource, ctx) != kind)
          return fail(eci::runc::kSpecErrorPrefix + eci::runc::restrictedMountMessage(written));
        m["source"] = b->mount.path();
        b->mount.commit();
      }
    }
    for (auto& ns : out["linux"]["namespaces"]) {
      if (ns["type"] == "user") ns["path"] = fs->userns().path();
    }
  }

  // /proc and /sys emulation (enforcer/procfs): bind the container's FUSE files; the /proc/sys
  // knobs are bound below once runc has created the container, or by a createRuntime hook under
  // `runc run` (procfs/spec.h says why). After the ID-mapping of binds above on purpose: these
  // sources are FUSE mounts served per container and must not be ID-mapped.
  std::optional<std::filesystem::path> procfsDir;
  if (grant->policy.enabled) {
    auto added =
        eci::procfs::addProcfsFromGrant(out, c.id, grant->modules, /*callerBindsKnobs=*/!isRun);
    if (!added.ok()) return fail("eci: /proc emulation: " + added.error().str());
    procfsDir = *added;
  }
  // Seccomp (enforcer/seccomp): mount calls vetted by eci-enforcerd's supervisor, kernel-global
  // calls refused; merged into the engine's profile (or none, under --privileged).
  if (grant->policy.enabled) {
    if (auto st = eci::seccomp::addSeccompFromGrant(out, c.id, grant->modules); !st.ok())
      return fail("eci: seccomp: " + st.error().str());
  }

  // Restores the engine's config.json if runc does not take the container.
  bool specWritten = false;
  eci::ScopeExit restoreSpec([&] {
    if (specWritten && !keep) (void)replaceSpec(configPath, *original);
  });
  if (auto st = replaceSpec(configPath, out.dump()); !st.ok()) {
    return fail("eci: writing " + configPath + ": " + st.error().str());
  }
  specWritten = true;
  debugLog("spec written; running " + a.runc);

  const int rc = runRunc(a);
  debugLog("runc exited " + std::to_string(rc));
  if (rc != 0) {
    // runc logged its own reason; undo ours (ScopeExits and ContainerFs' destructor).
    (void)fprintf(stderr, "eci-runc: runc %s failed (exit %d); eci state rolled back\n",
                  isRun ? "run" : "create", rc);
    return rc;
  }
  if (isRun && !c.detach && !containerStateExists(a, c.id)) {
    // `runc run` in the foreground has already deleted the container.
    return rc;
  }
  if (procfsDir && !isRun) {
    // The container's init waits on runc's exec fifo: nothing of the container has run yet.
    if (auto st = bindKnobs(a, c.id, *procfsDir, fs ? &*fs : nullptr); !st.ok()) {
      // Never start it without its emulation: runc forgets it, our ScopeExits undo the rest.
      std::vector<std::string> del(a.runcArgs.begin(),
                                   a.runcArgs.begin() + static_cast<long>(a.verbIndex));
      del.insert(del.end(), {"delete", "--force", c.id});
      const int drc = runRuncArgs(a, del);
      return fail("eci: /proc emulation: binding the /proc/sys knobs: " + st.error().str() +
                  (drc == 0 ? "" : "; runc delete --force exited " + std::to_string(drc)));
    }
  }
  keep = true;
  if (fs) fs->commit();
  return 0;
}

int doDelete(const Args& a) {
  const std::string id = lastPositional(a);
  const int rc = runRunc(a);
  if (id.empty()) return rc;
  // runc deleted it, or never had it ("container does not exist"): eci's part goes too.
  if (!containerStateExists(a, id)) {
    auto st = cleanupContainer(a, id);
    debugLog("delete " + id + " runc=" + std::to_string(rc) +
             (st.ok() ? " cleanup ok" : " cleanup: " + st.error().str()));
    if (!st.ok()) {
      (void)fprintf(stderr, "eci-runc: cleanup of %s: %s\n", id.c_str(), st.error().str().c_str());
      runcLog("warning", "eci: cleanup of " + id + ": " + st.error().str());
    }
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  eci::log::setProgramName("eci-runc");
  auto parsed = parseArgs(argc, argv);
  if (!parsed.ok()) {
    (void)fprintf(stderr, "eci-runc: %s\n", parsed.error().str().c_str());
    return 2;
  }
  Args& a = *parsed;
  g_logPath = a.log;
  g_jsonLog = a.jsonLog;
  g_debugLog = a.debugLog;

  const std::string verb = a.verbIndex < a.runcArgs.size() ? a.runcArgs[a.verbIndex] : "";
  if (verb == "create" || verb == "run") return doCreate(a, verb == "run");
  if (verb == "delete") return doDelete(a);
  execRunc(a);
}
