// `eci-admin selftest [--image I] [--docker PATH] [--format text|json]`: runs the checks of
// selftest.h through the real engine (the docker CLI, honouring DOCKER_HOST) and prints a pass/fail
// table. Exit 0 when every check passes, 1 when any fails, 2 when the engine or the image cannot be
// used at all. It cleans up after itself: containers are `--rm` and labelled, and anything left
// with the label is removed at the end, as is the temporary probe directory.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "eci/fs_util.h"
#include "eci/unique_fd.h"
#include "selftest.h"

namespace eci::cli {
namespace {

namespace st = selftest;

struct SelftestOptions {
  std::string image = "busybox";
  std::string docker = "docker";
  std::string format = "text";
  int timeoutSeconds = 60;
};

// Runs `docker ARGS...` with stdout and stderr captured together, killed at the deadline.
st::RunOutput runDocker(const SelftestOptions& o, const std::vector<std::string>& args) {
  st::RunOutput r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return r;
  UniqueFd rd(fds[0]), wr(fds[1]);
  std::vector<std::string> argvStore{o.docker};
  argvStore.insert(argvStore.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argvStore.size() + 1);
  for (auto& a : argvStore) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) return r;
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    (void)dup2(wr.get(), STDOUT_FILENO);
    (void)dup2(wr.get(), STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) (void)dup2(devnull, STDIN_FILENO);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  wr.reset();
  const time_t deadline = time(nullptr) + o.timeoutSeconds;
  char buf[4096];
  bool killed = false;
  for (;;) {
    const long left = static_cast<long>(deadline - time(nullptr));
    if (left <= 0) {
      (void)kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{rd.get(), POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(left * 1000));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;  // the deadline check above ends the loop
    const ssize_t got = read(rd.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (r.out.size() < (1u << 20)) r.out.append(buf, static_cast<size_t>(got));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (killed) {
    r.out += "\n(killed after " + std::to_string(o.timeoutSeconds) + " s)";
    r.exitCode = -1;
  } else {
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return r;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

double readHostUptime() {
  auto text = fs::readFile("/proc/uptime", 4096);
  return text.ok() ? std::strtod(text->c_str(), nullptr) : 0;
}

bool engineIsLocal() {
  const char* host = std::getenv("DOCKER_HOST");
  return host == nullptr || *host == '\0' || std::string(host).rfind("unix://", 0) == 0;
}

std::string substitute(std::string arg, const std::string& image, const std::string& probe,
                       const std::string& dataRoot) {
  const std::pair<const char*, const std::string*> vars[] = {
      {"{image}", &image}, {"{probe}", &probe}, {"{dataroot}", &dataRoot}};
  for (const auto& [key, value] : vars) {
    for (size_t at = arg.find(key); at != std::string::npos; at = arg.find(key)) {
      arg.replace(at, std::char_traits<char>::length(key), *value);
    }
  }
  return arg;
}

// The probe directory the read-only check binds: one file with known content, world-readable so
// any mapping of container root can read it.
bool makeProbeDir(std::string& dir) {
  char tmpl[] = "/tmp/eci-selftest.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return false;
  dir = tmpl;
  (void)chmod(dir.c_str(), 0755);
  return fs::writeFileAtomic(dir + "/probe", st::kProbeText, 0644).ok();
}

void readProbe(const std::string& dir, st::HostFacts& host) {
  auto text = fs::readFile(dir + "/probe", 4096);
  host.probeText = text.ok() ? *text : std::string();
  std::error_code ec;
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    (void)e;
    ++entries;
  }
  host.probeDirHasOnlyProbe = !ec && entries == 1;
}

int runSelftest(const SelftestOptions& o) {
  auto info = runDocker(o, {"info", "--format", "{{.DockerRootDir}}"});
  if (info.exitCode != 0) {
    (void)std::fprintf(stderr, "eci-admin selftest: the engine does not answer: %s\n",
                       trim(info.out).c_str());
    return 2;
  }
  const std::string dataRoot = trim(info.out);
  if (runDocker(o, {"image", "inspect", "--format", "{{.Id}}", o.image}).exitCode != 0) {
    (void)std::fprintf(stderr,
                       "eci-admin selftest: image %s is not on this engine (--image names "
                       "another; any image with a shell, cat and mount will do, e.g. one made "
                       "with `docker import` from busybox-static)\n",
                       o.image.c_str());
    return 2;
  }

  st::HostFacts host;
  host.engineLocal = engineIsLocal();
  if (!makeProbeDir(host.probeDir)) {
    (void)std::fprintf(stderr, "eci-admin selftest: cannot create a probe directory in /tmp\n");
    return 2;
  }
  const std::string token = std::to_string(getpid()) + "-" + std::to_string(time(nullptr));

  std::vector<st::Result> results;
  for (const auto& check : st::checks()) {
    std::vector<std::string> args{"run", "--rm", "--label", "eci.selftest=" + token};
    for (const auto& a : check.dockerArgs) {
      args.push_back(substitute(a, o.image, host.probeDir, dataRoot));
    }
    const st::RunOutput run = runDocker(o, args);
    host.hostUptime = readHostUptime();
    readProbe(host.probeDir, host);
    results.push_back({check.name, check.description, st::judge(check, run, host)});
  }

  // Clean-up: containers a killed `docker run` left behind, then the probe directory.
  auto left = runDocker(o, {"ps", "-aq", "--filter", "label=eci.selftest=" + token});
  if (left.exitCode == 0 && !trim(left.out).empty()) {
    std::vector<std::string> rm{"rm", "-f"};
    size_t start = 0;
    const std::string ids = trim(left.out);
    while (start < ids.size()) {
      const size_t nl = ids.find('\n', start);
      rm.push_back(ids.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    (void)runDocker(o, rm);
  }
  std::error_code ec;
  std::filesystem::remove_all(host.probeDir, ec);

  if (o.format == "json") {
    std::printf("%s\n", st::renderJson(results).dump(2).c_str());
  } else {
    std::printf("%s", st::renderText(results).c_str());
  }
  for (const auto& r : results) {
    if (!r.verdict.ok) return 1;
  }
  return 0;
}

}  // namespace

void registerSelftest(CLI::App& app, int& exitCode) {
  auto opts = std::make_shared<SelftestOptions>();
  CLI::App* cmd = app.add_subcommand(
      "selftest", "Check this machine's isolation through the real engine (harmless, cleans up)");
  cmd->add_option("--image", opts->image, "image to run the checks in (needs sh, cat, mount)")
      ->capture_default_str();
  cmd->add_option("--docker", opts->docker, "docker CLI to use (DOCKER_HOST is honoured)")
      ->capture_default_str();
  cmd->add_option("--format", opts->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--timeout", opts->timeoutSeconds, "seconds each check may take")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  cmd->callback([opts, &exitCode] { exitCode = runSelftest(*opts); });
}

}  // namespace eci::cli
