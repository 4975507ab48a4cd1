#include "runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string_view>

#include "eci/enforcer_client.h"

extern char** environ;

namespace eci::runc {
namespace {

using nlohmann::json;

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

// eci's settings from the environment, each overridden by its flag. Why a second way in: dockerd
// runs a runtime that has "runtimeArgs" through a shell script it generates
// (<data-root>/runtimes/<name>), one more exec on every create, start and delete; containerd's
// environment reaches eci-runc through the shim without one. ECI_RUNC_RESTRICT is a ':'-separated
// list, as PATH is; its flag, --eci-restrict, is repeated.
struct SettingSource {
  const char* flag;
  const char* env;
  std::string Settings::*field;
};
constexpr SettingSource kSettings[] = {
    {"eci-enforcer-socket", "ECI_RUNC_ENFORCER_SOCKET", &Settings::enforcerSocket},
    {"eci-runc", "ECI_RUNC_REAL_RUNC", &Settings::realRunc},
    {"eci-run-dir", "ECI_RUNC_RUN_DIR", &Settings::runDir},
    {"eci-debug-log", "ECI_RUNC_DEBUG_LOG", &Settings::debugLog},
    {"eci-guard-socket-dir", "ECI_RUNC_GUARD_SOCKET_DIR", &Settings::guardSocketDir},
};
constexpr const char* kRestrictFlag = "eci-restrict";
constexpr const char* kRestrictEnv = "ECI_RUNC_RESTRICT";

void applyEnvironment(Settings& s) {
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  for (const auto& k : kSettings) {
    if (const char* v = env(k.env)) s.*k.field = v;
  }
  if (const char* v = env(kRestrictEnv)) {
    std::string_view list(v);
    while (!list.empty()) {
      const size_t colon = list.find(':');
      const std::string_view item = list.substr(0, colon);
      if (!item.empty()) s.restrict.emplace_back(item);
      list = colon == std::string_view::npos ? std::string_view() : list.substr(colon + 1);
    }
  }
}

std::vector<char*> cArgv(const std::string& prog, const std::vector<std::string>& args) {
  std::vector<char*> v;
  v.push_back(const_cast<char*>(prog.c_str()));
  for (const auto& s : args) v.push_back(const_cast<char*>(s.c_str()));
  v.push_back(nullptr);
  return v;
}

// Marks the real runc's environment (see kLoopGuardEnv) and execs it.
[[noreturn]] void execvMarked(const std::string& prog, const std::vector<std::string>& args) {
  (void)::setenv(kLoopGuardEnv, "1", 1);
  auto v = cArgv(prog, args);
  ::execv(prog.c_str(), v.data());
  (void)fprintf(stderr, "eci-runc: exec %s: %s\n", prog.c_str(), std::strerror(errno));
  _exit(127);
}

volatile sig_atomic_t g_child = -1;
void forwardSignal(int sig) {
  if (g_child > 0) ::kill(g_child, sig);
}

}  // namespace

std::vector<std::string> Call::argvWith(const std::vector<std::string>& verbArgv) const {
  std::vector<std::string> out = inv.globalArgv;
  out.insert(out.end(), verbArgv.begin(), verbArgv.end());
  return out;
}

std::vector<std::string> Call::originalArgv() const {
  std::vector<std::string> v;
  if (!inv.verb.empty()) v.push_back(inv.verb);
  v.insert(v.end(), inv.verbArgv.begin(), inv.verbArgv.end());
  return argvWith(v);
}

Result<Call> parseCall(const std::vector<std::string>& argv) {
  Call c;
  c.eci.enforcerSocket = enforcer::kDefaultControlSocket;
  applyEnvironment(c.eci);
  c.inv = cli::parse(argv);
  bool restrictFlagSeen = false;
  for (const auto& f : c.inv.eciFlags) {
    for (const auto& k : kSettings) {
      if (f.name == k.flag) c.eci.*k.field = f.value;
    }
    if (f.name == kRestrictFlag) {
      if (!restrictFlagSeen) c.eci.restrict.clear();  // the flags replace ECI_RUNC_RESTRICT
      restrictFlagSeen = true;
      c.eci.restrict.push_back(f.value);
    }
  }
  if (auto v = c.inv.global("root")) c.root = *v;
  if (auto v = c.inv.global("log")) c.log = *v;
  if (auto v = c.inv.global("log-format")) c.jsonLog = *v == "json";
  return c;
}

bool containerStateExists(const Call& c, const std::string& id) {
  struct stat st {};
  return ::lstat((c.root + "/" + id).c_str(), &st) == 0;
}

Result<std::string> resolveRealRunc(const std::string& given, const std::string& self) {
  std::string path = given;
  struct stat st {};
  if (path.empty()) path = ::stat(kDivertedRunc, &st) == 0 ? kDivertedRunc : kDefaultRunc;
  const std::string me = self.empty() ? "/proc/self/exe" : self;
  struct stat mine {};
  if (::stat(me.c_str(), &mine) != 0) return Error::fromErrno("stat('" + me + "')");
  if (::stat(path.c_str(), &st) != 0) {
    return Error::fromErrno("the real runc '" + path + "'",
                            "set --eci-runc or ECI_RUNC_REAL_RUNC to Debian's runc");
  }
  if (st.st_dev == mine.st_dev && st.st_ino == mine.st_ino) {
    return Error(ErrorKind::kInvalidInput, "the real runc '" + path + "' is eci-runc itself",
                 "point --eci-runc or ECI_RUNC_REAL_RUNC at Debian's runc (" +
                     std::string(kDivertedRunc) + " when installed)");
  }
  return path;
}

void runcLog(const Call& c, const char* level, const std::string& msg) {
  if (c.log.empty()) return;
  if (c.jsonLog) {
    appendLine(c.log, json{{"level", level}, {"msg", msg}, {"time", nowRfc3339()}}.dump());
  } else {
    appendLine(c.log, "time=\"" + nowRfc3339() + "\" level=" + level + " msg=" + json(msg).dump());
  }
}

void debugLog(const Call& c, const std::string& msg) {
  if (c.eci.debugLog.empty()) return;  // off (as installed): not even the time is formatted
  appendLine(c.eci.debugLog, nowRfc3339() + " [" + std::to_string(getpid()) + "] " + msg);
}

int fail(const Call& c, const std::string& msg) {
  (void)fprintf(stderr, "eci-runc: %s\n", msg.c_str());
  runcLog(c, "error", msg);
  debugLog(c, "error: " + msg);
  return 1;
}

void execRunc(const Call& c, const std::vector<std::string>& args) {
  execvMarked(c.runc, args);
}

int runRunc(const Call& c, const std::vector<std::string>& args) {
  // Everything the child needs is built here, in the parent: posix_spawn's child shares our
  // memory until it execs (glibc clones with CLONE_VM|CLONE_VFORK), so it must not allocate.
  // Why not fork(): on the development VM a page fault costs ~30 us, and fork() makes every page
  // we or the child touch before the exec a copy-on-write fault (~1.5 ms per spawn of runc, on
  // each create and delete of every container).
  auto argv = cArgv(c.runc, args);
  std::vector<std::string> envStore;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, kLoopGuardEnv, std::strlen(kLoopGuardEnv)) == 0 &&
        (*e)[std::strlen(kLoopGuardEnv)] == '=')
      continue;
    envStore.emplace_back(*e);
  }
  envStore.push_back(std::string(kLoopGuardEnv) + "=1");  // see kLoopGuardEnv
  std::vector<char*> envp;
  envp.reserve(envStore.size() + 1);
  for (auto& e : envStore) envp.push_back(e.data());
  envp.push_back(nullptr);

  // Block everything across the spawn so no signal is lost or kills us before the handlers are
  // in place; pending ones are forwarded once unblocked. runc starts with our old mask and the
  // dispositions a fork+exec gave it: none of ours is caught yet, ignored ones stay ignored.
  sigset_t all, old;
  sigfillset(&all);
  ::sigprocmask(SIG_BLOCK, &all, &old);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &old);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int err = ::posix_spawn(&pid, c.runc.c_str(), nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    (void)fprintf(stderr, "eci-runc: exec %s: %s\n", c.runc.c_str(), std::strerror(err));
    return 127;  // what the forked child reported before: exec failed
  }
  g_child = pid;
  // runc (signals.go) catches every signal and forwards all but SIGCHLD (it reaps), SIGWINCH
  // (it resizes the tty: runc gets it from us and does so) and SIGURG (Go's preemption): pass
  // every catchable one to runc and let it decide, as if the caller had signalled runc.
  struct sigaction sa {};
  sa.sa_handler = forwardSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  struct sigaction saved[NSIG] = {};
  bool installed[NSIG] = {};
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD) continue;
    installed[sig] = ::sigaction(sig, &sa, &saved[sig]) == 0;  // glibc-reserved RT ones fail
  }
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  ::sigprocmask(SIG_BLOCK, &all, nullptr);
  g_child = -1;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (installed[sig]) ::sigaction(sig, &saved[sig], nullptr);
  }
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  if (r < 0) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

namespace {

int helpAfter(const Call& c, const std::string& head, bool verbHelp, const std::string& err) {
  (void)fputs(head.c_str(), stdout);
  (void)fflush(stdout);
  if (!c.runc.empty()) {
    std::vector<std::string> help;
    if (verbHelp) help.push_back(c.inv.verb);
    help.emplace_back("--help");
    (void)runRunc(c, help);
  }
  return fail(c, err);
}

}  // namespace

int usageError(const Call& c) {
  const cli::Invocation& inv = c.inv;
  if (inv.usageErrorInVerb)
    return helpAfter(c, "Incorrect Usage: " + inv.usageError + "\n\n", true, inv.usageError);
  return helpAfter(c, "Incorrect Usage. " + inv.usageError + "\n\n", false, inv.usageError);
}

int argCountError(const Call& c, const std::string& msg) {
  return helpAfter(c, "Incorrect Usage.\n\n", true, msg);
}

}  // namespace eci::runc
